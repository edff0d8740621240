/**
 * The echo server on every core: one process per core, each running its own reactor with
 * its own listening socket on the same port (SO_REUSEPORT); the kernel spreads incoming
 * connections across them. Beyond one machine, put many such hosts behind an L4 balancer.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/multicore-echo/server.js [port] [workers] [interface]
 *
 * `workers` defaults to the number of CPUs. With port 0 the parent picks a free port first
 * (holding a bound SO_REUSEPORT socket until every worker listens) so all share one port.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import "../../lib/net"; // installs reactor.listenTCP
import type { TCPPort } from "../../lib/net";
import { native } from "../../lib/native";
import { Factory } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";
import { Echo } from "../echo-server/server";

/** Listens for echo clients on `port` with SO_REUSEPORT, so other reactors may share it. */
export function serveEcho(reactor: Reactor, port: number, iface = "127.0.0.1"): TCPPort {
  return reactor.listenTCP(port, Factory.forProtocol(Echo), { interface: iface, reusePort: true, backlog: 4096 });
}

/** The running workers of one multicore server. */
export interface Workers {
  /** The shared port. */
  port: number;
  /** One child process per reactor. */
  children: ChildProcess[];
  /** Stops every worker (SIGTERM) and resolves once all have exited. */
  stop(): Promise<void>;
}

/**
 * Forks `count` workers running `script` (a compiled copy of this file) that each serve
 * echo on `port` (0: one free port picked here and shared); resolves once all listen.
 */
export async function startWorkers(script: string, count: number, port = 0, iface = "127.0.0.1"): Promise<Workers> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, received ${count}`);
  let holder = -1;
  if (port === 0) {
    // Reserve a port that the workers can join: bound (not listening) with SO_REUSEPORT.
    holder = native.socket(iface.includes(":") ? "IPv6" : "IPv4", "tcp");
    native.setsockopt(holder, "SO_REUSEPORT", true);
    native.bind(holder, iface, 0);
    port = (native.getsockname(holder) as { port: number }).port;
  }
  const children: ChildProcess[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const child = fork(script, ["--worker", String(port), iface], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      children.push(child);
      ready.push(
        new Promise<void>((resolve, reject) => {
          child.once("message", (m) => (m === "listening" ? resolve() : reject(new Error(`worker ${child.pid}: ${String(m)}`))));
          child.once("exit", (code) => reject(new Error(`worker ${child.pid} exited with code ${code} before listening`)));
        }),
      );
    }
    await Promise.all(ready);
  } catch (e) {
    for (const c of children) c.kill("SIGTERM");
    throw e;
  } finally {
    if (holder >= 0) native.close(holder);
  }
  const exited = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once("exit", () => resolve()))));
  return {
    port,
    children,
    stop: async () => {
      for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
      await Promise.all(exited);
    },
  };
}

/** A worker: one reactor serving echo on the shared port until SIGTERM. */
async function worker(port: number, iface: string): Promise<void> {
  const reactor = new Reactor({ installSignalHandlers: true });
  reactor.callWhenRunning(() => {
    try {
      serveEcho(reactor, port, iface);
      process.send?.("listening");
    } catch (e) {
      process.send?.(e instanceof Error ? e.message : String(e));
      reactor.stop();
    }
  });
  await reactor.run();
  process.disconnect?.();
}

/** The parent: forks the workers, prints where they listen, stops them on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8000);
  const count = Number(process.argv[3] ?? (os.availableParallelism?.() ?? os.cpus().length));
  const iface = process.argv[4] ?? "127.0.0.1";
  const w = await startWorkers(__filename, count, port, iface);
  process.stdout.write(`multicore echo on ${iface}:${w.port}: ${count} reactors (pids ${w.children.map((c) => c.pid).join(", ")})\n`);
  const stop = (): void => {
    void w.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (require.main === module) {
  const run = process.argv[2] === "--worker" ? worker(Number(process.argv[3]), process.argv[4] ?? "127.0.0.1") : main();
  run.catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
