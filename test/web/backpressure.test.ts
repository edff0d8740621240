/**
 * What one connection can make the server hold when its client does not read
 * (docs/security.md, "HTTP pipelining"): a client pipelining requests without reading its
 * responses, a client that never reads at all, a response producer faster than its
 * reader. Real sockets on 127.0.0.1; the attacking peer is a raw non-blocking socket
 * (RawPeer), so nothing buffers on the client's side beyond the kernel.
 */
import * as path from "node:path";
import type { Failure } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import type { IPushProducer } from "../../lib/net/interfaces";
import type { Reactor } from "../../lib/reactor";
import { NOT_DONE_YET, type HTTPChannel, type Request } from "../../lib/web";
import { compileLib } from "../reactor/fixtures/compile";
import { RawPeer, firstMismatch, pattern } from "../reliability/support";
import { rssKb, startChildServer, waitFor } from "../support/child-server";
import { expectNoFdLeaks } from "../support/fds";
import { rawExchange, serve, withReactor } from "./helpers";

expectNoFdLeaks();

const REQ = (i: number): string => `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the server side of a connection holds: its write queue (bytes not yet taken by the kernel). */
function queued(req: Request): number {
  return (req.transport as unknown as { bufferedBytes(): number }).bufferedBytes();
}

/** Writes `data` from `from` as far as the kernel takes it now; returns the new offset. */
function pump(peer: RawPeer, data: Buffer, from: number): number {
  let at = from;
  while (at < data.length) {
    const n = peer.writeSome(data.subarray(at, Math.min(data.length, at + 65536)));
    if (n <= 0) break;
    at += n;
  }
  return at;
}

/** Polls `cond` every 10 ms for up to `ms`; false if it never held. */

/** The body of the answer to request `i`: fixed width, so every response has the same length. */
const ANSWER = (i: number): string => `answer ${String(i).padStart(6, "0")}`;

/** Reads what `peer` has; returns how many whole responses of `len` bytes it holds (0 while `len` is unknown). */
function responsesIn(peer: RawPeer, len: number): number {
  return len > 0 ? Math.floor(peer.received / len) : 0;
}

/** The length of one response: known once the first one has arrived whole. */
function responseLength(peer: RawPeer): number {
  const s = peer.bytes().toString("latin1");
  const i = s.indexOf(ANSWER(0));
  return i < 0 ? 0 : i + ANSWER(0).length;
}

/**
 * True once `count()` stays the same over `turns` polls 10 ms apart, false if it still moves
 * after `ms`. Counted in polls, not in wall time: between two polls the event loop runs the
 * I/O that is ready, whereas a process descheduled for 300 ms on a loaded machine wakes to a
 * timer that sees 300 ms passed before any of the server's pending work has run.
 */
async function unchangedOver(count: () => number, turns: number, ms: number): Promise<boolean> {
  let last = count();
  let same = 0;
  for (const end = Date.now() + ms; Date.now() < end; ) {
    await sleep(10);
    const now = count();
    same = now === last ? same + 1 : 0;
    last = now;
    if (same >= turns) return true;
  }
  return false;
}

/** Checks that `peer` received exactly `n` responses of `len` bytes, answering requests 0..n-1 in order. */
function inOrder(peer: RawPeer, n: number, len: number, pad = ""): boolean {
  const all = peer.bytes().toString("latin1");
  if (all.length !== n * len) return false;
  for (let i = 0; i < n; i++) if (!all.endsWith(pad + ANSWER(i), (i + 1) * len)) return false;
  return true;
}

test("a pipelining client that does not read: the server stops at its write high-water mark, then answers every request in order once the client reads", async () => {
  await withReactor(async (r: Reactor) => {
    let answered = 0;
    let maxQueued = 0;
    const channels = new Set<HTTPChannel>();
    const PAD = "p".repeat(4000); // 4 KiB answers: the kernel's buffers fill after a few MB
    const { port, listening } = serve(r, (req) => {
      answered++;
      maxQueued = Math.max(maxQueued, queued(req));
      channels.add(req.channel as HTTPChannel);
      req.setHeader("Content-Type", "text/plain");
      return PAD + ANSWER(Number(req.path.slice(1)));
    });
    const N = 8000; // ~32 MB of responses
    const wire = Buffer.from(Array.from({ length: N }, (_, i) => REQ(i)).join(""), "latin1");
    const peer = new RawPeer(port);
    try {
      expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
      let sent = 0;
      // Send for a while without reading: the server must stop long before N.
      for (let k = 0; k < 100 && sent < wire.length; k++) {
        sent = pump(peer, wire, sent);
        await sleep(10);
      }
      // Stopped, not merely slow: no request answered over 30 turns of the event loop (each
      // runs the I/O that is ready), and none in the next 300 ms.
      expect(await unchangedOver(() => answered, 30, 5000)).toBe(true);
      const before = answered;
      await sleep(300);
      expect(answered).toBe(before);
      expect(answered).toBeGreaterThan(0);
      expect(answered).toBeLessThan(N);
      // The queue never held more than the 64 KiB mark plus the response that crossed it.
      expect(maxQueued).toBeLessThanOrEqual(64 * 1024 + 4200);
      expect(channels.size).toBe(1);

      // Another client is served meanwhile.
      const other = await rawExchange(port, ["GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
      expect(other.data).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\np+answer 000001$/);

      // Now read: everything is answered, once each, in order.
      let len = 0;
      const ok = await waitFor(() => {
        sent = pump(peer, wire, sent);
        peer.readAvailable();
        if (len === 0) len = responseLength(peer);
        return responsesIn(peer, len) >= N;
      }, 20000);
      expect([ok, responsesIn(peer, len)]).toEqual([true, N]);
      expect(inOrder(peer, N, len, PAD)).toBe(true);
      expect(peer.error).toBeNull();
    } finally {
      peer.close();
      await listening.stopListening();
    }
  });
}, 40000);

test("a client that never reads is dropped writeTimeout seconds after the server stopped for it; the kernel's RST tells it", async () => {
  await withReactor(async (r: Reactor) => {
    let lostAt = 0;
    let heldSince = 0;
    const { port, site, listening } = serve(
      r,
      (req) => {
        if (heldSince === 0 && queued(req) > 32 * 1024) heldSince = Date.now();
        req.notifyFinish().addErrback(() => undefined);
        return "x".repeat(1000);
      },
      { writeTimeout: 0.5 },
    );
    const origLost = (ch: HTTPChannel): void => {
      const f = ch.connectionLost.bind(ch);
      ch.connectionLost = (reason: Failure): void => {
        lostAt = Date.now();
        f(reason);
      };
    };
    const build = site.buildProtocol.bind(site);
    site.buildProtocol = (a) => {
      const ch = build(a) as HTTPChannel;
      origLost(ch);
      return ch;
    };
    const wire = Buffer.from(REQ(0).repeat(20000), "latin1");
    const peer = new RawPeer(port);
    try {
      expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
      let sent = 0;
      expect(await waitFor(() => ((sent = pump(peer, wire, sent)), lostAt !== 0), 8000)).toBe(true);
      expect(heldSince).toBeGreaterThan(0);
      const after = (lostAt - heldSince) / 1000;
      expect(after).toBeGreaterThanOrEqual(0.4);
      expect(after).toBeLessThan(5);
      // The peer reads what reached it, then the reset.
      expect(await waitFor(() => (peer.readAvailable(), peer.error !== null || peer.eof), 3000)).toBe(true);
      expect(peer.error ?? "EOF").toMatch(/ECONNRESET|EOF/);
    } finally {
      peer.close();
      await listening.stopListening();
    }
  });
}, 20000);

test("a held connection is not idle: idleTimeout passing while the client has not read yet drops none of its pipelined requests", async () => {
  await withReactor(async (r: Reactor) => {
    const PAD = "p".repeat(4000);
    const { port, listening } = serve(r, (req) => PAD + ANSWER(Number(req.path.slice(1))), { idleTimeout: 0.5, writeTimeout: 10 });
    const N = 3000; // ~12 MB of responses: held long before the end
    const wire = Buffer.from(Array.from({ length: N }, (_, i) => REQ(i)).join(""), "latin1");
    const peer = new RawPeer(port);
    try {
      expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
      let sent = 0;
      await waitFor(() => ((sent = pump(peer, wire, sent)), false), 1500); // three idleTimeouts without reading
      let len = 0;
      const ok = await waitFor(() => {
        sent = pump(peer, wire, sent);
        peer.readAvailable();
        if (len === 0) len = responseLength(peer);
        return responsesIn(peer, len) >= N || peer.eof || peer.error !== null;
      }, 20000);
      expect([ok, peer.eof, peer.error, responsesIn(peer, len)]).toEqual([true, false, null, N]);
      expect(inOrder(peer, N, len, PAD)).toBe(true);
    } finally {
      peer.close();
      await listening.stopListening();
    }
  });
}, 40000);

test("a client that reads slowly is not dropped: each writeTimeout it has taken something", async () => {
  await withReactor(async (r: Reactor) => {
    const { port, listening } = serve(r, (req) => ANSWER(Number(req.path.slice(1))), { writeTimeout: 1 });
    const N = 12000; // ~1.8 MB of responses, read at ~300 KB/s
    const wire = Buffer.from(Array.from({ length: N }, (_, i) => REQ(i)).join(""), "latin1");
    const peer = new RawPeer(port);
    try {
      expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
      let sent = 0;
      let len = 0;
      const ok = await waitFor(() => {
        sent = pump(peer, wire, sent);
        peer.readAvailable(16 * 1024);
        if (len === 0) len = responseLength(peer);
        return responsesIn(peer, len) >= N || peer.error !== null || peer.eof;
      }, 25000);
      expect([ok, peer.error, peer.eof, responsesIn(peer, len)]).toEqual([true, null, false, N]);
      expect(inOrder(peer, N, len)).toBe(true);
    } finally {
      peer.close();
      await listening.stopListening();
    }
  });
}, 40000);

test("a response producer faster than its reader is paused: the queue stays under the mark plus one chunk, every byte arrives in order", async () => {
  await withReactor(async (r: Reactor) => {
    const CHUNK = 16 * 1024;
    const TOTAL = 16 * 1024 * 1024;
    let maxQueued = 0;
    let pauses = 0;
    const { port, listening } = serve(r, (req) => {
      let sent = 0;
      let paused = false;
      let done = false;
      const producer: IPushProducer = {
        pauseProducing: () => {
          paused = true;
          pauses++;
        },
        resumeProducing: () => {
          paused = false;
          tick();
        },
        stopProducing: () => {
          done = true;
        },
      };
      const tick = (): void => {
        // As fast as the reactor lets it: a chunk per turn while not paused.
        while (!paused && !done && sent < TOTAL) {
          req.write(pattern(sent, CHUNK));
          sent += CHUNK;
          maxQueued = Math.max(maxQueued, queued(req));
        }
        if (sent >= TOTAL && !done) {
          done = true;
          req.unregisterProducer();
          req.finish();
        }
      };
      req.setHeader("Content-Length", TOTAL);
      req.registerProducer(producer, true);
      r.callLater(0, tick);
      return NOT_DONE_YET;
    });
    const peer = new RawPeer(port);
    try {
      expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
      peer.writeSome(Buffer.from(REQ(0), "latin1"));
      await sleep(500); // not reading
      expect(pauses).toBeGreaterThan(0);
      expect(maxQueued).toBeLessThanOrEqual(64 * 1024 + CHUNK);
      let body: Buffer = Buffer.alloc(0);
      const ok = await waitFor(() => {
        peer.readAvailable();
        const all = peer.bytes();
        const h = all.indexOf("\r\n\r\n");
        body = h < 0 ? Buffer.alloc(0) : all.subarray(h + 4);
        return body.length >= TOTAL;
      }, 20000);
      expect([ok, body.length]).toEqual([true, TOTAL]);
      expect(firstMismatch(body, 0)).toBe(-1);
      expect(maxQueued).toBeLessThanOrEqual(64 * 1024 + CHUNK);
    } finally {
      peer.close();
      await listening.stopListening();
    }
  });
}, 40000);

describe("pipelining without reading, server in a child process (RSS from /proc/PID/status)", () => {
  let compiled = "";
  beforeAll(() => {
    compiled = compileLib();
  });

  test("3 s of back-to-back GETs from a client that never reads: RSS grows < 32 MiB and another client is still answered", async () => {
    const server = startChildServer(path.join(__dirname, "fixtures", "pipeline-server.js"), [compiled, "fdreactor"]);
    const child = server.child;
    const peer: RawPeer[] = [];
    try {
      const { port } = await server.next();
      // Warm up (JIT, pools) with a few ordinary requests, then take the baseline.
      for (let i = 0; i < 20; i++) await rawExchange(port, [REQ(i).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")]);
      await sleep(200);
      const base = rssKb(child.pid!);
      const p = new RawPeer(port);
      peer.push(p);
      expect(await waitFor(() => p.connected(), 2000)).toBe(true);
      const wire = Buffer.from(REQ(1).repeat(4096), "latin1"); // 112 KiB, written again and again
      let written = 0;
      let peak = base;
      const end = Date.now() + 3000;
      while (Date.now() < end) {
        let at = 0;
        while ((at = pump(p, wire, at)) === wire.length) {
          written += wire.length;
          at = 0;
        }
        written += at;
        peak = Math.max(peak, rssKb(child.pid!));
        await sleep(5);
      }
      const { requests } = await server.stats();
      const other = await rawExchange(port, ["GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
      peak = Math.max(peak, rssKb(child.pid!));
      expect(other.data).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Hello, World!$/);
      expect(p.error).toBeNull(); // never reset: held, not dropped, within writeTimeout
      const growthMiB = (peak - base) / 1024;
      expect(growthMiB).toBeLessThan(32);
      // What it took in is bounded too: far less than was offered (kernel buffers aside).
      expect(requests * 28).toBeLessThan(written);
    } finally {
      for (const p of peer) p.close();
      expect(await server.stop()).toBe("");
    }
  }, 30000);
});

test("nothing is logged as an error by a held or dropped connection", async () => {
  const logged: string[] = [];
  const restore = setLogObservers([(level, message) => void (level === "error" || level === "warn" ? logged.push(`${level}: ${message}`) : undefined)]);
  try {
    await withReactor(async (r: Reactor) => {
      const { port, listening } = serve(r, () => "y".repeat(2000), { writeTimeout: 0.3 });
      const peer = new RawPeer(port);
      try {
        expect(await waitFor(() => peer.connected(), 2000)).toBe(true);
        const wire = Buffer.from(REQ(0).repeat(5000), "latin1");
        let sent = 0;
        await waitFor(() => ((sent = pump(peer, wire, sent)), peer.readAvailable(0), false), 1500);
      } finally {
        peer.close();
        await listening.stopListening();
      }
    });
  } finally {
    restore();
  }
  expect(logged).toEqual([]);
});
