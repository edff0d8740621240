/**
 * The kqueue emulation (native/kqueue_emul/, test support only) checked against kqueue(2)
 * as FreeBSD documents it, field by field, through its raw binding kqemu_raw.node. The
 * kqueue backend's tests (test/platform) are only as good as this emulation: each test
 * here names the rule of the man page it checks. Build: `npm run build:kqemu`.
 */
import * as fs from "node:fs";
import { EVENT_STRIDE, READABLE, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { KQEMU_RAW } from "../platform/backends";
import { drain, Fds, fill, send } from "../platform/sockets";

expectNoFdLeaks();

interface Raw {
  kqueue(): number;
  kevent(kq: number, changes: Float64Array, nchanges: number, events: Float64Array, nevents: number, timeoutMs: number): number;
  constants: Record<string, number>;
  errno: Record<string, number>;
}

/** One kevent as the raw binding carries it. */
interface KEvent {
  ident: number;
  filter: number;
  flags: number;
  fflags: number;
  data: number;
  udata: number;
}

function loadRaw(): Raw {
  if (!fs.existsSync(KQEMU_RAW)) throw new Error(`the kqueue emulation build is missing (${KQEMU_RAW}): run \`npm run build:kqemu\``);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(KQEMU_RAW) as Raw;
}

const raw = loadRaw();
const { EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH, EV_ERROR, EV_EOF } =
  raw.constants;

const fds = new Fds();
let kq = -1;

beforeEach(() => {
  kq = fds.track(raw.kqueue());
});
afterEach(() => fds.closeAll());

function change(ident: number, filter: number, flags: number, udata = 0): KEvent {
  return { ident, filter, flags, fflags: 0, data: 0, udata };
}

/** kevent(kq, changes, events[nevents], timeoutMs): the returned entries. */
function kevent(changes: KEvent[], nevents = 16, timeoutMs = 0): KEvent[] {
  const cl = new Float64Array(Math.max(1, changes.length) * 6);
  changes.forEach((c, i) => cl.set([c.ident, c.filter, c.flags, c.fflags, c.data, c.udata], i * 6));
  const el = new Float64Array(Math.max(1, nevents) * 6);
  const n = raw.kevent(kq, cl, changes.length, el, nevents, timeoutMs);
  const out: KEvent[] = [];
  for (let i = 0; i < n; i++) {
    const w = el.subarray(i * 6, i * 6 + 6);
    out.push({ ident: w[0], filter: w[1], flags: w[2], fflags: w[3], data: w[4], udata: w[5] });
  }
  return out;
}

/** Applies changes without collecting events (nevents 0); a failed change throws. */
function register(changes: KEvent[]): void {
  expect(kevent(changes, 0)).toEqual([]);
}

/** Events only (no changes), sorted by ident then filter. */
function poll(nevents = 16, timeoutMs = 0): KEvent[] {
  return kevent([], nevents, timeoutMs).sort((a, b) => a.ident - b.ident || b.filter - a.filter);
}

describe("registering: EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE", () => {
  test("EV_ADD on EVFILT_READ reports the readable bytes in data and hands udata back untouched", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_READ, EV_ADD, 2 ** 52 + 7)]);
    expect(poll()).toEqual([]);
    send(b, "hello");
    expect(poll()).toEqual([{ ident: a, filter: EVFILT_READ, flags: 0, fflags: 0, data: 5, udata: 2 ** 52 + 7 }]);
  });

  test("READ and WRITE on one fd are separate knotes with separate kevents", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1), change(a, EVFILT_WRITE, EV_ADD, 2)]);
    const got = poll();
    expect(got.map((e) => [e.ident, e.filter, e.udata])).toEqual([
      [a, EVFILT_READ, 1],
      [a, EVFILT_WRITE, 2],
    ]);
    expect(got[1].data).toBeGreaterThan(0); // WRITE: room in the send buffer
  });

  test("re-adding an existing knote modifies it (new udata), never duplicates it", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    register([change(a, EVFILT_READ, EV_ADD, 9)]);
    expect(poll().map((e) => e.udata)).toEqual([9]);
  });

  test("EV_DISABLE silences a knote that stays ready; EV_ENABLE reports it again", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    expect(poll().length).toBe(1);
    register([change(a, EVFILT_READ, EV_DISABLE)]);
    expect(poll()).toEqual([]);
    register([change(a, EVFILT_READ, EV_ENABLE)]);
    expect(poll().map((e) => e.udata)).toEqual([1]);
  });

  test("EV_ADD|EV_DISABLE creates the knote disabled", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD | EV_DISABLE, 1)]);
    expect(poll()).toEqual([]);
    register([change(a, EVFILT_READ, EV_ENABLE)]);
    expect(poll().length).toBe(1);
  });

  test("EV_DELETE removes the knote: no more events, and a second EV_DELETE fails with ENOENT", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    register([change(a, EVFILT_READ, EV_DELETE)]);
    expect(poll()).toEqual([]);
    expect(kevent([change(a, EVFILT_READ, EV_DELETE)])).toEqual([
      { ident: a, filter: EVFILT_READ, flags: EV_ERROR, fflags: 0, data: raw.errno.ENOENT, udata: 0 },
    ]);
  });

  test("EV_ENABLE or EV_DISABLE of a knote never added fails with ENOENT", () => {
    const [a] = fds.socketpair();
    const got = kevent([change(a, EVFILT_READ, EV_ENABLE), change(a, EVFILT_WRITE, EV_DISABLE)]);
    expect(got.map((e) => [e.filter, e.flags, e.data])).toEqual([
      [EVFILT_READ, EV_ERROR, raw.errno.ENOENT],
      [EVFILT_WRITE, EV_ERROR, raw.errno.ENOENT],
    ]);
  });

  test("EV_ADD of a closed fd fails with EBADF; an unknown filter with EINVAL", () => {
    const [a, b] = fds.socketpair();
    fds.close(b);
    const got = kevent([change(b, EVFILT_READ, EV_ADD), change(a, -99, EV_ADD)]);
    expect(got.map((e) => [e.ident, e.flags, e.data])).toEqual([
      [b, EV_ERROR, raw.errno.EBADF],
      [a, EV_ERROR, raw.errno.EINVAL],
    ]);
  });

  test("flags outside the emulated subset (EV_DISPATCH) are refused with EINVAL, not ignored", () => {
    const [a] = fds.socketpair();
    expect(kevent([change(a, EVFILT_READ, EV_ADD | EV_DISPATCH)]).map((e) => e.data)).toEqual([raw.errno.EINVAL]);
  });
});

describe("errors and receipts: EV_ERROR, EV_RECEIPT", () => {
  test("EV_RECEIPT answers every change with EV_ERROR and data 0, without draining pending events", () => {
    const [a, b] = fds.socketpair();
    const [c] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    const receipts = kevent([change(c, EVFILT_READ, EV_ADD | EV_RECEIPT, 2), change(c, EVFILT_WRITE, EV_ADD | EV_RECEIPT, 3)]);
    expect(receipts.map((e) => [e.ident, e.filter, e.flags, e.data, e.udata])).toEqual([
      [c, EVFILT_READ, EV_ERROR, 0, 2],
      [c, EVFILT_WRITE, EV_ERROR, 0, 3],
    ]);
    expect(poll().map((e) => [e.ident, e.filter])).toEqual([
      [a, EVFILT_READ],
      [c, EVFILT_WRITE],
    ]);
  });

  test("a failed change is returned as EV_ERROR, the changes after it still apply, and no events are collected", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    const got = kevent([change(b, EVFILT_READ, EV_DELETE), change(b, EVFILT_READ, EV_ADD, 5)]);
    expect(got).toEqual([{ ident: b, filter: EVFILT_READ, flags: EV_ERROR, fflags: 0, data: raw.errno.ENOENT, udata: 0 }]);
    send(a, "y");
    expect(poll().map((e) => [e.ident, e.udata])).toEqual([
      [a, 1],
      [b, 5],
    ]);
  });

  test("with no room in the eventlist a failed change makes kevent fail, and later changes are not applied", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    expect(() => kevent([change(a, EVFILT_WRITE, EV_DELETE), change(a, EVFILT_READ, EV_ADD, 1)], 0)).toThrow(
      expect.objectContaining({ code: "ENOENT", syscall: "kevent" }),
    );
    expect(poll()).toEqual([]);
  });
});

describe("triggering: level, EV_CLEAR, EV_ONESHOT", () => {
  test("without EV_CLEAR a knote is reported on every call while its condition holds", () => {
    const [a, b] = fds.socketpair();
    send(b, "abc");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    expect(poll().map((e) => e.data)).toEqual([3]);
    expect(poll().map((e) => e.data)).toEqual([3]);
    drain(a);
    expect(poll()).toEqual([]);
  });

  test("EV_CLEAR resets the state once retrieved: reported again only when more data arrives", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_READ, EV_ADD | EV_CLEAR, 1)]);
    send(b, "a");
    expect(poll().map((e) => [e.flags, e.data])).toEqual([[EV_CLEAR, 1]]);
    expect(poll()).toEqual([]);
    send(b, "bc");
    expect(poll().map((e) => [e.flags, e.data])).toEqual([[EV_CLEAR, 3]]);
    expect(poll()).toEqual([]);
  });

  test("EV_CLEAR on EVFILT_WRITE: reported when the send buffer drains after being full", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_WRITE, EV_ADD | EV_CLEAR, 1)]);
    expect(poll().length).toBe(1);
    expect(poll()).toEqual([]);
    expect(fill(a)).toBeGreaterThan(0);
    expect(poll()).toEqual([]);
    drain(b);
    expect(poll(16, 1000).map((e) => [e.filter, e.udata])).toEqual([[EVFILT_WRITE, 1]]);
  });

  test("EV_ONESHOT deletes the knote once its event is retrieved (EV_DELETE then finds nothing)", () => {
    const [a, b] = fds.socketpair();
    send(b, "x");
    register([change(a, EVFILT_READ, EV_ADD | EV_ONESHOT, 1)]);
    expect(poll().map((e) => [e.flags, e.udata])).toEqual([[EV_ONESHOT, 1]]);
    expect(poll()).toEqual([]);
    expect(kevent([change(a, EVFILT_READ, EV_DELETE)]).map((e) => e.data)).toEqual([raw.errno.ENOENT]);
  });

  test("EV_CLEAR is fixed when the knote is created: a re-add without it keeps the knote edge-triggered", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_READ, EV_ADD | EV_CLEAR, 1)]);
    send(b, "a");
    expect(poll().length).toBe(1);
    register([change(a, EVFILT_READ, EV_ADD, 2)]);
    const again = poll(); // the re-add re-evaluates the filter once...
    expect(again.map((e) => [e.flags, e.udata])).toEqual([[EV_CLEAR, 2]]);
    expect(poll()).toEqual([]); // ...but it is still EV_CLEAR
  });
});

describe("end of file: EV_EOF and fflags", () => {
  test("EVFILT_READ gets EV_EOF when the peer closes, with the unread bytes in data and no error", () => {
    const [a, b] = fds.socketpair();
    send(b, "last");
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    fds.close(b);
    expect(poll()).toEqual([{ ident: a, filter: EVFILT_READ, flags: EV_EOF, fflags: 0, data: 4, udata: 1 }]);
  });

  test("EVFILT_READ gets EV_EOF on the peer's shutdown of writing; EVFILT_WRITE does not", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_READ, EV_ADD, 1), change(a, EVFILT_WRITE, EV_ADD, 2)]);
    native.shutdown(b, 1);
    expect(poll().map((e) => [e.filter, e.flags])).toEqual([
      [EVFILT_READ, EV_EOF],
      [EVFILT_WRITE, 0],
    ]);
  });

  test("a pipe's write end gets EV_EOF without an error when the reader closes", () => {
    const [r, w] = native.pipe();
    fds.track(r);
    fds.track(w);
    register([change(w, EVFILT_WRITE, EV_ADD, 1)]);
    fds.close(r);
    expect(poll().map((e) => [e.filter, e.flags, e.fflags])).toEqual([[EVFILT_WRITE, EV_EOF, 0]]);
  });

  test("a refused connect gives EV_EOF with a non-zero fflags, leaving SO_ERROR to its owner", () => {
    const port = fds.closedPort();
    const s = fds.track(native.socket("IPv4", "tcp"));
    native.connect(s, "127.0.0.1", port);
    register([change(s, EVFILT_WRITE, EV_ADD, 1)]);
    const got = poll(16, 1000);
    expect(got.map((e) => e.flags)).toEqual([EV_EOF]);
    expect(got[0].fflags).not.toBe(0); // a stand-in on Linux: see docs/platforms.md
    expect(native.socketError(s)).toBe(native.errno.ECONNREFUSED);
  });
});

describe("closing and the queue itself", () => {
  test("close(2) of an fd drops its knotes: EV_DELETE afterwards fails with EBADF, or ENOENT once the number is reused", () => {
    const [a, b] = fds.socketpair();
    register([change(a, EVFILT_READ, EV_ADD, 1)]);
    fds.close(a);
    expect(kevent([change(a, EVFILT_READ, EV_DELETE)]).map((e) => e.data)).toEqual([raw.errno.EBADF]);
    const [c, d] = fds.socketpair();
    const reused = c === a ? c : d === a ? d : -1;
    expect(reused).toBe(a);
    send(reused === c ? d : c, "new");
    expect(poll()).toEqual([]); // the new file is not watched under the old knote
    expect(kevent([change(a, EVFILT_READ, EV_DELETE)]).map((e) => e.data)).toEqual([raw.errno.ENOENT]);
    fds.close(b);
  });

  test("the kqueue fd is pollable: readable while an event is pending", () => {
    const watcherEvents = new Uint32Array(EVENT_STRIDE);
    const watcher = new native.Poller("poll", watcherEvents);
    try {
      watcher.add(kq, 0, 0, READABLE);
      const [a, b] = fds.socketpair();
      register([change(a, EVFILT_READ, EV_ADD, 1)]);
      expect(watcher.wait(0)).toBe(0);
      send(b, "x");
      expect(watcher.wait(1000)).toBe(1);
      drain(a);
      expect(watcher.wait(0)).toBe(0);
    } finally {
      watcher.close();
    }
  });

  test("more ready knotes than nevents: the rest come with the next call, edge-triggered ones included", () => {
    const pairs = [fds.socketpair(), fds.socketpair(), fds.socketpair()];
    pairs.forEach(([a], i) => register([change(a, EVFILT_READ, EV_ADD | EV_CLEAR, i + 1), change(a, EVFILT_WRITE, EV_ADD | EV_CLEAR, 10 + i)]));
    for (const [, b] of pairs) send(b, "x");
    const seen = new Set<number>();
    for (let i = 0; i < 12 && seen.size < 6; i++) for (const e of kevent([], 1)) seen.add(e.udata);
    expect([...seen].sort((x, y) => x - y)).toEqual([1, 2, 3, 10, 11, 12]);
  });

  test("a timeout of 0 returns 0 at once when nothing is ready; kevent on a closed queue fails with EBADF", () => {
    expect(kevent([], 4, 0)).toEqual([]);
    const closed = kq;
    fds.close(kq);
    expect(() => raw.kevent(closed, new Float64Array(6), 0, new Float64Array(6), 1, 0)).toThrow(
      expect.objectContaining({ code: "EBADF" }),
    );
  });
});

describe("EVFILT_PROC: NOTE_EXIT through a pidfd", () => {
  const { EVFILT_PROC, NOTE_EXIT } = raw.constants;

  test("a child's exit is one EV_EOF|EV_ONESHOT event with its pid, NOTE_EXIT, its wait status and udata; then the knote is gone", () => {
    // Spawned and reaped by the addon (not by libuv), so the status is there for WNOWAIT.
    const pid = native.spawn("/bin/sh", ["sh", "-c", "exit 7"], [], null, -1, -1, new Int32Array(0));
    // No room for events on the add: the child may have exited already, and its event must
    // then wait for the next call instead of coming back with the change.
    expect(kevent([{ ident: pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, data: 0, udata: 42 }], 0)).toEqual([]);
    const got = kevent([], 4, 5000);
    expect(got).toEqual([{ ident: pid, filter: EVFILT_PROC, flags: EV_EOF | EV_ONESHOT, fflags: NOTE_EXIT, data: 7 << 8, udata: 42 }]);
    expect(kevent([], 4, 0)).toEqual([]);
    expect(kevent([{ ident: pid, filter: EVFILT_PROC, flags: EV_DELETE, fflags: 0, data: 0, udata: 0 }]).map((e) => e.data)).toEqual([raw.errno.ENOENT]);
    const status = new Int32Array(2);
    expect(native.reap(pid, status)).toBe(true); // WNOWAIT left it to its owner
    expect(Array.from(status)).toEqual([7, 0]);
  });

  test("a pid that names no process is refused with ESRCH; fflags other than NOTE_EXIT with EINVAL", () => {
    const nobody = 0x7ffffff0;
    expect(kevent([{ ident: nobody, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, data: 0, udata: 0 }]).map((e) => e.data)).toEqual([raw.errno.ESRCH]);
    expect(kevent([{ ident: process.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: 0, data: 0, udata: 0 }]).map((e) => e.data)).toEqual([raw.errno.EINVAL]);
  });
});
