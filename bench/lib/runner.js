"use strict";
/**
 * The benchmark loop shared by bench/echo and bench/http: pick the servers, start each
 * pinned to CPU 0, check its answer, then measure workload × round × server in the
 * interleaved order (A,B,A,B), sampling the server's CPU and RSS around each measured
 * interval; summarise (median, spread, noisy), print the table with ratios against the
 * baseline, write the JSON, optionally append to bench/RESULTS.md, check targets.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { installCleanup, killAllNow } = require("./children");
const { startServer } = require("./server");
const { sampleTree, cpuBetween } = require("./proc");
const { summarize, ratio, interleave } = require("./stats");
const { machineInfo, machineLine } = require("./machine");
const { fmt, fmtUs, formatTable, formatMarkdownTable } = require("./table");
const { Progress } = require("./progress");
const { appendResults } = require("./results");
const { chartSvg } = require("./chart");
const { OUT_DIR, ROOT } = require("./build");
const { UsageError, usage, parseOptions } = require("./options");

/**
 * Chooses the servers for `kind` from `registry`: returns { chosen, skipped: [{name,
 * reason}], notSelected: [names] }. Unknown names in `wanted` are a UsageError.
 */
function chooseServers(registry, kind, wanted) {
  const forKind = registry.filter((s) => s.modes.includes(kind));
  if (wanted && !(wanted.length === 1 && wanted[0] === "all")) {
    for (const w of wanted) {
      if (!registry.some((s) => s.name === w)) throw new UsageError(`--peers: no server named ${JSON.stringify(w)} (known: ${registry.map((s) => s.name).join(", ")})`);
      if (!forKind.some((s) => s.name === w)) throw new UsageError(`--peers: ${w} has no ${kind} mode`);
    }
  }
  const all = wanted && wanted.length === 1 && wanted[0] === "all";
  const selected = forKind.filter((s) => (wanted && !all ? wanted.includes(s.name) : all || !(s.optionalIn || []).includes(kind)));
  const notSelected = forKind.filter((s) => !selected.includes(s)).map((s) => s.name);
  const chosen = [];
  const skipped = [];
  for (const s of selected) {
    const reason = s.check ? s.check() : null;
    if (reason) skipped.push({ name: s.name, reason });
    else chosen.push(s);
  }
  return { chosen, skipped, notSelected };
}

/** Adds the derived figures to one measurement: CPU µs per unit and CPU % of one core. */
function derive(m) {
  return {
    ...m,
    cpuUsPer: m.count > 0 ? (m.cpuSeconds * 1e6) / m.count : NaN,
    cpuPercent: m.wallSeconds > 0 ? (m.cpuSeconds / m.wallSeconds) * 100 : NaN,
  };
}

/** Groups rounds by workload and server and summarises each figure over the rounds. */
function summariseRounds(rounds, workloads, servers, baseline) {
  const rows = [];
  for (const w of workloads) {
    const base = rounds.filter((r) => r.workload === w.name && r.server === baseline && !r.error);
    const baseCpu = base.length ? summarize(base.map((r) => r.cpuUsPer)).median : NaN;
    for (const s of servers) {
      const rs = rounds.filter((r) => r.workload === w.name && r.server === s.name);
      const ok = rs.filter((r) => !r.error);
      const pick = (f) => summarize(ok.map(f));
      const cpu = pick((r) => r.cpuUsPer);
      rows.push({
        workload: w.name,
        conns: w.conns,
        server: s.name,
        label: s.label || s.name,
        rounds: ok.length,
        failed: rs.filter((r) => r.error).map((r) => r.error),
        cpuUsPer: cpu,
        ratio: ratio(cpu.median, baseCpu),
        rate: pick((r) => r.rate),
        cpuPercent: pick((r) => r.cpuPercent),
        p50: pick((r) => r.latencyUs.p50),
        p99: pick((r) => r.latencyUs.p99),
        p999: pick((r) => r.latencyUs.p999),
        rssMiB: pick((r) => r.rssKb / 1024),
        errors: ok.reduce((a, r) => a + r.errors, 0),
      });
    }
  }
  return rows;
}

/** The summary table's header and rows (terminal and Markdown share them). */
function summaryTable(rows, { unit, baselineLabel }) {
  const headers = [
    "server",
    "conns",
    `CPU µs/${unit}`,
    "spread",
    `× ${baselineLabel}`,
    `${unit}s/s`,
    "server CPU",
    "p50",
    "p99",
    "p99.9",
    "RSS MiB",
    "errors",
    "note",
  ];
  const body = rows.map((r) => {
    const notes = [];
    if (r.cpuUsPer.noisy) notes.push("noisy");
    if (r.failed.length) notes.push(`${r.failed.length} round(s) failed`);
    if (r.rounds === 0) notes.push("no data");
    return [
      r.label,
      String(r.conns),
      fmt(r.cpuUsPer.median),
      Number.isFinite(r.cpuUsPer.spread) ? `${fmt(r.cpuUsPer.spread * 100, 0)}%` : "–",
      Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : "–",
      fmt(r.rate.median),
      Number.isFinite(r.cpuPercent.median) ? `${fmt(r.cpuPercent.median, 0)}%` : "–",
      fmtUs(r.p50.median),
      fmtUs(r.p99.median),
      fmtUs(r.p999.median),
      fmt(r.rssMiB.median, 1),
      String(r.errors),
      notes.join(", "),
    ];
  });
  return { headers, body };
}

/** Raw per-round figures as a table (header and rows). */
function roundsTable(rounds, unit) {
  const headers = ["workload", "round", "server", `${unit}s`, "seconds", `${unit}s/s`, "server CPU s", `CPU µs/${unit}`, "p50 µs", "p99 µs", "p99.9 µs", "RSS KiB", "errors"];
  const body = rounds.map((r) =>
    r.error
      ? [r.workload, String(r.round), r.server, "–", "–", "–", "–", "–", "–", "–", "–", "–", `failed: ${r.error.split("\n")[0]}`]
      : [
          r.workload,
          String(r.round),
          r.server,
          String(r.count),
          r.seconds.toFixed(3),
          r.rate.toFixed(0),
          r.cpuSeconds.toFixed(2),
          r.cpuUsPer.toFixed(2),
          fmt(r.latencyUs.p50, 0),
          fmt(r.latencyUs.p99, 0),
          fmt(r.latencyUs.p999, 0),
          String(r.rssKb),
          String(r.errors),
        ],
  );
  return { headers, body };
}

/** Checks each target "A/B<=R" at every workload; returns [{ text, ok }]. */
function checkTargets(rows, targets, unit) {
  const out = [];
  for (const t of targets) {
    for (const conns of [...new Set(rows.map((r) => r.conns))]) {
      const a = rows.find((r) => r.server === t.a && r.conns === conns);
      const b = rows.find((r) => r.server === t.b && r.conns === conns);
      const q = a && b ? ratio(a.cpuUsPer.median, b.cpuUsPer.median) : NaN;
      const ok = Number.isFinite(q) && q <= t.max;
      out.push({ ok, text: `${ok ? "PASS" : "FAIL"} ${t.a}/${t.b} CPU per ${unit} at ${conns} conns: ${Number.isFinite(q) ? q.toFixed(2) : "not measured"} (target ≤ ${t.max})` });
    }
  }
  return out;
}

/**
 * Runs one benchmark, writing its report to `out` and progress to `err`; with `cleanup`
 * (default) it installs the handlers that end its processes on exit and Ctrl-C. `bench` = { kind, script, unit, registry, defaults, workloadName(conns),
 * verify(port) → Promise<info>, measure({ server, workload, opts, sample }) → Promise<m> }
 * where m = { count, seconds, rate, latencyUs, errors, errorDetail, cpuSeconds,
 * wallSeconds, rssKb, command }. Returns the process exit code.
 */
async function runBench(bench, argv, { out = process.stdout, err: errOut = process.stderr, cleanup = true } = {}) {
  let opts;
  try {
    opts = parseOptions(argv, bench.defaults);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    errOut.write(`${err.message}\n${usage(bench.script, bench.defaults)}\n`);
    return 2;
  }
  if (opts.help) {
    out.write(`${usage(bench.script, bench.defaults)}\n`);
    return 0;
  }
  if (cleanup) installCleanup(); // exit/Ctrl-C handlers; an embedding caller (a test) may own those
  const info = machineInfo();
  const pinned = opts.pin && info.pinned;
  const serverCpu = pinned ? 0 : null;
  const loadCpu = pinned ? 1 : null;
  const machine = machineLine({ ...info, pinned });
  const command = `node ${bench.script}${argv.length ? " " + argv.join(" ") : ""}`;
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  out.write(`${bench.kind} benchmark · ${date}\n${machine}\n`);

  let choice;
  try {
    choice = chooseServers(bench.registry, bench.kind, opts.peers);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    errOut.write(`${err.message}\n`);
    return 2;
  }
  const notes = [];
  const loadAtStart = os.loadavg()[0];
  for (const s of choice.skipped) notes.push(`skipped ${s.name}: ${s.reason}`);
  if (choice.notSelected.length) notes.push(`not selected (add with --peers or --peers all): ${choice.notSelected.join(", ")}`);
  if (!pinned) notes.push(opts.pin ? "NOT pinned: taskset or CPU 1 unavailable" : "NOT pinned (--no-pin)");
  for (const n of notes) out.write(`${n}\n`);

  // Start every chosen server once; each is idle while another is measured.
  const running = new Map();
  const peerInfo = {};
  for (const spec of choice.chosen) {
    let srv = null;
    try {
      srv = await startServer(spec, bench.kind, { cpu: serverCpu });
      const answer = await bench.verify(srv.port);
      running.set(spec.name, srv);
      peerInfo[spec.name] = { label: spec.label || spec.name, status: "ok", answer };
    } catch (err) {
      notes.push(`failed ${spec.name}: ${err.message.split("\n")[0]}`);
      out.write(`failed to start or check ${spec.name}: ${err.message}\n`);
      peerInfo[spec.name] = { label: spec.label || spec.name, status: "failed", error: err.message };
      if (srv) await srv.stop();
    }
  }
  const servers = choice.chosen.filter((s) => running.has(s.name));
  if (servers.length === 0) {
    errOut.write("no server could be run\n");
    killAllNow();
    return 2;
  }
  if (!servers.some((s) => s.name === opts.baseline)) notes.push(`baseline ${opts.baseline} not measured: ratios are blank`);

  const workloads = opts.conns.map((conns) => ({ name: bench.workloadName(conns), conns }));
  const order = interleave(servers.map((s) => s.name), workloads, opts.rounds);
  const progress = new Progress(order.length, opts.warmup + opts.duration + 0.5, errOut);
  const rounds = [];
  let loadCommand = "";
  try {
    for (let i = 0; i < order.length; i++) {
      const { workload, round, peer } = order[i];
      const srv = running.get(peer);
      progress.update(i + 1, `${bench.kind} ${workload.conns} conns · round ${round}/${opts.rounds} · ${peer}`);
      const base = { workload: workload.name, conns: workload.conns, round, server: peer };
      if (!srv.alive()) {
        rounds.push({ ...base, error: `server exited earlier: ${srv.stderr().slice(-300)}` });
        continue;
      }
      try {
        const m = await bench.measure({ server: srv, workload, opts, loadCpu, sample: () => sampleTree(srv.pid), cpuBetween });
        loadCommand = m.command;
        rounds.push({ ...base, ...derive(m) });
      } catch (err) {
        rounds.push({ ...base, error: err.message });
        if (progress.tty) errOut.write("\n");
        errOut.write(`${peer} round ${round} at ${workload.conns} conns failed: ${err.message}\n`);
      }
    }
  } finally {
    progress.done();
    for (const srv of running.values()) await srv.stop();
  }

  notes.push(`load average (1 min, whole machine, ${info.nproc} CPUs): ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end${os.loadavg()[0] > 1.5 || loadAtStart > 1.5 ? " — other work was running: absolute rates are depressed, compare ratios" : ""}`);
  const rows = summariseRounds(rounds, workloads, servers, opts.baseline);
  const baseSpec = bench.registry.find((s) => s.name === opts.baseline);
  const baselineLabel = baseSpec ? baseSpec.label : opts.baseline;
  const table = summaryTable(rows, { unit: bench.unit, baselineLabel });
  const noisy = rows.filter((r) => r.cpuUsPer.noisy).map((r) => `${r.server}@${r.conns}`);
  if (noisy.length) notes.push(`noisy (CPU per ${bench.unit} spread > 15%): ${noisy.join(", ")}`);
  const targetResults = checkTargets(rows, opts.targets, bench.unit);

  out.write(`\n${formatTable(table.headers, table.body)}\n\n`);
  out.write(`CPU µs/${bench.unit}: server user+sys time (/proc/PID/stat) over the measured interval ÷ ${bench.unit}s; medians of ${opts.rounds} interleaved rounds, spread = (max−min)/median.\n`);
  for (const n of notes) out.write(`note: ${n}\n`);
  for (const t of targetResults) out.write(`${t.text}\n`);

  const settings = `${opts.rounds} interleaved rounds, ${opts.warmup} s warm-up + ${opts.duration} s measured per round${bench.settings ? `; ${bench.settings(opts)}` : ""}; load generator: \`${loadCommand}\``;
  const jsonPath = opts.json || path.join(OUT_DIR, `${bench.kind}-${date.replace(/[:]/g, "")}.json`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ kind: bench.kind, command, date, machine: { ...info, pinned, line: machine }, options: opts, settings, peers: peerInfo, notes, rounds, summary: rows, targets: targetResults }, null, 2));
  out.write(`raw results: ${path.relative(process.cwd(), jsonPath)}\n`);
  const chartPath = opts.chart || jsonPath.replace(/\.json$/, "") + ".svg";
  try {
    fs.writeFileSync(chartPath, await chartSvg(rows, { unit: bench.defaults.unit, title: `${bench.kind}: ${date}` }));
    out.write(`chart: ${path.relative(process.cwd(), chartPath)}\n`);
  } catch (err) {
    out.write(`chart skipped: ${err.message}\n`);
  }

  if (opts.record) {
    const raw = roundsTable(rounds, bench.unit);
    const file = path.join(ROOT, "bench", "RESULTS.md");
    appendResults(file, opts.heading, {
      title: `${bench.kind} — ${date}`,
      command,
      date,
      machine,
      settings,
      table: formatMarkdownTable(table.headers, table.body),
      notes: [...notes, ...targetResults.map((t) => t.text)],
      rawTable: formatMarkdownTable(raw.headers, raw.body),
    });
    out.write(`appended to ${path.relative(process.cwd(), file)} under "${opts.heading}"\n`);
  }
  return targetResults.some((t) => !t.ok) ? 1 : 0;
}

/** Runs `bench` with process.argv and exits with its code (2 on an unexpected error). */
function main(bench) {
  // A reader that went away (`| head`) ends the run quietly; the exit handler stops our processes.
  process.stdout.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  runBench(bench, process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.stack || err}\n`);
      killAllNow();
      process.exit(2);
    },
  );
}

module.exports = { chooseServers, derive, summariseRounds, summaryTable, roundsTable, checkTargets, runBench, main };
