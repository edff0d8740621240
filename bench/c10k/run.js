#!/usr/bin/env node
"use strict";
/**
 * The C10K harness (`npm start`, the `fdreactor-c10k` bin): holds N connections open to
 * each server, drives a few hundred of them, and compares the servers by CPU per request
 * (the primary figure, docs/benchmarks.md), throughput, latency, memory per connection
 * and connection set-up rate. `--help` lists the options; docs/benchmarks.md the method.
 *
 * One round, for one server at one connection count:
 *   1. start the server pinned to CPU 0 — several SO_REUSEPORT processes (or nginx
 *      workers) when the count is more than one process can hold — and check its answer;
 *   2. sample its RSS; start the load processes pinned to CPU 1 and open the connections;
 *   3. sample its RSS again (all connected, idle): the delta per connection is its memory
 *      per idle connection;
 *   4. drive the active connections for the warm-up, then sample CPU, measure for the
 *      duration, sample CPU again, collect the load reports;
 *   5. stop everything it started, by PID.
 * Rounds are interleaved (A,B,A,B), medians and min–max spreads reported.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { installCleanup, killAllNow } = require("../lib/children");
const { startServer, freePort } = require("../lib/server");
const { sampleTrees, cpuBetween, waitMsBetween, readSteal, stealMsBetween } = require("../lib/proc");
const { summarize, ratio, interleave } = require("../lib/stats");
const { machineInfo, machineLine } = require("../lib/machine");
const { fmt, fmtUs, formatTable, formatMarkdownTable } = require("../lib/table");
const { Progress, clock } = require("../lib/progress");
const { appendResults } = require("../lib/results");
const { verifyEcho, verifyHttp, verifyStatic } = require("../lib/verify");
const { ensureStaticTree } = require("../peers/static_tree");
const { OUT_DIR, ROOT } = require("../lib/build");
const { usage, parseC10kOptions, UsageError } = require("./options");
const { c10kServers, specForProcs, CLUSTER_BASELINE } = require("./servers");
const { Load } = require("./load");
const { expectedAnswer, deriveRound, derivePaced } = require("./results");
const { c10kChartSvg } = require("./chart");

const HEADING = "## C10K";

/** Newest modification time (ms) of the .ts files under `dir`, recursively. */
function newestTs(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Compiles the library (tsc) when dist/ is missing or older than lib/; returns what it did. */
function ensureDist(err) {
  const marker = path.join(ROOT, "dist", "lib", "index.js");
  let built = 0;
  try {
    built = fs.statSync(marker).mtimeMs;
  } catch {
    /* not built */
  }
  if (built > 0 && built >= newestTs(path.join(ROOT, "lib"))) return "dist/ is up to date";
  // Only lib/ (bench/c10k/tsconfig.lib.json extends the project's config): half the time of the tests too.
  err.write(`compiling the library (tsc -p bench/c10k/tsconfig.lib.json${built > 0 ? ": lib/ is newer than dist/" : ""}) ...\n`);
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(__dirname, "tsconfig.lib.json")], { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
  } catch (e) {
    const detail = `${e.stdout || ""}${e.stderr || ""}`.trim().split("\n").slice(0, 20).join("\n");
    // tsc still writes what it could; a dist/ from before is better than no run at all.
    if (built > 0 || fs.existsSync(marker)) {
      err.write(`tsc reported errors; running with the dist/ it left:\n${detail}\n`);
      return "tsc reported errors: ran with the dist/ it left";
    }
    throw new Error(`tsc failed:\n${detail}`, { cause: e });
  }
  return "compiled dist/ with tsc";
}

/** A progress bar of `width` cells for fraction `f`. */
function bar(f, width = 20) {
  const n = Math.max(0, Math.min(width, Math.round(f * width)));
  return `${"█".repeat(n)}${"░".repeat(width - n)}`;
}

/** `spec` with `flags` before its arguments when it runs on this Node (--node-flags); else `spec`. */
function withNodeFlags(spec, flags) {
  if (!flags || flags.length === 0 || spec.cmd !== process.execPath) return spec;
  const args = spec.args;
  return { ...spec, args: typeof args === "function" ? (vars) => [...flags, ...args(vars)] : [...flags, ...(args || [])] };
}

/** Starts `spec` for `conns` connections: one process, or `procs` sharing one port. Returns the started servers. */
async function startServers(spec0, scenario, conns, opts, cpu) {
  const spec = withNodeFlags(spec0, opts.nodeFlags);
  const procs = spec.scaling ? Math.ceil(conns / opts.perProcess) : 1;
  const perProcess = Math.ceil(conns / procs);
  const started = [];
  try {
    if (spec.scaling === "reuseport" && procs > 1) {
      const port = await freePort();
      const s = specForProcs(spec, procs, perProcess);
      for (let i = 0; i < procs; i++) started.push(await startServer(s, scenario, { cpu, port }));
    } else {
      started.push(await startServer(specForProcs(spec, procs, perProcess), scenario, { cpu }));
    }
  } catch (err) {
    for (const s of started) await s.stop();
    throw err;
  }
  return { servers: started, procs, port: started[0].port };
}

/** One sample over every server process tree (CPU ticks and RSS summed). */
function sampleAll(servers) {
  return sampleTrees(servers.map((s) => s.pid));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Paced phase: time from "pace" to measuring (the closed loop's last answers come back, the schedule settles). */
const PACED_SETTLE_MS = 500;
/**
 * The connect rate (per second) the time allowed for opening the connections assumes at
 * worst: on a loaded machine the load processes reached 2,000-5,000/s of the 10,000 asked
 * for, and 100,000 connections then needed more than the 40 s that --rate alone allowed.
 */
const SLOWEST_CONNECT_RATE = 1000;

/** Runs one round (see the file comment); `status(text)` reports where it is. */
async function runRound(spec, conns, opts, { serverCpu, loadCpu, status }) {
  status("starting server");
  const { servers, procs, port } = await startServers(spec, opts.scenario, conns, opts, serverCpu);
  let load = null;
  try {
    let response = null;
    let answer = true;
    if (opts.scenario === "echo") await verifyEcho(port);
    else if (opts.scenario === "static") await verifyStatic(port, opts.files);
    else {
      answer = await verifyHttp(port);
      response = expectedAnswer(answer.headers, answer.body);
    }
    await sleep(200);
    const base = sampleAll(servers);
    const connectBudgetS = conns / Math.min(opts.rate, SLOWEST_CONNECT_RATE) + 30;
    load = new Load({
      port,
      conns,
      active: opts.active,
      scenario: opts.scenario,
      size: opts.size,
      rate: opts.rate,
      perProcess: opts.perProcess,
      response,
      files: opts.files,
      // Only static load generators act on it (loadgen.js).
      wholeAnswers: opts.clientRcvbuf === "whole",
      cpu: loadCpu,
      connectTimeoutS: 20,
      // Both phases, then a minute of slack: the load processes exit by themselves after it.
      deadlineS: connectBudgetS + opts.warmup + opts.duration + (opts.paced > 0 ? PACED_SETTLE_MS / 1000 + opts.duration : 0) + 60,
    });
    load.start();
    const connected = await load.waitFor("connected", connectBudgetS * 1000, (p) => status(`connecting ${p.established.toLocaleString("en-US")}/${conns.toLocaleString("en-US")}`));
    await sleep(300); // let the server finish accepting and settle before reading its memory
    const idle = sampleAll(servers);
    status(`warm-up, ${opts.active} active`);
    load.tell("run");
    await sleep(opts.warmup * 1000);
    // One measured interval: server and load samples and hypervisor steal around "measure" + duration.
    const measure = async (what) => {
      const s0 = { server: sampleAll(servers), load: load.sample(), steal: readSteal() };
      load.tell("measure");
      status(what);
      await sleep(opts.duration * 1000);
      const s1 = { server: sampleAll(servers), load: load.sample(), steal: readSteal() };
      const stealMs = { server: stealMsBetween(s0.steal, s1.steal, serverCpu), load: stealMsBetween(s0.steal, s1.steal, loadCpu) };
      // Runnable but not running: other work on the same CPU (the main threads, /proc/PID/schedstat).
      const waitMs = { server: waitMsBetween(s0.server, s1.server), load: waitMsBetween(s0.load, s1.load) };
      return { start: s0.server, end: s1.server, loadUse: cpuBetween(s0.load, s1.load), stealMs, waitMs };
    };
    const closed = await measure(`measuring ${opts.duration} s`);
    let merged = await load.collect(opts.paced > 0 ? "report" : "stop");
    const round = deriveRound(merged, { base, idle, start: closed.start, end: closed.end }, { cpuBetween, conns });
    let paced = null;
    if (opts.paced > 0) {
      load.tell(`pace ${opts.paced} ${opts.active}`);
      await sleep(PACED_SETTLE_MS);
      const p = await measure(`paced at ${opts.paced.toLocaleString("en-US")}/s`);
      merged = await load.collect("stop");
      paced = { ...derivePaced(merged, p, { cpuBetween, target: opts.paced }), stealMs: p.stealMs, waitMs: p.waitMs };
    }
    const alive = servers.every((s) => s.alive());
    return {
      ...round,
      // Errors count over the whole round: the last report has them all.
      errors: merged.errors,
      errorTotal: merged.errorTotal,
      openAtEnd: merged.openAtEnd,
      paced,
      // Hypervisor steal on the server's and the load generator's CPU while measuring.
      stealMs: closed.stealMs,
      // Time the server's and the load generator's processes waited on a run queue while measuring.
      waitMs: closed.waitMs,
      loadCpuPercent: (closed.loadUse.cpuSeconds / closed.loadUse.wallSeconds) * 100,
      serverProcs: procs,
      loadProcs: load.procs,
      serverAlive: alive,
      limits: load.limits(),
      answerBuffer: load.answerBuffer(),
      connectedReports: connected,
      answer: opts.scenario === "http" ? { headers: answer.headers, body: answer.body } : undefined,
    };
  } finally {
    status("stopping");
    if (load) await load.stop();
    for (const s of servers) await s.stop();
  }
}

/** The latency percentiles a round is judged by: the paced phase's, or the closed loop's without one. */
function latencyOf(r) {
  return r.paced ? r.paced.latencyUs : r.latencyUs;
}

/** 20000 → "20k", 1500 → "1.5k", 800 → "800". */
function shortRate(n) {
  return n >= 1000 ? `${Number((n / 1000).toFixed(1))}k` : String(n);
}

/**
 * Per server and connection count: medians and spreads over the rounds, ratios to the
 * baseline; at a count where the baseline has no measured round (one process cannot hold
 * it), to `fallback` (the same Node server under cluster) instead. Each row names the
 * server its ratios are against (`ratioAgainst`).
 */
function summarise(rounds, servers, connsList, baseline, fallback = null) {
  const rows = [];
  for (const conns of connsList) {
    const measured = (name) => rounds.filter((r) => r.server === name && r.conns === conns && !r.error && !r.skipped);
    const ratioAgainst = measured(baseline).length === 0 && fallback !== null && measured(fallback).length > 0 ? fallback : baseline;
    const base = measured(ratioAgainst);
    const baseCpu = base.length ? summarize(base.map((r) => r.cpuUsPer)).median : NaN;
    const baseMem = base.length ? summarize(base.map((r) => r.rssPerConnKb)).median : NaN;
    const basePacedCpu = base.some((r) => r.paced) ? summarize(base.map((r) => (r.paced ? r.paced.cpuUsPer : NaN))).median : NaN;
    // No round to compare with: name the failure of the peer that should have stood in.
    const standIn = fallback !== null && rounds.some((r) => r.server === baseline && r.conns === conns && r.skipped);
    const noRatio = base.length ? null : whyUnmeasured(rounds, standIn ? fallback : baseline, conns);
    // A peer that closed idle connections did less work than the count asks for: its ratios say so.
    const baseClosed = base.length ? Math.max(...base.map((r) => (Number.isFinite(r.established) && Number.isFinite(r.openAtEnd) ? r.established - r.openAtEnd : 0))) : 0;
    for (const s of servers) {
      const rs = rounds.filter((r) => r.server === s.name && r.conns === conns);
      if (rs.length === 0) continue;
      const ok = rs.filter((r) => !r.error && !r.skipped);
      const pick = (f) => summarize(ok.map(f));
      const cpu = pick((r) => r.cpuUsPer);
      const mem = pick((r) => r.rssPerConnKb);
      const pacedCpu = pick((r) => (r.paced ? r.paced.cpuUsPer : NaN));
      rows.push({
        conns,
        server: s.name,
        label: s.label || s.name,
        rounds: ok.length,
        failed: rs.filter((r) => r.error).map((r) => r.error),
        skipped: rs.find((r) => r.skipped)?.skipped || null,
        serverProcs: ok.length ? ok[0].serverProcs : rs[0].serverProcs ?? null,
        loadProcs: ok.length ? ok[0].loadProcs : null,
        held: pick((r) => r.established),
        openAtEnd: pick((r) => r.openAtEnd),
        setupRate: pick((r) => r.setupRate),
        setupCpu: pick((r) => r.setupCpuUsPerConn),
        cpuUsPer: cpu,
        ratio: ratio(cpu.median, baseCpu),
        rate: pick((r) => r.rate),
        cpuPercent: pick((r) => r.cpuPercent),
        loadCpuPercent: pick((r) => r.loadCpuPercent),
        // The percentiles of the paced phase when there was one (see --paced), else the closed loop's.
        p50: pick((r) => latencyOf(r).p50),
        p90: pick((r) => latencyOf(r).p90),
        p99: pick((r) => latencyOf(r).p99),
        p999: pick((r) => latencyOf(r).p999),
        p99Closed: pick((r) => r.latencyUs.p99),
        pacedRate: pick((r) => (r.paced ? r.paced.rate : NaN)),
        pacedTarget: ok.find((r) => r.paced)?.paced.target ?? null,
        pacedCpuUsPer: pacedCpu,
        // At the fixed rate every server serves the same requests at the same pace, the load
        // generator not its bottleneck (at a low rate, each request wakes an idle server).
        pacedRatio: ratio(pacedCpu.median, basePacedCpu),
        rssPerConnKb: mem,
        memRatio: ratio(mem.median, baseMem),
        ratioAgainst,
        noRatio,
        baseClosed,
        rssMiB: pick((r) => r.rssKb / 1024),
        errors: ok.reduce((a, r) => a + r.errorTotal, 0),
      });
    }
  }
  return rows;
}

/** Why `name` has no measured round at `conns` (its rounds failed, were skipped, or it did not run): one line. */
function whyUnmeasured(rounds, name, conns) {
  const rs = rounds.filter((r) => r.server === name && r.conns === conns);
  const failed = rs.find((r) => r.error);
  if (failed) return `${name} failed at ${fmt(conns)}: ${failed.error.split("\n")[0]}`;
  const skipped = rs.find((r) => r.skipped);
  if (skipped) return `${name} skipped at ${fmt(conns)}: ${skipped.skipped}`;
  return `${name} did not run at ${fmt(conns)}`;
}

/** The summary table (terminal and Markdown share it). */
function summaryTable(rows, { unit, baselineLabel, paced = 0, baseline = null, labels = {} }) {
  const at = paced > 0 ? ` @${shortRate(paced)}/s` : "";
  const pacedCols = paced > 0 ? [`CPU µs/${unit}${at}`, `× ${baselineLabel}${at}`] : [];
  const headers = ["server", "conns", "procs srv×load", "held", "setup/s", "setup CPU µs/conn", `CPU µs/${unit}`, "spread", `× ${baselineLabel}`, `${unit}s/s`, "server CPU", "load CPU", ...pacedCols, "p99 closed", `p50${at}`, `p90${at}`, `p99${at}`, `p99.9${at}`, "KiB/conn", `mem × ${baselineLabel}`, "errors", "note"];
  const body = rows.map((r) => {
    if (r.skipped) return [r.label, fmt(r.conns), ...headers.slice(2, -1).map(() => "–"), `skipped: ${r.skipped}`];
    const notes = [];
    if (r.cpuUsPer.noisy) notes.push("noisy");
    if (r.failed.length) notes.push(`${r.failed.length} round(s) failed`);
    if (r.rounds === 0) notes.push(r.failed.length ? `no data: ${r.failed[0].split("\n")[0]}` : "no data");
    else if (!Number.isFinite(r.ratio) && r.noRatio) notes.push(`no ratio: ${r.noRatio}`);
    if (Number.isFinite(r.held.median) && r.held.min < r.conns) notes.push(`held only ${fmt(r.held.min)} of ${fmt(r.conns)}`);
    if (Number.isFinite(r.openAtEnd.median) && r.openAtEnd.min < r.held.min) notes.push(`${fmt(r.held.min - r.openAtEnd.min)} closed by the server`);
    if (r.pacedTarget && Number.isFinite(r.pacedRate.min) && r.pacedRate.min < 0.97 * r.pacedTarget) notes.push(`paced: reached only ${fmt(r.pacedRate.min)} of ${fmt(r.pacedTarget)}/s`);
    if (baseline !== null && r.ratioAgainst && r.ratioAgainst !== baseline) notes.push(`× against ${labels[r.ratioAgainst] || r.ratioAgainst}`);
    if (r.baseClosed > 0 && r.server !== r.ratioAgainst) notes.push(`× against a peer that closed ${fmt(r.baseClosed)} of its connections`);
    return [
      r.label,
      fmt(r.conns),
      r.loadProcs ? `${r.serverProcs}×${r.loadProcs}` : "–",
      fmt(r.held.median),
      fmt(r.setupRate.median),
      fmt(r.setupCpu.median),
      fmt(r.cpuUsPer.median),
      Number.isFinite(r.cpuUsPer.spread) ? `${fmt(r.cpuUsPer.spread * 100, 0)}%` : "–",
      Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : "–",
      fmt(r.rate.median),
      Number.isFinite(r.cpuPercent.median) ? `${fmt(r.cpuPercent.median, 0)}%` : "–",
      Number.isFinite(r.loadCpuPercent.median) ? `${fmt(r.loadCpuPercent.median, 0)}%` : "–",
      ...(paced > 0 ? [fmt(r.pacedCpuUsPer.median), Number.isFinite(r.pacedRatio) ? `${r.pacedRatio.toFixed(2)}×` : "–"] : []),
      fmtUs(r.p99Closed.median),
      fmtUs(r.p50.median),
      fmtUs(r.p90.median),
      fmtUs(r.p99.median),
      fmtUs(r.p999.median),
      fmt(r.rssPerConnKb.median),
      Number.isFinite(r.memRatio) ? `${r.memRatio.toFixed(2)}×` : "–",
      String(r.errors),
      notes.join(", "),
    ];
  });
  return { headers, body };
}

/** A round's `key` ("stealMs", "waitMs") while measuring, server / load, closed loop then paced: "0/10; 0/0". */
function pairText(r, key) {
  const one = (s) => (s ? `${fmt(s.server, 0)}/${fmt(s.load, 0)}` : "–");
  return r.paced ? `${one(r[key])}; ${one(r.paced[key])}` : one(r[key]);
}

/** Rounds whose `key` ({ server, load } ms), closed loop and paced phase together, is over `ms`. */
function roundsOver(rounds, key, ms) {
  const total = (s) => (s ? (Number.isFinite(s.server) ? s.server : 0) + (Number.isFinite(s.load) ? s.load : 0) : 0);
  return rounds.filter((r) => !r.error && !r.skipped && total(r[key]) + total(r.paced && r.paced[key]) > ms).map((r) => `${r.server}@${r.conns} round ${r.round}`);
}

/** Rounds during which the hypervisor took more than `ms` from the server's or the load generator's CPU. */
function stolenRounds(rounds, ms = 20) {
  return roundsOver(rounds, "stealMs", ms);
}

/**
 * Rounds whose server and load processes waited more than `ms` in all on a run queue while
 * measuring: other work had their CPU (on this shared machine, mostly other people's).
 */
function waitedRounds(rounds, ms = 100) {
  return roundsOver(rounds, "waitMs", ms);
}

/** Raw per-round figures as a table. */
function roundsTable(rounds, unit) {
  const headers = ["conns", "round", "server", "procs", "held", "setup/s", "setup CPU µs/conn", `${unit}s`, `${unit}s/s`, "server CPU s", `CPU µs/${unit}`, "load CPU %", "closed p50/p99/p99.9 µs", `paced ${unit}s/s`, `paced CPU µs/${unit}`, "paced p50/p90/p99/p99.9 µs", "steal ms srv/load", "run-queue wait ms srv/load", "RSS base/idle/end KiB", "KiB/conn", "errors"];
  const body = rounds
    .filter((r) => !r.skipped)
    .map((r) =>
      r.error
        ? [String(r.conns), String(r.round), r.server, ...headers.slice(3, -1).map(() => "–"), `failed: ${r.error.split("\n")[0]}`]
        : [
            String(r.conns),
            String(r.round),
            r.server,
            `${r.serverProcs}×${r.loadProcs}`,
            String(r.established),
            r.setupRate.toFixed(0),
            fmt(r.setupCpuUsPerConn),
            String(r.count),
            r.rate.toFixed(0),
            r.cpuSeconds.toFixed(2),
            r.cpuUsPer.toFixed(2),
            r.loadCpuPercent.toFixed(0),
            [r.latencyUs.p50, r.latencyUs.p99, r.latencyUs.p999].map((v) => fmt(v, 0)).join("/"),
            r.paced ? r.paced.rate.toFixed(0) : "–",
            r.paced ? r.paced.cpuUsPer.toFixed(2) : "–",
            r.paced ? [r.paced.latencyUs.p50, r.paced.latencyUs.p90, r.paced.latencyUs.p99, r.paced.latencyUs.p999].map((v) => fmt(v, 0)).join("/") : "–",
            pairText(r, "stealMs"),
            pairText(r, "waitMs"),
            `${r.rssBaseKb}/${r.rssIdleKb}/${r.rssKb}`,
            r.rssPerConnKb.toFixed(2),
            `${r.errorTotal}${r.errorTotal ? ` ${JSON.stringify(Object.fromEntries(Object.entries(r.errors).filter(([, v]) => v > 0)))}` : ""}`,
          ],
    );
  return { headers, body };
}

/**
 * Runs the harness with `argv`, report on `out`, progress and errors on `err`. With
 * `cleanup` (default) it installs the handlers that end its processes on exit and Ctrl-C;
 * with `compile` (default) it runs tsc first when dist/ is stale. Returns the exit code:
 * 0, 1 when a round failed, 2 on a bad command line or when no server could run.
 */
async function runC10k(argv, { out = process.stdout, err: errOut = process.stderr, cleanup = true, compile = true } = {}) {
  let opts;
  try {
    opts = parseC10kOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    errOut.write(`fdreactor-c10k: ${e.message}\n(see fdreactor-c10k --help)\n`);
    return 2;
  }
  if (opts.help) {
    out.write(`${usage()}\n`);
    return 0;
  }
  const all = c10kServers(opts.scenario, { backends: opts.fdBackends, runModes: opts.fdModes });
  const known = c10kServers(opts.scenario, { backends: ["epoll", "io_uring", "kqueue", "poll", "select"], runModes: ["integrated", "exclusive"] });
  const wantAll = opts.peers && opts.peers.length === 1 && opts.peers[0] === "all";
  if (opts.peers && !wantAll) {
    for (const p of opts.peers) {
      if (!all.some((s) => s.name === p)) {
        const hint = known.some((s) => s.name === p) ? " (add its backend/mode with --fd-backends/--fd-modes)" : "";
        errOut.write(`fdreactor-c10k: --peers: no ${opts.scenario} server named ${JSON.stringify(p)}${hint} (known: ${all.map((s) => s.name).join(", ")})\n`);
        return 2;
      }
    }
  }
  if (!known.some((s) => s.name === opts.baseline)) {
    errOut.write(`fdreactor-c10k: --baseline: no ${opts.scenario} server named ${JSON.stringify(opts.baseline)}\n`);
    return 2;
  }
  if (compile) {
    try {
      ensureDist(errOut);
    } catch (e) {
      errOut.write(`fdreactor-c10k: could not compile the library: ${e.message}\n`);
      return 2;
    }
  }
  if (cleanup) installCleanup();
  // The files every static peer serves, written once (bench/out/static-www).
  if (opts.scenario === "static") opts.files = ensureStaticTree(opts.fileSizes);

  const info = machineInfo();
  const pinned = opts.pin && info.pinned;
  const serverCpu = pinned ? 0 : null;
  const loadCpu = pinned ? 1 : null;
  const machine = machineLine({ ...info, pinned });
  const command = `fdreactor-c10k${argv.length ? " " + argv.join(" ") : ""}`;
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  out.write(`C10K ${opts.scenario} · ${date}\n${machine}\n`);

  const selected = all.filter((s) => (opts.peers && !wantAll ? opts.peers.includes(s.name) : wantAll || !s.optional));
  if (opts.peers && !wantAll && !selected.some((s) => s.name === opts.baseline)) {
    const b = all.find((s) => s.name === opts.baseline);
    if (b) selected.unshift(b); // the ratios need their baseline in the same run
  }
  const notes = [];
  const loadAtStart = os.loadavg()[0];
  const chosen = [];
  for (const s of selected) {
    const reason = s.check ? s.check() : null;
    if (reason) notes.push(`skipped ${s.name}: ${reason}`);
    else chosen.push(s);
  }
  const notSelected = all.filter((s) => !selected.includes(s)).map((s) => s.name);
  if (notSelected.length) notes.push(`not selected (add with --peers or --peers all): ${notSelected.join(", ")}`);
  if (!pinned) notes.push(opts.pin ? "NOT pinned: taskset or CPU 1 unavailable" : "NOT pinned (--no-pin)");
  for (const n of notes) out.write(`${n}\n`);
  if (chosen.length === 0) {
    errOut.write("fdreactor-c10k: no server could be run\n");
    return 2;
  }

  // A server that cannot grow past one process is skipped at counts one process cannot hold.
  const fits = (s, conns) => s.scaling || conns <= opts.perProcess;
  for (const conns of opts.conns)
    for (const s of chosen)
      if (!fits(s, conns)) notes.push(`skipped ${s.name} at ${conns} connections: it runs as one process, which holds at most ~19,900 sockets here (RLIMIT_NOFILE 20,000, not raisable)`);

  // Where the baseline runs as one process and a count is past what one process holds, the
  // same Node server under cluster is measured at that count and the ratios are taken
  // against it there (never left blank).
  const baselineSpec = chosen.find((s) => s.name === opts.baseline);
  const fallbackName = baselineSpec && !baselineSpec.scaling ? CLUSTER_BASELINE[opts.scenario] : null;
  const needFallback = fallbackName !== null && opts.conns.some((c) => !fits(baselineSpec, c));
  const fallback = needFallback ? all.find((s) => s.name === fallbackName) || null : null;
  /** Counts at which the fallback runs only to stand in for the baseline (it was not asked for). */
  let standInOnly = false;
  if (fallback !== null) {
    if (!chosen.includes(fallback)) {
      chosen.push(fallback);
      standInOnly = true;
    }
    const at = opts.conns.filter((c) => !fits(baselineSpec, c));
    notes.push(`at ${at.join(", ")} connections the ratios are against ${fallback.label}: ${baselineSpec.label} runs as one process${standInOnly ? " (it was added to the run for that, at those counts only)" : ""}`);
  }
  const runsAt = (s, conns) => !(standInOnly && s === fallback && fits(baselineSpec, conns));
  const order = interleave(
    chosen.map((s) => s.name),
    opts.conns,
    opts.rounds,
  ).filter((o) => runsAt(chosen.find((s) => s.name === o.peer), o.workload));
  const perRound = (conns) => 2 + conns / opts.rate + opts.warmup + opts.duration + 1.5 + (opts.paced > 0 ? PACED_SETTLE_MS / 1000 + opts.duration : 0);
  const progress = new Progress(order.length, perRound(opts.conns[0]), errOut);
  const rounds = [];
  let lastLimits = [];
  const fdNotes = new Set();
  try {
    for (let i = 0; i < order.length; i++) {
      const { workload: conns, round, peer } = order[i];
      const spec = chosen.find((s) => s.name === peer);
      const base = { conns, round, server: peer };
      if (!fits(spec, conns)) {
        rounds.push({ ...base, skipped: "one process holds at most ~19,900 sockets here" });
        continue;
      }
      const head = `${bar(i / order.length)} ${opts.scenario} ${conns.toLocaleString("en-US")} conns · round ${round}/${opts.rounds} · ${peer}`;
      progress.update(i + 1, head);
      const status = (what) => {
        if (progress.tty) progress.update(i + 1, `${head} · ${what}`);
      };
      try {
        const r = await runRound(spec, conns, opts, { serverCpu, loadCpu, status });
        lastLimits = r.limits;
        for (const l of r.limits) {
          if (!l.enough) fdNotes.add(`a load process could not raise RLIMIT_NOFILE to ${l.need} (soft ${l.soft}, hard ${l.hard}): lower --per-process`);
          else if (l.raised) fdNotes.add(`load processes raised RLIMIT_NOFILE to ${l.soft} (hard ${l.hard})`);
        }
        if (r.answerBuffer && r.answerBuffer.capped)
          fdNotes.add(`the kernel capped the load generator's receive buffer at ${fmt(r.answerBuffer.granted)} bytes (net.core.rmem_max; a whole answer needs ${fmt(r.answerBuffer.room)}): the largest file's figures include the load generator's reading, and part of its transfer is charged to the load generator (docs/benchmarks.md)`);
        rounds.push({ ...base, ...r });
      } catch (e) {
        rounds.push({ ...base, error: e.message });
        if (progress.tty) errOut.write("\n");
        errOut.write(`${peer} round ${round} at ${conns} conns failed: ${e.message}\n`);
      }
    }
  } finally {
    progress.done();
  }
  for (const n of fdNotes) notes.push(n);
  if (lastLimits.length) notes.push(`fd limit per load process: soft ${lastLimits[0].soft}, hard ${lastLimits[0].hard}`);
  const loadAtEnd = os.loadavg()[0];
  // The end figure counts this run's own server and load processes; only the start one says whether something else was running.
  notes.push(`load average (1 min, whole machine, ${info.nproc} CPUs): ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end (with this run's own processes)${loadAtStart > 1.5 ? " — over 1.5 at the start: other work, or a run that ended less than a minute before, was using the CPUs; absolute rates and latencies may be depressed, compare ratios" : ""}`);

  const unit = opts.scenario === "echo" ? "msg" : "req";
  const rows = summarise(rounds, chosen, opts.conns, opts.baseline, fallback ? fallback.name : null);
  const baseSpec = all.find((s) => s.name === opts.baseline);
  const baselineLabel = baseSpec ? baseSpec.label : opts.baseline;
  const labels = Object.fromEntries(all.map((s) => [s.name, s.label || s.name]));
  const table = summaryTable(rows, { unit, baselineLabel, paced: opts.paced, baseline: opts.baseline, labels });
  const noisy = rows.filter((r) => r.cpuUsPer.noisy).map((r) => `${r.server}@${r.conns}`);
  if (noisy.length) notes.push(`noisy (CPU per ${unit} spread > 15%): ${noisy.join(", ")}`);
  const stolen = stolenRounds(rounds);
  if (stolen.length) notes.push(`the hypervisor took over 20 ms of CPU 0 or 1 while measuring (steal, /proc/stat) in: ${stolen.join(", ")} (see the raw figures): their latency tails include it`);
  const waited = waitedRounds(rounds);
  if (waited.length) notes.push(`the server and load processes waited over 100 ms in all on a run queue while measuring (other work on their CPUs; /proc/PID/schedstat) in: ${waited.join(", ")} (see the raw figures): their latency tails include it`);
  const blank = opts.conns.filter((c) => !rows.some((r) => r.conns === c && r.server === r.ratioAgainst && r.rounds > 0));
  if (blank.length) notes.push(`baseline ${opts.baseline} not measured at ${blank.join(", ")} connections: no ratios there (each row's note says why)`);

  out.write(`\n${formatTable(table.headers, table.body)}\n\n`);
  out.write(
    `CPU µs/${unit}: server user+sys time (/proc/PID/stat) per ${unit} over the measured interval (the primary figure); KiB/conn: server RSS with every connection open and idle minus RSS before connecting, ÷ connections held; ` +
      `setup/s: connections established per second (bounded by --rate ${opts.rate}, so the load generator's pace more than the server's); setup CPU: server CPU while they were opened, per connection; ` +
      `${unit}s/s, CPU and "p99 closed": the ${opts.active} active connections in a closed loop (the next ${unit} as soon as the answer is back: the most the pair can do, latency mostly queueing); ` +
      (opts.paced > 0
        ? `CPU µs/${unit} @${shortRate(opts.paced)}/s and p50–p99.9: the same connections at a fixed ${fmt(opts.paced)} ${unit}s/s in all, each ${unit} timed from when it was due (no coordinated omission); at that rate every server serves the same ${unit}s at the same pace, the load generator not its bottleneck (at a low rate each ${unit} wakes an idle server: see docs/benchmarks.md); `
        : "p50–p99.9: the closed loop's (--paced 0); ") +
      `medians of ${opts.rounds} interleaved round(s), spread = (max−min)/median.\n`,
  );
  for (const n of notes) out.write(`note: ${n}\n`);

  const settings = `${opts.scenario}, ${opts.active} active of each count (all driven by the first load process)${opts.scenario === "echo" ? `, ${opts.size}-byte messages` : ""}${opts.scenario === "static" ? `, files of ${opts.fileSizes.join(", ")} bytes asked for in turn (status, length and CRC-32 of every answer checked), the driven connections' receive buffers ${opts.clientRcvbuf === "whole" ? "holding a whole answer in both phases" : "the kernel's default in the closed loop, a whole answer when paced"}` : ""}, ${opts.rounds} interleaved rounds, ${opts.warmup} s warm-up + ${opts.duration} s measured in a closed loop${opts.paced > 0 ? `, then ${PACED_SETTLE_MS / 1000} s + ${opts.duration} s measured at ${opts.paced} ${unit}s/s paced` : ""}, connect rate ≤ ${opts.rate}/s, ≤ ${opts.perProcess} connections per process; load generator: bench/c10k/loadgen.js (fdreactor, epoll, exclusive mode${pinned ? ", CPU 1" : ""})`;
  const jsonPath = opts.json || path.join(OUT_DIR, `c10k-${opts.scenario}-${date.replace(/[:]/g, "")}.json`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ kind: "c10k", command, date, machine: { ...info, pinned, line: machine }, options: opts, settings, notes, rounds, summary: rows }, null, 2));
  out.write(`raw results: ${path.relative(process.cwd(), jsonPath)}\n`);
  const chartPath = opts.chart || jsonPath.replace(/\.json$/, "") + ".svg";
  try {
    fs.writeFileSync(chartPath, await c10kChartSvg(rows, { unit, title: `C10K ${opts.scenario}: ${date}`, paced: opts.paced }));
    out.write(`chart: ${path.relative(process.cwd(), chartPath)}\n`);
  } catch (e) {
    out.write(`chart skipped: ${e.message}\n`);
  }
  if (opts.record) {
    const raw = roundsTable(rounds, unit);
    const file = path.join(ROOT, "bench", "RESULTS.md");
    appendResults(file, HEADING, {
      title: `C10K ${opts.scenario} ${opts.conns.join(", ")} connections — ${date}`,
      command,
      date,
      machine,
      settings,
      table: formatMarkdownTable(table.headers, table.body),
      notes,
      rawTable: formatMarkdownTable(raw.headers, raw.body),
    });
    out.write(`appended to ${path.relative(process.cwd(), file)} under "${HEADING}"\n`);
  }
  const failed = rounds.filter((r) => r.error).length;
  if (failed) out.write(`${failed} round(s) failed (see above and the JSON): exit status 1\n`);
  return failed ? 1 : 0;
}

/** Runs with process.argv and exits with its code (2 on an unexpected error). */
function main() {
  process.stdout.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  runC10k(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e.stack || e}\n`);
      killAllNow();
      process.exit(2);
    },
  );
}

if (require.main === module) main();

module.exports = { runC10k, summarise, summaryTable, roundsTable, bar, clock, withNodeFlags, stolenRounds, waitedRounds };
