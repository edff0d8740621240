#!/usr/bin/env node
"use strict";
/**
 * Spawn-and-reap throughput: fdreactor's spawnProcess against Node's child_process.spawn and
 * Twisted's spawnProcess, each in its own process pinned to CPU 0 (the children inherit the
 * pin), rounds interleaved (fdreactor, Node, Twisted, fdreactor, ...). Workloads: "exit"
 * (/bin/true, three pipes) and "echo" (/bin/cat echoes 1 MiB). The figure: the parent's CPU
 * per child (getrusage of the spawning process: user + system of all its threads, children
 * excluded) and children per CPU-second, with their ratios against each peer in the same
 * round. Then one fdreactor run of --leak children in a row, checking no zombie and no fd
 * is left. Appends the run to bench/RESULTS.md (--no-record: print only).
 *   node bench/process/run.js [--rounds 3] [--exit 300] [--echo 30] [--concurrency 4] [--leak 10000]
 * Needs dist/ (npx tsc -p tsconfig.json); Twisted is skipped (and said so) without python3-twisted.
 * Exits 1 when a goal is missed: >= 1.0x Node's children per CPU-second, >= 3x Twisted's.
 */
const os = require("node:os");
const path = require("node:path");
const { execFileSync, spawnSync } = require("node:child_process");
const { machineLine } = require("../lib/machine");
const { numberArg } = require("../lib/options");
const { appendResults } = require("../lib/results");
const { interleave, ratio, summarize } = require("../lib/stats");
const { formatMarkdownTable, fmt } = require("../lib/table");

const arg = numberArg;
const ROUNDS = arg("rounds", 3);
const COUNTS = { exit: arg("exit", 300), echo: arg("echo", 30) };
const CONCURRENCY = arg("concurrency", 4);
const LEAK = arg("leak", 10000);
const RECORD = !process.argv.includes("--no-record");
const ROOT = path.resolve(__dirname, "..", "..");
const PYTHON = "/usr/bin/python3";

function pinnable() {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const PIN = pinnable();

function haveTwisted() {
  return spawnSync(PYTHON, ["-c", "import twisted.internet.protocol"], { stdio: "ignore" }).status === 0;
}

/** Runs one measured process; its JSON line. */
function measure(peer, workload, count) {
  const cmd =
    peer === "twisted"
      ? [PYTHON, path.join(__dirname, "twisted_spawner.py"), workload, String(count), String(CONCURRENCY)]
      : [process.execPath, path.join(__dirname, "spawner.js"), peer, workload, String(count), String(CONCURRENCY)];
  const full = PIN ? ["taskset", "-c", "0", ...cmd] : cmd;
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const r = spawnSync(full[0], full.slice(1), { cwd: ROOT, encoding: "utf8", env, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${full.join(" ")} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function main() {
  const peers = ["fdreactor", "node", ...(haveTwisted() ? ["twisted"] : [])];
  if (!peers.includes("twisted")) console.log("python3-twisted is missing (apt-get install -y python3-twisted): Twisted is not measured");
  const load0 = os.loadavg();
  const raw = [];
  for (const { workload, round, peer } of interleave(peers, ["exit", "echo"], ROUNDS)) {
    const m = measure(peer, workload, COUNTS[workload]);
    m.round = round;
    m.usPerChild = (m.cpuSec / m.children) * 1e6;
    raw.push(m);
    console.log(`${workload} round ${round} ${peer}: ${fmt(m.usPerChild, 0)} µs CPU per child, ${fmt(m.children / m.wallSec, 0)} children/s wall`);
  }
  const rows = [];
  const misses = [];
  for (const workload of ["exit", "echo"]) {
    const of = (peer) => raw.filter((m) => m.workload === workload && m.peer === peer);
    for (const peer of peers) {
      const s = summarize(of(peer).map((m) => m.usPerChild));
      const perCpuSec = summarize(of(peer).map((m) => m.children / m.cpuSec));
      const ratios = peers
        .filter((p) => p !== "fdreactor")
        .map((p) => {
          if (peer !== "fdreactor") return "";
          // per round: peer's CPU per child over ours = our children per CPU-second over theirs
          const rs = summarize(of("fdreactor").map((m, i) => ratio(of(p)[i].usPerChild, m.usPerChild)));
          const goal = p === "node" ? 1 : 3;
          if (rs.median < goal) misses.push(`${workload}: ${fmt(rs.median, 2)}x ${p} (goal ${goal}x)`);
          return `${fmt(rs.median, 2)}x (${fmt(rs.min, 2)}–${fmt(rs.max, 2)})`;
        });
      const wall = summarize(of(peer).map((m) => m.children / m.wallSec));
      rows.push([workload, peer, fmt(s.median, 0), `${fmt(s.min, 0)}–${fmt(s.max, 0)}${s.noisy ? " (noisy)" : ""}`, fmt(perCpuSec.median, 0), fmt(wall.median, 0), ...ratios]);
    }
  }
  const others = peers.filter((p) => p !== "fdreactor");
  const table = formatMarkdownTable(["workload", "peer", "µs CPU / child (median)", "min–max", "children / CPU-s", "children / s wall", ...others.map((p) => `fdreactor vs ${p} (children per CPU-s)`)], rows);
  const leak = measure("fdreactor", "exit", LEAK);
  const load1 = os.loadavg();
  const rawTable = formatMarkdownTable(
    ["workload", "round", "peer", "children", "CPU s", "wall s", "µs CPU / child"],
    raw.map((m) => [m.workload, m.round, m.peer, m.children, fmt(m.cpuSec, 3), fmt(m.wallSec, 2), fmt(m.usPerChild, 0)]),
  );
  const notes = [
    `Load average (1/5/15 min) at the start ${load0.map((l) => fmt(l, 2)).join(" / ")}, at the end ${load1.map((l) => fmt(l, 2)).join(" / ")}: a shared machine, other engineers' jobs running.`,
    `${LEAK} fdreactor spawns in a row (same pinning): ${fmt((leak.cpuSec / leak.children) * 1e6, 0)} µs CPU per child, ${leak.zombies} zombies and ${leak.fdsLeft} fds left after.`,
    PIN ? "Each spawning process pinned to CPU 0 with taskset; its children inherit the pin, so they share CPU 0 with it (their CPU is not counted: getrusage RUSAGE_SELF)." : "NOT pinned: taskset is missing.",
  ];
  if (misses.length) notes.push(`Goals missed: ${misses.join("; ")}.`);
  const text = {
    title: `spawn and reap, ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
    command: `node bench/process/run.js --rounds ${ROUNDS} --exit ${COUNTS.exit} --echo ${COUNTS.echo} --concurrency ${CONCURRENCY} --leak ${LEAK}`,
    date: new Date().toISOString(),
    machine: machineLine(),
    settings: `exit: /bin/true, ${COUNTS.exit} children per round; echo: /bin/cat echoing 1 MiB, ${COUNTS.echo} per round; ${CONCURRENCY} children at a time; stdin, stdout and stderr pipes and an empty environment for every peer; warm-up of a tenth of the count first`,
    table,
    notes,
    rawTable,
  };
  console.log(`\n${table}\n\n${notes.join("\n")}`);
  if (RECORD) appendResults(path.join(ROOT, "bench", "RESULTS.md"), "## Processes: spawn and reap (issue #16)", text);
  if (misses.length || leak.zombies !== 0 || leak.fdsLeft !== 0) process.exitCode = 1;
}

main();
