/**
 * Shared pieces of the lib/web tests: a real reactor running inside Node's loop for the
 * length of a test, a Site listening on 127.0.0.1, real external clients (curl, Python's
 * http.client, raw sockets from Node's net module) run as child processes or sockets.
 */
import { execFile } from "node:child_process";
import * as net from "node:net";
import { listenTCP, type TCPPort } from "../../lib/net";
import type { Address, ITransport } from "../../lib/net/interfaces";
import { Reactor } from "../../lib/reactor";
import type { HTTPChannel } from "../../lib/web";
import { Site, type SiteOptions } from "../../lib/web/server";
import type { IResource, RequestHandler } from "../../lib/web/resource";

/** Runs `body` with a running reactor; stops it afterwards (closing whatever is left). Bounded by `limitMs`. */
export async function withReactor<T>(body: (r: Reactor) => Promise<T> | T, limitMs = 20000): Promise<T> {
  const r = new Reactor();
  const running = r.run();
  let guard: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => body(r)),
      new Promise<T>((_, reject) => {
        guard = setTimeout(() => reject(new Error(`test did not finish within ${limitMs} ms`)), limitMs);
      }),
    ]);
  } finally {
    clearTimeout(guard);
    r.stop();
    await running;
  }
}

/** What a promise rejects with (fails the test when it resolves). */
export async function rejection(p: PromiseLike<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

/** A Site on 127.0.0.1, port picked by the kernel. */
export function serve(r: Reactor, resource: IResource | RequestHandler, options: SiteOptions = {}): { port: number; site: Site; listening: TCPPort } {
  const site = new Site(resource, { ...options, reactor: r });
  const listening = listenTCP(r, 0, site, { interface: "127.0.0.1" });
  const h = listening.getHost();
  if (h.type === "UNIX") throw new Error("unexpected");
  return { port: h.port, site, listening };
}

/** Result of a child process. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` (bounded to 15 s), never rejecting: the exit code says how it went. */
export function run(file: string, args: string[], input?: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 15000, maxBuffer: 64 * 1024 * 1024, encoding: "latin1" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Debian's python3 (the pyenv shim on PATH may lack modules; http.client is stdlib anyway). */
export const PYTHON = "/usr/bin/python3";

/**
 * Opens a raw TCP connection to 127.0.0.1:port, writes `chunks` (a pause between each),
 * and collects everything until the server closes or `idleMs` pass without data.
 */
export function rawExchange(port: number, chunks: Array<string | Buffer>, options: { gapMs?: number; idleMs?: number; until?: (got: string) => boolean } = {}): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      sock.destroy();
      resolve({ data: Buffer.concat(got).toString("latin1"), closed });
    };
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(finish, options.idleMs ?? 2000);
    };
    sock.on("data", (d) => {
      got.push(d);
      if (options.until && options.until(Buffer.concat(got).toString("latin1"))) finish();
      else arm();
    });
    sock.on("end", () => {
      closed = true;
      finish();
    });
    sock.on("close", () => {
      closed = true;
      finish();
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET" || e.code === "EPIPE") {
        closed = true;
        finish();
      } else reject(e);
    });
    sock.on("connect", async () => {
      arm();
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        if (sock.destroyed) return;
        sock.write(chunks[i]);
      }
    });
  });
}

/** Splits a stream of HTTP/1.1 responses into [head, body] pairs by Content-Length / chunked framing. */
export function statusLines(data: string): string[] {
  return data.split("\r\n").filter((l) => l.startsWith("HTTP/1."));
}

/** Records what a protocol does to its transport: what it writes (latin1) until loseConnection marks it closing. */
export class MemoryTransport implements ITransport {
  /** Everything written before closing, one string per write. */
  written: string[] = [];
  /** Set by loseConnection, abortConnection and stopProducing. */
  closing = false;
  /** Whether the protocol last paused (true) or resumed (false) producing. */
  paused = false;
  /** ITransport's closing flag: the same as `closing`. */
  get disconnecting(): boolean {
    return this.closing;
  }
  /** Records `data` unless closing. */
  write(data: Uint8Array | string): void {
    if (this.closing) return;
    this.written.push(typeof data === "string" ? data : Buffer.from(data).toString("latin1"));
  }
  /** Records each piece. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void {
    for (const d of data) this.write(d);
  }
  /** Marks closing. */
  loseConnection(): void {
    this.closing = true;
  }
  /** Marks closing. */
  abortConnection(): void {
    this.closing = true;
  }
  /** 127.0.0.1:1. */
  getPeer(): Address {
    return { type: "TCP", host: "127.0.0.1", port: 1, family: "IPv4" };
  }
  /** 127.0.0.1:2. */
  getHost(): Address {
    return { type: "TCP", host: "127.0.0.1", port: 2, family: "IPv4" };
  }
  /** Ignored. */
  registerProducer(): void {}
  /** Ignored. */
  unregisterProducer(): void {}
  /** Marks paused. */
  pauseProducing(): void {
    this.paused = true;
  }
  /** Clears paused. */
  resumeProducing(): void {
    this.paused = false;
  }
  /** Marks closing. */
  stopProducing(): void {
    this.closing = true;
  }
}

/** A channel of `site` for a peer at 127.0.0.1:1, connected to a new MemoryTransport. */
export function connectInMemory(site: Site): { ch: HTTPChannel; t: MemoryTransport } {
  const ch = site.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1, family: "IPv4" }) as HTTPChannel;
  const t = new MemoryTransport();
  ch.makeConnection(t);
  return { ch, t };
}
