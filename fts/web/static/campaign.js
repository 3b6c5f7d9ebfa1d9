// FTS campaign page: follows /campaigns/<id>/events (server-sent events) and
// updates the progress, the figures, the charts and the queued operation.
// Values go in as text; the charts are SVG built by the server, which
// escapes every label (fts/reports/charts.py).
"use strict";

(function () {
  function byId(id) { return document.getElementById(id); }
  function text(id, value) { var el = byId(id); if (el) { el.textContent = value; } }

  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  function svg(id, source) {
    var holder = byId(id);
    if (!holder) { return; }
    clear(holder);
    if (!source) { return; }
    var doc = new DOMParser().parseFromString(source, "image/svg+xml");
    var root = doc.documentElement;
    if (root && root.nodeName === "svg") {
      root.querySelectorAll("script, foreignObject").forEach(function (n) { n.remove(); });
      holder.appendChild(document.importNode(root, true));
    }
  }

  function figures(list) {
    var holder = byId("c-figures");
    if (!holder) { return; }
    clear(holder);
    if (!list) { return; }
    var dl = document.createElement("dl");
    dl.className = "facts";
    list.forEach(function (f) {
      var dt = document.createElement("dt");
      dt.textContent = f.label;
      var dd = document.createElement("dd");
      dd.textContent = f.text;
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    holder.appendChild(dl);
  }

  function action(a) {
    var holder = byId("c-action");
    if (!holder) { return; }
    clear(holder);
    if (!a) { return; }
    var p = document.createElement("p");
    p.className = a.state === "failed" ? "error" : "notice";
    var label = a.label.charAt(0).toUpperCase() + a.label.slice(1);
    var strong = document.createElement("strong");
    strong.textContent = a.state;
    p.appendChild(document.createTextNode(label + ": "));
    p.appendChild(strong);
    var rest = a.elapsed !== null ? " (" + a.elapsed + " s). " : ". ";
    p.appendChild(document.createTextNode(rest + (a.result || "") + (a.error || "")));
    holder.appendChild(p);
  }

  function state(value) {
    var holder = byId("c-state");
    if (!holder) { return; }
    clear(holder);
    var span = document.createElement("span");
    span.className = "state state-" + String(value).replace(/[^a-z_]/g, "");
    span.textContent = value;
    holder.appendChild(span);
  }

  function show(data) {
    var p = data.progress;
    var bar = byId("c-progress");
    if (bar) { bar.max = p.total || 1; bar.value = p.done; }
    text("c-percent", p.percent_done + " %");
    text("c-done", String(p.done));
    text("c-pending", String(p.pending));
    text("c-claimed", String(p.in_flight));
    text("c-total", String(p.total));
    if (data.in_flight !== null) { text("c-in-flight", String(data.in_flight)); }
    state(data.state);
    action(data.action);
    if (data.report) {
      figures(data.report.figures);
      svg("c-chart-contacts", data.report.charts.contacts);
      svg("c-chart-calls", data.report.charts.calls);
    }
  }

  function live() {
    var holder = byId("campaign-live");
    if (!holder || !window.EventSource) { return; }
    var source = new EventSource(holder.getAttribute("data-source"));
    source.addEventListener("open", function () { text("c-connection", "(live)"); });
    source.addEventListener("error", function () { text("c-connection", "(reconnecting…)"); });
    var shownState = holder.getAttribute("data-state");
    source.addEventListener("snapshot", function (event) {
      var data;
      try { data = JSON.parse(event.data); show(data); } catch (e) { text("c-connection", "(bad update)"); return; }
      // A new state brings other buttons: load the page once more for them.
      if (data.state !== shownState && !(data.action && data.action.state === "running")) {
        source.close();
        window.location.reload();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", live);
}());
