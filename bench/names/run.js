// DNS lookup cost: fdreactor's Resolver (cache off) vs Node's dns.Resolver (c-ares on
// libuv) against the same dnsmasq on 127.0.0.1. dnsmasq is pinned on CPU 1, each client
// process on CPU 0; peers are interleaved over ROUNDS rounds, and the figure that counts
// is client CPU per lookup (docs/benchmarks.md). Requires `npx tsc -p tsconfig.json` first (dist/).
// Usage: node bench/names/run.js [rounds=5] [lookups=20000] [concurrency=32] [warm-up=500]
// (the warm-up lookups run in the same client process before the measured ones: JIT
// compilation of the resolver's JavaScript runs on a V8 thread whose CPU counts too).
"use strict";
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const { median } = require("../lib/stats");

const USAGE = "usage: node bench/names/run.js [rounds=5] [lookups=20000] [concurrency=32] [warm-up=500]";
if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
  console.log(USAGE);
  process.exit(0);
}
for (const [i, name] of ["rounds", "lookups", "concurrency", "warm-up"].entries()) {
  const a = process.argv[2 + i];
  if (a !== undefined && !(/^\d+$/.test(a) && (Number(a) > 0 || name === "warm-up"))) {
    console.error(`${name}: expected a whole number${name === "warm-up" ? "" : " above 0"}, got ${JSON.stringify(a)}\n${USAGE}`);
    process.exit(2);
  }
}
const ROUNDS = Number(process.argv[2] ?? 5);
const N = Number(process.argv[3] ?? 20000);
const C = Number(process.argv[4] ?? 32);
const WARMUP = Number(process.argv[5] ?? 500);
const PEERS = ["fdreactor", "node"];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-names-"));
  const port = await freePort();
  const dnsmasq = spawn(
    "taskset",
    ["-c", "1", "dnsmasq", "--no-daemon", "--conf-file=/dev/null", `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/", "--address=/bench.test/127.0.0.9", `--pid-file=${dir}/pid`, "--log-facility=/dev/null"],
    { stdio: "ignore" },
  );
  await new Promise((r) => setTimeout(r, 500));
  const rows = { fdreactor: [], node: [] };
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? PEERS : [...PEERS].reverse();
      for (const peer of order) {
        const out = execFileSync("taskset", ["-c", "0", process.execPath, path.join(__dirname, "client.js"), peer, String(port), String(N), String(C), String(WARMUP)], { encoding: "utf8", timeout: 120000 });
        const r = JSON.parse(out.trim());
        rows[peer].push(r);
        console.log(`round ${round + 1} ${peer}: ${(r.cpuUs / r.lookups).toFixed(1)} µs CPU/lookup, ${Math.round(r.lookups / (r.wallMs / 1000))} lookups/s`);
      }
    }
  } finally {
    dnsmasq.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nmachine: nproc ${os.cpus().length}, kernel ${os.release()}, node ${process.version}; ${ROUNDS} rounds × ${N} lookups after ${WARMUP} of warm-up, ${C} in flight`);
  console.log(`load average before: ${loadBefore}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (2 cores shared with other engineers)`);
  console.log("| peer | CPU µs/lookup median (min–max) | lookups/s median (min–max) |");
  console.log("| --- | --- | --- |");
  const cpuMed = {};
  for (const peer of PEERS) {
    const cpu = rows[peer].map((r) => r.cpuUs / r.lookups);
    const rate = rows[peer].map((r) => r.lookups / (r.wallMs / 1000));
    cpuMed[peer] = median(cpu);
    console.log(`| ${peer} | ${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}) | ${Math.round(median(rate))} (${Math.round(Math.min(...rate))}–${Math.round(Math.max(...rate))}) |`);
  }
  console.log(`\nCPU per lookup, fdreactor / node (c-ares): ${(cpuMed.fdreactor / cpuMed.node).toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
