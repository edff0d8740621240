"use strict";
/**
 * Reading what the load generators report and turning it into figures: one JSON line per
 * report (parseReport), the results of several load processes merged into one (their HDR
 * histograms added, counts and errors summed), the expected HTTP answer with the bytes that
 * may differ (a Date value), and one round's derived figures (CPU per request, RSS per
 * connection, set-up rate).
 */
const hdr = require("hdr-histogram-js");

/** Kinds of error a load generator counts. */
const ERROR_KINDS = ["mismatch", "extra", "reset", "closed", "connectFailed", "connectTimeout"];

/** An empty latency histogram (µs) as the load generators record and this module merges them. */
function newHistogram() {
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 60e6, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

/** Zero counts of every error kind, in ERROR_KINDS order. */
function emptyErrors() {
  return Object.fromEntries(ERROR_KINDS.map((k) => [k, 0]));
}

/** A report line that is not what a load generator writes. */
class ReportError extends Error {
  /** @param {string} message @param {unknown} [cause] */
  constructor(message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ReportError";
  }
}

/** Parses one line a load generator wrote: an object with a known `type`; throws ReportError otherwise. */
function parseReport(line) {
  let obj;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    throw new ReportError(`load generator wrote a line that is not JSON: ${JSON.stringify(String(line).slice(0, 120))}`, err);
  }
  if (obj === null || typeof obj !== "object" || !["limits", "progress", "connected", "driving", "result"].includes(obj.type))
    throw new ReportError(`load generator wrote an unknown report: ${JSON.stringify(String(line).slice(0, 120))}`);
  if (obj.type === "result") {
    for (const k of ["count", "seconds", "rate", "established"]) {
      if (typeof obj[k] !== "number" || !Number.isFinite(obj[k])) throw new ReportError(`result report without a numeric ${k}: ${JSON.stringify(String(line).slice(0, 120))}`);
    }
    if (typeof obj.histogram !== "string" || obj.errors === null || typeof obj.errors !== "object") throw new ReportError("result report without histogram or errors");
  }
  return obj;
}

/**
 * Merges the result reports of the load processes of one round: counts, rates and errors
 * summed, latency percentiles (µs) from the sum of their histograms.
 */
function mergeResults(reports) {
  if (!Array.isArray(reports) || reports.length === 0) throw new RangeError("mergeResults: reports must be a non-empty array");
  const merged = newHistogram();
  const errors = emptyErrors();
  const connectErrors = {};
  let count = 0;
  let rate = 0;
  let established = 0;
  let openAtEnd = 0;
  let connectSeconds = 0;
  let seconds = 0;
  for (const r of reports) {
    const h = hdr.decodeFromCompressedBase64(r.histogram, 32, false);
    merged.add(h);
    count += r.count;
    rate += r.rate;
    established += r.established;
    openAtEnd += typeof r.openAtEnd === "number" ? r.openAtEnd : 0;
    seconds = Math.max(seconds, r.seconds);
    if (typeof r.connectSeconds === "number") connectSeconds = Math.max(connectSeconds, r.connectSeconds);
    for (const k of ERROR_KINDS) errors[k] += Number(r.errors[k]) || 0;
    for (const [code, n] of Object.entries(r.connectErrors || {})) connectErrors[code] = (connectErrors[code] || 0) + n;
  }
  const pct = (q) => (merged.totalCount > 0 ? merged.getValueAtPercentile(q) : NaN);
  return {
    count,
    rate,
    seconds,
    established,
    openAtEnd,
    connectSeconds,
    latencyUs: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: merged.totalCount > 0 ? merged.maxValue : NaN },
    errors,
    errorTotal: ERROR_KINDS.reduce((a, k) => a + errors[k], 0),
    connectErrors,
  };
}

/**
 * The exact answer an HTTP server gave (head + blank line + body, from verifyHttp) as hex,
 * with the byte ranges that may differ between answers: the value of a Date header.
 */
function expectedAnswer(head, body) {
  const text = `${head}\r\n\r\n${body}`;
  const wildcards = [];
  const re = /(^|\r\n)date:[ \t]*/gi;
  let m;
  for (let guard = 0; guard < 16 && (m = re.exec(text)) !== null; guard++) {
    const from = m.index + m[0].length;
    const to = text.indexOf("\r\n", from);
    wildcards.push([from, to < 0 ? text.length : to]);
  }
  return { hex: Buffer.from(text, "latin1").toString("hex"), length: text.length, wildcards };
}

/**
 * The server's cost over a measured interval at `rate` per second: CPU seconds, wall
 * seconds, CPU share in percent and CPU µs per unit (share ÷ rate).
 */
function cpuOver(start, end, rate, cpuBetween) {
  const { cpuSeconds, wallSeconds } = cpuBetween(start, end);
  const cpuShare = wallSeconds > 0 ? cpuSeconds / wallSeconds : NaN;
  return { cpuSeconds, wallSeconds, cpuPercent: cpuShare * 100, cpuUsPer: rate > 0 ? (cpuShare / rate) * 1e6 : NaN };
}

/**
 * One round's figures from the merged load results and the server samples taken around it:
 * `base` (before connecting), `idle` (all connected, no traffic), `start`/`end` (the
 * measured interval). CPU per unit is the server's share of a core over the interval
 * divided by the rate, so load processes that count over slightly different intervals
 * do not skew it.
 */
function deriveRound(load, { base, idle, start, end }, { cpuBetween, conns }) {
  const held = load.established;
  const setup = cpuBetween(base, idle);
  return {
    ...load,
    conns,
    ...cpuOver(start, end, load.rate, cpuBetween),
    rssBaseKb: base.rssKb,
    rssIdleKb: idle.rssKb,
    rssKb: end.rssKb,
    rssPerConnKb: held > 0 ? (idle.rssKb - base.rssKb) / held : NaN,
    setupRate: load.connectSeconds > 0 ? held / load.connectSeconds : NaN,
    setupCpuUsPerConn: held > 0 ? (setup.cpuSeconds / held) * 1e6 : NaN,
  };
}

/**
 * The paced phase's figures from its merged load results and the server samples around its
 * measured interval: the rate asked for and the one reached, the latency percentiles, and
 * the server's CPU share and CPU per message at that rate.
 */
function derivePaced(load, { start, end }, { cpuBetween, target }) {
  const { cpuSeconds, cpuPercent, cpuUsPer } = cpuOver(start, end, load.rate, cpuBetween);
  return {
    target,
    rate: load.rate,
    count: load.count,
    sustained: load.rate >= 0.97 * target,
    latencyUs: load.latencyUs,
    cpuSeconds,
    cpuPercent,
    cpuUsPer,
  };
}

module.exports = { newHistogram, emptyErrors, ReportError, parseReport, mergeResults, expectedAnswer, deriveRound, derivePaced };
