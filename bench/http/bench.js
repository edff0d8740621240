"use strict";
/**
 * The http benchmark's definition (run by run.js): keep-alive `GET /` answered with the
 * 13-byte body "Hello, World!", load from Debian's wrk (`wrk -t1 -cN --latency`, on CPU 1) against every http server of
 * bench/peers/registry.js (each on CPU 0). Primary figure: server CPU µs per request.
 *
 *   node bench/http/run.js [--rounds 3] [--duration 3] [--conns 100,1000] [--record] ...
 *   node bench/http/run.js --help
 */
const { SERVERS } = require("../peers/registry");
const { verifyHttp } = require("../lib/verify");
const { runWrk } = require("../lib/wrk");
const { sampledRun, wrkRound } = require("../lib/measure");

/** One measured round: a wrk warm-up run, then the server sampled around the measured wrk run. */
async function measure(ctx) {
  const { server, workload, loadCpu } = ctx;
  return wrkRound(await sampledRun(ctx, (seconds) => runWrk({ port: server.port, conns: workload.conns, seconds, cpu: loadCpu })));
}

/** The http benchmark for bench/lib/runner.js: workloads, defaults, answer check, one measured round. */
module.exports = {
  kind: "http",
  script: "bench/http/run.js",
  unit: "req",
  registry: SERVERS,
  defaults: { kind: "http", unit: "request", rounds: 3, duration: 3, warmup: 1, conns: [100, 1000], baseline: "node-http", wholeSeconds: true, heading: "## Peers (baseline)" },
  workloadName: (conns) => `http-c${conns}`,
  settings: () => "keep-alive GET /, 13-byte body; wrk counts requests, the peers' answers were checked once (status 200, body)",
  verify: verifyHttp,
  measure,
};
