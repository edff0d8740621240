"use strict";
/**
 * An SVG chart of a run's summary (vega-lite, rendered headless): server CPU per unit with
 * its min–max range (the primary figure), throughput, and p99 latency, per server, with
 * one bar per connection count.
 */

/** Flattens summary rows into the records the chart plots. */
function chartRecords(rows) {
  return rows
    .filter((r) => r.rounds > 0)
    .map((r) => ({
      server: r.label,
      conns: String(r.conns),
      cpu: r.cpuUsPer.median,
      cpuMin: r.cpuUsPer.min,
      cpuMax: r.cpuUsPer.max,
      rate: r.rate.median,
      p99ms: r.p99.median / 1000,
    }));
}

/** The vega-lite spec for `rows` (exported so a test can inspect it without rendering). */
function chartSpec(rows, { unit, title }) {
  const values = chartRecords(rows);
  const x = { field: "server", type: "nominal", sort: null, axis: { labelAngle: -35, labelLimit: 220, title: null } };
  const color = { field: "conns", type: "ordinal", title: "connections", sort: values.map((v) => Number(v.conns)).sort((a, b) => a - b).map(String) };
  const panel = (field, axisTitle, extra = []) => ({
    width: 260,
    height: 220,
    encoding: { x, xOffset: { field: "conns", type: "ordinal", sort: color.sort } },
    layer: [{ mark: "bar", encoding: { y: { field, type: "quantitative", title: axisTitle }, color } }, ...extra],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    hconcat: [
      panel("cpu", `server CPU µs per ${unit} (median, min–max)`, [
        { mark: { type: "rule", color: "black" }, encoding: { y: { field: "cpuMin", type: "quantitative" }, y2: { field: "cpuMax" } } },
      ]),
      panel("rate", `${unit}s per second (median)`),
      panel("p99ms", "p99 latency, ms (median)"),
    ],
  };
}

/** Renders the chart of `rows` to an SVG string. */
async function chartSvg(rows, { unit, title }) {
  const vega = require("vega");
  const vl = require("vega-lite");
  const view = new vega.View(vega.parse(vl.compile(chartSpec(rows, { unit, title })).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

module.exports = { chartRecords, chartSvg };
