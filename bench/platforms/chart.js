"use strict";
/**
 * The platforms chart (bench/platforms.svg), drawn by vega-lite 5 + vega 5: wait() cost
 * against idle fds (log–log), and echo server CPU per message per backend, for the native
 * and the reactor echo servers.
 */
const { summarize } = require("../lib/stats");

/** SVG text of the chart for the raw figures of one run. */
async function renderChart({ waits, echo, sizes, conns, kinds, labels }) {
  const vega = require("vega");
  const vl = require("vega-lite");
  const waitData = [];
  for (const label of labels)
    for (const n of sizes) {
      const r = waits[`${label}@${n}`];
      if (r) waitData.push({ backend: label, idle: n, ns: summarize(r).median });
    }
  const echoData = [];
  for (const c of conns)
    for (const kind of kinds)
      for (const label of labels) {
        const r = echo[`${kind}:${label}@${c}`];
        if (r) echoData.push({ backend: label, panel: `${kind}, ${c} conns`, cpuUs: summarize(r.map((x) => x.cpuUs)).median });
      }
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "fdreactor backends on Linux (kqueue through the test emulation)",
    hconcat: [
      {
        title: "wait(0) with 1 active fd",
        width: 320,
        height: 240,
        data: { values: waitData },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "idle", type: "quantitative", scale: { type: "log" }, title: "idle registered fds" },
          y: { field: "ns", type: "quantitative", scale: { type: "log" }, title: "ns per wait (median)" },
          color: { field: "backend", type: "nominal" },
        },
      },
      {
        title: "echo, 64-byte messages",
        width: 110,
        height: 240,
        data: { values: echoData },
        mark: "bar",
        encoding: {
          column: { field: "panel", type: "nominal", title: null, sort: null },
          x: { field: "backend", type: "nominal", axis: { labelAngle: -40 }, title: null },
          y: { field: "cpuUs", type: "quantitative", title: "server CPU µs per message (median)" },
          color: { field: "backend", type: "nominal" },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

module.exports = { renderChart };
