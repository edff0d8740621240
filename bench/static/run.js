#!/usr/bin/env node
"use strict";
/**
 * Static files, quick comparison: keep-alive GET / answered with an index.html of each
 * size asked for (default 64 KiB, then 1 MiB) by fdreactor's File (sendfile; with its
 * open-file cache of 64 files and without), nginx (1 worker, `sendfile on`; without and
 * with `open_file_cache`; master and worker both counted) and Node http +
 * fs.createReadStream. Each server pinned to CPU 0, wrk -t1 on CPU 1; rounds interleaved
 * (A,B,C,A,B,C,...). Primary figure: server CPU µs per request (/proc/PID/stat), and its
 * ratio against every other server in the same round. Beside it, both CPUs' busy time per
 * request (/proc/stat): loopback TCP runs a transfer's kernel work in the sender's or the
 * receiver's context depending on who is waiting for whom, so at 1 MiB a server that keeps
 * wrk busier is charged more of the transfer; the machine's total is what the request cost. Every server's answer is checked
 * once (status 200, the size in bytes, sha256) before measuring. Before the first round each
 * server is warmed by request count, not by time (`--warm-requests`, default 5,000, at most
 * 20 s): at 1 MiB a second of load is ~300 requests, too few for V8 to finish compiling the
 * request path, and the compiler's own threads were then counted as CPU per request.
 * `--base DIR` (or FDREACTOR_BENCH_BASE=DIR, as the C10K and HTTP harnesses take it) adds
 * "fdreactor-base": the same File server run from another built checkout (its servers.js,
 * dist/ and addon), an A/B of two builds in the same run;
 * `--servers a,b` measures only those (fdreactor always).
 * `--windows` also samples, halfway through each measured round, the connections' TCP state
 * (`ss`, bench/lib/sockets.js): wrk's receive buffers, and how many of the server's sockets
 * hold unsent bytes. A client whose window stays small leaves most of a large answer queued
 * at the server, sent later by the client's own ACKs and charged to the client.
 *   node bench/static/run.js [--rounds 3] [--duration 3] [--conns 50] [--sizes 65536,1048576] [--warm-requests 5000] [--base DIR] [--servers LIST] [--windows]
 * Needs dist/ (npx tsc -p tsconfig.json), wrk and nginx-light (and iproute2 for --windows).
 */
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { installCleanup, spawnTracked, stopTracked } = require("../lib/children");
const { sampleTree, cpuBetween, readBusy, clockTicksPerSecond } = require("../lib/proc");
const { runWrk } = require("../lib/wrk");
const { cleanupNginx, nginxBinary, prepareNginx } = require("../peers/nginx");
const { OUT_DIR } = require("../lib/build");
const { parseStrict, list, UsageError } = require("../lib/options");
const { freePort } = require("../lib/server");
const { sampleSockets, summariseSockets } = require("../lib/sockets");

const USAGE = "usage: node bench/static/run.js [--rounds 3] [--duration 3] [--conns 50] [--sizes 65536,1048576] [--warm-requests 5000] [--base DIR] [--servers fdreactor-nocache,nginx,nginx-open-file-cache,node-stream,fdreactor-base] [--windows]";
const values = (() => {
  try {
    return parseStrict(process.argv.slice(2), {
      rounds: { type: "string" },
      duration: { type: "string" },
      conns: { type: "string" },
      sizes: { type: "string" },
      "warm-requests": { type: "string" },
      base: { type: "string" },
      servers: { type: "string" },
      windows: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const WINDOWS = values.windows === true;
const arg = (name, dflt) => (values[name] === undefined ? dflt : Number(values[name]));
const ROUNDS = arg("rounds", 3);
const DURATION = arg("duration", 3);
const CONNS = arg("conns", 50);
const WARM_REQUESTS = arg("warm-requests", 5000);
/** The longest the first warm-up of one server may take, whatever it has served by then. */
const WARM_LIMIT_S = 20;
const SIZES = (() => {
  const sizes = values.sizes === undefined ? [64 * 1024, 1024 * 1024] : values.sizes.split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 64 * 1024 * 1024)) throw new RangeError("--sizes: byte counts from 1 to 67108864, comma-separated");
  return sizes;
})();
const BASE = (() => {
  const dir = values.base ?? process.env.FDREACTOR_BENCH_BASE;
  if (dir === undefined || dir === "") return null;
  // Run as the C10K and HTTP harnesses run a base build: its own servers.js, so its dist/ and its addon.
  const root = path.resolve(dir);
  const has = (...p) => fs.existsSync(path.join(root, ...p));
  const prebuilds = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
  const addon = has("build", "Release", "fdreactor.node") || (fs.existsSync(prebuilds) && fs.readdirSync(prebuilds).some((f) => f.endsWith(".node")));
  if (!has("bench", "static", "servers.js") || !has("dist", "lib", "web", "index.js") || !addon) {
    throw new Error(`--base: ${dir} is not a built fdreactor checkout (bench/static/servers.js, dist/ and the addon: npm ci, npx tsc -p tsconfig.json)`);
  }
  return path.join(root, "bench", "static", "servers.js");
})();
const ALL_SERVERS = ["fdreactor", "fdreactor-nocache", "nginx", "nginx-open-file-cache", "node-stream", ...(BASE ? ["fdreactor-base"] : [])];
const SERVERS = (() => {
  if (values.servers === undefined) return ALL_SERVERS;
  const want = list(values.servers);
  const unknown = want.filter((n) => !ALL_SERVERS.includes(n));
  if (unknown.length > 0) throw new RangeError(`--servers: unknown ${unknown.join(", ")} (known: ${ALL_SERVERS.join(", ")}; fdreactor-base needs --base)`);
  return ALL_SERVERS.filter((n) => n === "fdreactor" || want.includes(n));
})();

/** GET / once: resolves with the body (rejects on anything but 200). */
function fetchOnce(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        const parts = [];
        res.on("data", (d) => parts.push(d));
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`status ${res.statusCode}`))));
      })
      .on("error", reject);
  });
}

async function waitUp(port, child) {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error("server exited");
    try {
      return await fetchOnce(port);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server on ${port} did not answer`);
}

async function main() {
  installCleanup();
  for (const size of SIZES) await measureSize(size);
}

/** Every server on an index.html of `size` random bytes, ROUNDS interleaved rounds; prints the table. */
async function measureSize(size) {
  const work = path.join(OUT_DIR, `static-${process.pid}`);
  const www = path.join(work, "www");
  fs.mkdirSync(www, { recursive: true });
  const body = crypto.randomBytes(size);
  const sha = crypto.createHash("sha256").update(body).digest("hex");
  fs.writeFileSync(path.join(www, "index.html"), body);
  const servers = [];
  const nginxDirs = [];
  try {
    for (const name of SERVERS) {
      const port = await freePort();
      let child;
      if (name.startsWith("nginx")) {
        const bin = nginxBinary();
        if (bin === null) throw new Error("nginx is not installed (apt-get install nginx-light)");
        const nginx = prepareNginx({ port, staticRoot: www, openFileCache: name === "nginx-open-file-cache" });
        nginxDirs.push(nginx);
        child = spawnTracked(name, bin, ["-p", nginx.dir, "-c", nginx.conf, "-e", path.join(nginx.dir, "error.log")], { cpu: 0 });
      } else if (name === "fdreactor-base") {
        child = spawnTracked(name, process.execPath, [BASE, "fdreactor", www, String(port)], { cpu: 0 });
      } else {
        child = spawnTracked(name, process.execPath, [path.join(__dirname, "servers.js"), name, www, String(port)], { cpu: 0 });
      }
      servers.push({ name, port, child, rounds: [] });
      const got = await waitUp(port, child);
      const ok = got.length === size && crypto.createHash("sha256").update(got).digest("hex") === sha;
      if (!ok) throw new Error(`${name}: wrong answer (${got.length} bytes)`);
    }
    for (const s of servers) await warmUp(s.port);
    const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
    process.stdout.write(`\n### ${size} bytes\n`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        await runWrk({ port: s.port, conns: CONNS, seconds: 1, cpu: 1 });
        const busyA = readBusy();
        const a = sampleTree(s.child.pid);
        const sockets = WINDOWS ? sampleSocketsLater(s.port, (DURATION * 1000) / 2) : null;
        const r = await runWrk({ port: s.port, conns: CONNS, seconds: DURATION, cpu: 1 });
        const b = sampleTree(s.child.pid);
        const busyB = readBusy();
        const { cpuSeconds } = cpuBetween(a, b);
        // Both CPUs' busy time (server, wrk, and the loopback TCP work charged to either or to
        // neither): what a request cost the machine, however the kernel split it between them.
        const bothSeconds = [0, 1].reduce((sum, c) => sum + (busyB[c] ?? NaN) - (busyA[c] ?? NaN), 0) / clockTicksPerSecond();
        // No request in the interval (the machine stalled wrk or the server): no figure, not Infinity.
        const per = (sec) => (r.requests > 0 ? (sec * 1e6) / r.requests : NaN);
        const m = { requests: r.requests, rps: r.rps, cpuUs: per(cpuSeconds), bothUs: per(bothSeconds), p99: r.latencyUs.p99, errors: r.errors.total };
        s.rounds.push(m);
        process.stdout.write(`round ${round + 1} ${s.name}: ${m.requests} req, ${m.rps.toFixed(0)} req/s, CPU ${m.cpuUs.toFixed(1)} µs/req, both CPUs ${m.bothUs.toFixed(1)} µs/req, p99 ${(m.p99 / 1000).toFixed(2)} ms, errors ${m.errors}\n`);
        if (sockets !== null) {
          const sample = await sockets;
          if (sample instanceof Error) throw sample;
          const w = summariseSockets(sample);
          process.stdout.write(`  sockets mid-round: wrk's receive buffer median ${kib(w.clientRbMedian)} KiB; ${w.serverUnsent} of ${w.connections} server sockets hold unsent bytes (median ${kib(w.serverUnsentMedian)} KiB); window offered to the server, median ${kib(w.sndWndMedian)} KiB\n`);
        }
      }
    }
    const med = (all) => {
      const xs = all.filter(Number.isFinite).sort((x, y) => x - y);
      return xs.length ? xs[Math.floor(xs.length / 2)] : NaN;
    };
    const f = servers.find((s) => s.name === "fdreactor");
    process.stdout.write(`\nload average before: ${load}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
    process.stdout.write(`| server (${size} bytes) | CPU µs/req median (min–max) | req/s median | fdreactor ÷ server, per round (median) | both CPUs µs/req median | fdreactor ÷ server, both CPUs (median) |\n| --- | --- | --- | --- | --- | --- |\n`);
    const listed = (xs) => `${xs.map((x) => (Number.isFinite(x) ? x.toFixed(2) : "–")).join(", ")} (${med(xs).toFixed(2)})`;
    for (const s of servers) {
      const cpu = s.rounds.map((m) => m.cpuUs);
      const ok = cpu.filter(Number.isFinite);
      const ratios = s.rounds.map((m, i) => f.rounds[i].cpuUs / m.cpuUs);
      const both = s.rounds.map((m, i) => f.rounds[i].bothUs / m.bothUs);
      process.stdout.write(`| ${s.name} | ${med(cpu).toFixed(1)} (${Math.min(...ok).toFixed(1)}–${Math.max(...ok).toFixed(1)}) | ${med(s.rounds.map((m) => m.rps)).toFixed(0)} | ${listed(ratios)} | ${med(s.rounds.map((m) => m.bothUs)).toFixed(1)} | ${listed(both)} |\n`);
    }
  } finally {
    for (const s of servers) await stopTracked(s.child);
    for (const n of nginxDirs) cleanupNginx(n);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** KiB with no decimals, "–" for none. */
function kib(bytes) {
  return Number.isFinite(bytes) ? (bytes / 1024).toFixed(0) : "–";
}

/** sampleSockets(port) after `ms`, while wrk runs; an Error in place of the sample when ss failed (awaited only after wrk). */
function sampleSocketsLater(port, ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
    .then(() => sampleSockets(port))
    .catch((e) => e);
}

/** Load on `port` in 1 s steps until WARM_REQUESTS were served or WARM_LIMIT_S passed (the same for every server). */
async function warmUp(port) {
  let served = 0;
  for (let t = 0; t < WARM_LIMIT_S && served < WARM_REQUESTS; t++) served += (await runWrk({ port, conns: CONNS, seconds: 1, cpu: 1 })).requests;
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
