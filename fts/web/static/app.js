// FTS admin panel: a little vanilla JavaScript, no build step.
// The dashboard subscribes to server-sent events and updates its blocks;
// every value goes into the page as text (textContent), never as HTML.
"use strict";

(function () {
  function text(el, value) { if (el) { el.textContent = value; } }

  function when(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function took(ms) {
    if (ms === null || ms === undefined) { return "—"; }
    if (ms < 1000) { return Math.round(ms) + " ms"; }
    var s = ms / 1000;
    if (s < 60) { return s.toFixed(1) + " s"; }
    return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
  }

  function state(value) {
    var span = document.createElement("span");
    span.className = "state state-" + String(value).replace(/[^a-z_]/g, "");
    span.textContent = value;
    return span;
  }

  function rows(tbody, items, columns, emptyText) {
    if (!tbody) { return; }
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    if (!items || items.length === 0) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var td = document.createElement("td");
      td.colSpan = columns.length;
      td.textContent = emptyText;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      columns.forEach(function (column) {
        var td = document.createElement("td");
        if (column.num) { td.className = "num"; }
        var value = column.get(item);
        if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value; }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function states(list, items, emptyText) {
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!items || items.length === 0) {
      var li = document.createElement("li");
      li.className = "muted";
      li.textContent = emptyText;
      list.appendChild(li);
      return;
    }
    items.forEach(function (c) {
      var li = document.createElement("li");
      li.appendChild(state(c.state));
      li.appendChild(document.createTextNode(" "));
      var name = document.createElement("strong");
      name.textContent = c.name;
      li.appendChild(name);
      if (c.last_error) {
        var err = document.createElement("span");
        err.className = "muted";
        err.textContent = " " + c.last_error;
        li.appendChild(err);
      }
      list.appendChild(li);
    });
  }

  function show(data) {
    var status = document.getElementById("live-status");
    if (status) { status.className = "state state-" + data.status; status.textContent = data.status; }
    text(document.getElementById("live-updated"), when(data.time));
    var calls = data.calls;
    text(document.getElementById("calls-total"), calls ? String(calls.total) : "—");
    text(document.getElementById("cps"), calls && calls.cps !== null ? String(calls.cps) : "—");
    text(document.getElementById("answer-rate"),
         calls && calls.answer_rate !== null ? (calls.answer_rate * 100).toFixed(1) + " %" : "—");
    rows(document.getElementById("per-campaign"), calls ? calls.per_campaign : [],
         [{ get: function (r) { return String(r.campaign); } },
          { num: true, get: function (r) { return String(r.calls); } }], "No calls in flight.");
    rows(document.getElementById("per-pbx"), calls ? calls.per_pbx : [],
         [{ get: function (r) { return r.pbx; } },
          { num: true, get: function (r) { return String(r.calls); } }], "No calls in flight.");
    states(document.getElementById("components"), data.components, "No component reported.");
    states(document.getElementById("pbx"), data.pbx, "No PBX component reported.");
    var runs = data.recent_runs;
    if (Array.isArray(runs)) {
      rows(document.getElementById("runs"), runs,
           [{ get: function (r) { return r.job; } },
            { get: function (r) { return state(r.outcome); } },
            { get: function (r) { return when(r.started_at); } },
            { num: true, get: function (r) { return took(r.duration_ms); } }], "No job has run yet.");
    }
  }

  function live() {
    var holder = document.getElementById("live");
    if (!holder || !window.EventSource) { return; }
    var connection = document.getElementById("live-connection");
    var source = new EventSource(holder.getAttribute("data-source"));
    source.addEventListener("open", function () { text(connection, "(live)"); });
    source.addEventListener("error", function () { text(connection, "(reconnecting…)"); });
    source.addEventListener("snapshot", function (event) {
      try { show(JSON.parse(event.data)); } catch (e) { text(connection, "(bad update)"); }
    });
  }

  // Buttons that need a confirmation carry data-confirm="question".
  function confirmations() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter || event.target.querySelector("[data-confirm]");
      var question = button && button.getAttribute && button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { live(); confirmations(); });
}());
