/* The dashboard's charts (Apache ECharts, served beside this file) and its live table.
   Data comes from the page's <script type="application/json" id="dashboard-data"> block:
   nothing inline runs (the page's CSP is script-src 'self'). */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207"];
  var charts = [];

  function percent(value) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
  }

  function base() {
    return {
      animation: false,
      color: PALETTE,
      textStyle: { fontFamily: "system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif" },
      // richText: drawn in the canvas, so no inline-styled HTML that the CSP would refuse.
      tooltip: { renderMode: "richText", trigger: "axis" },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 16, top: 16, bottom: 48, containLabel: true }
    };
  }

  function draw(id, option) {
    var element = document.getElementById(id);
    if (!element) { return; }
    var chart = echarts.init(element, null, { renderer: "canvas" });
    var full = base();
    Object.keys(option).forEach(function (key) { full[key] = option[key]; });
    chart.setOption(full);
    charts.push(chart);
  }

  draw("chart-funnel", {
    xAxis: { type: "category", data: data.funnel.stages, axisLabel: { interval: 0, hideOverlap: true } },
    yAxis: { type: "value", minInterval: 1 },
    series: data.funnel.series.map(function (s) {
      return { type: "bar", name: s.name, data: s.data, barMaxWidth: 28 };
    })
  });

  // Days as MM-DD on the axis (the year is in the period above the charts).
  var dayAxis = { type: "category", data: data.daily.days, axisLabel: { formatter: function (v) { return v.slice(5); } } };

  draw("chart-rates", {
    xAxis: dayAxis,
    yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
    tooltip: { renderMode: "richText", trigger: "axis", valueFormatter: percent },
    series: data.daily.rates.map(function (s) {
      return { type: "line", name: s.name, data: s.data, connectNulls: false, showSymbol: false };
    })
  });

  draw("chart-complaints", {
    xAxis: dayAxis,
    yAxis: { type: "value", minInterval: 1 },
    series: data.daily.complaints.map(function (s) {
      return { type: "bar", name: s.name, data: s.data, stack: "feedback", barMaxWidth: 18 };
    }),
    color: ["#c2410c", "#7e22ce"]
  });

  var consent = data.consent;
  draw("chart-consent", {
    tooltip: {
      renderMode: "richText",
      trigger: "item",
      formatter: function (p) { return p.value[1] + " · " + p.value[0] + ": " + percent(p.value[2]); }
    },
    legend: { show: false },
    grid: { left: 8, right: 16, top: 16, bottom: 64, containLabel: true },
    xAxis: { type: "category", data: consent.channels, splitArea: { show: true } },
    yAxis: { type: "category", data: consent.categories, splitArea: { show: true } },
    visualMap: {
      min: 0, max: 1, calculable: false, orient: "horizontal", left: "center", bottom: 0,
      text: ["100%", "0%"], itemHeight: 120,
      inRange: { color: ["#fdecea", "#f4b183", "#8fbf6a", "#1e7b34"] },
      formatter: function (v) { return Math.round(v * 100) + "%"; }
    },
    series: [{
      type: "heatmap",
      name: consent.label,
      data: consent.cells,
      label: { show: true, formatter: function (p) { return percent(p.value[2]); } }
    }]
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });

  // The latest messages: the same table, refreshed from the JSON endpoint every 5 seconds.
  var live = document.getElementById("live-messages");
  var updated = document.getElementById("messages-updated");
  if (!live) { return; }
  var timer = null;

  function render(payload) {
    var body = live.querySelector("tbody");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    payload.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      payload.columns.forEach(function (column, index) {
        var cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) { cell.scope = "row"; }
        var value = row[column];
        cell.textContent = value === null || value === undefined ? "–" : String(value);
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    if (updated) {
      updated.textContent = data.messages.updated.replace("{time}", new Date().toLocaleTimeString());
    }
  }

  function poll() {
    fetch(live.getAttribute("data-source"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (payload) {
        if (payload.rows.length) { render(payload); }
        timer = window.setTimeout(poll, 5000);
      })
      .catch(function () { window.clearTimeout(timer); });  // signed out: stop asking
  }
  timer = window.setTimeout(poll, 5000);
}());
