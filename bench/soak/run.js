#!/usr/bin/env node
// npm run soak [-- --seconds 180 --rate 4000 --concurrency 64 --mode integrated --protocol echo|http --gc 0|1 --backend epoll|io_uring|poll]
// (--gc 1, the default, runs the server with --expose-gc and collects before each sample: its
// heapUsed counts live objects only and its RSS is not V8 postponing a collection. Without
// it (--gc 0) an HTTP soak shows RSS creeping up while the live heap stays flat.)
//
// A bounded soak of fdreactor (compiled, from dist/): an echo server (server.js, pinned to
// CPU 0) under connection churn from an fdreactor client (client.js, pinned to CPU 1) that
// opens RATE connections a second (at most CONCURRENCY at once), sends each 1..4096
// pattern bytes, checks the echo byte for byte and closes. Once a second this driver
// samples the server's fd count (/proc/PID/fd), its RSS (/proc/PID/status VmRSS) and the
// server's own line (reactor.getDelayedCalls().length, live connections). It then compares
// the first minute after a 10 s warm-up with the last minute (shorter windows when the run
// is shorter than 3 minutes) and
// exits non-zero on any lost or corrupted byte, failed connection, leaked fd, timer growth,
// RSS growth over 10 %, or a crash. Not part of CI: minutes long by design.
"use strict";
const { spawn, spawnSync, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const stats = require("../lib/stats");

const ROOT = path.resolve(__dirname, "..", "..");
const opts = { seconds: 180, rate: 4000, concurrency: 64, mode: "integrated", protocol: "echo", gc: 1, backend: "epoll" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, "");
  if (!(k in opts) || argv[i + 1] === undefined) {
    console.error(`usage: node bench/soak/run.js [--seconds N] [--rate N] [--concurrency N] [--mode integrated|exclusive] [--protocol echo|http] [--gc 1] [--backend epoll|io_uring|...] (unknown: ${argv[i]})`);
    process.exit(2);
  }
  opts[k] = k === "mode" || k === "protocol" || k === "backend" ? argv[i + 1] : Number(argv[i + 1]);
}
if (!(opts.seconds > 0 && opts.seconds <= 1800)) throw new RangeError("--seconds must be in (0, 1800]");
if (!(opts.rate > 0) || !(opts.concurrency > 0)) throw new RangeError("--rate and --concurrency must be > 0");

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") ? fs.statSync(p).mtimeMs : 0);
  }
  return t;
}
const distIndex = path.join(ROOT, "dist", "lib", "index.js");
if (!fs.existsSync(distIndex) || fs.statSync(distIndex).mtimeMs < newest(path.join(ROOT, "lib"))) {
  console.log("soak: compiling the library into dist/ (npx tsc -p tsconfig.json)");
  spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
  if (!fs.existsSync(distIndex)) throw new Error("soak: dist/lib/index.js is missing after tsc");
}

const canPin = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;
const pinned = (cpu, args) => (canPin ? ["taskset", ["-c", String(cpu), process.execPath, ...args]] : [process.execPath, args]);

function lines(child, onLine) {
  readline.createInterface({ input: child.stdout }).on("line", onLine);
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (s) => (err += s));
  return () => err;
}

function procSample(pid) {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  return { fds, rssKiB };
}

/** bench/lib/stats median, NaN for no samples (a run too short to sample). */
const median = (xs) => (xs.length === 0 ? NaN : stats.median(xs));

async function main() {
  const [scmd, sargs] = pinned(0, [...(opts.gc ? ["--expose-gc"] : []), path.join(__dirname, "server.js"), opts.mode, opts.protocol, opts.backend]);
  const server = spawn(scmd, sargs, { stdio: ["ignore", "pipe", "pipe"] });
  let port = 0;
  let serverLine = { timers: NaN, live: NaN, accepted: 0, bytes: 0 };
  let serverStopped = false;
  const serverErr = lines(server, (l) => {
    if (l.startsWith("port ")) port = Number(l.slice(5));
    else if (l === "stopped") serverStopped = true;
    else if (l.startsWith("{")) serverLine = JSON.parse(l);
  });
  const serverExit = new Promise((r) => server.on("exit", (code, sig) => r({ code, sig })));
  for (let i = 0; i < 500 && port === 0; i++) await new Promise((r) => setTimeout(r, 10));
  if (port === 0) throw new Error(`soak: the server did not start: ${serverErr()}`);
  // The server's own pid (taskset execs node in place, so it is the child's pid).
  const pid = server.pid;
  await new Promise((r) => setTimeout(r, 1500)); // its first stats line
  const baseline = { ...procSample(pid), timers: serverLine.timers };

  const [ccmd, cargs] = pinned(1, [path.join(__dirname, "client.js"), String(port), String(opts.seconds), String(opts.rate), String(opts.concurrency), opts.mode, opts.protocol]);
  const client = spawn(ccmd, cargs, { stdio: ["ignore", "pipe", "pipe"] });
  let final = null;
  let clientLine = { started: 0, completed: 0 };
  const clientErr = lines(client, (l) => {
    const o = JSON.parse(l);
    if (o.final) final = o.final;
    else clientLine = o;
  });
  const clientExit = new Promise((r) => client.on("exit", (code, sig) => r({ code, sig })));
  const t0 = Date.now();
  const samples = [];
  let clientDone = false;
  clientExit.then(() => (clientDone = true));
  while (!clientDone) {
    await new Promise((r) => setTimeout(r, 1000));
    if (clientDone) break;
    const s = procSample(pid);
    samples.push({ t: (Date.now() - t0) / 1000, ...s, timers: serverLine.timers, live: serverLine.live, ownFds: serverLine.fds, heapUsed: serverLine.heapUsed, completed: clientLine.completed });
  }
  const clientResult = await clientExit;
  await new Promise((r) => setTimeout(r, 2000)); // let the last closes land
  const idle = { ...procSample(pid), timers: serverLine.timers, live: serverLine.live };
  server.kill("SIGTERM");
  const serverResult = await serverExit;

  const T = opts.seconds;
  const w = Math.min(60, T / 3);
  // The first window starts after a warm-up (JIT, heap and buffer growth): 10 s, or T/6.
  const warm = Math.min(10, T / 6);
  const first = samples.filter((s) => s.t > warm && s.t <= warm + w);
  const last = samples.filter((s) => s.t > T - w && s.t <= T);
  const win = (ss) => ({
    samples: ss.length,
    fdsMedian: median(ss.map((s) => s.fds)),
    fdsMax: Math.max(...ss.map((s) => s.fds)),
    // The server's own fds minus its live connections, both read at one instant: its overhead.
    fdsOverLiveMax: Math.max(...ss.map((s) => s.ownFds - s.live)),
    rssMedianMiB: +(median(ss.map((s) => s.rssKiB)) / 1024).toFixed(1),
    rssMaxMiB: +(Math.max(...ss.map((s) => s.rssKiB)) / 1024).toFixed(1),
    heapUsedMedianMiB: +(median(ss.map((s) => s.heapUsed)) / 1048576).toFixed(1),
    timersMax: Math.max(...ss.map((s) => s.timers)),
    // Timers beyond one per live connection (http: each channel has one), read at one instant.
    timersOverLiveMax: Math.max(...ss.map((s) => s.timers - (opts.protocol === "http" ? s.live : 0))),
    ratePerSecond: ss.length > 1 ? Math.round((ss[ss.length - 1].completed - ss[0].completed) / (ss[ss.length - 1].t - ss[0].t)) : NaN,
  });
  const fw = win(first);
  const lw = win(last);
  const f = final || {};
  const checks = {
    clientExitedCleanly: clientResult.code === 0 && final !== null,
    serverSurvivedAndStoppedCleanly: serverResult.code === 0 && serverStopped,
    zeroFailedConnects: f.failedConnect === 0,
    zeroLostConnections: f.lostEarly === 0 && f.inflightAtStop === 0,
    zeroCorruptBytes: f.mismatches === 0,
    zeroLostBytes: f.bytesSent === f.bytesVerified,
    serverEchoedEverything: serverLine.bytes === f.bytesSent,
    noFdLeak: idle.fds === baseline.fds && idle.live === 0,
    noFdGrowth: lw.fdsOverLiveMax <= fw.fdsOverLiveMax && lw.fdsMax <= baseline.fds + 2 * opts.concurrency,
    noTimerGrowth: lw.timersOverLiveMax <= fw.timersOverLiveMax && lw.timersMax <= fw.timersMax + opts.concurrency && idle.timers === baseline.timers,
    noRssGrowth: lw.rssMedianMiB <= fw.rssMedianMiB * 1.1,
    // Live objects after a full collection (only meaningful with --gc 1): 10 % or 1 MiB of slack.
    noLiveHeapGrowth: !opts.gc || lw.heapUsedMedianMiB <= Math.max(fw.heapUsedMedianMiB * 1.1, fw.heapUsedMedianMiB + 1),
  };
  const report = {
    command: `npm run soak -- --seconds ${opts.seconds} --rate ${opts.rate} --concurrency ${opts.concurrency} --mode ${opts.mode} --protocol ${opts.protocol} --gc ${opts.gc} --backend ${opts.backend}`,
    date: new Date().toISOString(),
    machine: `nproc ${os.cpus().length}, ${os.type()} ${os.release()}, node ${process.version}, pinned: ${canPin ? "server CPU 0, client CPU 1" : "no"}, loadavg ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`,
    client: f,
    serverEchoedBytes: serverLine.bytes,
    serverAccepted: serverLine.accepted,
    baseline,
    idleAfter: idle,
    firstWindow: fw,
    lastWindow: lw,
    windowSeconds: w,
    warmUpSeconds: warm,
    checks,
    stderr: { server: serverErr(), client: clientErr() },
  };
  console.log(JSON.stringify(report, null, 2));
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => k);
  console.log(failed.length === 0 ? "soak: PASS" : `soak: FAIL (${failed.join(", ")})`);
  process.exit(failed.length === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
