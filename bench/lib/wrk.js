"use strict";
/**
 * Running wrk (Debian's) pinned to the load generator's CPU, and reading its report:
 * the text of `--latency` plus the JSON line bench/peers/wrk_report.lua adds (p99.9 and
 * exact counts, which the text rounds or leaves out).
 */
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { spawnTracked, stopTracked } = require("./children");
const { PEERS_DIR } = require("./build");

const UNIT_US = { us: 1, ms: 1000, s: 1e6, m: 60e6, h: 3600e6 };
const SUFFIX = { "": 1, k: 1e3, M: 1e6, G: 1e9 };

/** "1.23ms" → 1230 (µs). */
function parseDurationUs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_US[m[2]];
}

/** "80.00k" → 80000. */
function parseCount(text) {
  const m = /^([\d.]+)([kMG]?)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: not a count: ${JSON.stringify(text)}`);
  return Number(m[1]) * SUFFIX[m[2]];
}

/**
 * Parses wrk's report. Returns { requests, seconds, rps, latencyUs: {mean, p50, p75, p90,
 * p99, p999?, max}, errors: {connect, read, write, timeout, status, total}, fromScript }.
 * Throws when the text is not a complete wrk report.
 */
function parseWrk(text) {
  const done = /^\s*(\d+) requests in ([\d.]+(?:us|ms|s|m|h)), /m.exec(text);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!done || !rps) throw new Error(`wrk: no summary in its output:\n${text.slice(0, 2000)}`);
  const requests = Number(done[1]);
  const seconds = parseDurationUs(done[2]) / 1e6;
  const latencyUs = {};
  const lat = /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+/m.exec(text);
  if (lat) {
    latencyUs.mean = parseDurationUs(lat[1]);
    latencyUs.max = parseDurationUs(lat[3]);
  }
  const lines = text.split("\n");
  const distAt = lines.findIndex((l) => /^\s*Latency Distribution/.test(l));
  for (let i = distAt + 1; distAt >= 0 && i < lines.length; i++) {
    const m = /^\s+([\d.]+)%\s+(\S+)\s*$/.exec(lines[i]);
    if (!m) break;
    latencyUs[`p${m[1].replace(".", "")}`] = parseDurationUs(m[2]); // 50 → p50, 99.9 → p999
  }
  const errors = { connect: 0, read: 0, write: 0, timeout: 0, status: 0 };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) Object.assign(errors, { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] });
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) errors.status = Number(non2xx[1]);
  let fromScript = false;
  const json = /^WRK_JSON (\{.*\})\s*$/m.exec(text);
  if (json) {
    const j = JSON.parse(json[1]);
    fromScript = true;
    Object.assign(errors, j.errors);
    Object.assign(latencyUs, j.latency_us);
    const secs = j.duration_us / 1e6;
    return finish(j.requests, secs, secs > 0 ? j.requests / secs : 0, latencyUs, errors, fromScript);
  }
  return finish(requests, seconds, Number(rps[1]), latencyUs, errors, fromScript);
}

/** Completes a parsed report with the error total. */
function finish(requests, seconds, rate, latencyUs, errors, fromScript) {
  errors.total = errors.connect + errors.read + errors.write + errors.timeout + errors.status;
  return { requests, seconds, rps: rate, latencyUs, errors, fromScript };
}

/** Whether wrk can be run. */
function haveWrk() {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // wrk --version prints its banner and exits 1: it exists when the error is not ENOENT.
    return !(err && err.code === "ENOENT");
  }
}

/**
 * Runs `wrk -t1 -c<conns> -d<seconds>s --latency` against <scheme>://127.0.0.1:port/
 * (`scheme` "http" or "https"; `env` is added to wrk's environment, bench/tls's
 * OPENSSL_CONF), pinned to `cpu` (null: unpinned), killed if it overruns by 10 s.
 * Resolves to parseWrk's result plus the exact command line.
 */
async function runWrk({ port, conns, seconds, threads = 1, cpu = 1, timeoutSeconds = 2, scheme = "http", env }) {
  if (!Number.isInteger(port) || port <= 0) throw new RangeError("runWrk: port must be a positive integer");
  if (!Number.isInteger(conns) || conns <= 0) throw new RangeError("runWrk: conns must be a positive integer");
  if (!(seconds > 0)) throw new RangeError("runWrk: seconds must be positive");
  if (scheme !== "http" && scheme !== "https") throw new RangeError(`runWrk: scheme must be "http" or "https", got ${JSON.stringify(scheme)}`);
  const args = [
    `-t${threads}`,
    `-c${conns}`,
    `-d${seconds}s`,
    `--timeout`,
    `${timeoutSeconds}s`,
    "--latency",
    "-s",
    path.join(PEERS_DIR, "wrk_report.lua"),
    `${scheme}://127.0.0.1:${port}/`,
  ];
  const child = spawnTracked("wrk", "wrk", args, { cpu, env });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const guard = setTimeout(() => stopTracked(child, 500), (seconds + 10) * 1000);
  const { code, signal, error } = await child.exited;
  clearTimeout(guard);
  if (error) throw new Error(`wrk could not start (apt-get install wrk): ${error.message}`, { cause: error });
  if (code !== 0) throw new Error(`wrk exited with code ${code} signal ${signal}:\n${err}${out}`);
  const envText = env ? Object.entries(env).map(([k, v]) => `${k}=${v} `).join("") : "";
  const command = `${envText}${cpu === null ? "" : `taskset -c ${cpu} `}wrk ${args.join(" ")}`;
  return { ...parseWrk(out), command, raw: out };
}

module.exports = { parseDurationUs, parseCount, parseWrk, haveWrk, runWrk };
