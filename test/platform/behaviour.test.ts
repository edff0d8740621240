/**
 * One behaviour suite, run on every backend this build has: epoll, io_uring, poll and select
 * from the addon, kqueue from the kqueue-emulation test build (`npm run build:kqemu`). Where the
 * backends really differ, `expected` below holds each one's documented answer, and
 * docs/platforms.md's differences table quotes the test that backs each row.
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
import { describeOnKernel, kernelRefusal } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { backendCases, pollerClass } from "./backends";
import { drain, eventsOf, Fds, fill, send, waitFor, type Ev } from "./sockets";

expectNoFdLeaks();

const R = READABLE;
const W = WRITABLE;
const E = ERROR;
const H = HANGUP;

/** What each backend reports or does where the kernels' vocabularies differ. */
const expected = {
  /** Bits for a TCP socket registered READABLE whose peer closed. */
  peerClosed: { epoll: R | H, io_uring: R | H, kqueue: R | H, poll: R | H, select: R },
  /** Bits for a TCP socket registered READABLE|WRITABLE whose peer shut down writing. */
  peerHalfClosed: { epoll: R | W | H, io_uring: R | W | H, kqueue: R | W | H, poll: R | W | H, select: R | W },
  /** Bits for a pipe's read end whose writer closed (select has no hang-up: EOF is readable). */
  pipeWriterClosed: { epoll: H, io_uring: H, kqueue: R | H, poll: H, select: R },
  /**
   * Bits for a pipe's write end whose reader closed (kqueue: EV_EOF, no error in fflags).
   * io_uring reports the bits its request completed with, when add() armed it on a writable
   * pipe: the error comes with the next wait (see "reports the bits of its completion").
   */
  pipeReaderClosed: { epoll: W | E, io_uring: W, kqueue: W | H, poll: W | E, select: W },
  /** Bits for a TCP socket registered WRITABLE whose connect was refused. */
  connectRefused: { epoll: W | E | H, io_uring: W | E | H, kqueue: W | E | H, poll: W | E | H, select: W },
  /**
   * Does the poller keep watching an fd that was closed without remove()? (poll/select keep a
   * stale entry; io_uring's armed request holds the file itself open, so its peer's close
   * is reported under the old token until remove())
   */
  closedFdStillWatched: { epoll: false, io_uring: true, kqueue: false, poll: true, select: true },
  /** Bits reported for that stale entry while the number is free. */
  closedFdBits: { epoll: 0, io_uring: R | H, kqueue: 0, poll: E, select: E },
  /**
   * Events of the first two waits after add() then close() with no wait between (kqueue's
   * add was still in the changelist: the kernel's EBADF for it is dropped, as close(2)
   * would have dropped the knote).
   */
  closedBeforeFirstWait: {
    epoll: [[], []],
    // io_uring: the armed request holds the file open, so the peer's close is reported;
    // the level re-arm, by the closed number, then fails with EBADF: ERROR, once.
    io_uring: [[[4, 1, R | H]], [[4, 1, E]]],
    kqueue: [[], []],
    poll: [[[4, 1, E]], [[4, 1, E]]],
    select: [[[4, 1, E]], [[4, 1, E]]],
  } as Record<Backend, Ev[][]>,
  /** remove() of an fd closed without remove(): the error code, or null when it succeeds. */
  removeAfterClose: { epoll: "EBADF", io_uring: null, kqueue: null, poll: null, select: null },
  /** add() of a reused number while the closed fd's entry remains: error code or null. */
  addReusedNumber: { epoll: null, io_uring: "EEXIST", kqueue: null, poll: "EEXIST", select: "EEXIST" },
  /**
   * What the stale entry of a closed fd reports once its number is reused by a new socket
   * with data (where add() of the number is refused): poll/select watch the number, so the
   * new file's READABLE under the old token; io_uring's request holds the old file, whose
   * peer closed.
   */
  staleEntryBits: { epoll: 0, io_uring: R | H, kqueue: 0, poll: R, select: R },
  /** add() of an fd already registered: error code, or null (kqueue: EV_ADD re-registers). */
  addTwice: { epoll: "EEXIST", io_uring: "EEXIST", kqueue: null, poll: "EEXIST", select: "EEXIST" },
  /** The syscall named by remove()'s ENOENT for an fd never added. */
  removeUnknownSyscall: { epoll: "epoll_ctl", io_uring: "io_uring_poll_remove", kqueue: "kevent", poll: "poll_remove", select: "select_remove" },
  /** Options (EDGE, ONESHOT) supported. */
  options: { epoll: EDGE | ONESHOT, io_uring: EDGE | ONESHOT | ACCEPT, kqueue: EDGE | ONESHOT, poll: 0, select: 0 },
  /** Is the poller's own fd pollable (integrated mode)? */
  ownFd: { epoll: true, io_uring: true, kqueue: true, poll: false, select: false },
} satisfies Record<string, Record<Backend, unknown>>;

describe.each(backendCases().filter((c) => kernelRefusal(c.backend) === null))("the $backend backend", (c) => {
  const backend = c.backend;
  const fds = new Fds();
  let events: Uint32Array;
  let poller: Poller;

  function now(): Ev[] {
    return eventsOf(events, poller.wait(0));
  }

  beforeEach(() => {
    const PollerClass = pollerClass(c); // throws "run `npm run build:kqemu`" when missing
    events = new Uint32Array(64 * EVENT_STRIDE);
    poller = new PollerClass(backend, events);
  });
  afterEach(() => {
    poller?.close();
    fds.closeAll();
  });

  test("is the backend it says, with its documented options", () => {
    expect(poller.backend).toBe(backend);
    expect(poller.supportedOptions).toBe(expected.options[backend]);
  });

  describe("readiness", () => {
    test("reports READABLE when data arrives, and nothing before", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 3, 1, R);
      expect(now()).toEqual([]);
      send(client, "hello");
      expect(waitFor(poller, events)).toEqual([[3, 1, R]]);
      expect(drain(server)).toBe("hello");
      expect(now()).toEqual([]);
    });

    test("reports READABLE with HANGUP when the peer closes (select: READABLE only)", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 3, 1, R);
      fds.close(client);
      expect(waitFor(poller, events)).toEqual([[3, 1, expected.peerClosed[backend]]]);
      expect(native.read(server, Buffer.alloc(8), 0, 8)).toBe(0);
    });

    test("reports READABLE with HANGUP when the peer shuts down writing, and stays WRITABLE", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 3, 1, R | W);
      expect(now()).toEqual([[3, 1, W]]);
      native.shutdown(client, 1);
      expect(waitFor(poller, events)).toEqual([[3, 1, expected.peerHalfClosed[backend]]]);
      send(server, "still open");
      expect(drain(client)).toBe("still open");
    });

    test("reports a pipe whose writer closed", () => {
      const [r, w] = native.pipe();
      fds.track(r);
      fds.track(w);
      poller.add(r, 2, 1, R);
      fds.close(w);
      expect(now()).toEqual([[2, 1, expected.pipeWriterClosed[backend]]]);
    });

    test("reports a pipe's write end whose reader closed", () => {
      const [r, w] = native.pipe();
      fds.track(r);
      fds.track(w);
      poller.add(w, 2, 1, W);
      fds.close(r);
      expect(now()).toEqual([[2, 1, expected.pipeReaderClosed[backend]]]);
    });

    test("reports WRITABLE again once a full send buffer drains", () => {
      const [client, server] = fds.tcpPair();
      poller.add(client, 5, 2, W);
      expect(now()).toEqual([[5, 2, W]]);
      const sent = fill(client);
      expect(sent).toBeGreaterThan(0);
      expect(now()).toEqual([]);
      let received = 0;
      let got: Ev[] = [];
      // Read on the peer until the sender's buffer has room again (bounded).
      for (let i = 0; i < 200 && got.length === 0; i++) {
        received += drain(server).length;
        got = eventsOf(events, poller.wait(20));
      }
      expect(got).toEqual([[5, 2, W]]);
      expect(received).toBeGreaterThan(0);
    });
  });

  describe("connect", () => {
    test("reports WRITABLE when a connect completes, with SO_ERROR 0", () => {
      const l = fds.listener();
      const s = fds.track(native.socket("IPv4", "tcp"));
      native.connect(s, "127.0.0.1", l.port);
      poller.add(s, 9, 4, W);
      expect(waitFor(poller, events)).toEqual([[9, 4, W]]);
      expect(native.socketError(s)).toBe(0);
    });

    test("reports a refused connect (select: WRITABLE only), with SO_ERROR ECONNREFUSED", () => {
      const port = fds.closedPort();
      const s = fds.track(native.socket("IPv4", "tcp"));
      expect(native.connect(s, "127.0.0.1", port)).toBe(false);
      poller.add(s, 9, 4, W);
      expect(waitFor(poller, events)).toEqual([[9, 4, expected.connectRefused[backend]]]);
      expect(native.socketError(s)).toBe(native.errno.ECONNREFUSED);
      expect(native.socketError(s)).toBe(0);
    });
  });

  describe("re-arming: level, edge, oneshot", () => {
    test("level-triggered (the default) reports unread data on every wait", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 1, 1, R);
      send(client, "x");
      expect(waitFor(poller, events)).toEqual([[1, 1, R]]);
      expect(now()).toEqual([[1, 1, R]]);
      expect(now()).toEqual([[1, 1, R]]);
    });

    if (expected.options[backend] === 0) {
      test("refuses EDGE and ONESHOT instead of degrading to level", () => {
        const [, server] = fds.tcpPair();
        for (const opt of [EDGE, ONESHOT]) {
          expect(() => poller.add(server, 1, 1, R | opt)).toThrow(
            expect.objectContaining({ code: "ERR_UNSUPPORTED_OPTION", message: expect.stringContaining(backend) }),
          );
        }
      });
    } else {
      test("EDGE reports unread data once, then again only when more arrives", () => {
        const [client, server] = fds.tcpPair();
        poller.add(server, 1, 1, R | EDGE);
        send(client, "a");
        expect(waitFor(poller, events)).toEqual([[1, 1, R]]);
        expect(now()).toEqual([]);
        send(client, "b");
        expect(waitFor(poller, events)).toEqual([[1, 1, R]]);
        expect(now()).toEqual([]);
        expect(drain(server)).toBe("ab");
      });

      test("ONESHOT disarms the whole fd after one event until modify re-arms it", () => {
        const [client, server] = fds.tcpPair();
        poller.add(server, 1, 1, R | W | ONESHOT);
        expect(now()).toEqual([[1, 1, W]]); // writable at once: the fd is now disarmed
        send(client, "a");
        expect(poller.wait(50)).toBe(0); // readable, but disarmed (kqueue: READ knote disabled)
        poller.modify(server, 1, 2, R | ONESHOT);
        expect(now()).toEqual([[1, 2, R]]);
        expect(now()).toEqual([]);
        poller.modify(server, 1, 3, R | ONESHOT);
        expect(now()).toEqual([[1, 3, R]]);
      });

      test("modify from EDGE back to level reports unread data on every wait again", () => {
        const [client, server] = fds.tcpPair();
        poller.add(server, 1, 1, R | EDGE);
        send(client, "a");
        expect(waitFor(poller, events)).toEqual([[1, 1, R]]);
        expect(now()).toEqual([]);
        poller.modify(server, 1, 1, R);
        expect(now()).toEqual([[1, 1, R]]);
        expect(now()).toEqual([[1, 1, R]]);
      });
    }
  });

  describe("fd reuse and closing", () => {
    test("an fd closed and its number reused inside one batch: the stale event keeps the old generation", () => {
      // Slots 1 and 2 are ready in one batch. Handling slot 1 removes and closes slot 2's
      // fd; a new connection gets the same number, registered as slot 2 generation 2.
      // The batch's event for the old fd still says generation 1, so the reactor tells it
      // apart; every later event for the number carries generation 2.
      const [c1, s1] = fds.tcpPair();
      const [c2, s2] = fds.tcpPair();
      poller.add(s1, 1, 1, R);
      poller.add(s2, 2, 1, R);
      send(c1, "one");
      send(c2, "two");
      let batch: Ev[] = [];
      for (let i = 0; i < 50 && batch.length < 2; i++) batch = eventsOf(events, poller.wait(100));
      expect(batch).toEqual([
        [1, 1, R],
        [2, 1, R],
      ]);
      poller.remove(s2);
      fds.close(s2);
      fds.close(c2);
      const [c3, s3] = fds.tcpPair();
      const reused = s3 === s2 ? s3 : c3 === s2 ? c3 : -1;
      expect(reused).toBe(s2);
      const peer = reused === s3 ? c3 : s3;
      poller.add(reused, 2, 2, R);
      send(peer, "three");
      const current = new Map([
        [1, 1],
        [2, 2],
      ]);
      expect(batch.filter(([slot, gen]) => current.get(slot) !== gen)).toEqual([[2, 1, R]]);
      let later: Ev[] = [];
      for (let i = 0; i < 50 && later.length < 2; i++) later = eventsOf(events, poller.wait(100));
      expect(later).toEqual([
        [1, 1, R],
        [2, 2, R],
      ]);
      expect(drain(reused)).toBe("three");
    });

    test("an fd closed without remove() before any wait", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 4, 1, R);
      fds.close(server);
      fds.close(client);
      expect([now(), now()]).toEqual(expected.closedBeforeFirstWait[backend]);
    });

    test("an fd closed without remove(): what stays watched, and what remove() then says", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 4, 1, R);
      expect(now()).toEqual([]); // the registration has reached the kernel (kqueue: the batch went out)
      fds.close(server);
      fds.close(client);
      expect(now()).toEqual(expected.closedFdStillWatched[backend] ? [[4, 1, expected.closedFdBits[backend]]] : []);
      const removeCode = expected.removeAfterClose[backend];
      if (removeCode) expect(() => poller.remove(server)).toThrow(expect.objectContaining({ code: removeCode }));
      else poller.remove(server);
      expect(now()).toEqual([]);
    });

    test("an fd closed without remove() whose number is reused: adding the new fd", () => {
      const [c1, s1] = fds.tcpPair();
      poller.add(s1, 4, 1, R);
      fds.close(s1);
      fds.close(c1);
      const [c2, s2] = fds.tcpPair();
      const reused = s2 === s1 ? s2 : c2 === s1 ? c2 : -1;
      expect(reused).toBe(s1);
      const peer = reused === s2 ? c2 : s2;
      send(peer, "new owner");
      const code = expected.addReusedNumber[backend];
      if (code) {
        // The stale entry reports under the OLD token: only the generation check of the
        // reactor keeps the event from the old owner.
        expect(() => poller.add(reused, 4, 2, R)).toThrow(expect.objectContaining({ code }));
        expect(waitFor(poller, events)).toEqual([[4, 1, expected.staleEntryBits[backend]]]);
      } else {
        poller.add(reused, 4, 2, R);
        expect(waitFor(poller, events)).toEqual([[4, 2, R]]);
      }
      expect(drain(reused)).toBe("new owner");
    });

    test("adding an fd already registered", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 1, 1, R);
      send(client, "x");
      const code = expected.addTwice[backend];
      if (code) {
        expect(() => poller.add(server, 1, 2, R)).toThrow(expect.objectContaining({ code }));
        expect(waitFor(poller, events)).toEqual([[1, 1, R]]);
      } else {
        poller.add(server, 1, 2, R); // kqueue: EV_ADD is add-or-modify; the new token wins
        expect(waitFor(poller, events)).toEqual([[1, 2, R]]);
      }
    });

    test("removing an fd never added throws ENOENT naming the call", () => {
      const [, server] = fds.tcpPair();
      expect(() => poller.remove(server)).toThrow(
        expect.objectContaining({
          code: "ENOENT",
          errno: native.errno.ENOENT,
          syscall: expected.removeUnknownSyscall[backend],
        }),
      );
      expect(() => poller.modify(server, 1, 1, R)).toThrow(expect.objectContaining({ code: "ENOENT" }));
    });

    test("remove() stops the events of an fd that stays open and ready", () => {
      const [client, server] = fds.tcpPair();
      poller.add(server, 1, 1, R | W);
      send(client, "x");
      let got = waitFor(poller, events);
      // io_uring: add()'s request completed at once with WRITABLE; READABLE joins at the re-arm.
      for (let i = 0; i < 5 && backend === "io_uring" && (got[0]?.[2] & R) === 0; i++) got = waitFor(poller, events);
      expect(got).toEqual([[1, 1, R | W]]);
      poller.remove(server);
      expect(poller.wait(20)).toBe(0);
      expect(poller.wait(0)).toBe(0);
      poller.add(server, 1, 2, R);
      expect(now()).toEqual([[1, 2, R]]);
    });
  });

  describe("scale and limits", () => {
    if (backend === "select") {
      test("refuses fds at or above FD_SETSIZE with a RangeError naming the limit", () => {
        const made: number[] = [];
        try {
          let high = -1;
          for (let i = 0; i < 2000 && high < native.FD_SETSIZE; i++) {
            const [a, b] = fds.socketpair();
            made.push(a, b);
            high = Math.max(a, b);
          }
          expect(high).toBeGreaterThanOrEqual(native.FD_SETSIZE);
          const err = (() => {
            try {
              poller.add(high, 1, 1, R);
            } catch (e) {
              return e as Error & { code?: string };
            }
            return null;
          })();
          expect(err?.name).toBe("RangeError"); // created in the addon's realm: compare by name
          expect(err?.code).toBe("ERR_OUT_OF_RANGE");
          expect(err?.message).toContain(`FD_SETSIZE (${native.FD_SETSIZE})`);
          const low = made.find((fd) => fd < native.FD_SETSIZE) as number;
          poller.add(low, 2, 1, R);
          poller.remove(low);
        } finally {
          for (const fd of made) fds.close(fd);
        }
      });
    } else {
      test("10,000 registered fds: only the three that get data are reported", () => {
        const pairs: Array<[number, number]> = [];
        try {
          for (let i = 0; i < 5000; i++) pairs.push(fds.socketpair());
          for (let i = 0; i < 5000; i++) {
            poller.add(pairs[i][0], i, 7, R);
            poller.add(pairs[i][1], 5000 + i, 7, R);
          }
          expect(Math.max(...pairs.map(([, b]) => b))).toBeGreaterThan(10000);
          expect(now()).toEqual([]);
          send(pairs[0][1], "a");
          send(pairs[2500][1], "b");
          send(pairs[4999][0], "c");
          expect(waitFor(poller, events)).toEqual([
            [0, 7, R],
            [2500, 7, R],
            [9999, 7, R],
          ]);
        } finally {
          for (const [a, b] of pairs) {
            fds.close(a);
            fds.close(b);
          }
        }
      });
    }
  });

  describe("integrated mode", () => {
    if (expected.ownFd[backend]) {
      test("the poller's own fd becomes readable when a registered fd is ready", () => {
        const watcherEvents = new Uint32Array(EVENT_STRIDE);
        const watcher = new native.Poller("poll", watcherEvents);
        try {
          const own = poller.enterIntegratedMode();
          expect(own).toBe(poller.fd());
          expect(own).toBeGreaterThanOrEqual(0);
          watcher.add(own, 0, 0, R);
          const [client, server] = fds.tcpPair();
          poller.add(server, 6, 1, R); // in integrated mode kqueue applies it at once
          expect(watcher.wait(0)).toBe(0);
          send(client, "x");
          expect(waitFor(watcher, watcherEvents)).toEqual([[0, 0, R]]);
          expect(now()).toEqual([[6, 1, R]]);
          expect(drain(server)).toBe("x");
          expect(watcher.wait(0)).toBe(0);
        } finally {
          watcher.close();
        }
      });
    } else {
      test("has no own fd to watch (fd() is -1)", () => {
        expect(poller.fd()).toBe(-1);
      });
    }
  });
});

// A backend the kernel refuses (io_uring under a sysctl or seccomp) is listed as skipped, with why.
for (const c of backendCases().filter((b) => kernelRefusal(b.backend) !== null)) {
  describeOnKernel(c.backend)(`the ${c.backend} backend`, () => {
    test("every behaviour", () => undefined);
  });
}
