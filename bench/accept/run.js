"use strict";
/**
 * Connection churn: server CPU per accepted connection. Each echo server (the C10K
 * harness's: the C epoll reference, Node net, fdreactor on epoll and on io_uring with
 * multishot accept or with readiness + accept4) starts pinned to CPU 0; the soak's churn
 * client (bench/soak/client.js: fdreactor on epoll, pinned to CPU 1) opens connections at a
 * bounded rate and concurrency, each sends 1..4096 bytes of a fixed pattern, checks the
 * echo byte for byte and closes. After a 1 s warm-up, the server's user+sys CPU over the
 * rest of the run divided by the connections completed meanwhile is the figure. Rounds are
 * interleaved (A, B, C, A, B, C...); medians and the min–max spread are printed.
 *
 *   node bench/accept/run.js [--rounds 3] [--seconds 4] [--rate 6000] [--concurrency 64]
 *                            [--peers c-reference,node-net,fdreactor-exclusive,...]
 *
 * Needs dist/ (npx tsc -p tsconfig.json). Everything stays on 127.0.0.1 and stops by itself.
 */
const os = require("node:os");
const path = require("node:path");
const { parseArgs } = require("node:util");
const { installCleanup, spawnTracked, stopTracked } = require("../lib/children");
const { startServer } = require("../lib/server");
const { sampleTree, cpuBetween } = require("../lib/proc");
const { summarize } = require("../lib/stats");
const { machineLine } = require("../lib/machine");
const { c10kServers } = require("../c10k/servers");

const DEFAULT_PEERS = [
  "c-reference",
  "node-net",
  "fdreactor",
  "fdreactor-exclusive",
  "fdreactor-io_uring",
  "fdreactor-io_uring-exclusive",
  "fdreactor-io_uring-accept4",
  "fdreactor-io_uring-accept4-exclusive",
];
const CLIENT = path.join(__dirname, "..", "soak", "client.js");
const WARMUP_S = 1;

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "4" },
      rate: { type: "string", default: "6000" },
      concurrency: { type: "string", default: "64" },
      peers: { type: "string" },
    },
  });
  const int = (name, lo, hi) => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`--${name} must be an integer in ${lo}..${hi}, got ${values[name]}`);
    return v;
  };
  return {
    rounds: int("rounds", 1, 20),
    seconds: int("seconds", 2, 60),
    rate: int("rate", 1, 50000),
    concurrency: int("concurrency", 1, 1000),
    peers: values.peers ? values.peers.split(",") : DEFAULT_PEERS,
  };
}

/**
 * One round against a started server: runs the churn client and samples the server's CPU at
 * the client's first report past the warm-up and at its final one.
 */
async function churnRound(server, o) {
  const client = spawnTracked("churn", process.execPath, [CLIENT, String(server.port), String(o.seconds), String(o.rate), String(o.concurrency), "exclusive", "echo"], { cpu: 1 });
  let buf = "";
  let first = null;
  let last = null;
  let final = null;
  client.stdout.setEncoding("utf8");
  client.stdout.on("data", (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (line.final) {
        final = line.final;
        last = { sample: sampleTree(server.pid), completed: line.final.completed };
      } else if (first === null && line.t >= WARMUP_S) {
        first = { sample: sampleTree(server.pid), completed: line.completed };
      }
    }
  });
  const guard = setTimeout(() => stopTracked(client, 1000), (o.seconds + 20) * 1000);
  const exit = await client.exited;
  clearTimeout(guard);
  if (first === null || last === null) throw new Error(`churn client ended without its reports (code ${exit.code}, signal ${exit.signal})`);
  const { cpuSeconds, wallSeconds } = cpuBetween(first.sample, last.sample);
  const conns = last.completed - first.completed;
  const failed = final.failedConnect + final.lostEarly + final.mismatches;
  return { cpuUsPerConn: (cpuSeconds * 1e6) / conns, connsPerSecond: conns / wallSeconds, cpuPercent: (cpuSeconds / wallSeconds) * 100, conns, failed };
}

async function main() {
  installCleanup();
  const o = options();
  const all = c10kServers("echo", { backends: ["epoll", "io_uring"], runModes: ["integrated", "exclusive"] });
  const servers = [];
  for (const name of o.peers) {
    const spec = all.find((s) => s.name === name);
    if (!spec) throw new RangeError(`--peers: no server named ${name} (known: ${all.map((s) => s.name).join(", ")})`);
    const why = spec.check ? spec.check() : null;
    if (why) console.log(`skipped ${name}: ${why}`);
    else servers.push(spec);
  }
  const load0 = os.loadavg()[0];
  console.log(`connection churn · ${new Date().toISOString()} · ${machineLine()} · load average ${load0.toFixed(2)}`);
  console.log(`rate ≤ ${o.rate}/s, concurrency ${o.concurrency}, ${o.seconds} s per round (${WARMUP_S} s warm-up), ${o.rounds} interleaved rounds`);
  const results = new Map(servers.map((s) => [s.name, []]));
  for (let round = 1; round <= o.rounds; round++) {
    for (const spec of servers) {
      const server = await startServer(spec, "echo", { cpu: 0 });
      try {
        const r = await churnRound(server, o);
        results.get(spec.name).push(r);
        console.log(`round ${round} ${spec.name}: ${r.cpuUsPerConn.toFixed(1)} µs/conn, ${Math.round(r.connsPerSecond)} conns/s, server CPU ${r.cpuPercent.toFixed(0)}%, failed ${r.failed}`);
      } finally {
        await server.stop();
      }
    }
  }
  const median = (name) => summarize(results.get(name).map((r) => r.cpuUsPerConn)).median;
  const base = servers.find((s) => s.name === "c-reference");
  const node = servers.find((s) => s.name === "node-net");
  console.log("\n| server | CPU µs/conn, rounds | median | spread | × C epoll reference | × Node net | conns/s (median) | failed |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const spec of servers) {
    const rs = results.get(spec.name);
    const s = summarize(rs.map((r) => r.cpuUsPerConn));
    const rate = summarize(rs.map((r) => r.connsPerSecond)).median;
    const x = (peer) => (peer ? `×${(s.median / median(peer.name)).toFixed(2)}` : "–");
    const failed = rs.reduce((a, r) => a + r.failed, 0);
    console.log(
      `| ${spec.label} | ${rs.map((r) => r.cpuUsPerConn.toFixed(1)).join(" · ")} | ${s.median.toFixed(1)} | ${(s.spread * 100).toFixed(0)}% | ${x(base)} | ${x(node)} | ${Math.round(rate)} | ${failed} |`,
    );
  }
  console.log(`\nload average ${load0.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`);
}

main().catch((e) => {
  console.error(e instanceof RangeError ? `bench/accept: ${e.message}` : e);
  process.exit(e instanceof RangeError ? 2 : 1);
});
