#!/usr/bin/env node
// Batched I/O against per-fd calls (docs/design.md, "Batching is the performance lever").
//
//   taskset -c 0 node bench/batch/run.js [--fds 1000] [--rounds 7] [--iters 200] [--record]
//
// Workloads, each over N socketpairs (default 1,000) with one pending byte / one buffer per fd:
//   read:   one readBatch(fds, N, slab, 0, 1, out)    vs  N calls native.read(fd, slab, i, 1)
//   writev: one writevBatch(fds, N, counts, bufs, out) vs N calls native.writev(fd, [buf])
//   reference: N calls of native.noop() (the N-API crossing that batching saves)
// Only the read or write calls are timed; refilling/draining the sockets between iterations
// is not. Rounds interleave A, B, A, B...; each round's figure is the median ns per fd over
// `iters` iterations; the report gives the median of rounds, the min-max spread and the
// per-fd/batch ratio measured in the same run. --record appends to bench/RESULTS.md.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execSync } = require("node:child_process");
const { appendResults } = require("../lib/results");
const { median, summarize, NOISY_SPREAD } = require("../lib/stats");

const root = path.resolve(__dirname, "../..");
const native = process.env.FDREACTOR_ADDON
  ? require(path.resolve(process.env.FDREACTOR_ADDON))
  : require(require("node-gyp-build").path(root));

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const N = arg("fds", 1000);
const ROUNDS = arg("rounds", 7);
const ITERS = arg("iters", 200);
const WARMUP = 30;
const RECORD = process.argv.includes("--record");
const AGAIN = -1;

const pairs = [];
for (let i = 0; i < N; i++) pairs.push(native.socketpair("stream"));
const writers = Int32Array.from(pairs.map((p) => p[0]));
const readers = Int32Array.from(pairs.map((p) => p[1]));
const ones = new Int32Array(N).fill(1);
const oneByte = Buffer.from([0x5a]);
const payload = Buffer.alloc(16, 0x61);
const oneByteBufs = new Array(N).fill(oneByte);
const payloadBufs = new Array(N).fill(payload);
const payloadArrays = Array.from({ length: N }, () => [payload]); // per-fd writev args, built once
const slab = new Uint8Array(N * 64);
const outTriples = new Int32Array(3 * N);
const outWords = new Int32Array(N);

function check(cond, what) {
  if (!cond) throw new Error(`bench sanity check failed: ${what}`);
}

// Untimed set-up steps.
function fillReaders() {
  native.writevBatch(writers, N, ones, oneByteBufs, outWords);
  for (let i = 0; i < N; i++) check(outWords[i] === 1, "refill");
}
function drainReaders() {
  for (let pass = 0; pass < 4; pass++) {
    native.readBatch(readers, N, slab, 0, 64, outTriples);
    let pending = false;
    for (let i = 0; i < N; i++) if (outTriples[3 * i + 2] > 0) pending = true;
    if (!pending) return;
  }
}

// Timed steps: each returns nanoseconds for one pass over all N fds.
const workloads = {
  "read: readBatch": () => {
    fillReaders();
    const t0 = process.hrtime.bigint();
    const done = native.readBatch(readers, N, slab, 0, 1, outTriples);
    const t1 = process.hrtime.bigint();
    check(done === N && outTriples[2] === 1 && outTriples[3 * N - 1] === 1, "readBatch result");
    return Number(t1 - t0);
  },
  "read: per-fd read": () => {
    fillReaders();
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sum += native.read(readers[i], slab, i, 1);
    const t1 = process.hrtime.bigint();
    check(sum === N, "per-fd read result");
    return Number(t1 - t0);
  },
  "writev: writevBatch": () => {
    const t0 = process.hrtime.bigint();
    native.writevBatch(writers, N, ones, payloadBufs, outWords);
    const t1 = process.hrtime.bigint();
    check(outWords[0] === 16 && outWords[N - 1] === 16, "writevBatch result");
    drainReaders();
    return Number(t1 - t0);
  },
  "writev: per-fd writev": () => {
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sum += native.writev(writers[i], payloadArrays[i]);
    const t1 = process.hrtime.bigint();
    check(sum === 16 * N, "per-fd writev result");
    drainReaders();
    return Number(t1 - t0);
  },
  // Reference: the N-API crossing alone, which is what batching saves per fd.
  "reference: per-fd noop": () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) native.noop();
    const t1 = process.hrtime.bigint();
    return Number(t1 - t0);
  },
};
const names = Object.keys(workloads);

for (const name of names) for (let i = 0; i < WARMUP; i++) workloads[name]();

const rounds = Object.fromEntries(names.map((n) => [n, []])); // ns per fd, one figure per round
for (let r = 0; r < ROUNDS; r++) {
  for (const name of names) {
    const samples = new Array(ITERS);
    for (let i = 0; i < ITERS; i++) samples[i] = workloads[name]() / N;
    rounds[name].push(median(samples));
  }
}

for (const [w, rfd] of pairs) {
  native.close(w);
  native.close(rfd);
}

const fmt = (x) => x.toFixed(1);
const summary = names.map((name) => {
  const s = summarize(rounds[name]);
  return { name, med: s.median, lo: s.min, hi: s.max, spread: s.spread, noisy: s.noisy };
});
const byName = Object.fromEntries(summary.map((s) => [s.name, s]));
const ratioRead = byName["read: per-fd read"].med / byName["read: readBatch"].med;
const ratioWrite = byName["writev: per-fd writev"].med / byName["writev: writevBatch"].med;
// The same ratio per round (each round measured both within a few ms), for its spread.
const perRound = (a, b) => rounds[a].map((x, i) => x / rounds[b][i]);
const rr = perRound("read: per-fd read", "read: readBatch");
const rw = perRound("writev: per-fd writev", "writev: writevBatch");

let pinned = "unknown";
try {
  pinned = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1];
} catch {
  /* not Linux */
}
const machine = `nproc ${os.cpus().length}, ${os.type()} ${os.release()}, node ${process.version}, CPUs allowed: ${pinned}`;
const lines = [];
lines.push(`| workload | ns per fd (median of ${ROUNDS}) | min-max | spread |`);
lines.push("| --- | --- | --- | --- |");
for (const s of summary)
  lines.push(`| ${s.name} | ${fmt(s.med)} | ${fmt(s.lo)}-${fmt(s.hi)} | ${(100 * s.spread).toFixed(0)}% |`);
lines.push("");
lines.push(`per-fd read / readBatch: **${ratioRead.toFixed(2)}x** (per round ${Math.min(...rr).toFixed(2)}-${Math.max(...rr).toFixed(2)})`);
lines.push(`per-fd writev / writevBatch: **${ratioWrite.toFixed(2)}x** (per round ${Math.min(...rw).toFixed(2)}-${Math.max(...rw).toFixed(2)})`);
const noisy = summary.filter((s) => s.noisy).map((s) => s.name);
if (noisy.length) lines.push(`Noisy (spread > ${NOISY_SPREAD * 100}%): ${noisy.join(", ")}.`);
const raw = names.map((n) => `- ${n}: ${rounds[n].map(fmt).join(", ")}`);

console.log(machine);
console.log(lines.join("\n"));
console.log("raw ns/fd per round:\n" + raw.join("\n"));

if (RECORD) {
  const file = path.join(root, "bench", "RESULTS.md");
  const cmd = `taskset -c ${pinned} node bench/batch/run.js ${process.argv.slice(2).join(" ")}`.trim();
  const intro =
    `One N-API call for many fds (readBatch, writevBatch) against one call per fd, over ${N} ` +
    "AF_UNIX socketpairs: 1 pending byte per fd for reads, one 16-byte buffer per fd for " +
    "writes. Only the syscall loop is timed. Figures are ns per fd; the ratio is per-fd / batch " +
    "from the same run.";
  let entry = `### ${new Date().toISOString()}\n\n`;
  entry += "```\n" + cmd + "\n" + machine + `\nkernel: ${execSync("uname -r").toString().trim()}\n` + "```\n\n";
  entry += lines.join("\n") + "\n\nRaw per-round figures (ns per fd, median of " + ITERS + " passes each):\n\n" + raw.join("\n") + "\n";
  appendResults(file, "## Batched I/O", entry, { intro });
  console.log(`appended to ${path.relative(root, file)}`);
}
