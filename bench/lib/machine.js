"use strict";
/** The machine line every result carries: cores, kernel, Node, CPU model, pinning. */
const fs = require("node:fs");
const os = require("node:os");
const { execFileSync } = require("node:child_process");

/** Whether `taskset` exists and CPUs 0 and 1 are both usable, so server and client can be pinned apart. */
function canPin() {
  try {
    execFileSync("taskset", ["-c", "1", "true"], { stdio: "ignore" });
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The CPU model name from /proc/cpuinfo (or os.cpus()). */
function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    /* not Linux: fall through */
  }
  return (os.cpus()[0] && os.cpus()[0].model) || "unknown CPU";
}

/** Facts about this machine as an object. */
function machineInfo() {
  let nproc = os.cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    /* keep os.cpus() */
  }
  return { nproc, kernel: os.release(), node: process.version, cpu: cpuModel(), pinned: canPin() };
}

/** One line: "nproc 2 · Linux 6.1.0 · node v20.20.2 · Intel(R) Xeon(R) ... · pinned: server CPU 0, load CPU 1". */
function machineLine(info = machineInfo()) {
  const pin = info.pinned ? "pinned: server CPU 0, load generator CPU 1" : "NOT pinned (taskset or a second CPU missing)";
  return `nproc ${info.nproc} · Linux ${info.kernel} · node ${info.node} · ${info.cpu} · ${pin}`;
}

module.exports = { canPin, machineInfo, machineLine };
