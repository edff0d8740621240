"use strict";
/**
 * The C10K chart (vega-lite, rendered headless to SVG): per server, at each connection
 * count, throughput of the active connections, their p99 latency, server CPU per request
 * and server memory per connection — one line (with points) per server.
 */

/** Flattens summary rows into the records the chart plots (rows without data left out). */
function c10kChartRecords(rows) {
  return rows
    .filter((r) => !r.skipped && r.rounds > 0)
    .map((r) => ({
      server: r.label,
      conns: r.conns,
      rate: r.rate.median,
      p99ms: r.p99.median / 1000,
      cpu: r.cpuUsPer.median,
      kib: r.rssPerConnKb.median,
    }));
}

/** The vega-lite spec (exported so a test can inspect it without rendering). */
function c10kChartSpec(rows, { unit, title }) {
  const values = c10kChartRecords(rows);
  const x = { field: "conns", type: "ordinal", title: "connections held open", sort: "ascending" };
  const color = { field: "server", type: "nominal", title: null, legend: { orient: "bottom", columns: 2, labelLimit: 260 } };
  const panel = (field, title) => ({
    width: 230,
    height: 200,
    mark: { type: "line", point: { size: 60 } },
    encoding: { x, y: { field, type: "quantitative", title }, color },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    hconcat: [
      panel("rate", `${unit}s per second, active connections (median)`),
      panel("p99ms", "p99 latency, ms (median)"),
      panel("cpu", `server CPU µs per ${unit} (median)`),
      panel("kib", "server KiB per connection (RSS delta)"),
    ],
  };
}

/** Renders the chart of `rows` to an SVG string. */
async function c10kChartSvg(rows, { unit, title }) {
  const vega = require("vega");
  const vl = require("vega-lite");
  const view = new vega.View(vega.parse(vl.compile(c10kChartSpec(rows, { unit, title })).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

module.exports = { c10kChartRecords, c10kChartSpec, c10kChartSvg };
