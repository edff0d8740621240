#!/usr/bin/env node
"use strict";
/**
 * Where a static File response's cost goes that the machine's load does not move: heap
 * bytes allocated per request, page faults per request and garbage collections per request
 * of bench/static/servers.js's fdreactor server (open-file cache on), under the same load as
 * bench/static/run.js (wrk -t1, keep-alive GET /, pinned: server CPU 0, wrk CPU 1). CPU µs
 * per request is printed too, but it is the one figure here that load moves.
 *
 * Two servers per round, interleaved: "bytes" runs with a young generation big enough that
 * no scavenge happens while measuring (--min/--max-semi-space-size, this probe only), so the
 * growth of the heap's used bytes over a run is what the requests allocated; "faults" runs
 * with Node's defaults, as run.js does, and gives faults (minflt of /proc/PID/stat, every
 * thread) and scavenges per request.
 *   node bench/static/alloc.js [--size 1048576] [--conns 50] [--duration 3] [--rounds 3] [--dist DIR] [--warm-requests 5000]
 * `--dist DIR`: measure another build's dist/ as well (an A/B in the same run: "base").
 * Needs dist/ (npx tsc -p tsconfig.json) and wrk.
 */
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { installCleanup, spawnTracked, stopTracked } = require("../lib/children");
const { clockTicksPerSecond, parseStat } = require("../lib/proc");
const { runWrk } = require("../lib/wrk");
const { OUT_DIR } = require("../lib/build");
const { numberArg } = require("../lib/options");

const USAGE = "usage: node bench/static/alloc.js [--size 1048576] [--conns 50] [--duration 3] [--rounds 3] [--dist DIR] [--warm-requests 5000]";
const OPTIONS = ["--size", "--conns", "--duration", "--rounds", "--dist", "--warm-requests"];
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
for (let i = 2; i < process.argv.length; i += 2) {
  if (!OPTIONS.includes(process.argv[i])) {
    console.error(`unknown option ${JSON.stringify(process.argv[i])}\n${USAGE}`);
    process.exit(2);
  }
}
const SIZE = numberArg("size", 1024 * 1024);
const CONNS = numberArg("conns", 50);
const DURATION = numberArg("duration", 3);
const ROUNDS = numberArg("rounds", 3);
const WARM_REQUESTS = numberArg("warm-requests", 5000);
const BASE_DIST = (() => {
  const i = process.argv.indexOf("--dist");
  return i < 0 ? null : path.resolve(process.argv[i + 1]);
})();
/** A young generation no run here fills (MB per semi-space): no scavenge while measuring bytes. */
const BIG_SEMI_SPACE_MB = 128;

/** minflt (field 10) and utime+stime (14, 15) of /proc/PID/stat. */
function sample(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  const s = parseStat(text);
  return { faults: Number(rest[10 - 3]), ticks: s.utime + s.stime };
}

/** A server child: its "HEAP" answers come through `ask()`. */
function startServer(name, www, port, distDir, bigYoung) {
  const flags = bigYoung ? [`--min-semi-space-size=${BIG_SEMI_SPACE_MB}`, `--max-semi-space-size=${BIG_SEMI_SPACE_MB}`] : [];
  const args = [...flags, path.join(__dirname, "servers.js"), "fdreactor", www, String(port), "probe"];
  if (distDir !== null) args.push(distDir);
  const child = spawnTracked(name, process.execPath, args, { cpu: 0, stdio: ["pipe", "pipe", "inherit"] });
  let buf = "";
  const waiting = [];
  let ready;
  const up = new Promise((resolve) => (ready = resolve));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    buf += d;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith("READY ")) ready(Number(line.slice(6)));
      else if (line.startsWith("HEAP ")) waiting.shift()(JSON.parse(line.slice(5)));
    }
  });
  const ask = () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.stdin.write("h\n");
    });
  return { name, child, up, ask, bigYoung, rounds: [] };
}

/** One measured run against `s`: bytes (when nothing was collected), faults, GCs and CPU per request. */
async function measure(s, port) {
  await runWrk({ port, conns: CONNS, seconds: 1, cpu: 1 });
  const h0 = await s.ask();
  const a = sample(s.child.pid);
  const r = await runWrk({ port, conns: CONNS, seconds: DURATION, cpu: 1 });
  const b = sample(s.child.pid);
  // The observer reports a GC a little after it; let it catch up before reading the counts.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const h1 = await s.ask();
  const n = r.requests;
  const collected = h1.minor + h1.major + h1.other - (h0.minor + h0.major + h0.other);
  return {
    requests: n,
    bytes: collected === 0 && h1.used >= h0.used ? (h1.used - h0.used) / n : NaN,
    faults: (b.faults - a.faults) / n,
    scavenges: (h1.minor - h0.minor) / n,
    cpuUs: (((b.ticks - a.ticks) / clockTicksPerSecond()) * 1e6) / n,
    errors: r.errors.total,
  };
}

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((x, y) => x - y);
  return v.length === 0 ? NaN : v[Math.floor(v.length / 2)];
};
const spread = (xs, d) => {
  const v = xs.filter(Number.isFinite);
  return v.length === 0 ? "–" : `${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)}`;
};

async function main() {
  installCleanup();
  const work = path.join(OUT_DIR, `static-alloc-${process.pid}`);
  const www = path.join(work, "www");
  fs.mkdirSync(www, { recursive: true });
  fs.writeFileSync(path.join(www, "index.html"), crypto.randomBytes(SIZE));
  const builds = [["new", null]];
  if (BASE_DIST !== null) builds.unshift(["base", BASE_DIST]);
  const servers = [];
  try {
    for (const [label, dist] of builds) {
      for (const big of [true, false]) servers.push(startServer(`${label} ${big ? "bytes" : "faults"}`, www, 0, dist, big));
    }
    for (const s of servers) s.port = await s.up;
    for (const s of servers) {
      let served = 0;
      for (let t = 0; t < 20 && served < WARM_REQUESTS; t++) served += (await runWrk({ port: s.port, conns: CONNS, seconds: 1, cpu: 1 })).requests;
    }
    const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        const m = await measure(s, s.port);
        s.rounds.push(m);
        const what = s.bigYoung ? `${Number.isFinite(m.bytes) ? m.bytes.toFixed(0) : "– (collected)"} B/req` : `${m.faults.toFixed(3)} faults/req, ${(m.scavenges * 1000).toFixed(2)} scavenges/1000 req`;
        process.stdout.write(`round ${round + 1} ${s.name}: ${m.requests} req, ${what}, CPU ${m.cpuUs.toFixed(1)} µs/req, errors ${m.errors}\n`);
      }
    }
    process.stdout.write(`\n${SIZE} bytes, ${CONNS} conns, ${ROUNDS} rounds of ${DURATION} s; load average before: ${load}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
    process.stdout.write("| build | B/req median (min–max) | faults/req median (min–max) | scavenges per 1000 req | CPU µs/req, default heap (min–max) |\n| --- | --- | --- | --- | --- |\n");
    for (const [label] of builds) {
      const bytes = servers.find((s) => s.name === `${label} bytes`).rounds;
      const faults = servers.find((s) => s.name === `${label} faults`).rounds;
      const b = bytes.map((m) => m.bytes);
      const f = faults.map((m) => m.faults);
      const c = faults.map((m) => m.cpuUs);
      process.stdout.write(
        `| ${label} | ${median(b).toFixed(0)} (${spread(b, 0)}) | ${median(f).toFixed(3)} (${spread(f, 3)}) | ${(median(faults.map((m) => m.scavenges)) * 1000).toFixed(2)} | ${median(c).toFixed(1)} (${spread(c, 1)}) |\n`,
      );
    }
  } finally {
    for (const s of servers) await stopTracked(s.child);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
