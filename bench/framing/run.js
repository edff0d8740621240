"use strict";
/**
 * Framing cost without I/O: fdreactor's LineReceiver and Int32StringReceiver against
 * Twisted's own (Debian python3-twisted), the framers a Twisted user would otherwise run.
 * Each measurement is a fresh process pinned to CPU 0 feeding 64 KiB chunks of SIZE-byte
 * frames (frames straddle chunk ends) to a receiver whose callback only counts; the figure
 * is ns per frame. Peers interleaved A,B per round.
 *
 *   npx tsc -p tsconfig.json && node bench/framing/run.js [--rounds 5] [--size 64] [--seconds 1] [--append]
 */
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { median } = require("../lib/stats");
const { appendResults } = require("../lib/results");

const ROOT = path.resolve(__dirname, "../..");
function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROUNDS = option("rounds", 5);
const SIZE = option("size", 64);
const SECONDS = option("seconds", 1);
const CHUNK = 65536;
const APPEND = process.argv.includes("--append");
const PEERS = {
  fdreactor: [process.execPath, path.join(__dirname, "fdreactor.js")],
  twisted: ["/usr/bin/python3", path.join(__dirname, "twisted_framing.py")],
};

const results = Object.fromEntries(Object.keys(PEERS).map((p) => [p, { lines: [], int32: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, cmd] of Object.entries(PEERS)) {
    const out = execFileSync("taskset", ["-c", "0", ...cmd, String(SIZE), String(CHUNK), String(SECONDS)], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
    const r = JSON.parse(out.trim().split("\n").pop());
    results[name].lines.push(r.lines_ns);
    results[name].int32.push(r.int32_ns);
    process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: line ${r.lines_ns.toFixed(0)} ns, int32 ${r.int32_ns.toFixed(0)} ns\n`);
  }
}

const fmt = (xs) => {
  const m = median(xs);
  const noisy = (Math.max(...xs) - Math.min(...xs)) / m > 0.15 ? " noisy" : "";
  return `${m.toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})${noisy}`;
};
const table = [
  "| framer | fdreactor ns/frame median (min–max) | Twisted ns/frame median (min–max) | fdreactor / Twisted |",
  "| --- | --- | --- | ---: |",
  `| LineReceiver (${SIZE}-byte lines, CRLF) | ${fmt(results.fdreactor.lines)} | ${fmt(results.twisted.lines)} | ×${(median(results.fdreactor.lines) / median(results.twisted.lines)).toFixed(2)} |`,
  `| Int32StringReceiver (${SIZE}-byte frames) | ${fmt(results.fdreactor.int32)} | ${fmt(results.twisted.int32)} | ×${(median(results.fdreactor.int32) / median(results.twisted.int32)).toFixed(2)} |`,
].join("\n");
const raw = ["| series | per-round ns/frame |", "| --- | --- |"];
for (const [name, r] of Object.entries(results)) {
  raw.push(`| ${name} line | ${r.lines.map((x) => x.toFixed(0)).join(", ")} |`);
  raw.push(`| ${name} int32 | ${r.int32.map((x) => x.toFixed(0)).join(", ")} |`);
}
process.stdout.write(`${table}\n\n${raw.join("\n")}\n`);

if (APPEND) {
  const twistedVersion = execFileSync("/usr/bin/python3", ["-c", "import twisted; print(twisted.__version__)"], { encoding: "utf8" }).trim();
  appendResults(path.join(ROOT, "bench/RESULTS.md"), "## Framing (bench/framing)", {
    title: `LineReceiver and Int32StringReceiver vs Twisted's, no I/O (${new Date().toISOString().slice(0, 10)})`,
    command: `npx tsc -p tsconfig.json && node bench/framing/run.js ${process.argv.slice(2).join(" ")}`,
    date: new Date().toISOString(),
    machine: `nproc ${os.cpus().length} · Linux ${os.release()} · node ${process.version} · Twisted ${twistedVersion} (Debian python3-twisted, /usr/bin/python3)`,
    settings: `${ROUNDS} rounds, peers interleaved, each measurement a fresh process pinned to CPU 0 (taskset -c 0), ${SECONDS} s after a warm-up (fdreactor: one unmeasured pass for the JIT), 64 KiB chunks of ${SIZE}-byte frames, callbacks only count. A spread over 15% is marked noisy; the 2 cores are shared with other engineers' work.`,
    table,
    rawTable: raw.join("\n"),
  });
}
