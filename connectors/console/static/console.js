/* Tally console: live figures over server-sent events, and the operations chart.
   Our own few lines (no framework): pages work without them, they only keep numbers live. */
"use strict";
(function () {
  var LIVE_HISTORY = 120; // points on the latency chart (one a second)
  var COLORS = ["#0b4fbd", "#a14400", "#1d7a35", "#7a1d6f", "#4d4d4d"];

  function setText(el, text) {
    if (el.textContent === text) return;
    el.textContent = text;
    el.classList.add("moved");
    setTimeout(function () { el.classList.remove("moved"); }, 1200);
  }

  function applyFigures(figures) {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var key = el.getAttribute("data-figure");
      if (Object.prototype.hasOwnProperty.call(figures, key)) setText(el, String(figures[key]));
    });
  }

  var refreshTimer = null;
  function refreshRegion() {
    var region = document.querySelector("[data-refresh]");
    if (!region) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch(region.getAttribute("data-refresh"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) region.innerHTML = html; })
        .catch(function () {});
    }, 300);
  }

  var series = {}; // "web p99" -> [ms, ...]
  function drawChart(svg) {
    var names = Object.keys(series).sort();
    while (svg.lastChild && svg.lastChild.nodeName !== "title") svg.removeChild(svg.lastChild);
    var top = 1;
    names.forEach(function (n) { series[n].forEach(function (v) { if (v !== null && v > top) top = v; }); });
    names.forEach(function (name, i) {
      var points = [];
      series[name].forEach(function (v, x) {
        if (v !== null) points.push((x * 600 / (LIVE_HISTORY - 1)).toFixed(1) + "," + (190 - v * 180 / top).toFixed(1));
      });
      var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", COLORS[i % COLORS.length]);
      line.setAttribute("stroke-width", name.slice(-3) === "p99" ? "2.5" : "1.5");
      svg.appendChild(line);
      var label = document.createElementNS("http://www.w3.org/2000/svg", "text");
      label.setAttribute("x", "6"); label.setAttribute("y", String(16 + i * 16));
      label.setAttribute("fill", COLORS[i % COLORS.length]); label.setAttribute("font-size", "13");
      label.textContent = name + " (top " + top.toFixed(0) + " ms)";
      svg.appendChild(label);
    });
  }

  function ms(seconds) { return seconds === null || seconds === undefined ? null : seconds * 1000; }
  function shown(value) { return value === null ? "–" : value.toFixed(1); }

  function applyOps(data) {
    document.querySelectorAll("[data-op]").forEach(function (el) {
      var value = data[el.getAttribute("data-op")];
      if (value !== undefined) setText(el, String(value));
    });
    var rows = document.getElementById("latency-rows");
    var channels = Object.keys(data.p99_s || {}).sort();
    if (rows) {
      rows.textContent = "";
      channels.forEach(function (c) {
        var tr = document.createElement("tr");
        [c, shown(ms(data.p50_s[c])), shown(ms(data.p99_s[c]))].forEach(function (text, i) {
          var cell = document.createElement(i === 0 ? "th" : "td");
          if (i === 0) cell.setAttribute("scope", "row");
          cell.textContent = text; tr.appendChild(cell);
        });
        rows.appendChild(tr);
      });
    }
    channels.forEach(function (c) {
      ["p50", "p99"].forEach(function (q) {
        var name = c + " " + q;
        var list = series[name] || (series[name] = []);
        list.push(ms(data[q + "_s"][c]));
        while (list.length > LIVE_HISTORY) list.shift();
      });
    });
    var svg = document.getElementById("latency-chart");
    if (svg) drawChart(svg);
    var lag = document.getElementById("lag-rows");
    if (lag) {
      lag.textContent = "";
      Object.keys(data.consumer_lag || {}).sort().forEach(function (t) {
        var li = document.createElement("li");
        li.textContent = t + ": " + data.consumer_lag[t];
        lag.appendChild(li);
      });
    }
  }

  function connect(section) {
    var status = section.querySelector("[data-live-status]");
    var source = new EventSource(section.getAttribute("data-live"));
    function live(text, state) { if (status) status.textContent = text; section.setAttribute("data-live-state", state); }
    source.addEventListener("figures", function (e) {
      var data = JSON.parse(e.data);
      applyFigures(data.figures);
      if (data.version !== null) refreshRegion();
      live("Live: updates as stock moves.", "on");
    });
    source.addEventListener("ops", function (e) {
      var data = JSON.parse(e.data);
      if (data.error) { live("Metrics unreachable: " + data.error, "error"); return; }
      applyOps(data);
      live("Live: scraped every second.", "on");
    });
    source.onerror = function () { live("Reconnecting…", "reconnecting"); };
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.EventSource) return;
    document.querySelectorAll("[data-live]").forEach(connect);
  });
})();
