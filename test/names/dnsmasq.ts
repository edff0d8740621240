/**
 * Debian's dnsmasq as a real DNS peer for the tests: started as a child process on a free
 * 127.0.0.1 port (UDP and TCP), with no config file, no upstream and no /etc/hosts, serving
 * only what the test gives it; stopped by its PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as dgram from "node:dgram";
import * as net from "node:net";
import * as dnsPacket from "dns-packet";

/** A running dnsmasq. */
export interface Dnsmasq {
  port: number;
  child: ChildProcess;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** A port free on 127.0.0.1 for both UDP and TCP at the moment of asking. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const tcp = net.createServer();
    const port = await new Promise<number>((resolve) => tcp.listen(0, "127.0.0.1", () => resolve((tcp.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket("udp4");
    const ok = await new Promise<boolean>((resolve) => {
      udp.once("error", () => resolve(false));
      udp.bind(port, "127.0.0.1", () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (ok) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      return port;
    }
  }
  throw new Error("no free port for dnsmasq after 20 tries");
}

/** Whether a server on `port` answers one query (within 200 ms). */
async function answers(port: number): Promise<boolean> {
  const s = dgram.createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 200);
      s.once("message", () => {
        clearTimeout(t);
        resolve(true);
      });
      s.once("error", () => {
        clearTimeout(t);
        resolve(false);
      });
      s.send(dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "probe.invalid", type: "A", class: "IN" }] }), port, "127.0.0.1");
    });
  } finally {
    s.close();
  }
}

/** Starts dnsmasq with `args` added to the isolating ones; resolves once it answers queries. */
export async function startDnsmasq(args: string[], pidFile: string): Promise<Dnsmasq> {
  const port = await freePort();
  const child = spawn(
    "dnsmasq",
    [
      "--no-daemon",
      "--conf-file=/dev/null",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--no-negcache",
      `--pid-file=${pidFile}`,
      ...args,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  // "close", not "exit": the stderr pipe is closed by then too (no fd left behind).
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let up = false;
  for (let i = 0; i < 50 && !up && child.exitCode === null; i++) up = await answers(port);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    await exited;
  };
  if (!up) {
    await stop();
    throw new Error(`dnsmasq did not start (is Debian's dnsmasq-base installed?): ${err}`);
  }
  return { port, child, stderr: () => err, stop };
}

/**
 * Spawns `true` once. Node keeps an fd open (/dev/null) from its first child process on,
 * for the life of the process: a test file that counts fds must spawn once before it
 * counts, or that one-time fd reads as a leak of the code under test.
 */
export async function warmUpSpawn(): Promise<void> {
  const child = spawn("true", [], { stdio: ["ignore", "ignore", "ignore"] });
  await new Promise<void>((resolve) => child.once("close", () => resolve()));
}
