#!/usr/bin/env node
/**
 * Deferred vs Promise vs async/await, in one process, interleaved rounds.
 *
 *   npx tsc -p tsconfig.json          # or compile lib/defer alone, see docs/defer.md
 *   taskset -c 0 node bench/defer/run.js [rounds] [chains] [gatherSize] [gatherReps]
 *
 * Workloads (same work for every peer: ten `x => x + 1` steps from 0, result checked):
 *  - chain10/deferred: new Deferred, 10 addCallback, callback(0), read .result  (synchronous)
 *  - chain10/succeed:  succeed(0) then 10 addCallback (each runs as it is added)
 *  - chain10/promise:  new Promise(resolver), 10 .then, resolve(0), await the last
 *  - chain10/async:    an async function doing 10 `await step(x)` on a sync step
 *  - gather/deferred:  N unfired Deferreds, gatherResults, fire each, read the list
 *  - gather/promise:   N Promises with captured resolvers, Promise.all, resolve each, await
 * Each round runs every workload once (rotating the order); the figures are ns per chain
 * (or per gathered item), median and min-max over rounds, and the per-round ratio
 * Deferred / Promise (below 1 means the Deferred is faster).
 */
"use strict";
const path = require("node:path");
const os = require("node:os");
const { median, summarize } = require("../lib/stats");
const defer = require(path.join(__dirname, "..", "..", "dist", "lib", "defer"));
const { Deferred, succeed, gatherResults } = defer;

const ROUNDS = Number(process.argv[2] || 7);
const CHAINS = Number(process.argv[3] || 1_000_000);
const GATHER_N = Number(process.argv[4] || 10_000);
const GATHER_REPS = Number(process.argv[5] || 20);

const inc = (x) => x + 1;

function chainDeferred(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = new Deferred();
    d.addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc);
    d.addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc);
    d.callback(0);
    sum += d.result;
  }
  if (sum !== 10 * n) throw new Error(`chainDeferred: wrong sum ${sum}`);
}

function chainSucceed(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = succeed(0);
    d.addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc);
    d.addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc).addCallback(inc);
    sum += d.result;
  }
  if (sum !== 10 * n) throw new Error(`chainSucceed: wrong sum ${sum}`);
}

async function chainPromise(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let resolve;
    const p = new Promise((r) => {
      resolve = r;
    });
    const last = p.then(inc).then(inc).then(inc).then(inc).then(inc).then(inc).then(inc).then(inc).then(inc).then(inc);
    resolve(0);
    sum += await last;
  }
  if (sum !== 10 * n) throw new Error(`chainPromise: wrong sum ${sum}`);
}

async function tenAwaits(x) {
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  x = await inc(x);
  return x;
}

async function chainAsync(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await tenAwaits(0);
  if (sum !== 10 * n) throw new Error(`chainAsync: wrong sum ${sum}`);
}

function gatherDeferred(size, reps) {
  for (let r = 0; r < reps; r++) {
    const ds = new Array(size);
    for (let i = 0; i < size; i++) ds[i] = new Deferred();
    const g = gatherResults(ds);
    for (let i = 0; i < size; i++) ds[i].callback(i);
    const out = g.result;
    if (out.length !== size || out[size - 1] !== size - 1) throw new Error("gatherDeferred: wrong result");
  }
}

async function gatherPromise(size, reps) {
  for (let r = 0; r < reps; r++) {
    const ps = new Array(size);
    const rs = new Array(size);
    for (let i = 0; i < size; i++) ps[i] = new Promise((res) => (rs[i] = res));
    const all = Promise.all(ps);
    for (let i = 0; i < size; i++) rs[i](i);
    const out = await all;
    if (out.length !== size || out[size - 1] !== size - 1) throw new Error("gatherPromise: wrong result");
  }
}

const workloads = [
  { name: "chain10/deferred", run: () => chainDeferred(CHAINS), per: CHAINS },
  { name: "chain10/succeed", run: () => chainSucceed(CHAINS), per: CHAINS },
  { name: "chain10/promise", run: () => chainPromise(CHAINS), per: CHAINS },
  { name: "chain10/async", run: () => chainAsync(CHAINS), per: CHAINS },
  { name: "gather/deferred", run: () => gatherDeferred(GATHER_N, GATHER_REPS), per: GATHER_N * GATHER_REPS },
  { name: "gather/promise", run: () => gatherPromise(GATHER_N, GATHER_REPS), per: GATHER_N * GATHER_REPS },
];

async function timeOne(w) {
  const t0 = process.hrtime.bigint();
  await w.run();
  const t1 = process.hrtime.bigint();
  return Number(t1 - t0) / w.per;
}

async function main() {
  // Warm-up: a tenth of the work of every workload, twice.
  for (let k = 0; k < 2; k++) {
    await chainDeferred(CHAINS / 10);
    await chainSucceed(CHAINS / 10);
    await chainPromise(CHAINS / 10);
    await chainAsync(CHAINS / 10);
    gatherDeferred(GATHER_N, 2);
    await gatherPromise(GATHER_N, 2);
  }
  const results = Object.fromEntries(workloads.map((w) => [w.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = workloads.map((_, i) => workloads[(i + r) % workloads.length]);
    for (const w of order) results[w.name].push(await timeOne(w));
  }
  const pairs = [
    ["chain10/deferred", "chain10/promise"],
    ["chain10/succeed", "chain10/promise"],
    ["chain10/deferred", "chain10/async"],
    ["gather/deferred", "gather/promise"],
  ];
  const lines = [];
  lines.push(`machine: nproc=${os.cpus().length} kernel=${os.release()} node=${process.version}`);
  lines.push(`rounds=${ROUNDS} chains=${CHAINS} gather=${GATHER_N}x${GATHER_REPS}`);
  lines.push("");
  lines.push("raw ns per chain (chain10/*) or per item (gather/*), by round:");
  for (const w of workloads) lines.push(`  ${w.name.padEnd(18)} ${results[w.name].map((x) => x.toFixed(1)).join(" ")}`);
  lines.push("");
  lines.push("| workload | median ns | min | max | spread |");
  lines.push("| --- | ---: | ---: | ---: | ---: |");
  for (const w of workloads) {
    const { median: m, min: lo, max: hi, spread } = summarize(results[w.name]);
    lines.push(`| ${w.name} | ${m.toFixed(1)} | ${lo.toFixed(1)} | ${hi.toFixed(1)} | ${(spread * 100).toFixed(0)}% |`);
  }
  lines.push("");
  lines.push("| ratio (per round, A/B; < 1 means A is faster) | median | min | max |");
  lines.push("| --- | ---: | ---: | ---: |");
  let goalMet = true;
  for (const [a, b] of pairs) {
    const ratios = results[a].map((x, i) => x / results[b][i]);
    const m = median(ratios);
    if (a === "chain10/deferred" && b === "chain10/promise" && m > 1) goalMet = false;
    lines.push(`| ${a} / ${b} | ${m.toFixed(3)} | ${Math.min(...ratios).toFixed(3)} | ${Math.max(...ratios).toFixed(3)} |`);
  }
  lines.push("");
  lines.push(`goal (synchronous Deferred chain at least as fast as the Promise chain): ${goalMet ? "met" : "MISSED"}`);
  console.log(lines.join("\n"));
  if (!goalMet) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
