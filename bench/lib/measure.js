"use strict";
/** One measured round as bench/lib/runner.js wants it: warm up, then sample the server around the counted run. */

/**
 * Runs `run(warmup)` (when opts.warmup > 0), then `run(duration)` with the server sampled
 * before and after; resolves to { result, cpuSeconds, wallSeconds, end } (end: the last sample).
 */
async function sampledRun({ opts, sample, cpuBetween }, run) {
  if (opts.warmup > 0) await run(opts.warmup);
  const start = sample();
  const result = await run(opts.duration);
  const end = sample();
  return { result, end, ...cpuBetween(start, end) };
}

/** A wrk round (sampledRun over runWrk) in the runner's terms, its command with the run's own paths and numbers generalised. */
function wrkRound({ result: r, end, cpuSeconds, wallSeconds }) {
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
    command: r.command
      .replace(/OPENSSL_CONF=\S+\/bench\/out\//, "OPENSSL_CONF=bench/out/")
      .replace(/-s \S+wrk_report\.lua/, "-s bench/peers/wrk_report.lua")
      .replace(/ -c\d+ /, " -cN ")
      .replace(/:\d+\/$/, ":PORT/"),
  };
}

module.exports = { sampledRun, wrkRound };
