/**
 * The pollers' behaviour on real fds, once per backend this build holds: readiness bits,
 * tokens, level/edge/oneshot, stale tokens after fd reuse, registration errors, closing.
 */
import {
  ACCEPT,
  EDGE,
  ERROR,
  EVENT_STRIDE,
  HANGUP,
  ONESHOT,
  READABLE,
  WRITABLE,
  native,
  type Backend,
  type Poller,
} from "../../lib/native";
import * as fs from "node:fs";
import { expectNoFdLeaks } from "../support/fds";
import { bySlot, drain, eventsOf, fill, runNode, write } from "./poller_fixtures";

expectNoFdLeaks();

/**
 * Bits each backend reports in situations where the kernels' vocabularies differ. io_uring
 * reports what its request completed with: add() of a writable fd completes at once with
 * WRITABLE, so a close that follows shows at the next wait (test/platform/io_uring.test.ts).
 */
const expected: Record<string, Record<Backend, number>> = {
  // select has no hang-up: EOF shows as readable, a broken pipe as writable.
  pipeWriterClosed: { epoll: HANGUP, io_uring: HANGUP, poll: HANGUP, select: READABLE, kqueue: READABLE | HANGUP },
  pipeReaderClosed: { epoll: WRITABLE | ERROR, io_uring: WRITABLE, poll: WRITABLE | ERROR, select: WRITABLE, kqueue: WRITABLE | HANGUP },
  peerClosed: { epoll: READABLE | HANGUP, io_uring: READABLE | HANGUP, poll: READABLE | HANGUP, select: READABLE, kqueue: READABLE | HANGUP },
  peerClosedBoth: {
    epoll: READABLE | WRITABLE | HANGUP,
    io_uring: WRITABLE,
    poll: READABLE | WRITABLE | HANGUP,
    select: READABLE | WRITABLE,
    kqueue: READABLE | WRITABLE | HANGUP,
  },
};

describe.each(native.backends())("the %s poller", (backend) => {
  let events: Uint32Array;
  let poller: Poller;
  const fds: number[] = [];

  function pipe(): [number, number] {
    const p = native.pipe();
    fds.push(...p);
    return p;
  }
  function socketpair(): [number, number] {
    const p = native.socketpair("stream");
    fds.push(...p);
    return p;
  }
  function closeFd(fd: number): void {
    native.close(fd);
    fds.splice(fds.indexOf(fd), 1);
  }
  function waitNow(): Array<[number, number, number]> {
    return bySlot(eventsOf(events, poller.wait(0)));
  }

  beforeEach(() => {
    events = new Uint32Array(16 * EVENT_STRIDE);
    poller = new native.Poller(backend, events);
  });
  afterEach(() => {
    poller.close();
    for (const fd of fds.splice(0)) native.close(fd);
  });

  test("names its backend and the options it supports", () => {
    expect(poller.backend).toBe(backend);
    const options: Record<Backend, number> = { epoll: EDGE | ONESHOT, io_uring: EDGE | ONESHOT | ACCEPT, kqueue: EDGE | ONESHOT, poll: 0, select: 0 };
    expect(poller.supportedOptions).toBe(options[backend]);
  });

  test("reports nothing while no registered fd is ready", () => {
    const [r] = pipe();
    poller.add(r, 1, 1, READABLE);
    expect(poller.wait(0)).toBe(0);
  });

  test("reports READABLE under the fd's token when a pipe has data", () => {
    const [r, w] = pipe();
    poller.add(r, 7, 3, READABLE);
    write(w, "abc");
    expect(waitNow()).toEqual([[7, 3, READABLE]]);
  });

  test("carries the largest slot and generation unchanged", () => {
    const [r, w] = pipe();
    poller.add(r, 0xffffffff, 0xffffffff, READABLE);
    write(w, "x");
    expect(waitNow()).toEqual([[0xffffffff, 0xffffffff, READABLE]]);
  });

  test("keeps reporting a level-triggered fd until it is drained", () => {
    const [r, w] = pipe();
    poller.add(r, 1, 1, READABLE);
    write(w, "hello");
    expect(waitNow()).toEqual([[1, 1, READABLE]]);
    expect(waitNow()).toEqual([[1, 1, READABLE]]);
    expect(drain(r)).toBe("hello");
    expect(waitNow()).toEqual([]);
  });

  test("reports WRITABLE while a pipe has room, and not once it is full", () => {
    const [r, w] = pipe();
    poller.add(w, 2, 1, WRITABLE);
    expect(waitNow()).toEqual([[2, 1, WRITABLE]]);
    const filled = fill(w);
    expect(filled).toBeGreaterThan(0);
    expect(waitNow()).toEqual([]);
    expect(drain(r).length).toBe(filled);
    expect(waitNow()).toEqual([[2, 1, WRITABLE]]);
  });

  test("reports READABLE and WRITABLE in one event for an fd registered for both", () => {
    const [a, b] = socketpair();
    write(b, "ping");
    poller.add(a, 4, 9, READABLE | WRITABLE);
    expect(waitNow()).toEqual([[4, 9, READABLE | WRITABLE]]);
  });

  test("reports each ready fd once per wait, under its own token", () => {
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    const [r3] = pipe();
    poller.add(r1, 10, 1, READABLE);
    poller.add(r2, 11, 2, READABLE);
    poller.add(r3, 12, 3, READABLE);
    write(w1, "a");
    write(w2, "b");
    expect(waitNow()).toEqual([
      [10, 1, READABLE],
      [11, 2, READABLE],
    ]);
  });

  test("reports the peer's close of a socketpair", () => {
    const [a, b] = socketpair();
    poller.add(a, 1, 1, READABLE);
    closeFd(b);
    expect(waitNow()).toEqual([[1, 1, expected.peerClosed[backend]]]);
  });

  test("reports the peer's close to an fd registered for reading and writing", () => {
    const [a, b] = socketpair();
    poller.add(a, 1, 1, READABLE | WRITABLE);
    closeFd(b);
    expect(waitNow()).toEqual([[1, 1, expected.peerClosedBoth[backend]]]);
  });

  test("reports the peer's shutdown of writing", () => {
    const [a, b] = socketpair();
    poller.add(a, 1, 1, READABLE);
    native.shutdown(b, 1);
    expect(waitNow()).toEqual([[1, 1, expected.peerClosed[backend]]]);
  });

  test("reports a pipe whose writer closed", () => {
    const [r, w] = pipe();
    poller.add(r, 5, 1, READABLE);
    closeFd(w);
    expect(waitNow()).toEqual([[5, 1, expected.pipeWriterClosed[backend]]]);
  });

  test("reports a pipe's write end whose reader closed", () => {
    const [r, w] = pipe();
    poller.add(w, 6, 1, WRITABLE);
    closeFd(r);
    expect(waitNow()).toEqual([[6, 1, expected.pipeReaderClosed[backend]]]);
  });

  test("an fd closed while registered is dropped (epoll, kqueue), kept open (io_uring) or reported as ERROR (poll, select)", () => {
    // epoll and kqueue forget a closed fd by themselves; io_uring's armed request holds the
    // file open, with nothing to report; poll says POLLNVAL and select fails with EBADF,
    // which the backends turn into ERROR for that fd alone: the other fds' events still
    // come in the same wait.
    const [r, w] = pipe();
    const [r2, w2] = pipe();
    poller.add(r, 1, 1, READABLE);
    poller.add(r2, 2, 1, READABLE);
    expect(waitNow()).toEqual([]); // the registrations have reached the kernel (kqueue batches them)
    write(w2, "x");
    closeFd(r);
    const kernelDrops = backend === "epoll" || backend === "kqueue" || backend === "io_uring";
    expect(waitNow()).toEqual(kernelDrops ? [[2, 1, READABLE]] : [[1, 1, ERROR], [2, 1, READABLE]]);
    if (!kernelDrops) {
      poller.remove(r);
      expect(waitNow()).toEqual([[2, 1, READABLE]]);
    }
    if (backend === "io_uring") poller.remove(r); // releases the file the request held
    closeFd(w);
  });

  test("modify changes the token and the interest", () => {
    const [a, b] = socketpair();
    write(b, "x");
    poller.add(a, 1, 1, READABLE);
    expect(waitNow()).toEqual([[1, 1, READABLE]]);
    poller.modify(a, 2, 5, WRITABLE);
    expect(waitNow()).toEqual([[2, 5, WRITABLE]]);
    poller.modify(a, 2, 6, 0);
    expect(waitNow()).toEqual([]);
  });

  test("remove stops the events, and the fd may be added again", () => {
    const [r, w] = pipe();
    poller.add(r, 1, 1, READABLE);
    write(w, "x");
    poller.remove(r);
    expect(waitNow()).toEqual([]);
    poller.add(r, 1, 2, READABLE);
    expect(waitNow()).toEqual([[1, 2, READABLE]]);
  });

  test("remove of an fd never added throws ENOENT", () => {
    const [r] = pipe();
    expect(() => poller.remove(r)).toThrow(expect.objectContaining({ code: "ENOENT", errno: native.errno.ENOENT }));
  });

  test("modify of an fd never added throws ENOENT", () => {
    const [r] = pipe();
    expect(() => poller.modify(r, 1, 1, READABLE)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  if (backend === "kqueue") {
    test("adding an fd twice re-registers it under the new token (EV_ADD adds or modifies)", () => {
      const [r, w] = pipe();
      poller.add(r, 1, 1, READABLE);
      poller.add(r, 2, 1, READABLE);
      write(w, "x");
      expect(waitNow()).toEqual([[2, 1, READABLE]]);
    });
  } else {
    test("adding an fd twice throws EEXIST", () => {
      const [r] = pipe();
      poller.add(r, 1, 1, READABLE);
      expect(() => poller.add(r, 2, 1, READABLE)).toThrow(expect.objectContaining({ code: "EEXIST" }));
    });
  }

  test("adding a closed fd throws EBADF", () => {
    const [r] = pipe();
    closeFd(r);
    expect(() => poller.add(r, 1, 1, READABLE)).toThrow(expect.objectContaining({ code: "EBADF" }));
  });

  test("a stale event of a closed fd whose number was reused carries the old generation", () => {
    // Slot 1 holds pipe A, slot 2 pipe B; both are ready in one batch. Handling A's event
    // closes B and reuses B's fd number for pipe C under slot 2, generation 2: B's event,
    // still in the batch, says generation 1, so it is told apart from C's registration.
    const [ra, wa] = pipe();
    const [rb, wb] = pipe();
    poller.add(ra, 1, 1, READABLE);
    poller.add(rb, 2, 1, READABLE);
    write(wa, "a");
    write(wb, "b");
    const batch = waitNow();
    expect(batch).toEqual([
      [1, 1, READABLE],
      [2, 1, READABLE],
    ]);
    poller.remove(rb);
    closeFd(rb);
    closeFd(wb);
    const [rc, wc] = pipe();
    expect(rc).toBe(rb);
    poller.add(rc, 2, 2, READABLE);
    write(wc, "c");
    const current = new Map([[1, 1], [2, 2]]);
    expect(batch.filter(([slot, gen]) => current.get(slot) !== gen)).toEqual([[2, 1, READABLE]]);
    expect(waitNow()).toEqual([
      [1, 1, READABLE],
      [2, 2, READABLE],
    ]);
  });

  test("fills at most the array's capacity per wait and reaches every ready fd in turn", () => {
    const small = new Uint32Array(2 * EVENT_STRIDE);
    const p = new native.Poller(backend, small);
    try {
      for (let slot = 0; slot < 5; slot++) {
        const [r, w] = pipe();
        write(w, "x");
        p.add(r, slot, 1, READABLE);
      }
      const seen = new Set<number>();
      for (let i = 0; i < 3; i++) {
        expect(p.wait(0)).toBe(2);
        for (const [slot] of eventsOf(small, 2)) seen.add(slot);
      }
      expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    } finally {
      p.close();
    }
  });

  test("writes events at the typed array's own offset in its buffer", () => {
    const buffer = new ArrayBuffer(8 * 4);
    const view = new Uint32Array(buffer, 2 * 4, 3);
    const p = new native.Poller(backend, view);
    try {
      const [r, w] = pipe();
      write(w, "x");
      p.add(r, 8, 4, READABLE);
      expect(p.wait(0)).toBe(1);
      expect(Array.from(new Uint32Array(buffer))).toEqual([0, 0, 8, 4, READABLE, 0, 0, 0]);
    } finally {
      p.close();
    }
  });

  test("throws instead of writing when the events array was detached", () => {
    const buffer = new ArrayBuffer(3 * 4);
    const p = new native.Poller(backend, new Uint32Array(buffer));
    try {
      structuredClone(buffer, { transfer: [buffer] });
      expect(() => p.wait(0)).toThrow(expect.objectContaining({ code: "ERR_EVENTS_DETACHED" }));
    } finally {
      p.close();
    }
  });

  test("wait(-1) returns as soon as an fd is ready, and a fractional timeout is accepted", () => {
    const [r, w] = pipe();
    poller.add(r, 1, 1, READABLE);
    expect(poller.wait(0.5)).toBe(0);
    write(w, "x");
    expect(poller.wait(-1)).toBe(1);
  });

  test("a signal interrupting the wait makes it return 0", () => {
    // In a child node (a signal sent to jest's own process would not reach a handler): a
    // shell signals it every 50 ms (at most 100 times) while it waits up to 10 s. EINTR
    // must come back as 0 events, not as an error.
    const r = runNode(`
      let signals = 0;
      process.on("SIGUSR2", () => signals++);
      const sh = require("node:child_process").spawn("sh", ["-c",
        "for i in $(seq 100); do sleep 0.05; kill -USR2 " + process.pid + " || exit 0; done"], { stdio: "ignore" });
      sh.once("spawn", () => {
        const p = new addon.Poller(${JSON.stringify(backend)}, new Uint32Array(3));
        const n = p.wait(10000);
        p.close();
        sh.kill();
        sh.once("exit", () => setImmediate(() => console.log(JSON.stringify({ n, signalled: signals > 0 }))));
      });
    `);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ n: 0, signalled: true });
    expect(r.status).toBe(0);
  }, 30000);

  if (backend === "epoll" || backend === "io_uring" || backend === "kqueue") {
    test("fd() is the kernel object's own fd, released by close()", () => {
      const fd = poller.fd();
      const link = (): string | undefined => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return "closed";
        }
      };
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(link()).toBe(backend === "epoll" ? "anon_inode:[eventpoll]" : link());
      poller.close();
      expect(link()).toBe("closed");
    });

    test("enterIntegratedMode() returns the fd to watch, the same fd() reports", () => {
      const fd = poller.fd();
      expect(poller.enterIntegratedMode()).toBe(fd);
      expect(poller.enterIntegratedMode()).toBe(fd); // idempotent
      expect(poller.fd()).toBe(fd);
    });
  } else {
    test("fd() is -1: there is no kernel object to watch", () => {
      expect(poller.fd()).toBe(-1);
    });

    test("enterIntegratedMode() is -1: nothing another loop could watch", () => {
      expect(poller.enterIntegratedMode()).toBe(-1);
    });
  }

  test("a closed poller refuses every call, and close() is idempotent", () => {
    const [r] = pipe();
    poller.close();
    poller.close();
    expect(poller.backend).toBe(backend);
    const closed = expect.objectContaining({ code: "ERR_POLLER_CLOSED", message: expect.stringContaining("closed") });
    expect(() => poller.add(r, 1, 1, READABLE)).toThrow(closed);
    expect(() => poller.modify(r, 1, 1, READABLE)).toThrow(closed);
    expect(() => poller.remove(r)).toThrow(closed);
    expect(() => poller.wait(0)).toThrow(closed);
    expect(() => poller.fd()).toThrow(closed);
    expect(() => poller.enterIntegratedMode()).toThrow(closed);
  });

  if (backend === "epoll" || backend === "io_uring" || backend === "kqueue") {
    test("EDGE reports a readable fd once per arrival of data", () => {
      const [r, w] = pipe();
      poller.add(r, 1, 1, READABLE | EDGE);
      write(w, "a");
      expect(waitNow()).toEqual([[1, 1, READABLE]]);
      expect(waitNow()).toEqual([]);
      write(w, "b");
      expect(waitNow()).toEqual([[1, 1, READABLE]]);
      expect(drain(r)).toBe("ab");
    });

    test("ONESHOT disarms after one event until modify re-arms it", () => {
      const [r, w] = pipe();
      poller.add(r, 1, 1, READABLE | ONESHOT);
      write(w, "a");
      expect(waitNow()).toEqual([[1, 1, READABLE]]);
      write(w, "b");
      expect(waitNow()).toEqual([]);
      poller.modify(r, 1, 2, READABLE | ONESHOT);
      expect(waitNow()).toEqual([[1, 2, READABLE]]);
      expect(waitNow()).toEqual([]);
    });
  } else {
    test("refuses EDGE and ONESHOT, naming the backend and the option", () => {
      const [r] = pipe();
      expect(() => poller.add(r, 1, 1, READABLE | EDGE)).toThrow(
        expect.objectContaining({
          code: "ERR_UNSUPPORTED_OPTION",
          message: `The ${backend} backend does not support EDGE (supported options: none)`,
        }),
      );
      expect(() => poller.add(r, 1, 1, READABLE | ONESHOT)).toThrow(
        expect.objectContaining({ code: "ERR_UNSUPPORTED_OPTION", message: expect.stringContaining("ONESHOT") }),
      );
      poller.add(r, 1, 1, READABLE);
      expect(() => poller.modify(r, 1, 1, READABLE | EDGE | ONESHOT)).toThrow(
        expect.objectContaining({ code: "ERR_UNSUPPORTED_OPTION", message: expect.stringContaining("EDGE, ONESHOT") }),
      );
    });
  }
});

describe("fds at or above FD_SETSIZE", () => {
  const fds: number[] = [];
  let high = -1;

  beforeAll(() => {
    // Pipes until one end's number reaches FD_SETSIZE (bounded: 1,100 pipes at most).
    for (let i = 0; i < 1100 && high < 0; i++) {
      const [r, w] = native.pipe();
      fds.push(r, w);
      if (w >= native.FD_SETSIZE) high = w;
    }
  });
  afterAll(() => {
    for (const fd of fds.splice(0)) native.close(fd);
  });

  test("FD_SETSIZE is this build's fd_set size", () => {
    expect(native.FD_SETSIZE).toBe(1024);
    expect(high).toBeGreaterThanOrEqual(native.FD_SETSIZE);
  });

  test("select refuses them with a RangeError naming FD_SETSIZE", () => {
    const p = new native.Poller("select", new Uint32Array(3));
    try {
      let thrown: unknown;
      try {
        p.add(high, 1, 1, WRITABLE);
      } catch (e) {
        thrown = e;
      }
      // By name: the addon's RangeError comes from another realm than jest's sandbox.
      expect(thrown).toMatchObject({
        name: "RangeError",
        code: "ERR_OUT_OF_RANGE",
        message: `select cannot watch fd ${high}: fds must be below FD_SETSIZE (1024); use epoll, kqueue or poll`,
      });
      expect(() => p.remove(high)).toThrow(expect.objectContaining({ code: "ENOENT" }));
      expect(p.wait(0)).toBe(0);
    } finally {
      p.close();
    }
  });

  test.each(native.backends().filter((b) => b !== "select"))("%s watches them", (backend) => {
    const events = new Uint32Array(3);
    const p = new native.Poller(backend, events);
    try {
      p.add(high, 3, 4, WRITABLE);
      expect(eventsOf(events, p.wait(0))).toEqual([[3, 4, WRITABLE]]);
    } finally {
      p.close();
    }
  });
});
