"use strict";
/**
 * Starting a server under test: its own process, pinned with taskset, on a port the
 * harness chose, ready when it prints "READY <port>" (or, for servers that cannot print,
 * when the port accepts a connection). Stopped by PID, always.
 */
const net = require("node:net");
const { spawnTracked, stopTracked, rememberFamily } = require("./children");
const { ROOT } = require("./build");

/** A free TCP port on 127.0.0.1 (bound, read, closed). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves true once 127.0.0.1:port accepts a connection, false if it never does before `deadline` (ms epoch). */
async function waitForConnect(port, deadline) {
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const sock = net.connect({ port, host: "127.0.0.1" });
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Replaces "{key}" in each argument by vars[key]. */
function expandArgs(args, vars) {
  return args.map((a) => String(a).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)));
}

/** Error raised when a server does not come up; carries its stderr tail. */
class ServerStartError extends Error {
  /** @param {string} message @param {string} stderr */
  constructor(message, stderr) {
    super(stderr ? `${message}\n--- its stderr ---\n${stderr}` : message);
    this.name = "ServerStartError";
    this.stderr = stderr;
  }
}

/**
 * Starts `spec` in `mode` pinned to `cpu` (null: unpinned) and waits until it is ready.
 * `port` (default: a free one) lets several SO_REUSEPORT processes share one port.
 * Returns { spec, mode, port, pid, child, stderr(), stop() }.
 */
async function startServer(spec, mode, { cpu = 0, readyTimeoutMs = 15000, port: fixedPort = null } = {}) {
  if (!spec.modes.includes(mode)) throw new RangeError(`startServer: ${spec.name} has no mode ${mode}`);
  const port = fixedPort ?? (await freePort());
  const vars = { port, mode, root: ROOT };
  if (spec.prepare) Object.assign(vars, await spec.prepare({ mode, port }));
  const args = typeof spec.args === "function" ? spec.args(vars) : expandArgs(spec.args || [], vars);
  const cmd = typeof spec.cmd === "function" ? spec.cmd(vars) : spec.cmd;
  const child = spawnTracked(spec.name, cmd, args, { cpu, env: spec.env, cwd: spec.cwd });
  let stderr = "";
  let stdout = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const stderrClosed = new Promise((resolve) => {
    const t = setTimeout(resolve, 1000);
    child.stderr.once("close", () => {
      clearTimeout(t);
      resolve();
    });
  });
  child.stdout.setEncoding("utf8");
  const deadline = Date.now() + readyTimeoutMs;
  let timer;
  const ready = new Promise((resolve, reject) => {
    if (spec.ready === "connect") {
      waitForConnect(port, deadline).then((ok) =>
        ok ? resolve(port) : reject(new Error(`${spec.name} did not accept on port ${port} within ${readyTimeoutMs} ms`)),
      );
    } else {
      timer = setTimeout(
        () => reject(new Error(`${spec.name} printed no READY line within ${readyTimeoutMs} ms`)),
        readyTimeoutMs,
      );
    }
    child.stdout.on("data", (d) => {
      stdout = (stdout + d).slice(-4000);
      const m = /^READY (\d+)\s*$/m.exec(stdout);
      if (m && spec.ready !== "connect") resolve(Number(m[1]));
    });
    child.exited.then(({ code, signal, error }) =>
      reject(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal}${error ? `, ${error.message}` : ""})`)),
    );
  });
  let actualPort;
  try {
    actualPort = await ready;
  } catch (err) {
    clearTimeout(timer);
    await stopTracked(child, 1000);
    if (spec.cleanup) spec.cleanup(vars);
    // What it wrote before it was stopped explains the failure: read the pipe to its end.
    await stderrClosed;
    throw new ServerStartError(err.message, stderr);
  }
  clearTimeout(timer);
  if (actualPort !== port) {
    await stopTracked(child, 1000);
    throw new ServerStartError(`${spec.name} said READY ${actualPort} but was asked for port ${port}`, stderr);
  }
  // Give forked workers (nginx) a moment to exist, then remember them so they die with it.
  await new Promise((r) => setTimeout(r, 100));
  rememberFamily(child);
  return {
    spec,
    mode,
    port,
    pid: child.pid,
    child,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      await stopTracked(child);
      if (spec.cleanup) spec.cleanup(vars);
    },
  };
}

module.exports = { freePort, startServer };
