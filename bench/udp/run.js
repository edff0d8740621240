"use strict";
/**
 * UDP echo: fdreactor's UDP port (integrated and exclusive run modes) against Node's dgram,
 * the peer a user would pick instead. The primary figure is server CPU per echoed datagram
 * (utime+stime of the server from /proc/PID/stat over the measured run, docs/benchmarks.md), with
 * datagrams/s beside it. Server pinned to CPU 0, load generator to CPU 1, servers
 * interleaved A,B,C,A,B,C per round, a warm-up run before each measured one.
 *
 * Two loads (--load):
 * - many (default): bench/peers/udp_load.c, --sockets client sockets each keeping --window
 *   datagrams in flight with recvmmsg/sendmmsg. The generator is much cheaper per datagram
 *   than any server here, so the server is the bottleneck and datagrams queue up at it, as
 *   at a UDP server with many clients: this measures server throughput cost.
 * - one: one Node dgram client socket keeping --window datagrams in flight. The client is
 *   slower than the servers, so most readable events carry one datagram: this measures the
 *   cost of a lightly loaded server (close to ping-pong), where batching cannot help.
 *
 *   npx tsc -p tsconfig.json && node bench/udp/run.js [--load many|one] [--rounds 5]
 *       [--count 200000] [--sockets 16] [--window 16 (one: 32)] [--size 64] [--append]
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn, execFileSync } = require("node:child_process");
const { median } = require("../lib/stats");
const { appendResults } = require("../lib/results");
const { ensureBuilt } = require("../lib/build");

const ROOT = path.resolve(__dirname, "../..");
const SERVERS = ["fdreactor", "fdreactor-exclusive", "node"];

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const LOAD = process.argv.includes("--load") ? process.argv[process.argv.indexOf("--load") + 1] : "many";
if (LOAD !== "many" && LOAD !== "one") throw new Error(`--load must be many or one, received ${LOAD}`);
const ROUNDS = option("rounds", 5);
const COUNT = option("count", 200000);
const SOCKETS = LOAD === "many" ? option("sockets", 16) : 1;
const WINDOW = option("window", LOAD === "many" ? 16 : 32);
const SIZE = option("size", 64);
const APPEND = process.argv.includes("--append");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** utime+stime of `pid` in clock ticks. */
function cpuTicks(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  return Number(rest[11]) + Number(rest[12]);
}

function freePort() {
  const dgram = require("node:dgram");
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function startServer(impl, port) {
  const child = spawn("taskset", ["-c", "0", process.execPath, path.join(__dirname, "server.js"), impl, String(port)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${impl} server did not start`)), 10000);
    child.stdout.on("data", (d) => {
      if (String(d).includes("ready")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => reject(new Error(`${impl} server exited with ${code}`)));
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The load generator's command line for `count` echoes. */
function clientCommand(port, count) {
  const rest = [String(port), String(count)];
  if (LOAD === "many") return [ensureBuilt("udp_load"), ...rest, String(SOCKETS), String(WINDOW), String(SIZE)];
  return [process.execPath, path.join(__dirname, "client.js"), ...rest, String(WINDOW), String(SIZE)];
}

function runClient(port, count) {
  const out = execFileSync("taskset", ["-c", "1", ...clientCommand(port, count)], { encoding: "utf8", timeout: 90000 });
  const r = JSON.parse(out.trim().split("\n").pop());
  if (r.bad > 0) throw new Error(`${r.bad} echoes came back wrong`);
  return r;
}

async function main() {
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  const per = Object.fromEntries(SERVERS.map((s) => [s, { cpuUs: [], rate: [], lost: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of SERVERS) {
      const port = await freePort();
      const server = await startServer(impl, port);
      try {
        runClient(port, Math.max(1000, COUNT / 10)); // warm-up: JIT, socket buffers
        const before = cpuTicks(server.pid);
        const r = runClient(port, COUNT);
        const ticks = cpuTicks(server.pid) - before;
        if (r.received < COUNT) throw new Error(`${impl}: only ${r.received} of ${COUNT} echoes in ${r.seconds} s`);
        per[impl].cpuUs.push(((ticks / CLK_TCK) * 1e6) / r.received);
        per[impl].rate.push(r.received / r.seconds);
        per[impl].lost.push(r.refills);
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${impl}: ${per[impl].cpuUs.at(-1).toFixed(2)} µs CPU/datagram, ${Math.round(per[impl].rate.at(-1))} datagrams/s\n`);
      } finally {
        await stopServer(server);
      }
    }
  }
  const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const noisy = (xs) => (Math.max(...xs) - Math.min(...xs)) / median(xs) > 0.15;
  const base = median(per.node.cpuUs);
  const lines = [];
  lines.push("| server | CPU µs/datagram median (min–max) | datagrams/s median | CPU vs Node dgram |");
  lines.push("| --- | --- | ---: | ---: |");
  for (const impl of SERVERS) {
    const c = per[impl].cpuUs;
    lines.push(`| ${impl} | ${median(c).toFixed(2)} (${spread(c)})${noisy(c) ? " noisy" : ""} | ${Math.round(median(per[impl].rate)).toLocaleString("en-US")} | ×${(median(c) / base).toFixed(2)} |`);
  }
  const raw = ["| series | per-round figures |", "| --- | --- |"];
  for (const impl of SERVERS) {
    raw.push(`| ${impl} CPU µs/datagram | ${per[impl].cpuUs.map((x) => x.toFixed(2)).join(", ")} |`);
    raw.push(`| ${impl} datagrams/s | ${per[impl].rate.map((x) => Math.round(x)).join(", ")} |`);
    raw.push(`| ${impl} stall refills (datagrams lost) | ${per[impl].lost.join(", ")} |`);
  }
  const table = lines.join("\n");
  const load = `load average before: ${loadBefore}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`;
  process.stdout.write(`${table}\n\n${raw.join("\n")}\n${load}\n`);
  if (APPEND) {
    const cmd = `node bench/udp/run.js ${process.argv.slice(2).join(" ")}`.trim();
    appendResults(path.join(ROOT, "bench/RESULTS.md"), "## UDP echo (bench/udp)", {
      title: `fdreactor UDP port vs Node dgram, load "${LOAD}" (${SOCKETS} client socket(s) × window ${WINDOW}), ${SIZE}-byte datagrams (${new Date().toISOString().slice(0, 10)})`,
      command: `npx tsc -p tsconfig.json && ${cmd}`,
      date: new Date().toISOString(),
      machine: `nproc ${os.cpus().length} · Linux ${os.release()} · node ${process.version}`,
      settings: `${ROUNDS} rounds, servers interleaved per round, ${COUNT} echoes measured after a ${Math.max(1000, COUNT / 10)}-echo warm-up; server pinned to CPU 0 (taskset -c 0), load generator (${LOAD === "many" ? "bench/peers/udp_load.c, recvmmsg/sendmmsg" : "one Node dgram socket"}) on CPU 1; server CPU = utime+stime from /proc/PID/stat (${CLK_TCK} ticks/s) over the measured run. A spread over 15% is marked noisy. The 2 cores are shared with other engineers' work; ${load}.`,
      table,
      rawTable: raw.join("\n"),
    });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
