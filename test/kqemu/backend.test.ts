/**
 * The kqueue backend's own machinery, through the kqueue-emulation build of the addon:
 * the EV_RECEIPT flush of a long changelist, failed changes reported to their tokens, the
 * rescan after a batch whose only answers were errors, and integrated mode (fd()) applying
 * changes at once. The behaviours shared with the other backends are in test/platform.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ERROR, EVENT_STRIDE, READABLE, WRITABLE, native, type Poller } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { KQEMU_MISSING, loadKqemu } from "../platform/backends";
import { drain } from "../support/pollers";
import { eventsOf, Fds, send } from "../platform/sockets";

expectNoFdLeaks();

const fds = new Fds();
let events: Uint32Array;
let poller: Poller;

beforeEach(() => {
  const kq = loadKqemu();
  if (!kq) throw new Error(KQEMU_MISSING);
  events = new Uint32Array(64 * EVENT_STRIDE);
  poller = new kq.Poller("kqueue", events);
});
afterEach(() => {
  poller?.close();
  fds.closeAll();
});

test("a registration refused in an EV_RECEIPT flush of a long changelist reaches its token as ERROR", () => {
  // 1,100 adds overflow the 1,024-change batch: the backend flushes with EV_RECEIPT. The
  // first is a regular file, which the emulation refuses (EPERM: epoll cannot watch files;
  // a real kqueue would accept it): here it stands for any change the kernel refuses.
  const file = path.join(os.tmpdir(), `fdr-kqemu-${process.pid}`);
  fs.writeFileSync(file, "x");
  const refused = fds.track(fs.openSync(file, "r"));
  fs.unlinkSync(file);
  poller.add(refused, 77, 3, READABLE);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < 550; i++) pairs.push(fds.socketpair());
  pairs.forEach(([a, b], i) => {
    poller.add(a, 1000 + 2 * i, 1, READABLE);
    poller.add(b, 1001 + 2 * i, 1, READABLE);
  });
  send(pairs[10][1], "x");
  expect(eventsOf(events, poller.wait(0))).toEqual([
    [77, 3, ERROR],
    [1020, 1, READABLE],
  ]);
  expect(eventsOf(events, poller.wait(0))).toEqual([[1020, 1, READABLE]]);
});

test("a batch answered only by errors is rescanned: the ready fds are not lost", () => {
  // fd `a` is removed (lazily: its knotes stay until close) and closed; its number goes to
  // a new socket added for READABLE only, so the batch disables a WRITE knote that died with
  // the old file: ENOENT, an errors-only answer from a FreeBSD-like kevent.
  const [a, aPeer] = fds.socketpair();
  const [b, bPeer] = fds.socketpair();
  poller.add(a, 1, 1, READABLE | WRITABLE);
  poller.add(b, 2, 1, READABLE);
  expect(eventsOf(events, poller.wait(0))).toEqual([[1, 1, WRITABLE]]);
  poller.remove(a);
  fds.close(a);
  fds.close(aPeer);
  const [c, cPeer] = fds.socketpair();
  const reused = c === a ? c : cPeer === a ? cPeer : -1;
  expect(reused).toBe(a);
  poller.add(reused, 3, 1, READABLE);
  send(bPeer, "b");
  expect(eventsOf(events, poller.wait(0))).toEqual([[2, 1, READABLE]]);
});

test("an event carried over from a full wait is merged with the kernel's event for the same fd: one event per token", () => {
  // Three adds ride on the first wait, so its eventlist has room for 2 events + 3 changes:
  // the kernel hands back all three ready fds and one is carried over. The two reported are
  // drained; the carried one stays ready (level-triggered), so the next wait gets it from the
  // carry and from the kernel again, and must still report it once.
  const small = new Uint32Array(2 * EVENT_STRIDE);
  const kq = loadKqemu();
  if (!kq) throw new Error(KQEMU_MISSING);
  const p = new kq.Poller("kqueue", small);
  try {
    const pairs = [fds.socketpair(), fds.socketpair(), fds.socketpair()];
    pairs.forEach(([a], i) => p.add(a, 10 + i, 1, READABLE));
    for (const [, b] of pairs) send(b, "x");
    const first = eventsOf(small, p.wait(0));
    expect(first).toHaveLength(2);
    for (const [slot] of first) drain(pairs[slot - 10][0]);
    const carried = [10, 11, 12].filter((s) => !first.some(([slot]) => slot === s));
    expect(carried).toHaveLength(1);
    expect(eventsOf(small, p.wait(0))).toEqual([[carried[0], 1, READABLE]]);
    expect(eventsOf(small, p.wait(0))).toEqual([[carried[0], 1, READABLE]]);
  } finally {
    p.close();
  }
});

test("fd() is only a getter: changes stay batched until the next wait", () => {
  const watcherEvents = new Uint32Array(EVENT_STRIDE);
  const watcher = new native.Poller("poll", watcherEvents);
  try {
    watcher.add(poller.fd(), 0, 0, READABLE);
    const [a] = fds.socketpair();
    poller.add(a, 5, 1, WRITABLE); // writable at once, but still in the changelist
    expect(watcher.wait(0)).toBe(0);
    expect(eventsOf(events, poller.wait(0))).toEqual([[5, 1, WRITABLE]]);
  } finally {
    watcher.close();
  }
});

test("after enterIntegratedMode() every change reaches the kernel at once", () => {
  const watcherEvents = new Uint32Array(EVENT_STRIDE);
  const watcher = new native.Poller("poll", watcherEvents);
  try {
    watcher.add(poller.enterIntegratedMode(), 0, 0, READABLE);
    const [a, b] = fds.socketpair();
    poller.add(a, 5, 1, WRITABLE); // writable at once: the kqueue fd turns readable without a wait
    expect(watcher.wait(1000)).toBe(1);
    expect(eventsOf(events, poller.wait(0))).toEqual([[5, 1, WRITABLE]]);
    poller.modify(a, 5, 2, READABLE); // applied now: nothing is pending any more
    expect(watcher.wait(0)).toBe(0);
    send(b, "x");
    expect(watcher.wait(1000)).toBe(1);
    expect(eventsOf(events, poller.wait(0))).toEqual([[5, 2, READABLE]]);
  } finally {
    watcher.close();
  }
});
