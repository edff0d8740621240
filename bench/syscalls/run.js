#!/usr/bin/env node
"use strict";
/**
 * Syscalls and server CPU per echoed message: the C epoll reference, Node net, fdreactor on
 * epoll and fdreactor on io_uring (each run mode given; io_uring both through readiness
 * and through its buffer ring), the same C echo load (bench/peers/echo_client.c)
 * against each, interleaved over rounds. Over the client's measured interval only, the
 * server's syscalls are counted with `perf stat -I 50 -e raw_syscalls:sys_enter -p PID`
 * (cheap; exact but for the 50 ms lines at the interval's edges) and its CPU read from
 * /proc/PID/stat; one extra pass per server under
 * `strace -c -f` names the syscalls (strace slows the server: its counts, not its CPU).
 *
 *   node bench/syscalls/run.js [--conns 10000] [--size 64] [--duration 3] [--rounds 3]
 *                              [--modes integrated,exclusive] [--no-strace]
 * Needs perf (linux-perf) and strace; servers on CPU 0, the client on CPU 1.
 */
const { spawn } = require("node:child_process");
const os = require("node:os");
const { parseArgs } = require("node:util");
const { PEERS } = require("../peers/registry");
const { startServer } = require("../lib/server");
const { runEchoClient } = require("../lib/echo_client");
const { readCpuTicks, clockTicksPerSecond } = require("../lib/proc");
const { median } = require("../lib/stats");
const { machineLine } = require("../lib/machine");
const path = require("node:path");

const { values } = parseArgs({
  options: {
    conns: { type: "string", default: "10000" },
    size: { type: "string", default: "64" },
    duration: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    modes: { type: "string", default: "integrated" },
    "no-strace": { type: "boolean", default: false },
  },
});
const conns = Number(values.conns);
const size = Number(values.size);
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const modes = values.modes.split(",");
for (const [k, v] of Object.entries({ conns, size, duration, rounds })) {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`--${k} must be a positive integer`);
}
for (const m of modes) if (m !== "integrated" && m !== "exclusive") throw new RangeError(`--modes: ${m} is not a run mode`);

/**
 * A spec for fdreactor's C10K echo server on `backend` in `mode`; `completion`: io_uring
 * reading through its buffer ring (recvRing 64) instead of readiness and read batches.
 */
function fdreactor(backend, mode, completion = false) {
  return {
    name: `fdreactor-${backend}${completion ? "-completion" : ""}-${mode}`,
    modes: ["echo"],
    cmd: process.execPath,
    args: [path.join(__dirname, "..", "c10k", "fdreactor_server.js"), "{mode}", "{port}"],
    env: { FDREACTOR_BACKEND: backend, FDREACTOR_MODE: mode, ...(completion ? { FDREACTOR_RECV_RING: "64" } : {}) },
    ready: "stdout",
  };
}

// The C epoll reference and Node net: the two peers for CPU per message; io_uring
// with both read paths, compared in the same run.
const servers = [PEERS.find((p) => p.name === "c-reference"), PEERS.find((p) => p.name === "node-net")];
for (const m of modes) servers.push(fdreactor("epoll", m), fdreactor("io_uring", m), fdreactor("io_uring", m, true));

/**
 * Starts `perf stat -I 50` on pid, before the load: a perf started at MEASURE_START would
 * miss the first part of the interval while it attaches. Each 50 ms line is placed on this
 * process's clock (its arrival time less its timestamp, the smallest such offset seen);
 * countBetween(t0, t1) sums the lines that end inside [t0, t1 + 50 ms).
 */
function countSyscalls(pid) {
  const perf = spawn("perf", ["stat", "-I", "50", "-x,", "-e", "raw_syscalls:sys_enter", "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  const lines = []; // [perf seconds, count]
  let offset = Infinity;
  let pending = "";
  perf.stderr.setEncoding("utf8").on("data", (d) => {
    const now = performance.now() / 1000;
    pending += d;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const [ts, count] = pending.slice(0, nl).trim().split(",");
      pending = pending.slice(nl + 1);
      if (!Number.isFinite(Number(ts))) continue;
      lines.push([Number(ts), Number(count) || 0]);
      offset = Math.min(offset, now - Number(ts));
    }
  });
  const done = new Promise((resolve) => perf.on("close", resolve));
  return {
    async countBetween(t0, t1) {
      perf.kill("SIGINT");
      await done;
      if (lines.length === 0) throw new Error("perf stat printed no interval counts");
      return lines.filter(([ts]) => ts + offset > t0 && ts + offset <= t1 + 0.05).reduce((a, [, c]) => a + c, 0);
    },
  };
}

/** Starts `strace -c -f` on pid; stop() resolves to its summary table. */
function straceSummary(pid) {
  const st = spawn("strace", ["-c", "-f", "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  st.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const done = new Promise((resolve) => st.on("close", () => resolve(err)));
  return {
    async stop() {
      st.kill("SIGINT");
      return done;
    },
  };
}

/** One measured run of `spec`: syscalls and CPU µs per message, or the strace table. */
async function measure(spec, { strace = false } = {}) {
  const server = await startServer(spec, "echo", { cpu: 0 });
  try {
    const perf = strace ? null : countSyscalls(server.pid);
    let st;
    let t0 = 0;
    let t1 = 0;
    let cpu0 = 0;
    let cpu1 = 0;
    let stopped = Promise.resolve("");
    const result = await runEchoClient({
      port: server.port,
      conns,
      size,
      warmup: 2,
      duration,
      onMeasureStart: () => {
        t0 = performance.now() / 1000;
        cpu0 = readCpuTicks(server.pid);
        if (strace) st = straceSummary(server.pid);
      },
      onMeasureEnd: () => {
        t1 = performance.now() / 1000;
        cpu1 = readCpuTicks(server.pid);
        if (st) stopped = st.stop();
      },
    });
    if (strace) return { table: await stopped };
    const count = await perf.countBetween(t0, t1);
    const errors = Object.values(result.errors || {}).reduce((a, b) => a + b, 0);
    if (errors > 0) throw new Error(`${spec.name}: the echo client saw errors ${JSON.stringify(result.errors)}`);
    const cpuUs = ((cpu1 - cpu0) / clockTicksPerSecond()) * 1e6;
    return { syscallsPerMsg: count / result.messages, cpuUsPerMsg: cpuUs / result.messages, rate: result.rate, command: result.command };
  } finally {
    await server.stop();
  }
}

async function main() {
  const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
  console.log(`# syscalls per echoed message, ${conns} connections, ${size} B, ${duration} s measured, ${rounds} rounds (${machineLine()}; load ${load})`);
  const raw = new Map(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    // Interleaved: A, B, C, A, B, C...; the order rotates so that no server always goes first.
    for (let i = 0; i < servers.length; i++) {
      const spec = servers[(i + r) % servers.length];
      const m = await measure(spec);
      raw.get(spec.name).push(m);
      console.log(`round ${r + 1} ${spec.name}: ${m.syscallsPerMsg.toFixed(3)} syscalls/msg, ${m.cpuUsPerMsg.toFixed(2)} µs CPU/msg, ${Math.round(m.rate)} msg/s`);
    }
  }
  const ref = raw.get("c-reference");
  const refCpu = median(ref.map((m) => m.cpuUsPerMsg));
  const nodeCpu = median(raw.get("node-net").map((m) => m.cpuUsPerMsg));
  console.log("\n| server | syscalls/msg (median, min–max) | server CPU µs/msg (median, min–max) | CPU vs C epoll reference | CPU vs Node net | msg/s (median) |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, ms] of raw) {
    const sc = ms.map((m) => m.syscallsPerMsg);
    const cpu = ms.map((m) => m.cpuUsPerMsg);
    const span = (a, d) => `${median(a).toFixed(d)} (${Math.min(...a).toFixed(d)}–${Math.max(...a).toFixed(d)})`;
    console.log(`| ${name} | ${span(sc, 3)} | ${span(cpu, 2)} | ×${(median(cpu) / refCpu).toFixed(2)} | ×${(median(cpu) / nodeCpu).toFixed(2)} | ${Math.round(median(ms.map((m) => m.rate)))} |`);
  }
  console.log(`\nload generator: ${ref[0].command}; load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (values["no-strace"]) return;
  for (const spec of servers) {
    const { table } = await measure(spec, { strace: true });
    console.log(`\n## strace -c -f, ${spec.name} (measured interval; strace slows it, so counts only)\n${table.trim()}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
