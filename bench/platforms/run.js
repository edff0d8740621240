"use strict";
/**
 * Backends compared on this machine: epoll, poll, select (the addon) and kqueue (the
 * kqueue-emulation test build, kqemu/: its figures measure the emulation over epoll, not a
 * kqueue kernel).
 *
 *   node bench/platforms/run.js [--rounds 3] [--duration 2] [--append]
 *
 * 1. wait(0) cost with 1 active fd among 10 → 10,000 idle registered fds (in this process,
 *    pinned to CPU 0 when possible). RLIMIT_NOFILE is 20,000 here and cannot be raised, so
 *    the 100,000 does not fit: the largest size is 10,000 (see bench/poller for
 *    19,916). select stops below FD_SETSIZE.
 * 2. echo at 100 and 5,000 connections, two servers on each backend (CPU 0): "native",
 *    bench/platforms/echo_server.js (the addon's Poller + read/write, nothing else), and
 *    "reactor", bench/platforms/reactor_echo_server.js (examples/echo-server's program:
 *    Reactor + TCP transport + Protocol, exclusive mode; needs `npx tsc -p tsconfig.json`),
 *    against the C echo client (bench/peers/echo_client.c, CPU 1), 64-byte messages;
 *    primary figure: server CPU µs per echoed message (docs/benchmarks.md). select cannot hold 5,000
 *    connections (FD_SETSIZE).
 * Backends are interleaved within each round. --append writes bench/RESULTS.md
 * ("## Platforms") and the chart bench/platforms.svg.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { summarize } = require("../lib/stats");
const { fmt, formatMarkdownTable, formatTable } = require("../lib/table");
const { machineInfo, machineLine } = require("../lib/machine");
const { appendResults } = require("../lib/results");
const { startServer } = require("../lib/server");
const { runEchoClient } = require("../lib/echo_client");
const { sampleTree, cpuBetween } = require("../lib/proc");
const { installCleanup } = require("../lib/children");
const { measureWait } = require("../lib/pollwait");
const { renderChart } = require("./chart");

const root = path.resolve(__dirname, "../..");
const native = require("node-gyp-build")(root);
const KQEMU = path.join(root, "kqemu/build/Release/fdreactor_kqemu.node");

const args = process.argv.slice(2);
function option(name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number`);
  return v;
}
const rounds = option("--rounds", 3);
const duration = option("--duration", 1.5);
const DIST_REACTOR = path.join(root, "dist/lib/reactor/index.js");
const KINDS = ["native", "reactor"];
const SIZES = [10, 100, 1000, 10000];
const CONNS = [100, 5000];

/** Each backend and the addon that has it; kqueue from the emulation build. */
function backends() {
  const list = native.backends().map((b) => ({ backend: b, label: b, addon: native, addonPath: null }));
  if (!list.some((b) => b.backend === "kqueue")) {
    if (!fs.existsSync(KQEMU)) throw new Error(`kqueue: ${KQEMU} is missing: run \`npm run build:kqemu\``);
    list.push({ backend: "kqueue", label: "kqueue (emulated)", addon: require(KQEMU), addonPath: KQEMU });
  }
  return list;
}

function pinSelf() {
  try {
    execFileSync("taskset", ["-cp", "0", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function waitBench(list) {
  const [activeR, activeW] = native.pipe(); // first, so that its number suits select
  native.write(activeW, Buffer.from("x"), 0, 1); // readable for the whole run
  const idle = [];
  for (let i = 0; i < Math.max(...SIZES) / 2; i++) idle.push(...native.pipe());
  const low = idle.filter((fd) => fd < native.FD_SETSIZE).sort((a, b) => a - b);
  const raw = {}; // "label@n" → ns per wait, one per round
  const selectSizes = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const n of SIZES) {
        for (const b of list) {
          let fds = idle.slice(0, n);
          if (b.backend === "select") {
            if (n > low.length && SIZES.find((m) => m >= low.length) < n) continue; // one capped row only
            fds = low.slice(0, Math.min(n, low.length));
            selectSizes[n] = fds.length;
          }
          (raw[`${b.label}@${n}`] ||= []).push(measureWait(b.addon.Poller, b.backend, b.label, fds, activeR));
        }
      }
      process.stderr.write(`wait(): round ${round}/${rounds}\n`);
    }
  } finally {
    for (const fd of idle) native.close(fd);
    native.close(activeR);
    native.close(activeW);
  }
  return { raw, selectSizes };
}

/** How to start the `kind` echo server on backend `b`. */
function serverSpec(kind, b) {
  if (kind === "native")
    return {
      name: `echo-native-${b.backend}`,
      cmd: process.execPath,
      args: [path.join(__dirname, "echo_server.js"), b.backend, "{port}", ...(b.addonPath ? [b.addonPath] : [])],
      modes: ["echo"],
    };
  return {
    name: `echo-reactor-${b.backend}`,
    cmd: process.execPath,
    args: [path.join(__dirname, "reactor_echo_server.js"), b.backend, "{port}"],
    env: b.addonPath ? { FDREACTOR_ADDON: b.addonPath } : undefined,
    modes: ["echo"],
  };
}

async function echoBench(list) {
  if (!fs.existsSync(DIST_REACTOR)) throw new Error(`${DIST_REACTOR} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const raw = {}; // "kind:label@conns" → { cpuUs, rate, p99 } per round
  let clientCommand = "";
  for (let round = 1; round <= rounds; round++) {
    for (const conns of CONNS) {
      for (const [kind, b] of KINDS.flatMap((k) => list.map((x) => [k, x]))) {
        if (b.backend === "select" && conns >= native.FD_SETSIZE) continue;
        const spec = serverSpec(kind, b);
        const server = await startServer(spec, "echo", { cpu: 0 });
        try {
          let start = null;
          let end = null;
          const r = await runEchoClient({
            port: server.port,
            conns,
            size: 64,
            warmup: 1,
            duration,
            cpu: 1,
            onMeasureStart: () => (start = sampleTree(server.pid)),
            onMeasureEnd: () => (end = sampleTree(server.pid)),
          });
          clientCommand = r.command.replace(/--port \d+/, "--port <port>").replace(/--conns \d+/, "--conns <n>");
          if (!start || !end) throw new Error("echo_client never marked its measured interval");
          if (r.connected < conns) throw new Error(`${b.label}: only ${r.connected} of ${conns} connections opened`);
          const { cpuSeconds } = cpuBetween(start, end);
          (raw[`${kind}:${b.label}@${conns}`] ||= []).push({
            cpuUs: (cpuSeconds * 1e6) / r.messages,
            rate: r.rate,
            p99: r.latency_us.p99,
          });
        } finally {
          await server.stop();
        }
      }
    }
    process.stderr.write(`echo: round ${round}/${rounds}\n`);
  }
  return { raw, clientCommand };
}

async function main() {
  installCleanup();
  const loadBefore = os.loadavg()[0];
  const info = machineInfo(); // before pinning: nproc would say 1 after
  const list = backends();
  const pinned = pinSelf();
  const waits = waitBench(list);
  const echo = await echoBench(list);

  const labels = list.map((b) => b.label);
  const blankRatios = []; // rows where a backend was measured at another size than the first: no ratio
  const waitRows = SIZES.map((n) => {
    const med = {};
    const sizeOf = (l) => (l === "select" && waits.selectSizes[n] !== undefined ? waits.selectSizes[n] : n);
    const cells = labels.map((l) => {
      const r = waits.raw[`${l}@${n}`];
      if (!r) return "–";
      const s = summarize(r);
      med[l] = s.median;
      const note = l === "select" && waits.selectSizes[n] !== n ? ` [${waits.selectSizes[n]} idle]` : "";
      return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})${s.noisy ? " noisy" : ""}${note}`;
    });
    const ratios = labels.slice(1).map((l) => {
      if (!med[l]) return "–";
      if (sizeOf(l) !== sizeOf(labels[0])) {
        blankRatios.push(`${l} / ${labels[0]} at ${n.toLocaleString("en-US")} idle fds: left blank (–), ${l} was measured at ${sizeOf(l).toLocaleString("en-US")} idle fds and ${labels[0]} at ${sizeOf(labels[0]).toLocaleString("en-US")}; a ratio across sizes would mislead.`);
        return "–";
      }
      return `×${fmt(med[l] / med[labels[0]])}`;
    });
    return [n.toLocaleString("en-US"), ...cells, ...ratios];
  });
  const waitHeaders = ["idle fds", ...labels.map((l) => `${l} ns/wait`), ...labels.slice(1).map((l) => `${l} / ${labels[0]}`)];

  const echoRows = [];
  for (const [conns, kind] of CONNS.flatMap((c) => KINDS.map((k) => [c, k]))) {
    const base = echo.raw[`${kind}:${labels[0]}@${conns}`];
    const baseCpu = base ? summarize(base.map((x) => x.cpuUs)).median : NaN;
    for (const l of labels) {
      const r = echo.raw[`${kind}:${l}@${conns}`];
      if (!r) {
        echoRows.push([conns.toLocaleString("en-US"), kind, l, "– (FD_SETSIZE)", "–", "–", "–"]);
        continue;
      }
      const cpu = summarize(r.map((x) => x.cpuUs));
      const rate = summarize(r.map((x) => x.rate));
      const p99 = summarize(r.map((x) => x.p99));
      echoRows.push([
        conns.toLocaleString("en-US"),
        kind,
        l,
        `${fmt(cpu.median, 2)} (${fmt(cpu.min, 2)}–${fmt(cpu.max, 2)})${cpu.noisy ? " noisy" : ""}`,
        `×${fmt(cpu.median / baseCpu, 2)}`,
        `${fmt(rate.median)} (${fmt(rate.min)}–${fmt(rate.max)})`,
        fmt(p99.median),
      ]);
    }
  }
  const echoHeaders = ["conns", "server", "backend", "server CPU µs/msg (min–max)", `CPU vs ${labels[0]} (same server)`, "msgs/s (min–max)", "p99 µs"];

  console.log(formatTable(waitHeaders, waitRows));
  console.log();
  console.log(formatTable(echoHeaders, echoRows));

  if (args.includes("--append")) {
    const svg = await renderChart({ waits: waits.raw, echo: echo.raw, sizes: SIZES, conns: CONNS, kinds: KINDS, labels });
    fs.writeFileSync(path.join(root, "bench/platforms.svg"), svg);
    const rawRows = [
      ...Object.entries(waits.raw).map(([k, v]) => [`wait ns ${k}`, v.map((x) => fmt(x)).join(", ")]),
      ...Object.entries(echo.raw).map(([k, v]) => [`echo CPU µs/msg ${k}`, v.map((x) => fmt(x.cpuUs, 2)).join(", ")]),
      ...Object.entries(echo.raw).map(([k, v]) => [`echo p99 µs ${k}`, v.map((x) => fmt(x.p99)).join(", ")]),
      ...Object.entries(echo.raw).map(([k, v]) => [`echo msgs/s ${k}`, v.map((x) => fmt(x.rate)).join(", ")]),
    ];
    appendResults(path.join(root, "bench/RESULTS.md"), "## Platforms", {
      title: `Backends compared: wait() cost and echo, epoll / poll / select / kqueue (emulated) (${new Date().toISOString().slice(0, 10)})`,
      command: `node bench/platforms/run.js --rounds ${rounds} --duration ${duration} --append`,
      date: new Date().toISOString(),
      machine: `${machineLine(info)}${pinned ? "" : " · wait() part NOT pinned"}`,
      settings:
        `${rounds} rounds, backends interleaved in each; wait(): ~40 ms per measurement, one active pipe always readable, idle fds = both ends of pipes registered READABLE, ` +
        `sizes capped at 10,000 (RLIMIT_NOFILE 20,000 per process cannot be raised: 100,000 does not fit), select only below FD_SETSIZE ${native.FD_SETSIZE}; ` +
        `echo: servers on CPU 0 — native = bench/platforms/echo_server.js (addon Poller + read/write, no reactor), reactor = bench/platforms/reactor_echo_server.js (Reactor + TCP transport + Protocol, exclusive mode, dist/ from \`npx tsc -p tsconfig.json\`) — C echo client on CPU 1 (\`${echo.clientCommand}\`), 64-byte messages, 1 s warm-up + ${duration} s measured`,
      table: `${formatMarkdownTable(waitHeaders, waitRows)}\n\n${formatMarkdownTable(echoHeaders, echoRows)}`,
      notes: [
        "kqueue (emulated) is the kqueue backend over the test-only epoll emulation (kqemu/): its figures are the emulation's cost (an fstat per change, a split per event), not a kqueue kernel's.",
        "select at 5,000 connections: not possible (fds past FD_SETSIZE are refused).",
        ...blankRatios,
        `Machine load (1-min load average) ${loadBefore.toFixed(1)} at the start and ${os.loadavg()[0].toFixed(1)} at the end, on ${info.nproc} cores shared with other engineers' builds and tests: figures marked noisy had a min–max spread over 15%; compare ratios within this run only.`,
        "Chart: bench/platforms.svg (vega-lite 5).",
      ],
      rawTable: formatMarkdownTable(["measure", "per round"], rawRows),
    });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
