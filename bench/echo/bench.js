"use strict";
/**
 * The echo benchmark's definition (run by run.js): N connections, each sending a 64-byte
 * message and waiting for it back before the next (bench/peers/echo_client.c on CPU 1), against every echo server of
 * bench/peers/registry.js (each on CPU 0). Primary figure: server CPU µs per message.
 *
 *   node bench/echo/run.js [--rounds 3] [--duration 3] [--conns 100,1000] [--record] ...
 *   node bench/echo/run.js --help
 */
const { SERVERS } = require("../peers/registry");
const { verifyEcho } = require("../lib/verify");
const { runEchoClient } = require("../lib/echo_client");

/** One measured round: the client's warm-up, then the server sampled at MEASURE_START/END. */
async function measure({ server, workload, opts, loadCpu, sample, cpuBetween }) {
  let start = null;
  let end = null;
  const r = await runEchoClient({
    port: server.port,
    conns: workload.conns,
    size: opts.size,
    warmup: opts.warmup,
    duration: opts.duration,
    cpu: loadCpu,
    onMeasureStart: () => (start = sample()),
    onMeasureEnd: () => (end = sample()),
  });
  if (!start || !end) throw new Error("echo_client never marked its measured interval");
  const { cpuSeconds, wallSeconds } = cpuBetween(start, end);
  if (r.connected < workload.conns) throw new Error(`only ${r.connected} of ${workload.conns} connections opened (${JSON.stringify(r.errors)})`);
  return {
    count: r.messages,
    seconds: r.seconds,
    rate: r.rate,
    latencyUs: r.latency_us,
    errors: r.errors.total,
    errorDetail: r.errors,
    bytesVerified: r.bytes_verified,
    cpuSeconds,
    wallSeconds,
    rssKb: end.rssKb,
    processes: end.pids,
    command: r.command.replace(/--port \d+/, "--port PORT").replace(/--conns \d+/, "--conns N"),
  };
}

/** The echo benchmark for bench/lib/runner.js: workloads, defaults, answer check, one measured round. */
module.exports = {
  kind: "echo",
  script: "bench/echo/run.js",
  unit: "msg",
  registry: SERVERS,
  defaults: { kind: "echo", unit: "message", rounds: 3, duration: 3, warmup: 1, conns: [100, 1000], size: 64, baseline: "node-net", heading: "## Peers (baseline)" },
  workloadName: (conns) => `echo-c${conns}`,
  settings: (opts) => `${opts.size}-byte messages, one in flight per connection, every byte checked`,
  verify: verifyEcho,
  measure,
};
