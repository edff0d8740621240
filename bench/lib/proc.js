"use strict";
/**
 * Reading a process's cost from /proc: CPU time (utime+stime, fields 14 and 15 of
 * /proc/PID/stat, in clock ticks), resident memory (VmRSS of /proc/PID/status) and the
 * time its main thread waited on a run queue (/proc/PID/schedstat), for one process or
 * for a process and all its descendants (nginx's master and worker).
 */
const fs = require("node:fs");
const { execFileSync } = require("node:child_process");

let clkTck = 0;

/** Clock ticks per second (`getconf CLK_TCK`), read once. */
function clockTicksPerSecond() {
  if (clkTck === 0) {
    const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
    const n = Number(out);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`getconf CLK_TCK said ${JSON.stringify(out)}`);
    clkTck = n;
  }
  return clkTck;
}

/**
 * Parses one /proc/PID/stat line. The command name (field 2) may hold spaces and ')',
 * so the fields are counted from the last ')'.
 */
function parseStat(text) {
  const close = text.lastIndexOf(")");
  const open = text.indexOf("(");
  if (open < 0 || close < open) throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // After ")": field 3 (state) is rest[0], so field N is rest[N - 3].
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (n) => Number(rest[n - 3]);
  return { pid, comm, state: rest[0], ppid: field(4), utime: field(14), stime: field(15) };
}

/** Parses the VmRSS line of /proc/PID/status into kibibytes (0 for a zombie with none). */
function parseRssKb(statusText) {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return m ? Number(m[1]) : 0;
}

/** utime+stime of one process in clock ticks, or null when it is gone. */
function readCpuTicks(pid) {
  try {
    const s = parseStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    return s.utime + s.stime;
  } catch (err) {
    if (err && err.code === "ENOENT") return null;
    throw err;
  }
}

/** VmRSS of one process in KiB, or null when it is gone. */
function readRssKb(pid) {
  try {
    return parseRssKb(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch (err) {
    if (err && err.code === "ENOENT") return null;
    throw err;
  }
}

/** Every live process's children by parent PID, from one scan of /proc. */
function childrenMap() {
  const children = new Map();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let ppid;
    try {
      ppid = parseStat(fs.readFileSync(`/proc/${name}/stat`, "utf8")).ppid;
    } catch {
      continue; // exited while we looked
    }
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  return children;
}

/** PIDs below `pid` (children, grandchildren, ...) in a childrenMap(). */
function below(children, pid) {
  const out = [];
  const todo = [pid];
  for (let guard = 0; todo.length > 0 && guard < 100000; guard++) {
    for (const c of children.get(todo.pop()) || []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** PIDs of every live descendant of `pid` (children, grandchildren, ...), from /proc. */
function descendants(pid) {
  return below(childrenMap(), pid);
}

/**
 * Nanoseconds the main thread of `pid` has spent runnable but waiting for a CPU (the
 * second field of /proc/PID/schedstat), or null when it is gone or the kernel keeps no
 * such count.
 */
function readRunDelayNs(pid) {
  try {
    const v = Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * CPU ticks, RSS and run-queue wait (ns; null when no process has the count) summed over
 * `pids` (each counted once); the gone ones are skipped.
 */
function sumPids(pids) {
  let ticks = 0;
  let rssKb = 0;
  let waitNs = null;
  let alive = 0;
  for (const p of new Set(pids)) {
    const t = readCpuTicks(p);
    const r = readRssKb(p);
    if (t === null) continue;
    alive++;
    ticks += t;
    rssKb += r || 0;
    const w = readRunDelayNs(p);
    if (w !== null) waitNs = (waitNs || 0) + w;
  }
  return { at: process.hrtime.bigint(), ticks, rssKb, waitNs, pids: alive };
}

/** Milliseconds waited on a run queue between two samples of the same processes (NaN when unknown). */
function waitMsBetween(a, b) {
  if (!Number.isFinite(a.waitNs) || !Number.isFinite(b.waitNs)) return NaN;
  return Math.max(0, b.waitNs - a.waitNs) / 1e6;
}

/**
 * One sample of a process tree's cost: CPU ticks and RSS summed over `pid` and its
 * descendants, with the wall clock (ns) it was taken at.
 */
function sampleTree(pid) {
  return sumPids([pid, ...descendants(pid)]);
}

/**
 * One sample of several process trees together (sampleTree's shape, `pids` = live processes
 * counted): /proc is scanned once for all of them.
 */
function sampleTrees(roots) {
  const children = childrenMap();
  return sumPids(roots.flatMap((pid) => [pid, ...below(children, pid)]));
}

/** CPU seconds and wall seconds between two samples of the same tree. */
function cpuBetween(a, b) {
  return {
    cpuSeconds: (b.ticks - a.ticks) / clockTicksPerSecond(),
    wallSeconds: Number(b.at - a.at) / 1e9,
  };
}

/** One figure per CPU of /proc/stat's text: `pick(figures)` of each "cpuN" line (the all-CPU line left out). */
function perCpu(statText, pick) {
  const out = {};
  for (const line of statText.split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m) out[Number(m[1])] = pick(m[2].trim().split(/\s+/).map(Number));
  }
  return out;
}

/**
 * Steal time per CPU from the text of /proc/stat (the 8th figure of each "cpuN" line, in
 * clock ticks): time the hypervisor ran something else while this virtual CPU wanted to
 * run. Returns { [cpu]: ticks }.
 */
function parseSteal(statText) {
  return perCpu(statText, (f) => (Number.isFinite(f[7]) ? f[7] : 0));
}

/** Steal ticks per CPU now ({} where /proc/stat cannot be read). */
function readSteal() {
  try {
    return parseSteal(fs.readFileSync("/proc/stat", "utf8"));
  } catch {
    return {};
  }
}

/**
 * Busy time per CPU from the text of /proc/stat, in clock ticks: user, nice, system, irq,
 * softirq and steal of each "cpuN" line (not idle, not iowait). Returns { [cpu]: ticks }.
 * Softirq work the kernel does for one process in another's context (loopback TCP does
 * much of it) is in these, whoever it was charged to.
 */
function parseBusy(statText) {
  return perCpu(statText, (f) => f[0] + f[1] + f[2] + f[5] + f[6] + (Number.isFinite(f[7]) ? f[7] : 0));
}

/** Busy ticks per CPU now ({} where /proc/stat cannot be read). */
function readBusy() {
  try {
    return parseBusy(fs.readFileSync("/proc/stat", "utf8"));
  } catch {
    return {};
  }
}

/** Milliseconds of steal on `cpu` between two readSteal() results (NaN when unknown). */
function stealMsBetween(a, b, cpu) {
  if (cpu === null || cpu === undefined || !(cpu in a) || !(cpu in b)) return NaN;
  return ((b[cpu] - a[cpu]) * 1000) / clockTicksPerSecond();
}

module.exports = { clockTicksPerSecond, parseStat, parseRssKb, readCpuTicks, readRssKb, readRunDelayNs, descendants, sampleTree, sampleTrees, cpuBetween, waitMsBetween, parseSteal, readSteal, stealMsBetween, parseBusy, readBusy };
