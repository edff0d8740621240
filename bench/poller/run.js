"use strict";
/**
 * Poller cost: one wait(0) per backend as idle registered fds grow (one active fd that is
 * always readable), and one trivial N-API call (native.noop) against a plain JS call.
 *
 *   taskset -c 0 node bench/poller/run.js [--rounds 5] [--append]
 * (loads dist/lib/native.js when `npx tsc -p tsconfig.json` has built it, else the addon directly)
 *
 * Idle fds are both ends of pipes, registered READABLE (a pipe's write end is never
 * readable, its read end stays empty). RLIMIT_NOFILE (20,000 here) caps the largest count;
 * select stops below FD_SETSIZE. Backends and sizes are interleaved within each round.
 * --append writes the run to bench/RESULTS.md under "## Poller".
 */
const path = require("node:path");
const fs = require("node:fs");
const os = require("node:os");
const { summarize } = require("../lib/stats");
const { fmt, formatMarkdownTable, formatTable } = require("../lib/table");
const { machineInfo } = require("../lib/machine");
const { appendResults } = require("../lib/results");
const { measureWait } = require("../lib/pollwait");

const root = path.resolve(__dirname, "../..");
const compiled = path.join(root, "dist/lib/native.js");
// The compiled library when built (npx tsc), else the addon the same way it loads it.
const native = fs.existsSync(compiled) ? require(compiled).native : require("node-gyp-build")(root);

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf("--rounds") + 1]) || (args.includes("--rounds") ? NaN : 5);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError("--rounds must be a positive integer");
const SIZES = [10, 100, 1000, 10000, 50000];

function openFdCount() {
  return fs.readdirSync("/proc/self/fd").length - 1;
}

function jsNoop() {}

/** Nanoseconds per call of `fn` over `n` calls. */
function measureCalls(fn, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

function main() {
  const backends = native.backends();
  const limit = native.getNofileLimit().soft;
  // Headroom for jest-free Node's own fds, the pollers and the active pipe.
  const room = limit - openFdCount() - 64;
  const maxIdle = Math.min(Math.max(...SIZES), room - (room % 2));
  const sizes = SIZES.map((n) => Math.min(n, maxIdle)).filter((n, i, a) => a.indexOf(n) === i);
  const fdsetMax = native.FD_SETSIZE;

  const [activeR, activeW] = native.pipe(); // first, so that its number suits select
  const idle = [];
  for (let i = 0; i < maxIdle / 2; i++) idle.push(...native.pipe());
  native.write(activeW, Buffer.from("x"), 0, 1); // readable for the whole run
  // select needs fd numbers below FD_SETSIZE: the lowest-numbered idle fds.
  const lowIdle = idle.filter((fd) => fd < fdsetMax - 8).sort((a, b) => a - b);

  const raw = {}; // key "backend@n" → ns per wait, one per round
  const calls = { noop: [], js: [] };
  const selectCap = Math.min(lowIdle.length, fdsetMax);
  for (let round = 1; round <= rounds; round++) {
    for (const n of sizes) {
      for (const backend of backends) {
        // select: sizes up to its cap; the first size past it is measured at the cap.
        if (backend === "select" && (activeR >= fdsetMax || sizes.find((m) => m >= selectCap) < n)) continue;
        const fds = backend === "select" ? lowIdle.slice(0, Math.min(n, selectCap)) : idle.slice(0, n);
        (raw[`${backend}@${n}`] ||= []).push(measureWait(native.Poller, backend, backend, fds, activeR));
      }
    }
    calls.noop.push(measureCalls(native.noop, 2e7));
    calls.js.push(measureCalls(jsNoop, 2e7));
    process.stderr.write(`round ${round}/${rounds} done\n`);
  }
  for (const fd of idle) native.close(fd);
  native.close(activeR);
  native.close(activeW);

  const headers = ["idle fds", ...backends.map((b) => `${b} ns/wait (min–max)`), ...backends.slice(1).map((b) => `${b} / ${backends[0]}`)];
  const blankRatios = []; // rows where a backend was measured at another size than the first: no ratio
  const rows = sizes.map((n) => {
    const med = {};
    const sizeOf = (b) => (b === "select" ? Math.min(n, selectCap) : n);
    const cells = backends.map((b) => {
      const r = raw[`${b}@${n}`];
      if (!r) return "–";
      const s = summarize(r);
      med[b] = s.median;
      return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})${s.noisy ? " noisy" : ""}`;
    });
    const ratios = backends.slice(1).map((b) => {
      if (!med[b]) return "–";
      if (sizeOf(b) !== sizeOf(backends[0])) {
        blankRatios.push(`${b} / ${backends[0]} at ${n} idle fds: left blank (–), ${b} was measured at ${sizeOf(b)} idle fds and ${backends[0]} at ${sizeOf(backends[0])}; a ratio across sizes would mislead.`);
        return "–";
      }
      return `×${fmt(med[b] / med[backends[0]])}`;
    });
    return [String(n), ...cells, ...ratios];
  });
  const noop = summarize(calls.noop);
  const js = summarize(calls.js);
  const callRows = [
    ["native.noop()", `${fmt(noop.median)} (${fmt(noop.min)}–${fmt(noop.max)})${noop.noisy ? " noisy" : ""}`],
    ["plain JS function()", `${fmt(js.median)} (${fmt(js.min)}–${fmt(js.max)})${js.noisy ? " noisy" : ""}`],
    ["ratio N-API / JS", `×${fmt(noop.median / js.median)}`],
  ];
  const rawRows = Object.entries(raw).map(([k, v]) => [k, v.map((x) => fmt(x)).join(", ")]);
  rawRows.push(["noop ns/call", calls.noop.map((x) => fmt(x)).join(", ")], ["js ns/call", calls.js.map((x) => fmt(x)).join(", ")]);

  console.log(formatTable(headers, rows));
  console.log();
  console.log(formatTable(["call", "ns/call median (min–max)"], callRows));

  if (args.includes("--append")) {
    const info = machineInfo();
    const pinned = (() => {
      try {
        return fs.readFileSync("/proc/self/status", "utf8").match(/^Cpus_allowed_list:\s*(.+)$/m)[1].trim();
      } catch {
        return "?";
      }
    })();
    appendResults(path.join(root, "bench/RESULTS.md"), "## Poller", {
      title: `wait(0) cost vs idle registered fds, and the cost of one N-API call (${new Date().toISOString().slice(0, 10)})`,
      command: `taskset -c 0 node bench/poller/run.js --rounds ${rounds} --append`,
      date: new Date().toISOString(),
      machine: `${os.cpus().length} CPUs (this run allowed on: ${pinned}) · Linux ${info.kernel} · node ${info.node} · ${info.cpu}`,
      settings: `${rounds} rounds, backends and sizes interleaved per round, ~40 ms per measurement; one active fd (a pipe holding 1 byte) always readable, so every wait returns 1 event; idle fds = both ends of pipes registered READABLE; RLIMIT_NOFILE ${limit} caps the largest size at ${maxIdle}${maxIdle < 50000 ? " (50,000 does not fit)" : ""}; select measured only below FD_SETSIZE (${fdsetMax}): its ${sizes.find((m) => m >= selectCap)} row has ${selectCap} idle fds`,
      table: formatMarkdownTable(headers, rows) + "\n\n" + formatMarkdownTable(["call", "ns/call median (min–max)"], callRows),
      notes: [
        "Medians of the rounds in ns per call; a spread over 15% is marked noisy. The machine has 2 cores shared with other work: " +
          `load average ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")} (1/5/15 min) at the end of the run.`,
        `The addon was loaded ${fs.existsSync(compiled) ? "through dist/lib/native.js" : "with node-gyp-build (dist/ not built)"}.`,
        "The plain JS call is likely inlined by TurboFan: it is the floor of a JS call, not of a real one.",
        ...blankRatios,
      ],
      rawTable: formatMarkdownTable(["series", "per-round figures (ns)"], rawRows),
    });
    console.log("\nappended to bench/RESULTS.md");
  }
}

main();
