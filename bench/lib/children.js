"use strict";
/**
 * Every process the harness starts goes through here, so that each one (and whatever it
 * forked, like nginx's worker) is ended by PID when it is done, when the harness fails,
 * and on Ctrl-C. Nothing is ever killed by name.
 */
const { spawn } = require("node:child_process");
const { descendants } = require("./proc");

/** pid -> { child, name, family: pids seen below it } */
const live = new Map();
let cleanupInstalled = false;

/** SIGKILLs one PID if it still exists; a PID already gone is not an error. */
function killPid(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Ends every tracked process and its descendants now (synchronous: usable in 'exit'). */
function killAllNow() {
  for (const [pid, entry] of live) {
    let family = entry.family;
    try {
      family = [...new Set([...family, ...descendants(pid)])];
    } catch {
      /* /proc unreadable: keep what we knew */
    }
    killPid(pid, "SIGKILL");
    for (const p of family) killPid(p, "SIGKILL");
  }
  live.clear();
}

/** Installs the handlers that end our children on exit, Ctrl-C, SIGTERM and uncaught errors (once). */
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", killAllNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping the ${live.size} process(es) this run started\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

/**
 * Spawns a tracked process, pinned to `cpu` with taskset when `cpu` is a number, at
 * `nice` (0..19) when given. Returns the ChildProcess; `child.exited` is a promise of { code, signal }.
 */
function spawnTracked(name, cmd, args, { cpu = null, nice = 0, env, cwd, stdio = ["ignore", "pipe", "pipe"] } = {}) {
  // nice applies to every thread the program starts (V8's GC helpers too): it wraps the exec.
  const run = nice ? ["nice", "-n", String(nice), cmd, ...args] : [cmd, ...args];
  const argv = cpu === null || cpu === undefined ? run : ["taskset", "-c", String(cpu), ...run];
  const child = spawn(argv[0], argv.slice(1), { env: env ? { ...process.env, ...env } : process.env, cwd, stdio });
  if (child.pid === undefined) {
    // spawn failed (ENOENT...): the error event follows; report it through `exited`.
    child.exited = new Promise((resolve) => child.once("error", (err) => resolve({ code: null, signal: null, error: err })));
    return child;
  }
  const entry = { child, name, family: [] };
  live.set(child.pid, entry);
  child.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child.pid);
      // A forked worker may outlive its parent: end it by the PID we saw.
      for (const p of entry.family) killPid(p, "SIGKILL");
      resolve({ code, signal });
    });
    child.once("error", (err) => resolve({ code: null, signal: null, error: err }));
  });
  return child;
}

/** Notes the current descendants of a tracked child, so they are ended with it. */
function rememberFamily(child) {
  const entry = live.get(child.pid);
  if (!entry) return;
  try {
    entry.family = [...new Set([...entry.family, ...descendants(child.pid)])];
  } catch {
    /* keep what we had */
  }
}

/**
 * Ends a tracked child: SIGTERM, then SIGKILL after `graceMs`; its descendants are
 * SIGKILLed by PID afterwards. Resolves once it has exited.
 */
async function stopTracked(child, graceMs = 3000) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return child.exited;
  rememberFamily(child);
  killPid(child.pid, "SIGTERM");
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    killPid(child.pid, "SIGKILL");
  }
  return child.exited;
}

/** How many tracked processes are alive (tests check it is back to zero). */
function liveCount() {
  return live.size;
}

module.exports = { installCleanup, spawnTracked, stopTracked, rememberFamily, killAllNow, liveCount };
