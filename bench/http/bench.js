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

/** One measured round: a wrk warm-up run, then the server sampled around the measured wrk run. */
async function measure({ server, workload, opts, loadCpu, sample, cpuBetween }) {
  if (opts.warmup > 0) await runWrk({ port: server.port, conns: workload.conns, seconds: opts.warmup, cpu: loadCpu });
  const start = sample();
  const r = await runWrk({ port: server.port, conns: workload.conns, seconds: opts.duration, cpu: loadCpu });
  const end = sample();
  const { cpuSeconds, wallSeconds } = cpuBetween(start, end);
  return {
    count: r.requests,
    seconds: r.seconds,
    rate: r.rps,
    latencyUs: r.latencyUs,
    errors: r.errors.total,
    errorDetail: r.errors,
    cpuSeconds,
    wallSeconds,
    rssKb: end.rssKb,
    processes: end.pids,
    command: r.command.replace(/-s \S+wrk_report\.lua/, "-s bench/peers/wrk_report.lua").replace(/ -c\d+ /, " -cN ").replace(/:\d+\/$/, ":PORT/"),
  };
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
