"use strict";
/** The C10K harness' command line: `fdreactor-c10k [options]` (bench/c10k/run.js). */
const { UsageError, parseStrict, list } = require("../lib/options");
const { STATIC_SIZES } = require("../peers/static_tree");
const { BASELINE } = require("./servers");

/** Defaults of every option (what `npm start` runs). */
const DEFAULTS = {
  scenario: "echo",
  conns: [10000],
  active: 200,
  duration: 2,
  warmup: 1,
  size: 64,
  rate: 10000,
  paced: 20000,
  perProcess: 18000,
  rounds: 3,
  fdModes: ["integrated", "exclusive"],
  fdBackends: ["epoll"],
  fileSizes: STATIC_SIZES,
  clientRcvbuf: "whole",
};

/** The --help text. */
function usage() {
  const d = DEFAULTS;
  return `usage: fdreactor-c10k [options]        (npm start = fdreactor-c10k with the defaults)

Holds many TCP connections open to each server on 127.0.0.1, drives a few of them, and
compares the servers' CPU per request (the primary figure), throughput, latency and memory
per connection. Servers run pinned to CPU 0, the load generator (fdreactor, exclusive mode)
to CPU 1. Everything stays on loopback and stops by itself.

  --scenario NAME      echo (each active connection sends SIZE bytes and waits for them
                       back), http (keep-alive GET /, 13-byte body) or static (keep-alive
                       GETs of files, each connection taking the --file-sizes in turn;
                       every response's status, length and CRC-32 checked) (default ${d.scenario})
  --conns LIST         connection counts held open, comma-separated, 1..200000
                       (default ${d.conns.join(",")}); past --per-process, servers that can
                       run several processes and the load generator does too
  --active N           connections that send traffic, spread over the open ones; the others
                       stay idle (default ${d.active})
  --duration S         measured seconds per round (default ${d.duration})
  --warmup S           seconds of traffic before measuring, after all are connected (default ${d.warmup})
  --size BYTES         echo message size, 1..65536 (default ${d.size})
  --file-sizes LIST    static: the files' sizes in bytes, 1..16777216, comma-separated
                       (default ${d.fileSizes.join(",")})
  --client-rcvbuf KIND static: the driven connections' receive buffers in the closed loop:
                       "whole" (room for the largest answer, as the paced phase always has)
                       or "default" (the kernel's, grown by autotuning). On loopback the
                       bytes a small window holds back wait at the server and go out in
                       the load generator's context, so "default" charges part of each
                       large answer to the client, more for a server whose answers keep
                       the window small (default ${d.clientRcvbuf})
  --rate N             new connections per second, at most (default ${d.rate})
  --paced N            after the closed loop, drive the active connections at a fixed N
                       messages (requests) per second in all, each on its own schedule, and
                       take the latency percentiles there, timed from when each message was
                       due (wrk2-style); 0 skips this phase and the percentiles come from the
                       closed loop (default ${d.paced})
  --per-process N      connections per process, server and load generator, 100..19500
                       (default ${d.perProcess}; the fd limit here is 20,000 per process)
  --fd-modes LIST      fdreactor run modes: integrated, exclusive (default ${d.fdModes.join(",")})
  --fd-backends LIST   fdreactor backends: epoll, io_uring, poll, ... (default ${d.fdBackends.join(",")})
  --peers LIST         servers to run, comma-separated names, or "all" (default: the
                       scenario's usual peers and every fdreactor entry); unknown names are errors
  --node-flags=FLAGS   Node/V8 flags for every server that runs on Node (fdreactor, Node net
                       and http, the cluster), space-separated, after "=" because they start
                       with dashes: --node-flags="--max-semi-space-size=16" (default: none)
  --baseline NAME      the server the ratios are against (default node-net; static:
                       node-http-static); at a count it cannot hold in one process, the
                       same Node server under cluster takes its place (added to the run)
  --rounds N           interleaved rounds (A,B,A,B...), 1..20 (default ${d.rounds})
  --json FILE          raw results (default bench/out/c10k-<scenario>-<date>.json)
  --chart FILE         SVG chart: throughput and p99 per server at each count (default: beside the JSON)
  --record             append the run to bench/RESULTS.md under "## C10K"
  --no-pin             do not pin with taskset (the results say so)
  --help               this text

Exit status: 0; 1 when a round failed; 2 on a bad command line or when no server could run.`;
}

/** The --node-flags words; each must look like a flag. */
function nodeFlags(text) {
  if (text === undefined) return [];
  const words = text.split(/\s+/).filter(Boolean);
  for (const w of words) if (!/^--[a-z0-9][a-z0-9_-]*(=\S+)?$/i.test(w)) throw new UsageError(`--node-flags: ${JSON.stringify(w)} is not a flag (--name or --name=value)`);
  return words;
}

/** Parses argv; throws UsageError naming the option when something is wrong. */
function parseC10kOptions(argv) {
  const values = parseStrict(argv, {
    scenario: { type: "string" },
    conns: { type: "string" },
    active: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    size: { type: "string" },
    "file-sizes": { type: "string" },
    "client-rcvbuf": { type: "string" },
    rate: { type: "string" },
    paced: { type: "string" },
    "per-process": { type: "string" },
    "fd-modes": { type: "string" },
    "fd-backends": { type: "string" },
    peers: { type: "string" },
    baseline: { type: "string" },
    "node-flags": { type: "string" },
    rounds: { type: "string" },
    json: { type: "string" },
    chart: { type: "string" },
    record: { type: "boolean" },
    "no-pin": { type: "boolean" },
    help: { type: "boolean" },
  });
  const num = (name, min, max, integer, dflt) => {
    if (values[name] === undefined) return dflt;
    const n = Number(values[name]);
    if (values[name].trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(values[name])}`);
    return n;
  };
  const scenario = values.scenario ?? DEFAULTS.scenario;
  if (!(scenario in BASELINE)) throw new UsageError(`--scenario must be echo, http or static, got ${JSON.stringify(scenario)}`);
  let fileSizes = DEFAULTS.fileSizes;
  if (values["file-sizes"] !== undefined) {
    if (scenario !== "static") throw new UsageError("--file-sizes is for --scenario static");
    fileSizes = list(values["file-sizes"]).map(Number);
    if (fileSizes.length === 0 || fileSizes.some((n) => !Number.isInteger(n) || n < 1 || n > 16777216) || new Set(fileSizes).size !== fileSizes.length)
      throw new UsageError(`--file-sizes must be distinct integers from 1 to 16777216, comma-separated, got ${JSON.stringify(values["file-sizes"])}`);
  }
  const clientRcvbuf = values["client-rcvbuf"] ?? DEFAULTS.clientRcvbuf;
  if (values["client-rcvbuf"] !== undefined && scenario !== "static") throw new UsageError("--client-rcvbuf is for --scenario static");
  if (clientRcvbuf !== "whole" && clientRcvbuf !== "default") throw new UsageError(`--client-rcvbuf must be whole or default, got ${JSON.stringify(clientRcvbuf)}`);
  let conns = DEFAULTS.conns;
  if (values.conns !== undefined) {
    conns = list(values.conns).map(Number);
    if (conns.length === 0 || conns.some((c) => !Number.isInteger(c) || c < 1 || c > 200000))
      throw new UsageError(`--conns must be integers from 1 to 200000, comma-separated, got ${JSON.stringify(values.conns)}`);
  }
  const active = num("active", 1, 200000, true, DEFAULTS.active);
  const smallest = Math.min(...conns);
  if (active > smallest) throw new UsageError(`--active (${active}) must not exceed the smallest --conns (${smallest})`);
  const fdModes = values["fd-modes"] === undefined ? DEFAULTS.fdModes : list(values["fd-modes"]);
  for (const m of fdModes) if (m !== "integrated" && m !== "exclusive") throw new UsageError(`--fd-modes: ${JSON.stringify(m)} is not a run mode (integrated, exclusive)`);
  const fdBackends = values["fd-backends"] === undefined ? DEFAULTS.fdBackends : list(values["fd-backends"]);
  for (const b of fdBackends) if (!["epoll", "io_uring", "kqueue", "poll", "select"].includes(b)) throw new UsageError(`--fd-backends: ${JSON.stringify(b)} is not a backend (epoll, io_uring, kqueue, poll, select)`);
  if (fdModes.length === 0 || fdBackends.length === 0) throw new UsageError("--fd-modes and --fd-backends must name at least one each");
  return {
    help: Boolean(values.help),
    scenario,
    conns,
    active,
    duration: num("duration", 0.5, 600, false, DEFAULTS.duration),
    warmup: num("warmup", 0, 600, false, DEFAULTS.warmup),
    size: num("size", 1, 65536, true, DEFAULTS.size),
    fileSizes,
    clientRcvbuf,
    rate: num("rate", 10, 1000000, true, DEFAULTS.rate),
    paced: num("paced", 0, 10000000, true, DEFAULTS.paced),
    perProcess: num("per-process", 100, 19500, true, DEFAULTS.perProcess),
    fdModes,
    fdBackends,
    peers: values.peers === undefined ? null : list(values.peers),
    baseline: values.baseline ?? BASELINE[scenario],
    nodeFlags: nodeFlags(values["node-flags"]),
    rounds: num("rounds", 1, 20, true, DEFAULTS.rounds),
    json: values.json ?? null,
    chart: values.chart ?? null,
    record: Boolean(values.record),
    pin: !values["no-pin"],
  };
}

module.exports = { DEFAULTS, usage, parseC10kOptions, UsageError };
