"use strict";
/**
 * The idle benchmark (run by run.js): server memory per idle TLS connection. For each
 * server and round, a fresh server on CPU 0; its RSS (all its processes) is sampled; the
 * load client (bench/peers/tls_client.c `hold`, on CPU 1) opens `--conns` connections,
 * at most 256 handshakes in flight, one keep-alive GET / on each, and holds them; after
 * 1 s of quiet the RSS is sampled again. KiB/conn = (idle RSS − RSS before) ÷ connections
 * held; set-up CPU µs/conn = server CPU over the connecting phase ÷ connections. Servers
 * interleaved per round (A, B, C, A, B, C ...); medians over the rounds.
 *
 *   node bench/tls/run.js idle [--conns 10000] [--rounds 3] [--peers LIST] [--record] [--no-pin]
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { installCleanup, spawnTracked, stopTracked } = require("../lib/children");
const { startServer } = require("../lib/server");
const { sampleTree, cpuBetween } = require("../lib/proc");
const { summarize, ratio, interleave } = require("../lib/stats");
const { machineInfo, machineLine } = require("../lib/machine");
const { fmt, formatTable, formatMarkdownTable } = require("../lib/table");
const { appendResults } = require("../lib/results");
const { chooseServers } = require("../lib/runner");
const { ensureBuilt, OUT_DIR, ROOT } = require("../lib/build");
const { UsageError, parseStrict, parseTarget, list } = require("../lib/options");
const { TLS_SERVERS, verifyHttps } = require("./servers");
const { SUITE, GROUP } = require("./certs");

const USAGE = `usage: node bench/tls/run.js idle [options]
  --conns N        idle TLS connections per server (default 10000; at most 19000: 20,000 fds per process)
  --rounds N       interleaved rounds, at least 3 (default 3)
  --peers LIST     servers, comma-separated, or "all" (default: every installed one)
  --baseline NAME  peer the ratios are against (default node-https)
  --target A/B<=R  exit 1 unless A's median KiB/conn is at most R times B's; repeatable
  --record         append the run to bench/RESULTS.md under "## TLS"
  --no-pin         do not pin with taskset
  --help           this text`;

/** Parses argv; UsageError names the option. */
function parse(argv) {
  const v = parseStrict(argv, {
    conns: { type: "string" },
    rounds: { type: "string" },
    peers: { type: "string" },
    baseline: { type: "string" },
    target: { type: "string", multiple: true },
    record: { type: "boolean" },
    "no-pin": { type: "boolean" },
    help: { type: "boolean" },
  });
  const conns = v.conns === undefined ? 10000 : Number(v.conns);
  if (!Number.isInteger(conns) || conns < 1 || conns > 19000) throw new UsageError(`--conns must be an integer 1..19000, got ${JSON.stringify(v.conns)}`);
  const rounds = v.rounds === undefined ? 3 : Number(v.rounds);
  if (!Number.isInteger(rounds) || rounds < 3) throw new UsageError(`--rounds must be an integer ≥ 3, got ${JSON.stringify(v.rounds)}`);
  const targets = (v.target || []).map(parseTarget);
  return { conns, rounds, peers: v.peers ? list(v.peers) : null, baseline: v.baseline ?? "node-https", targets, record: Boolean(v.record), pin: !v["no-pin"], help: Boolean(v.help) };
}

/** Holds `conns` connections to `port`; resolves to { held, errors, release() } once all are up. */
async function hold(port, conns, cpu) {
  const bin = ensureBuilt("tls_client", { libs: ["-lssl", "-lcrypto"] });
  const child = spawnTracked("tls_client", bin, ["hold", String(port), String(conns), "300"], { cpu, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tls_client held nothing within 240 s: ${err}`)), 240_000);
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const m = /^HELD (\d+) ERRORS (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`tls_client exited (code ${code}) before holding: ${err}`));
    });
  });
  return {
    held: Number(line[1]),
    errors: Number(line[2]),
    release: async () => {
      child.stdin.end();
      let timer;
      await Promise.race([child.exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      await stopTracked(child, 1000);
    },
  };
}

/** One round for one server: fresh start, RSS before, hold, settle, RSS idle. */
async function measureOne(spec, conns, { serverCpu, loadCpu }) {
  const srv = await startServer(spec, "idle", { cpu: serverCpu });
  try {
    await verifyHttps(srv.port);
    await new Promise((r) => setTimeout(r, 500));
    const before = sampleTree(srv.pid);
    const t0 = Date.now();
    const h = await hold(srv.port, conns, loadCpu);
    const setupSeconds = (Date.now() - t0) / 1000;
    const connected = sampleTree(srv.pid);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = sampleTree(srv.pid);
    await h.release();
    const setup = cpuBetween(before, connected);
    return {
      held: h.held,
      errors: h.errors,
      rssBeforeKb: before.rssKb,
      rssIdleKb: idle.rssKb,
      kibPerConn: h.held > 0 ? (idle.rssKb - before.rssKb) / h.held : NaN,
      setupCpuUsPerConn: h.held > 0 ? (setup.cpuSeconds * 1e6) / h.held : NaN,
      setupPerSecond: h.held / setupSeconds,
    };
  } finally {
    await srv.stop();
  }
}

/** Runs the idle benchmark; returns the exit code. */
async function runIdle(argv, out = process.stdout) {
  let opts;
  try {
    opts = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  installCleanup();
  const info = machineInfo();
  const pinned = opts.pin && info.pinned;
  const cpus = { serverCpu: pinned ? 0 : null, loadCpu: pinned ? 1 : null };
  const machine = machineLine({ ...info, pinned });
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const command = `node bench/tls/run.js idle${argv.length ? " " + argv.join(" ") : ""}`;
  out.write(`idle TLS benchmark · ${date}\n${machine}\n`);
  const { chosen, skipped } = chooseServers(TLS_SERVERS, "idle", opts.peers);
  const notes = skipped.map((s) => `skipped ${s.name}: ${s.reason}`);
  if (!pinned) notes.push("NOT pinned");
  const loadAtStart = os.loadavg()[0];
  const rounds = [];
  for (const { round, peer } of interleave(chosen.map((s) => s.name), [{ name: "idle" }], opts.rounds)) {
    process.stderr.write(`idle ${opts.conns} · round ${round}/${opts.rounds} · ${peer}\n`);
    try {
      rounds.push({ round, server: peer, ...(await measureOne(chosen.find((s) => s.name === peer), opts.conns, cpus)) });
    } catch (err) {
      rounds.push({ round, server: peer, error: err.message.split("\n")[0] });
      process.stderr.write(`${peer} round ${round} failed: ${err.message}\n`);
    }
  }
  notes.push(`load average (1 min, ${info.nproc} CPUs): ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end — a shared machine`);
  const rows = chosen.map((s) => {
    const ok = rounds.filter((r) => r.server === s.name && !r.error);
    return {
      server: s.name,
      label: s.label,
      kib: summarize(ok.map((r) => r.kibPerConn)),
      setup: summarize(ok.map((r) => r.setupCpuUsPerConn)),
      rate: summarize(ok.map((r) => r.setupPerSecond)),
      held: summarize(ok.map((r) => r.held)),
      errors: ok.reduce((a, r) => a + r.errors, 0),
      failed: rounds.filter((r) => r.server === s.name && r.error).length,
    };
  });
  const base = rows.find((r) => r.server === opts.baseline);
  const headers = ["server", "held", "KiB/conn", "spread", `× ${base ? base.label : opts.baseline}`, "set-up CPU µs/conn", "set-up conns/s", "errors", "note"];
  const body = rows.map((r) => [
    r.label,
    fmt(r.held.median),
    fmt(r.kib.median, 2),
    Number.isFinite(r.kib.spread) ? `${fmt(r.kib.spread * 100, 0)}%` : "–",
    base ? `${ratio(r.kib.median, base.kib.median).toFixed(2)}×` : "–",
    fmt(r.setup.median),
    fmt(r.rate.median),
    String(r.errors),
    [r.kib.noisy ? "noisy" : "", r.failed ? `${r.failed} round(s) failed` : ""].filter(Boolean).join(", "),
  ]);
  const targets = opts.targets.map((t) => {
    const a = rows.find((r) => r.server === t.a);
    const b = rows.find((r) => r.server === t.b);
    const q = a && b ? ratio(a.kib.median, b.kib.median) : NaN;
    const ok = Number.isFinite(q) && q <= t.max;
    return { ok, text: `${ok ? "PASS" : "FAIL"} ${t.a}/${t.b} KiB per idle connection: ${Number.isFinite(q) ? q.toFixed(2) : "not measured"} (target ≤ ${t.max})` };
  });
  out.write(`\n${formatTable(headers, body)}\n\n`);
  for (const n of notes) out.write(`note: ${n}\n`);
  for (const t of targets) out.write(`${t.text}\n`);
  const jsonPath = path.join(OUT_DIR, `idle-tls-${date.replace(/[:]/g, "")}.json`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ command, date, machine, options: opts, rounds, rows, notes, targets }, null, 2));
  out.write(`raw results: ${path.relative(process.cwd(), jsonPath)}\n`);
  if (opts.record) {
    const rawHeaders = ["round", "server", "held", "errors", "RSS before KiB", "RSS idle KiB", "KiB/conn", "set-up CPU µs/conn"];
    const raw = rounds.map((r) =>
      r.error
        ? [String(r.round), r.server, "–", "–", "–", "–", "–", `failed: ${r.error}`]
        : [String(r.round), r.server, String(r.held), String(r.errors), String(r.rssBeforeKb), String(r.rssIdleKb), r.kibPerConn.toFixed(2), r.setupCpuUsPerConn.toFixed(1)],
    );
    appendResults(path.join(ROOT, "bench", "RESULTS.md"), "## TLS", {
      title: `idle TLS connections — ${date}`,
      command,
      date,
      machine,
      settings: `${opts.conns} connections per server, TLS 1.3 (${SUITE}, ${GROUP}, one EC P-256 certificate), one keep-alive GET / each, then 1 s idle; KiB/conn = RSS delta (all the server's processes) ÷ connections held; kernel socket memory not counted; ${opts.rounds} interleaved rounds, a fresh server each`,
      table: formatMarkdownTable(headers, body),
      notes: [...notes, ...targets.map((t) => t.text)],
      rawTable: formatMarkdownTable(rawHeaders, raw),
    });
    out.write("appended to bench/RESULTS.md\n");
  }
  return targets.some((t) => !t.ok) || rows.some((r) => r.failed) ? 1 : 0;
}

/** Runs with process.argv and exits with the code. */
function main() {
  runIdle(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.stack || err}\n`);
      process.exit(2);
    },
  );
}

module.exports = { runIdle, main, parse, hold };
