/**
 * The io_uring backend's completion-based receive: a provided buffer ring, consumed
 * incrementally (IOU_PBUF_RING_INC, Linux 6.12+), carved from slabs the caller lends, and
 * one multishot IORING_OP_RECV per socket registered with READABLE | RECV. Each wait
 * reports (token, slab, offset, result) records: bytes at the buffer's fill offset, never
 * written over; EOF as 0 after every byte; -errno. Pausing (modify without READABLE, or
 * remove) cancels the receive and holds what completed meanwhile for the resume, in
 * order; a receive that ran out of buffers (ENOBUFS) starts again once a slab is added;
 * a non-socket falls back to READABLE. On a kernel without incremental buffer rings,
 * enableRecv says why and the suite checks that fallback instead. docs/platforms.md cites these.
 */
import * as os from "node:os";
import { EVENT_STRIDE, READABLE, RECV, RECV_HEADER, RECV_STRIDE, WRITABLE, native, type Poller } from "../../lib/native";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { Fds, eventsOf, send } from "./sockets";

expectNoFdLeaks();

const ECONNRESET = -104;

/** One record as reported: the slot, and the bytes (latin1) or the result when none. */
interface Got {
  slot: number;
  text: string;
  result: number;
  view: Buffer | null;
}

describeOnKernel("io_uring")("the io_uring backend's completion-based receive", () => {
  const fds = new Fds();
  let events: Uint32Array;
  let records: Int32Array;
  let poller: Poller;
  let slabs: Buffer[];
  let path: string | null;
  let slabSize: number;
  let perSlab: number;

  /** A poller with a ring of `entries` buffers of `region` bytes, `slabCount` slabs of `slabSize` lent. */
  function setUp(entries: number, region: number, slabSize_: number, slabCount: number): void {
    poller.close();
    poller = new native.Poller("io_uring", events);
    path = poller.enableRecv(records, entries, region);
    slabSize = slabSize_;
    perSlab = slabSize_ / region;
    slabs = [];
    for (let i = 0; i < slabCount && path === null; i++) lend(slabSize_);
  }

  function lend(size: number): number {
    const slab = Buffer.alloc(size, 0x2e);
    const id = poller.addRecvSlab(slab);
    if (id >= 0) slabs[id] = slab;
    return id;
  }

  /** Waits (bounded) until `until` holds of the records gathered so far; returns them. */
  function gather(until: (got: Got[]) => boolean, rounds = 50, got: Got[] = []): Got[] {
    for (let i = 0; i < rounds && !until(got); i++) {
      poller.wait(100);
      for (let k = 0; k < records[0]; k++) {
        const t = RECV_HEADER + k * RECV_STRIDE;
        const [slot, , id, offset, result] = records.subarray(t, t + RECV_STRIDE);
        const view = result > 0 ? slabs[id].subarray(offset, offset + result) : null;
        got.push({ slot, text: view === null ? "" : view.toString("latin1"), result, view });
      }
      // As the reactor does: lend whole slabs while the ring has room for them.
      for (let room = records[1]; room >= perSlab && lend(slabSize) >= 0; ) room -= perSlab;
    }
    return got;
  }

  const textOf = (got: Got[], slot?: number): string =>
    got.filter((g) => slot === undefined || g.slot === slot).map((g) => g.text).join("");

  beforeEach(() => {
    events = new Uint32Array(64 * EVENT_STRIDE);
    records = new Int32Array(RECV_HEADER + 256 * RECV_STRIDE);
    poller = new native.Poller("io_uring", events);
    setUp(64, 4096, 64 * 1024, 4);
  });
  afterEach(() => {
    poller.close();
    fds.closeAll();
  });

  test("says which read path this kernel gives; the readiness backends have none", () => {
    // Incremental buffer rings came with Linux 6.12: the completion path from there on.
    const [major, minor] = os.release().split(".").map(Number);
    if (major > 6 || (major === 6 && minor >= 12)) expect(path).toBeNull();
    else expect(path).toMatch(/IOU_PBUF_RING_INC/);
    expect(poller.supportedOptions & RECV).toBe(path === null ? RECV : 0);
    const epoll = new native.Poller("epoll", new Uint32Array(EVENT_STRIDE));
    try {
      expect(epoll.enableRecv(records, 64, 4096)).toMatch(/does not receive by completion/);
      expect(() => epoll.add(0, 0, 0, READABLE | RECV)).toThrow(expect.objectContaining({ code: "ERR_UNSUPPORTED_OPTION" }));
    } finally {
      epoll.close();
    }
  });

  test("refuses bad ring sizes and a slab that is no Uint8Array, naming the argument", () => {
    const p = new native.Poller("io_uring", new Uint32Array(EVENT_STRIDE));
    try {
      expect(p.enableRecv(new Int32Array(RECV_HEADER + RECV_STRIDE), 3, 4096)).toMatch(/power of two/);
      expect(() => p.enableRecv(new Int32Array(2), 4, 4096)).toThrow(/records/);
      expect(() => p.addRecvSlab(Buffer.alloc(4096))).toThrow(expect.objectContaining({ code: "ERR_UNSUPPORTED_OPERATION" }));
      if (path === null) expect(() => poller.addRecvSlab(new Int32Array(4) as unknown as Uint8Array)).toThrow(/slab/);
    } finally {
      p.close();
    }
  });

  test("many connections' bytes arrive as records in slab memory, each stream in order, then EOF last", () => {
    if (path !== null) return expect(path).toBeTruthy();
    const pairs = Array.from({ length: 20 }, () => fds.tcpPair());
    pairs.forEach(([, server], i) => poller.add(server, i, 7, READABLE | RECV));
    // 30 chunks per connection, sent one by one so that they complete as separate records.
    for (let c = 0; c < 30; c++) pairs.forEach(([client], i) => send(client, `<${i}:${c}>`));
    pairs.forEach(([client]) => fds.close(client));
    const eofs = (got: Got[]) => got.filter((g) => g.result === 0).length;
    const got = gather((g) => eofs(g) === pairs.length);
    expect(eofs(got)).toBe(pairs.length);
    pairs.forEach((_, i) => {
      const mine = got.filter((g) => g.slot === i);
      expect(mine.map((g) => g.text).join("")).toBe(Array.from({ length: 30 }, (_, c) => `<${i}:${c}>`).join(""));
      expect(mine[mine.length - 1].result).toBe(0); // EOF after every byte
      expect(mine.filter((g) => g.result === 0)).toHaveLength(1);
    });
  });

  test("a paused registration (modify without READABLE, or remove) hears nothing; what came is delivered on resume, in order", () => {
    if (path !== null) return expect(path).toBeTruthy();
    const [client, server] = fds.tcpPair();
    const [client2, server2] = fds.tcpPair();
    poller.add(server, 1, 1, READABLE | WRITABLE | RECV);
    poller.add(server2, 2, 1, READABLE | RECV);
    send(client, "a1;");
    send(client2, "b1;");
    let got = gather((g) => textOf(g) .length === 6);
    expect(textOf(got, 1)).toBe("a1;");
    expect(textOf(got, 2)).toBe("b1;");
    // Pause both: one keeps its writer (modify), the other is removed.
    poller.modify(server, 1, 1, WRITABLE | RECV);
    poller.remove(server2);
    for (let i = 0; i < 20; i++) {
      send(client, `a${i + 2};`);
      send(client2, `b${i + 2};`);
    }
    got = gather(() => false, 3);
    expect(got.filter((g) => g.result !== 0)).toEqual([]);
    // Resume: first what completed before the cancel (if any), then the rest, in order.
    poller.modify(server, 1, 2, READABLE | WRITABLE | RECV);
    poller.add(server2, 2, 2, READABLE | RECV);
    const want = (p: string) => Array.from({ length: 20 }, (_, i) => `${p}${i + 2};`).join("");
    got = gather((g) => textOf(g, 1) === want("a") && textOf(g, 2) === want("b"));
    expect(textOf(got, 1)).toBe(want("a"));
    expect(textOf(got, 2)).toBe(want("b"));
    // The writer side never saw READABLE while the receive read for it.
    poller.wait(0);
    expect(eventsOf(events, poller.wait(0)).every((e) => (e[2] & READABLE) === 0)).toBe(true);
  });

  test("a receive that ran out of buffers (ENOBUFS) resumes after a slab is added; 1 MiB arrives whole and in order", () => {
    // 2 buffers of 4 KiB: 1 MiB needs the ring refilled about 128 times.
    setUp(2, 4096, 8192, 1);
    if (path !== null) return expect(path).toBeTruthy();
    const [client, server] = fds.tcpPair();
    poller.add(server, 5, 0, READABLE | RECV);
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
    let sent = 0;
    const received: Buffer[] = [];
    let total = 0;
    let starved = 0;
    // Bounded: at most 2000 rounds of send what fits, wait, lend what the ring has room for.
    for (let round = 0; round < 2000 && total < payload.length; round++) {
      if (sent < payload.length) {
        const n = native.write(client, payload, sent, Math.min(65536, payload.length - sent));
        if (n > 0) sent += n;
      }
      poller.wait(10);
      for (let k = 0; k < records[0]; k++) {
        const t = RECV_HEADER + k * RECV_STRIDE;
        expect(records[t]).toBe(5);
        const n = records[t + 4];
        expect(n).toBeGreaterThan(0);
        received.push(slabs[records[t + 2]].subarray(records[t + 3], records[t + 3] + n));
        total += n;
      }
      if (records[1] === 2) starved++; // every buffer used up: the receive ended with ENOBUFS
      while (records[1] >= 2 && lend(8192) >= 0) records[1] -= 2;
    }
    expect(total).toBe(payload.length);
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect(starved).toBeGreaterThan(10);
  });

  test("bytes handed out are never written over: each slab's views keep their bytes as later data arrives", () => {
    setUp(4, 4096, 8192, 2);
    if (path !== null) return expect(path).toBeTruthy();
    const [client, server] = fds.tcpPair();
    poller.add(server, 3, 0, READABLE | RECV);
    const got: Got[] = [];
    for (let i = 0; i < 40; i++) {
      send(client, `chunk ${i} `.padEnd(300, "x"));
      const before = textOf(got).length;
      gather((g) => textOf(g).length === before + 300, 20, got);
    }
    // 12 KiB through 4 KiB buffers: later receives went to other buffers, never over these.
    for (const g of got) expect(g.view?.toString("latin1")).toBe(g.text);
    expect(textOf(got)).toBe(Array.from({ length: 40 }, (_, i) => `chunk ${i} `.padEnd(300, "x")).join(""));
  });

  test("a reset connection reports -ECONNRESET; a pipe registered with RECV gets READABLE instead", () => {
    if (path !== null) return expect(path).toBeTruthy();
    const [client, server] = fds.tcpPair();
    poller.add(server, 4, 0, READABLE | RECV);
    native.setsockopt(client, "SO_LINGER", 0);
    fds.close(client);
    const got = gather((g) => g.length > 0);
    expect(got).toEqual([{ slot: 4, text: "", result: ECONNRESET, view: null }]);
    const [r, w] = native.pipe();
    fds.track(r);
    fds.track(w);
    poller.add(r, 9, 0, READABLE | RECV);
    native.write(w, Buffer.from("p"), 0, 1);
    let seen: number[] = [];
    for (let i = 0; i < 50 && seen.length === 0; i++) seen = eventsOf(events, poller.wait(100)).filter((e) => e[0] === 9).map((e) => e[2]);
    expect(seen.length).toBe(1);
    expect(seen[0] & READABLE).toBe(READABLE);
  });

  test("close() cancels every receive first: nothing is written into a slab after it", () => {
    if (path !== null) return expect(path).toBeTruthy();
    const [client, server] = fds.tcpPair();
    poller.add(server, 1, 0, READABLE | RECV);
    send(client, "before;");
    expect(textOf(gather((g) => g.length > 0))).toBe("before;");
    poller.close();
    const copies = slabs.map((s) => Buffer.from(s));
    send(client, "after;".repeat(100));
    // The socket keeps the bytes: no request of the closed ring takes them.
    const buf = Buffer.alloc(1024);
    let n = -1;
    for (let i = 0; i < 50 && n < 0; i++) n = native.read(server, buf, 0, buf.length);
    expect(buf.toString("latin1", 0, n)).toBe("after;".repeat(100));
    slabs.forEach((s, i) => expect(s.equals(copies[i])).toBe(true));
  });
});
