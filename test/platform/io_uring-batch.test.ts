/**
 * The io_uring backend's completion path: readBatch and writevBatch done by the poller as
 * RECV/SEND/SENDMSG requests in one io_uring_enter. Same contract as the addon's syscall
 * batches (test/native): bytes packed in order in the slab, EOF as 0, errors as -errno,
 * AGAIN for a socket with nothing to read or no room, short sends reported as such, and
 * no request left in flight when the call returns. Then the deferred write batch
 * (queueWrites / finishWrites): its sends wait in the ring for the next call that enters
 * it (a wait, a readBatch, finishWrites, or the addon's close() of any fd), counted with
 * enterCount. docs/platforms.md cites these.
 */
import { AGAIN, EVENT_STRIDE, READABLE, native, type Poller } from "../../lib/native";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { drain, eventsOf, Fds, fill, send } from "./sockets";

expectNoFdLeaks();

const ECONNRESET = -104;
const EBADF = -9;

describeOnKernel("io_uring")("the io_uring backend's batched I/O", () => {
  const fds = new Fds();
  let events: Uint32Array;
  let poller: Poller;

  beforeEach(() => {
    events = new Uint32Array(64 * EVENT_STRIDE);
    poller = new native.Poller("io_uring", events);
  });
  afterEach(() => {
    poller.close();
    fds.closeAll();
  });

  test("says it completes I/O itself; the readiness backends do not, and refuse the calls", () => {
    expect(poller.completesIo).toBe(true);
    const epoll = new native.Poller("epoll", new Uint32Array(EVENT_STRIDE));
    try {
      expect(epoll.completesIo).toBe(false);
      expect(() => epoll.readBatch(new Int32Array(1), 0, Buffer.alloc(16), 0, 16, new Int32Array(3))).toThrow(
        expect.objectContaining({ code: "ERR_UNSUPPORTED_OPERATION" }),
      );
    } finally {
      epoll.close();
    }
  });

  test("reads many connections into one slab, each fd's bytes packed after the previous one's, in order", () => {
    const pairs = Array.from({ length: 40 }, () => fds.tcpPair());
    pairs.forEach(([client], i) => send(client, `message ${i};`.repeat(i + 1)));
    const keys = Int32Array.from(pairs.map(([, server]) => server));
    const slab = Buffer.alloc(256 * 1024);
    const out = new Int32Array(3 * keys.length);
    let done = 0;
    let offset = 0;
    const got: string[] = [];
    // Bounded: 40 fds need at most a few calls (64 per call at the minimum region).
    for (let round = 0; round < 10 && done < keys.length; round++) {
      const k = poller.readBatch(keys.subarray(done), keys.length - done, slab, offset, 64 * 1024, out);
      expect(k).toBeGreaterThan(0);
      for (let i = 0; i < k; i++) {
        expect(out[3 * i]).toBe(keys[done + i]);
        expect(out[3 * i + 1]).toBe(offset); // packed: right after the previous fd's bytes
        const n = out[3 * i + 2];
        expect(n).toBeGreaterThan(0);
        got.push(slab.toString("latin1", offset, offset + n));
        offset += n;
      }
      done += k;
    }
    expect(got).toEqual(pairs.map((_, i) => `message ${i};`.repeat(i + 1)));
  });

  test("EOF is 0, a reset connection is -ECONNRESET, an idle one AGAIN, a negative fd -EBADF", () => {
    const [eofClient, eofServer] = fds.tcpPair();
    const [rstClient, rstServer] = fds.tcpPair();
    const [, idleServer] = fds.tcpPair();
    fds.close(eofClient);
    native.setsockopt(rstClient, "SO_LINGER", 0);
    fds.close(rstClient); // SO_LINGER 0: RST instead of FIN
    const keys = Int32Array.from([eofServer, rstServer, idleServer, -1]);
    const out = new Int32Array(12);
    expect(poller.readBatch(keys, 4, Buffer.alloc(64 * 1024), 0, 4096, out)).toBe(4);
    expect(Array.from(out.filter((_, i) => i % 3 === 2))).toEqual([0, ECONNRESET, AGAIN, EBADF]);
  });

  test("a burst larger than the slab comes in slab-sized pieces, nothing lost or reordered", () => {
    const [client, server] = fds.socketpair();
    const burst = Buffer.alloc(40 * 1024);
    for (let i = 0; i < burst.length; i++) burst[i] = (i * 7 + (i >> 8)) & 0xff;
    expect(native.write(client, burst, 0, burst.length)).toBe(burst.length);
    const slab = Buffer.alloc(8 * 1024);
    const out = new Int32Array(3);
    const parts: Buffer[] = [];
    let total = 0;
    for (let round = 0; round < 100 && total < burst.length; round++) {
      expect(poller.readBatch(Int32Array.of(server), 1, slab, 0, slab.length, out)).toBe(1);
      expect(out[2]).toBeGreaterThan(0);
      expect(out[2]).toBeLessThanOrEqual(slab.length);
      parts.push(Buffer.from(slab.subarray(out[1], out[1] + out[2])));
      total += out[2];
    }
    expect(Buffer.concat(parts).equals(burst)).toBe(true);
  });

  test("a pipe (not a socket) is read and written with the plain syscalls", () => {
    const [r, w] = native.pipe();
    fds.track(r);
    fds.track(w);
    const out = new Int32Array(3);
    poller.writevBatch(Int32Array.of(w), 1, Int32Array.of(2), [Buffer.from("through "), Buffer.from("a pipe")], out);
    expect(out[0]).toBe(14);
    const slab = Buffer.alloc(4096);
    expect(poller.readBatch(Int32Array.of(r), 1, slab, 0, 4096, out)).toBe(1);
    expect(slab.toString("latin1", out[1], out[1] + out[2])).toBe("through a pipe");
  });

  test("a writer flagged notSocket gets a plain writev beside the sockets' sends in the same batch", () => {
    const [r, w] = native.pipe();
    fds.track(r);
    fds.track(w);
    const [client, server] = fds.socketpair();
    const out = new Int32Array(2);
    const notSocket = Uint8Array.of(1, 0);
    poller.writevBatch(Int32Array.of(w, server), 2, Int32Array.of(2, 1), [Buffer.from("pipe "), Buffer.from("bytes"), Buffer.from("socket bytes")], out, notSocket);
    expect(Array.from(out)).toEqual([10, 12]);
    expect(drain(r)).toBe("pipe bytes");
    expect(drain(client)).toBe("socket bytes");
    expect(() => poller.writevBatch(Int32Array.of(w), 1, Int32Array.of(1), [Buffer.from("x")], out, new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: "ERR_OUT_OF_RANGE", message: expect.stringContaining("notSocket") }),
    );
  });

  test("writes many connections in one call; each peer gets its buffers whole and in order", () => {
    const pairs = Array.from({ length: 30 }, () => fds.tcpPair());
    const keys = Int32Array.from(pairs.map(([, server]) => server));
    const counts = Int32Array.from(pairs.map((_, i) => 1 + (i % 3)));
    const bufs: Buffer[] = [];
    const expected: string[] = [];
    pairs.forEach((_, i) => {
      let all = "";
      for (let b = 0; b < counts[i]; b++) {
        const part = `conn ${i} part ${b}|`;
        bufs.push(Buffer.from(part));
        all += part;
      }
      expected.push(all);
    });
    const out = new Int32Array(keys.length);
    poller.writevBatch(keys, keys.length, counts, bufs, out);
    expect(Array.from(out)).toEqual(expected.map((e) => e.length));
    expect(pairs.map(([client]) => drain(client))).toEqual(expected);
  });

  test("more writers than the submission ring holds (1,100 > 1,024): one call writes them all, in order", () => {
    const pairs = Array.from({ length: 1100 }, () => fds.socketpair());
    const keys = Int32Array.from(pairs.map(([, server]) => server));
    const bufs = pairs.map((_, i) => Buffer.from(`writer ${i}`));
    const out = new Int32Array(keys.length);
    poller.writevBatch(keys, keys.length, new Int32Array(keys.length).fill(1), bufs, out);
    expect(Array.from(out)).toEqual(bufs.map((b) => b.length));
    expect(pairs.map(([client]) => drain(client))).toEqual(bufs.map((b) => b.toString()));
  });

  test("a full socket takes part of a send (a short count) and then AGAIN, never parking the request", () => {
    const [client, server] = fds.socketpair();
    const big = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    const out = new Int32Array(1);
    poller.writevBatch(Int32Array.of(server), 1, Int32Array.of(1), [big], out);
    const taken = out[0];
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(big.length); // short: the rest stays with the caller
    poller.writevBatch(Int32Array.of(server), 1, Int32Array.of(1), [big.subarray(taken)], out);
    expect(out[0]).toBe(AGAIN); // full: answered at once, not left in flight
    let seen = 0;
    for (let round = 0; round < 1000 && seen < taken; round++) seen += drain(client).length;
    expect(seen).toBe(taken); // exactly the bytes it said it took
  });

  test("a write to a reset connection is -ECONNRESET or -EPIPE, and raises no SIGPIPE", () => {
    const [client, server] = fds.tcpPair();
    native.setsockopt(client, "SO_LINGER", 0);
    fds.close(client);
    const out = new Int32Array(1);
    let res = 0;
    for (let round = 0; round < 3 && res >= 0; round++) {
      poller.writevBatch(Int32Array.of(server), 1, Int32Array.of(1), [Buffer.from("late")], out);
      res = out[0];
    }
    expect([ECONNRESET, -32]).toContain(res);
  });

  test("a readiness event that completes while a batch runs is kept for the next wait", () => {
    const [watchedClient, watched] = fds.tcpPair();
    const [client, server] = fds.tcpPair();
    poller.add(watched, 7, 1, READABLE);
    send(watchedClient, "ready");
    send(client, "data");
    // The poll completion for `watched` is in the ring when this call reaps its RECV.
    const out = new Int32Array(3);
    expect(poller.readBatch(Int32Array.of(server), 1, Buffer.alloc(4096), 0, 4096, out)).toBe(1);
    expect(out[2]).toBe(4);
    expect(poller.flush()).toBe(true); // held: the ring's fd no longer shows it
    expect(eventsOf(events, poller.wait(0))).toEqual([[7, 1, READABLE]]);
    expect(drain(watched)).toBe("ready");
    expect(poller.flush()).toBe(false);
  });

  test("closing the fds of a batch right after it returns is safe: nothing was left in flight", () => {
    const pairs = Array.from({ length: 20 }, () => fds.tcpPair());
    const keys = Int32Array.from(pairs.map(([, server]) => server));
    pairs.forEach(([client]) => fill(client));
    const slab = Buffer.alloc(256 * 1024);
    const out = new Int32Array(3 * keys.length);
    const k = poller.readBatch(keys, keys.length, slab, 0, 64 * 1024, out);
    expect(k).toBeGreaterThan(0);
    for (let i = 0; i < k; i++) expect(out[3 * i + 2]).not.toBe(-2147483648); // every result is final
    pairs.forEach(([, server]) => fds.close(server));
    slab.fill(0);
    expect(poller.wait(0)).toBe(0); // no completion arrives later for a freed buffer or a closed fd
    expect(slab.every((b) => b === 0)).toBe(true);
  });

  describe("the deferred write batch", () => {
    /** Queues one buffer per server side of `pairs`: `tag i|`. Returns the buffers. */
    function queue(servers: number[], tag: string): Buffer[] {
      const bufs = servers.map((_, i) => Buffer.from(`${tag} ${i}|`));
      const keys = Int32Array.from(servers);
      poller.queueWrites(keys, keys.length, new Int32Array(keys.length).fill(1), bufs, new Int32Array(keys.length));
      return bufs;
    }

    test("queued sends stay in the ring, then go with the next wait's own io_uring_enter", () => {
      const pairs = Array.from({ length: 20 }, () => fds.tcpPair());
      const before = poller.enterCount;
      const bufs = queue(
        pairs.map(([, s]) => s),
        "wait",
      );
      expect(poller.enterCount).toBe(before); // nothing submitted yet
      expect(pairs.map(([client]) => drain(client))).toEqual(pairs.map(() => ""));
      expect(poller.wait(0)).toBe(0);
      expect(poller.enterCount).toBe(before + 1);
      const out = new Int32Array(pairs.length);
      expect(poller.finishWrites(out, false)).toBe(pairs.length); // already complete: no syscall
      expect(poller.enterCount).toBe(before + 1);
      expect(Array.from(out)).toEqual(bufs.map((b) => b.length));
      expect(pairs.map(([client]) => drain(client))).toEqual(bufs.map((b) => b.toString()));
      expect(poller.finishWrites(out, true)).toBe(0); // no batch left
    });

    test("queued sends ride the next readBatch's enter: one io_uring_enter for the writes and the reads", () => {
      const writers = Array.from({ length: 10 }, () => fds.tcpPair());
      const readers = Array.from({ length: 10 }, () => fds.tcpPair());
      readers.forEach(([client], i) => send(client, `request ${i}`));
      const before = poller.enterCount;
      const bufs = queue(
        writers.map(([, s]) => s),
        "reply",
      );
      const keys = Int32Array.from(readers.map(([, s]) => s));
      const rout = new Int32Array(3 * keys.length);
      const slab = Buffer.alloc(64 * 1024);
      expect(poller.readBatch(keys, keys.length, slab, 0, 4096, rout)).toBe(keys.length);
      expect(poller.enterCount).toBe(before + 1);
      for (let i = 0; i < keys.length; i++) {
        expect(slab.toString("latin1", rout[3 * i + 1], rout[3 * i + 1] + rout[3 * i + 2])).toBe(`request ${i}`);
      }
      const out = new Int32Array(writers.length);
      expect(poller.finishWrites(out, false)).toBe(writers.length);
      expect(poller.enterCount).toBe(before + 1);
      expect(writers.map(([client]) => drain(client))).toEqual(bufs.map((b) => b.toString()));
    });

    test("finishWrites without mayEnter makes no syscall while the sends are unsubmitted; with it, submits them", () => {
      const [client, server] = fds.tcpPair();
      queue([server], "late");
      const before = poller.enterCount;
      const out = new Int32Array(1);
      expect(poller.finishWrites(out, false)).toBe(-1);
      expect(poller.enterCount).toBe(before);
      expect(poller.finishWrites(out, true)).toBe(1);
      expect(out[0]).toBe("late 0|".length);
      expect(drain(client)).toBe("late 0|");
    });

    test("a blocking wait with sends queued returns once they complete: their writers must hear it", () => {
      const [client, server] = fds.tcpPair();
      queue([server], "now");
      const t0 = Date.now();
      expect(poller.wait(10_000)).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000); // not the 10 s timeout
      const out = new Int32Array(1);
      expect(poller.finishWrites(out, false)).toBe(1);
      expect(drain(client)).toBe("now 0|");
    });

    test("closing any fd submits the queued sends first: a reused fd number never gets another's bytes", () => {
      const [client, server] = fds.tcpPair();
      queue([server], "first owner");
      fds.close(server); // the addon's close(): the send reaches the kernel before the number is freed
      const [client2, server2] = fds.tcpPair(); // most likely reuses the number
      const out = new Int32Array(1);
      expect(poller.finishWrites(out, false)).toBe(1);
      expect(out[0]).toBe("first owner 0|".length);
      expect(drain(client)).toBe("first owner 0|");
      send(client2, "x");
      expect(drain(server2)).toBe("x");
      expect(drain(client2)).toBe(""); // nothing meant for the old owner
    });

    test("results are writevBatch's words: short counts, AGAIN, errors, and plain writev for a pipe", () => {
      const [full, fullServer] = fds.socketpair();
      const [reset, resetServer] = fds.tcpPair();
      native.setsockopt(reset, "SO_LINGER", 0);
      fds.close(reset);
      const [pr, pw] = native.pipe();
      fds.track(pr);
      fds.track(pw);
      const big = Buffer.alloc(4 * 1024 * 1024, 0x41);
      const keys = Int32Array.of(fullServer, resetServer, pw, -1);
      const out = new Int32Array(4);
      poller.queueWrites(keys, 4, Int32Array.of(1, 1, 1, 1), [big, Buffer.from("gone"), Buffer.from("pipe"), Buffer.from("bad")], out);
      expect(poller.finishWrites(out, true)).toBe(4);
      expect(out[0]).toBeGreaterThan(0);
      expect(out[0]).toBeLessThan(big.length); // short: the socket took what it could
      expect([ECONNRESET, -32]).toContain(out[1]); // or EPIPE; no SIGPIPE
      expect(out[2]).toBe(4);
      expect(out[3]).toBe(EBADF);
      poller.queueWrites(Int32Array.of(fullServer), 1, Int32Array.of(1), [big], out);
      expect(poller.finishWrites(out, true)).toBe(1);
      expect(out[0]).toBe(AGAIN);
      let seen = 0;
      for (let round = 0; round < 1000 && seen < 4 * 1024 * 1024; round++) {
        const got = drain(full).length;
        if (got === 0) break;
        seen += got;
      }
      expect(drain(pr)).toBe("pipe");
    });

    test("one batch at a time: a second queueWrites before finishWrites is refused, the first kept", () => {
      const [client, server] = fds.tcpPair();
      queue([server], "one");
      expect(() => queue([server], "two")).toThrow(expect.objectContaining({ code: "ERR_BATCH_PENDING" }));
      const out = new Int32Array(1);
      expect(poller.finishWrites(out, true)).toBe(1);
      expect(drain(client)).toBe("one 0|");
    });

    test("a readiness event reaped with the sends is reported by the next wait, once", () => {
      const [watchedClient, watched] = fds.tcpPair();
      const [client, server] = fds.tcpPair();
      poller.add(watched, 3, 9, READABLE);
      send(watchedClient, "ping");
      queue([server], "pong");
      expect(eventsOf(events, poller.wait(1000))).toEqual([[3, 9, READABLE]]);
      const out = new Int32Array(1);
      expect(poller.finishWrites(out, false)).toBe(1);
      expect(drain(client)).toBe("pong 0|");
      expect(drain(watched)).toBe("ping");
    });

    test("closing the poller with sends queued leaves nothing in flight", () => {
      const [client, server] = fds.tcpPair();
      queue([server], "dropped");
      poller.close();
      expect(drain(client)).toBe(""); // never submitted: the ring went with them
      expect(poller.enterCount).toBe(0);
    });
  });
});
