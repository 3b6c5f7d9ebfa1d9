// FTS admin panel: live progress of contact-list imports and DNC uploads.
// Every element with data-progress-url polls that JSON address until the
// work has finished, and fills its [data-field] descendants: <progress>
// elements get the value, others the text (textContent, never HTML).
// Elements marked data-when-done are shown once it has finished.
"use strict";

(function () {
  var INTERVAL = 1500;
  var FIELDS = ["total_rows", "accepted_rows", "rejected_rows", "duplicate_rows",
                "added_rows", "already_present_rows", "status", "status_text"];

  function set(root, name, value) {
    var found = root.querySelectorAll('[data-field="' + name + '"]');
    Array.prototype.forEach.call(found, function (el) {
      if (el.tagName === "PROGRESS") { el.value = value; } else { el.textContent = String(value); }
    });
  }

  function show(root, data) {
    var percent = (data.percent === null || data.percent === undefined) ? 0 : data.percent;
    set(root, "percent", percent);
    set(root, "percent-text", percent + " %");
    FIELDS.forEach(function (name) {
      if (Object.prototype.hasOwnProperty.call(data, name) && data[name] !== null) {
        set(root, name, data[name]);
      }
    });
  }

  function poll(root) {
    var url = root.getAttribute("data-progress-url");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          show(root, data);
          if (data.finished) {
            root.classList.add("finished");
            Array.prototype.forEach.call(root.querySelectorAll("[data-when-done]"),
                                         function (el) { el.hidden = false; });
            return;
          }
          window.setTimeout(tick, INTERVAL);
        })
        .catch(function () { window.setTimeout(tick, INTERVAL * 4); });
    }
    window.setTimeout(tick, INTERVAL);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-progress-url]"), poll);
  });
}());
