"use strict";
/**
 * The C10K chart (vega-lite, rendered headless to SVG): per server, at each connection
 * count, throughput of the active connections, their p99 latency, server CPU per request
 * and server memory per connection — one line (with points) per server.
 *
 * Also a command that joins the runs of several connection counts into one chart:
 *   node bench/c10k/chart.js OUT.svg RUN.json [RUN.json ...]   (the JSON files run.js wrote)
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
function c10kChartSpec(rows, { unit, title, paced = 0 }) {
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
      panel("p99ms", paced > 0 ? `p99 latency at ${paced} ${unit}s/s paced, ms (median)` : "p99 latency, ms (median)"),
      panel("cpu", `server CPU µs per ${unit} (median)`),
      panel("kib", "server KiB per connection (RSS delta)"),
    ],
  };
}

/** Renders the chart of `rows` to an SVG string. */
async function c10kChartSvg(rows, { unit, title, paced = 0 }) {
  const vega = require("vega");
  const vl = require("vega-lite");
  const view = new vega.View(vega.parse(vl.compile(c10kChartSpec(rows, { unit, title, paced })).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders one chart from the summaries of several run.js JSON files (same scenario). */
async function chartFromFiles(outFile, jsonFiles) {
  const fs = require("node:fs");
  const runs = jsonFiles.map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const scenarios = [...new Set(runs.map((r) => r.options.scenario))];
  if (scenarios.length !== 1) throw new RangeError(`chartFromFiles: the runs must share one scenario, got ${scenarios.join(", ")}`);
  const rows = runs.flatMap((r) => r.summary);
  const unit = scenarios[0] === "echo" ? "msg" : "req";
  const dates = runs.map((r) => r.date).sort();
  const paced = [...new Set(runs.map((r) => r.options.paced || 0))];
  if (paced.length !== 1) throw new RangeError(`chartFromFiles: the runs must share one --paced rate (their p99 is taken there), got ${paced.join(", ")}`);
  fs.writeFileSync(outFile, await c10kChartSvg(rows, { unit, title: `C10K ${scenarios[0]}: ${dates[0]} … ${dates[dates.length - 1]}`, paced: paced[0] }));
}

if (require.main === module) {
  const [out, ...files] = process.argv.slice(2);
  if (!out || files.length === 0) {
    process.stderr.write("usage: node bench/c10k/chart.js OUT.svg RUN.json [RUN.json ...]\n");
    process.exit(2);
  }
  chartFromFiles(out, files).catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  });
}

module.exports = { c10kChartSpec, c10kChartSvg };
