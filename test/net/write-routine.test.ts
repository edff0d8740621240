/**
 * The write routine of a transport, pinned on real sockets with the reactor driven one
 * iteration at a time: the end-of-iteration batch is the only place a transport's queue is
 * written (write() and WRITABLE alike), and `wrote(result)` is the only place its outcome
 * (partial write, EAGAIN, error) is handled.
 */
import { Failure } from "../../lib/defer";
import { ConnectionDone, ConnectionLost } from "../../lib/error";
import { Connection } from "../../lib/net/connection";
import type { IReactorFDSet } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { native, AGAIN } from "../../lib/native";
import { Protocol } from "../../lib/protocols";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const addressOf = (): Address => ({ type: "UNIX", name: "" }) as unknown as Address;

/** A protocol that remembers why its connection was lost. */
class Lost extends Protocol {
  reason: Failure | null = null;
  override connectionLost(reason: Failure): void {
    this.reason = reason;
  }
}

/** The error inside `reason`, which must be a Failure. */
function errorOf(reason: Failure | null): Error {
  expect(reason).toBeInstanceOf(Failure);
  return reason!.value as Error;
}

/** A connection over `fd`, attached to a fresh protocol, on reactor `r`. */
function connect(r: Reactor, fd: number): { conn: Connection; proto: Lost } {
  const conn = new Connection(r as unknown as IReactorFDSet, fd, addressOf, null);
  const proto = new Lost();
  conn.attach(proto);
  return { conn, proto };
}

/** Bytes `i`'s connection sends, distinct per connection and per position. */
function pattern(i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let k = 0; k < length; k++) b[k] = (k * 7 + i * 31 + (k >> 9)) & 0xff;
  return b;
}

/** Reads whatever `fd` holds now into `into`; true at EOF. */
function drain(fd: number, into: Buffer[]): boolean {
  const buf = Buffer.alloc(256 * 1024);
  for (;;) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n === AGAIN) return false;
    if (n === 0) return true;
    into.push(Buffer.from(buf.subarray(0, n)));
  }
}

/** Runs `body` counting writevBatch calls; a transport's own writev would throw. */
function withWriteSpies<T>(body: (calls: { batch: number; single: number }) => T): T {
  const calls = { batch: 0, single: 0 };
  const original = native.writevBatch;
  const batch = jest.spyOn(native, "writevBatch").mockImplementation((...a) => {
    calls.batch++;
    return original.apply(native, a);
  });
  const single = jest.spyOn(native, "writev").mockImplementation(() => {
    calls.single++;
    throw new Error("a transport wrote by itself, outside the batch");
  });
  try {
    return body(calls);
  } finally {
    batch.mockRestore();
    single.mockRestore();
  }
}

describe("the write routine", () => {
  test("a partial write, then WRITABLE: the WRITABLE path joins the batch and the exact bytes arrive in order", () => {
    const r = new Reactor();
    const [a, b] = native.socketpair("stream");
    native.setsockopt(a, "SO_SNDBUF", 4096);
    const { conn } = connect(r, a);
    conn.pauseProducing(); // only writing is under test
    const chunks = [pattern(1, 100000), pattern(2, 1), pattern(3, 300000), pattern(4, 77)];
    const expected = Buffer.concat(chunks);
    const got: Buffer[] = [];
    try {
      withWriteSpies((calls) => {
        r.callLater(0, () => chunks.forEach((c) => conn.write(c)));
        r.iterate(0);
        expect(calls.batch).toBe(1);
        // Partial: the rest waits in the queue, and WRITABLE is watched for it.
        expect(conn.bufferedBytes()).toBeGreaterThan(0);
        expect(conn.bufferedBytes()).toBeLessThan(expected.length);
        expect(r.getWriters()).toEqual([conn]);
        let iterations = 0;
        while (conn.bufferedBytes() > 0 && iterations++ < 10000) {
          drain(b, got);
          const before = calls.batch;
          r.iterate(0.05);
          expect(calls.batch - before).toBeLessThanOrEqual(1); // one batch per iteration, WRITABLE included
        }
        drain(b, got);
        expect(calls.single).toBe(0);
      });
      expect(Buffer.concat(got).equals(expected)).toBe(true);
      expect(r.getWriters()).toEqual([]); // the queue is empty: WRITABLE dropped
    } finally {
      conn.abortConnection();
      r.close();
      native.close(b);
    }
  });

  test("a write error (the peer reset the connection) reaches connectionLost with its errno", () => {
    const r = new Reactor();
    const listener = native.socket("IPv4", "tcp");
    native.bind(listener, "127.0.0.1", 0);
    native.listen(listener, 1);
    const peer = native.socket("IPv4", "tcp");
    native.connect(peer, "127.0.0.1", (native.getsockname(listener) as { port: number }).port);
    let accepted: number[] = [];
    for (let k = 0; k < 1000 && accepted.length === 0; k++) accepted = native.accept(listener, 1).map((x) => x.fd);
    expect(accepted.length).toBe(1);
    const { conn, proto } = connect(r, accepted[0]);
    conn.pauseProducing(); // the reset must be seen by the write, not by a read
    try {
      native.setsockopt(peer, "SO_LINGER", 0);
      native.close(peer); // RST
      r.callLater(0, () => conn.write("into a reset connection"));
      for (let k = 0; k < 5 && proto.reason === null; k++) r.iterate(0.01);
      const reason = errorOf(proto.reason);
      expect(reason).toBeInstanceOf(ConnectionLost);
      const cause = (reason as Error & { cause: { code: string; errno: number; syscall: string } }).cause;
      expect(["ECONNRESET", "EPIPE"]).toContain(cause.code);
      expect(cause.errno).toBe(native.errno[cause.code]);
      expect(cause.syscall).toBe("writev");
      expect(conn.fileno()).toBe(-1);
    } finally {
      r.close();
      native.close(listener);
    }
  });

  test("a result that leaves bytes queued behind a flush already asked for registers no WRITABLE: that flush writes them", () => {
    // The shape of io_uring's deferred write batch in exclusive mode: the writer hears the
    // result for "old " only after it queued "new bytes" (and asked for a flush).
    const r = new Reactor();
    const [a, b] = native.socketpair("stream");
    const { conn } = connect(r, a);
    const addWriter = jest.spyOn(r, "addWriter");
    try {
      r.callLater(0, () => {
        conn.write("old ");
        conn.write("new bytes");
        expect(conn.flushQueued).toBe(true);
        conn.wrote(4); // "old " taken by an earlier batch (not really sent here)
        expect(addWriter).not.toHaveBeenCalled();
      });
      r.iterate(0); // the flush asked for writes what is left
      const got: Buffer[] = [];
      drain(b, got);
      expect(Buffer.concat(got).toString()).toBe("new bytes");
      expect(addWriter).not.toHaveBeenCalled();
      expect(r.getWriters()).toEqual([]);
      // Without a flush asked for, the rest is a partial write: WRITABLE is watched for it.
      conn.write("tail");
      conn.flushQueued = false; // as if the reactor's flush had just run
      conn.wrote(2);
      expect(r.getWriters()).toEqual([conn]);
    } finally {
      addWriter.mockRestore();
      conn.connectionLost(new Failure(new ConnectionDone()));
      r.close();
      native.close(b);
    }
  });

  test("loseConnection on an idle connection closes in the same iteration, without a WRITABLE registration", () => {
    const r = new Reactor();
    const [a, b] = native.socketpair("stream");
    const { conn, proto } = connect(r, a);
    const addWriter = jest.spyOn(r, "addWriter");
    try {
      r.callLater(0, () => conn.loseConnection());
      r.iterate(0);
      expect(addWriter).not.toHaveBeenCalled();
      expect(errorOf(proto.reason)).toBeInstanceOf(ConnectionDone);
      expect(conn.fileno()).toBe(-1);
      expect(native.read(b, Buffer.alloc(1), 0, 1)).toBe(0); // the peer sees EOF now
    } finally {
      addWriter.mockRestore();
      r.close();
      native.close(b);
    }
  });

  test("loseConnection after a write: the bytes, then EOF, in the same iteration", async () => {
    const r = new Reactor();
    const [a, b] = native.socketpair("stream");
    const { conn, proto } = connect(r, a);
    const addWriter = jest.spyOn(r, "addWriter");
    try {
      // Outside an iteration the flush runs in a microtask.
      conn.write("last words");
      conn.loseConnection();
      expect(conn.fileno()).toBe(a); // never inside the caller's frame
      await Promise.resolve();
      expect(addWriter).not.toHaveBeenCalled();
      expect(errorOf(proto.reason)).toBeInstanceOf(ConnectionDone);
      const got: Buffer[] = [];
      expect(drain(b, got)).toBe(true);
      expect(Buffer.concat(got).toString()).toBe("last words");
    } finally {
      addWriter.mockRestore();
      r.close();
      native.close(b);
    }
  });

  test("many connections with partial writes in one iteration: one batch per iteration, each connection's bytes in order", () => {
    const r = new Reactor();
    const N = 40;
    const pairs = Array.from({ length: N }, () => native.socketpair("stream"));
    const conns = pairs.map(([a]) => {
      native.setsockopt(a, "SO_SNDBUF", 4096);
      const { conn } = connect(r, a);
      conn.pauseProducing();
      return conn;
    });
    const sent = conns.map((_c, i) => [pattern(i, 20000 + i * 1000), pattern(i + 100, 5), pattern(i + 200, 50000)]);
    const got: Buffer[][] = conns.map(() => []);
    try {
      withWriteSpies((calls) => {
        r.callLater(0, () => conns.forEach((c, i) => sent[i].forEach((s) => c.write(s))));
        r.iterate(0);
        expect(calls.batch).toBe(1);
        expect(conns.every((c) => c.bufferedBytes() > 0)).toBe(true); // all partial
        expect(r.getWriters().length).toBe(N);
        let iterations = 0;
        while (conns.some((c) => c.bufferedBytes() > 0) && iterations++ < 10000) {
          pairs.forEach(([, b], i) => drain(b, got[i]));
          // Some more bytes behind the partial ones, queued in the same iteration as WRITABLE.
          if (iterations === 3) r.callLater(0, () => conns.forEach((c, i) => c.write(pattern(i + 300, 10))));
          const before = calls.batch;
          r.iterate(0.05);
          expect(calls.batch - before).toBeLessThanOrEqual(1);
        }
        pairs.forEach(([, b], i) => drain(b, got[i]));
        expect(calls.single).toBe(0);
      });
      conns.forEach((_c, i) => {
        const expected = Buffer.concat([...sent[i], pattern(i + 300, 10)]);
        expect(Buffer.concat(got[i]).equals(expected)).toBe(true);
      });
      expect(r.getWriters()).toEqual([]);
    } finally {
      conns.forEach((c) => c.abortConnection());
      r.close();
      pairs.forEach(([, b]) => native.close(b));
    }
  });
});
