import { expectNoFdLeaks } from "../support/fds";
import type { Failure } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import { native, AGAIN } from "../../lib/native";
import type { IReadDescriptor, IWriteDescriptor } from "../../lib/reactor";
import { Reactor } from "../../lib/reactor";
import { configTable, makeReactor, FdReader, FdWriter, closeAll } from "./helpers";

expectNoFdLeaks();

/** `n` bytes of a repeating, position-dependent pattern. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

describe.each(configTable())("readers and writers (%s)", (_label, config) => {
  test("a reader gets every byte written into a pipe, in order", async () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    const reader = new FdReader(rd, (x) => {
      if (x.text().length === 6) r.stop();
    });
    r.addReader(reader);
    r.callLater(0, () => native.write(wr, Buffer.from("abc"), 0, 3));
    r.callLater(0.005, () => native.write(wr, Buffer.from("def"), 0, 3));
    await r.run();
    expect(reader.text()).toBe("abcdef");
    expect(reader.lost).not.toBeNull(); // removed at shutdown
    closeAll(rd, wr);
  });

  test("a writer fills a pipe as it drains and a reader gets 1 MiB exactly", async () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    const data = pattern(1 << 20);
    const got: Buffer[] = [];
    let total = 0;
    const reader: IReadDescriptor = {
      fileno: () => rd,
      doRead() {
        const b = Buffer.alloc(65536);
        const n = native.read(rd, b, 0, b.length);
        if (n > 0) {
          got.push(b.subarray(0, n));
          total += n;
          if (total === data.length) r.stop();
        }
      },
      connectionLost() {},
    };
    const writer = new FdWriter(wr, data, (w) => r.removeWriter(w));
    r.addReader(reader);
    r.addWriter(writer);
    await r.run();
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(writer.writes).toBeGreaterThan(1); // the pipe (64 KiB) made it wait for WRITABLE
    closeAll(rd, wr);
  });

  test("both ends of a socketpair ping-pong 100 times", async () => {
    const r = makeReactor(config);
    const [a, b] = native.socketpair("stream");
    const log: string[] = [];
    const buf = Buffer.alloc(16);
    let rounds = 0;
    const end = (fd: number, name: string): IReadDescriptor => ({
      fileno: () => fd,
      doRead() {
        const n = native.read(fd, buf, 0, 16);
        log.push(`${name}:${buf.toString("latin1", 0, n)}`);
        if (name === "a" && ++rounds === 100) {
          r.stop();
          return;
        }
        native.write(fd, Buffer.from(name === "a" ? "ping" : "pong"), 0, 4);
      },
      connectionLost() {},
    });
    r.addReader(end(a, "a"));
    r.addReader(end(b, "b"));
    r.callWhenRunning(() => native.write(a, Buffer.from("ping"), 0, 4));
    await r.run();
    expect(log).toHaveLength(200);
    expect(log.slice(0, 4)).toEqual(["b:ping", "a:pong", "b:ping", "a:pong"]);
    closeAll(a, b);
  });

  test("one object as reader and writer of one fd: both roles dispatched, removed separately", async () => {
    const r = makeReactor(config);
    const [a, b] = native.socketpair("stream");
    const calls: string[] = [];
    const both: IReadDescriptor & IWriteDescriptor = {
      fileno: () => a,
      doRead() {
        const buf = Buffer.alloc(8);
        calls.push(`read ${buf.toString("latin1", 0, native.read(a, buf, 0, 8))}`);
        r.removeReader(both);
        r.callLater(0, () => r.stop());
      },
      doWrite() {
        calls.push("write");
        native.write(a, Buffer.from("x"), 0, 1);
        r.removeWriter(both);
        native.write(b, Buffer.from("hi"), 0, 2);
      },
      connectionLost() {},
    };
    r.addWriter(both);
    r.addReader(both);
    expect(r.getReaders()).toEqual([both]);
    expect(r.getWriters()).toEqual([both]);
    await r.run();
    expect(calls).toEqual(["write", "read hi"]);
    const buf = Buffer.alloc(4);
    expect(native.read(b, buf, 0, 4)).toBe(1);
    closeAll(a, b);
  });

  test("a reader that throws is dropped with connectionLost(its error), logged with its stack; other readers keep getting data", async () => {
    const records: [string, string, unknown][] = [];
    const restore = setLogObservers([(level, msg, err) => records.push([level, msg, err])]);
    try {
      const r = makeReactor(config);
      const [rd1, wr1] = native.pipe();
      const [rd2, wr2] = native.pipe();
      const thrown = new Error("reader exploded");
      let badReads = 0;
      let badLost: Failure | null = null;
      class BadReader implements IReadDescriptor {
        fileno(): number {
          return rd1;
        }
        doRead(): void {
          badReads++;
          throw thrown;
        }
        connectionLost(reason: Failure): void {
          badLost = reason;
        }
      }
      const good = new FdReader(rd2, (x) => {
        if (x.text() === "1234") r.stop();
      });
      r.addReader(new BadReader());
      r.addReader(good);
      let k = 0;
      const feed = (): void => {
        k++;
        native.write(wr1, Buffer.from("x"), 0, 1);
        native.write(wr2, Buffer.from(String(k)), 0, 1);
        if (k < 4) r.callLater(0.002, feed);
      };
      r.callWhenRunning(feed);
      await r.run();
      expect(badReads).toBe(1);
      expect((badLost as Failure | null)?.value).toBe(thrown);
      expect(good.text()).toBe("1234");
      expect(records).toHaveLength(1);
      expect(records[0][1]).toBe(`Unhandled error in doRead of BadReader(fd ${rd1})`);
      expect((records[0][2] as Error).stack).toContain("io.test.ts");
      closeAll(rd1, wr1, rd2, wr2);
    } finally {
      restore();
    }
  });

  test("doRead returning an Error drops the descriptor with that reason, without logging", async () => {
    const records: string[] = [];
    const restore = setLogObservers([(_l, msg) => records.push(msg)]);
    try {
      const r = makeReactor(config);
      const [rd, wr] = native.pipe();
      const reader = new FdReader(rd);
      r.addReader(reader);
      r.callWhenRunning(() => native.close(wr)); // EOF: FdReader returns Error("EOF")
      r.callLater(0.01, () => r.stop());
      await r.run();
      expect(reader.lost?.getErrorMessage()).toBe("EOF");
      expect(r.getReaders()).toEqual([]);
      expect(records).toEqual([]);
      native.close(rd);
    } finally {
      restore();
    }
  });

  test("removeReader stops doRead; a reader can be added again", async () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    const reader = new FdReader(rd, (x) => {
      if (x.text() === "ab") r.stop();
    });
    r.addReader(reader);
    r.addReader(reader); // a second add is a no-op
    native.write(wr, Buffer.from("a"), 0, 1);
    r.callLater(0.005, () => {
      r.removeReader(reader);
      r.removeReader(reader); // a second remove is a no-op
      native.write(wr, Buffer.from("b"), 0, 1);
    });
    r.callLater(0.015, () => {
      expect(reader.text()).toBe("a");
      r.addReader(reader);
    });
    await r.run();
    expect(reader.text()).toBe("ab");
    closeAll(rd, wr);
  });

  test("a callLater(0) storm does not starve a readable pipe", async () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    let storm = 0;
    let stormAtRead = -1;
    const spin = (): void => {
      storm++;
      if (storm < 100000 && r.running) r.callLater(0, spin);
    };
    const reader = new FdReader(rd, () => {
      stormAtRead = storm;
      r.stop();
    });
    r.addReader(reader);
    r.callWhenRunning(() => {
      r.callLater(0, spin);
      r.callLater(0, () => native.write(wr, Buffer.from("!"), 0, 1));
    });
    await r.run();
    expect(reader.text()).toBe("!");
    // The write ran in the first timer phase; the next iteration's wait must see the pipe.
    expect(stormAtRead).toBeGreaterThanOrEqual(1);
    expect(stormAtRead).toBeLessThanOrEqual(3);
    closeAll(rd, wr);
  });
});

describe.each(configTable())("fd reuse (%s)", (_label, config) => {
  test("an event fetched for a closed fd never reaches the new owner of its number", () => {
    const r = makeReactor(config);
    const [rdA, wrA] = native.pipe();
    const [rdB, wrB] = native.pipe();
    const calls: string[] = [];
    let newFd = -1;
    let newWr = -1;
    const newOwner: IReadDescriptor = {
      fileno: () => newFd,
      doRead() {
        calls.push(`new owner read ${native.read(newFd, Buffer.alloc(8), 0, 8)}`);
      },
      connectionLost() {},
    };
    // Whichever of A and B is dispatched first closes the other and reuses its number.
    let closed = -1;
    const make = (fd: number, other: () => IReadDescriptor, otherFd: number, otherWr: number): IReadDescriptor => ({
      fileno: () => fd,
      doRead() {
        calls.push("first read");
        native.read(fd, Buffer.alloc(8), 0, 8);
        r.removeReader(this);
        if (closed >= 0) return;
        r.removeReader(other());
        native.close(otherFd);
        closed = otherFd;
        [newFd, newWr] = native.pipe();
        r.addReader(newOwner);
        native.close(otherWr);
      },
      connectionLost() {},
    });
    const readerA: IReadDescriptor = make(rdA, () => readerB, rdB, wrB);
    const readerB: IReadDescriptor = make(rdB, () => readerA, rdA, wrA);
    r.addReader(readerA);
    r.addReader(readerB);
    native.write(wrA, Buffer.from("a"), 0, 1);
    native.write(wrB, Buffer.from("b"), 0, 1);
    r.iterate(0);
    expect(newFd).toBe(closed); // the number was reused within the iteration
    // The stale event for the closed fd was dropped: the new owner (empty pipe) was not called.
    expect(calls).toEqual(["first read"]);
    native.write(newWr, Buffer.from("n"), 0, 1);
    r.iterate(0);
    expect(calls).toEqual(["first read", "new owner read 1"]);
    r.close();
    const survivor = closed === rdA ? [rdB, wrB] : [rdA, wrA];
    closeAll(...survivor, newFd, newWr);
  });

  test("an fd closed without removeReader and reused is registered afresh", () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    r.addReader(new FdReader(rd));
    closeAll(rd, wr); // forgot removeReader: the kernel forgets the registration (epoll)
    const [rd2, wr2] = native.pipe();
    expect(rd2).toBe(rd);
    const reader2 = new FdReader(rd2);
    r.addReader(reader2);
    native.write(wr2, Buffer.from("ok"), 0, 2);
    for (let i = 0; i < 10 && reader2.text() === ""; i++) r.iterate(0.01);
    expect(reader2.text()).toBe("ok");
    r.close();
    closeAll(rd2, wr2);
  });
});

test("a descriptor whose fileno() already says -1 can still be removed, without scanning", () => {
  const r = new Reactor();
  const [rd, wr] = native.pipe();
  let fd = rd;
  let reads = 0;
  const reader: IReadDescriptor & IWriteDescriptor = {
    fileno: () => fd,
    doRead: () => void reads++,
    doWrite: () => undefined,
    connectionLost: () => undefined,
  };
  r.addReader(reader);
  fd = -1; // a transport marks itself closed before unregistering
  r.removeReader(reader);
  r.removeWriter(reader); // never a writer: a no-op
  expect(r.getReaders()).toEqual([]);
  native.write(wr, Buffer.from("x"), 0, 1);
  r.iterate(0);
  expect(reads).toBe(0);
  r.close();
  closeAll(rd, wr);
});

test("a reader of an fd that is not open is refused by the poller and leaves no registration", () => {
  const r = new Reactor();
  r.iterate(0); // the poller's own fd is made now, not with the closed number below
  const [rd, wr] = native.pipe();
  closeAll(rd, wr);
  expect(() => r.addReader(new FdReader(rd))).toThrow(expect.objectContaining({ code: "EBADF" }));
  expect(r.getReaders()).toEqual([]);
  expect(() => r.addReader({ fileno: () => -1 } as never)).toThrow(RangeError);
  expect(() => r.addReader({} as never)).toThrow(TypeError);
  r.close();
});

test("AGAIN is the sentinel a spurious read sees (sanity of the helpers)", () => {
  const [rd, wr] = native.pipe();
  expect(native.read(rd, Buffer.alloc(1), 0, 1)).toBe(AGAIN);
  closeAll(rd, wr);
});
