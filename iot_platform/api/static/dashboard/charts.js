// Charts drawn with uPlot (vendored under /static/vendor). Every chart publishes the numbers it draws on its element
// (data-series) and in window.iotCharts, so what a chart shows can be compared with the API.

import uPlot from "/static/vendor/uPlot-1.6.32.esm.js";

window.iotCharts = window.iotCharts || {};

const BAND_FILL = "rgba(22, 163, 74, 0.10)";
const THRESHOLD_STROKE = "rgba(220, 38, 38, 0.7)";
const ALERT_FILL = { critical: "rgba(220, 38, 38, 0.18)", warning: "rgba(234, 179, 8, 0.20)" };

function constant(xs, value) {
  return xs.map(() => (value === null || value === undefined ? null : value));
}

function publish(el, key, series) {
  el.dataset.series = JSON.stringify(series);
  window.iotCharts[key] = series;
}

/** The last hours' averages of one sensor with its threshold band: small, no axes, no cursor. */
export function sparkline(el, key, series) {
  const data = [series.x, series.avg, constant(series.x, series.min), constant(series.x, series.max)];
  publish(el, key, series);
  if (el._chart) {
    el._chart.setData(data);
    return el._chart;
  }
  const banded = series.min !== null && series.max !== null;
  el._chart = new uPlot(
    {
      width: 168,
      height: 42,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true } },
      series: [
        {},
        { stroke: "#2563eb", width: 1.5 },
        { stroke: THRESHOLD_STROKE, width: 1, dash: [3, 3] },
        { stroke: THRESHOLD_STROKE, width: 1, dash: [3, 3] },
      ],
      bands: banded ? [{ series: [3, 2], fill: BAND_FILL }] : [],
    },
    data,
    el,
  );
  return el._chart;
}

function drawEpisodes(u, episodes) {
  const { ctx, bbox } = u;
  const [xMin, xMax] = [u.scales.x.min, u.scales.x.max];
  ctx.save();
  for (const episode of episodes) {
    const from = Math.max(episode.from, xMin);
    const to = Math.min(episode.to, xMax);
    if (to < from) continue;
    const left = u.valToPos(from, "x", true);
    const right = Math.max(u.valToPos(to, "x", true), left + 2);
    ctx.fillStyle = ALERT_FILL[episode.severity] || ALERT_FILL.warning;
    ctx.fillRect(left, bbox.top, right - left, bbox.height);
  }
  ctx.restore();
}

/** Hourly average with its min-max band, stddev, the thresholds, and the alert episodes shaded on the same axis. */
export function detailChart(el, key, series, width) {
  const data = [
    series.x,
    series.avg,
    series.minValue,
    series.maxValue,
    series.stddev,
    constant(series.x, series.min),
    constant(series.x, series.max),
  ];
  publish(el, key, series);
  el._episodes = series.episodes;
  if (el._chart) {
    el._chart.setData(data);
    el._chart.redraw(false, false);
    return el._chart;
  }
  el._chart = new uPlot(
    {
      width,
      height: 320,
      scales: { x: { time: true }, sd: { auto: true } },
      axes: [{}, { label: series.unit || "" }, { scale: "sd", side: 1, label: "stddev", grid: { show: false } }],
      series: [
        {},
        { label: "avg", stroke: "#2563eb", width: 2 },
        { label: "min", stroke: "rgba(37, 99, 235, 0.35)", width: 1 },
        { label: "max", stroke: "rgba(37, 99, 235, 0.35)", width: 1 },
        { label: "stddev", scale: "sd", stroke: "#9333ea", width: 1, dash: [2, 4] },
        { label: "threshold min", stroke: THRESHOLD_STROKE, width: 1, dash: [6, 4] },
        { label: "threshold max", stroke: THRESHOLD_STROKE, width: 1, dash: [6, 4] },
      ],
      bands: [{ series: [3, 2], fill: "rgba(37, 99, 235, 0.10)" }],
      hooks: { drawClear: [(u) => drawEpisodes(u, el._episodes || [])] },
    },
    data,
    el,
  );
  return el._chart;
}
