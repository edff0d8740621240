/**
 * Batched I/O: readBatch reads many fds into one slab, writevBatch writes many fds, each in
 * one N-API call, reporting per-fd results as bytes, 0 (EOF), AGAIN or -errno.
 */
import { AGAIN, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const pairs: Array<[number, number]> = [];
/** n socketpairs, closed after each test. */
function socketpairs(n: number): Array<[number, number]> {
  const made: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) made.push(native.socketpair("stream"));
  pairs.push(...made);
  return made;
}
afterEach(() => {
  for (const [a, b] of pairs.splice(0)) {
    for (const fd of [a, b]) {
      try {
        native.close(fd);
      } catch {
        /* closed by the test */
      }
    }
  }
});

describe("readBatch", () => {
  test("100 socketpairs with data, EOF and nothing give the exact triples in order", () => {
    const ps = socketpairs(100);
    const expected: number[] = [];
    const fds = new Int32Array(100);
    const slab = new Uint8Array(100 * 64 + 16);
    const start = 16;
    let pos = start;
    const payloads: Buffer[] = [];
    ps.forEach(([w, r], i) => {
      fds[i] = r;
      if (i % 3 === 0) {
        const p = Buffer.from(`fd#${i}:` + "z".repeat(i % 17));
        native.write(w, p, 0, p.length);
        payloads[i] = p;
        expected.push(r, pos, p.length);
        pos += p.length;
      } else if (i % 3 === 1) {
        native.shutdown(w, 1);
        expected.push(r, pos, 0);
      } else {
        expected.push(r, pos, AGAIN);
      }
    });
    const out = new Int32Array(300);
    expect(native.readBatch(fds, 100, slab, start, 64, out)).toBe(100);
    expect(Array.from(out)).toEqual(expected);
    for (let i = 0; i < 100; i += 3) {
      const [, off, len] = out.subarray(3 * i, 3 * i + 3);
      expect(Buffer.from(slab.subarray(off, off + len)).equals(payloads[i])).toBe(true);
    }
    expect(slab.subarray(0, start).every((b) => b === 0)).toBe(true);
  });

  test("at most maxPerFd bytes per fd; the rest stays for the next read", () => {
    const [[w, r]] = socketpairs(1);
    native.write(w, Buffer.from("0123456789"), 0, 10);
    const out = new Int32Array(3);
    const slab = new Uint8Array(32);
    expect(native.readBatch(Int32Array.of(r), 1, slab, 0, 4, out)).toBe(1);
    expect(Array.from(out)).toEqual([r, 0, 4]);
    expect(Buffer.from(slab.subarray(0, 4)).toString()).toBe("0123");
    expect(native.readBatch(Int32Array.of(r), 1, slab, 4, 28, out)).toBe(1);
    expect(Array.from(out)).toEqual([r, 4, 6]);
    expect(Buffer.from(slab.subarray(0, 10)).toString()).toBe("0123456789");
  });

  test("stops early when less than maxPerFd of slab remains, and says how many it did", () => {
    const ps = socketpairs(4);
    for (const [w] of ps) native.write(w, Buffer.from("abcdefgh"), 0, 8);
    const fds = Int32Array.from(ps.map(([, r]) => r));
    const out = new Int32Array(12).fill(-99);
    const slab = new Uint8Array(20);
    // 20 bytes of slab, 8 per fd: two fds fit (16 used), the third would not.
    expect(native.readBatch(fds, 4, slab, 0, 8, out)).toBe(2);
    expect(Array.from(out.subarray(0, 6))).toEqual([fds[0], 0, 8, fds[1], 8, 8]);
    expect(Array.from(out.subarray(6))).toEqual([-99, -99, -99, -99, -99, -99]);
    // The remaining fds are untouched and read in the next call.
    expect(native.readBatch(fds.subarray(2), 2, new Uint8Array(16), 0, 8, out)).toBe(2);
    expect(Array.from(out.subarray(0, 6))).toEqual([fds[2], 0, 8, fds[3], 8, 8]);
  });

  test("a bad or closed fd gives -EBADF for that fd only", () => {
    const [[w, r]] = socketpairs(1);
    native.write(w, Buffer.from("ok"), 0, 2);
    const [pr, pw] = native.pipe();
    native.close(pr);
    native.close(pw);
    const out = new Int32Array(9);
    const slab = new Uint8Array(64);
    expect(native.readBatch(Int32Array.of(-5, pr, r), 3, slab, 0, 16, out)).toBe(3);
    const EBADF = native.errno.EBADF;
    expect(Array.from(out)).toEqual([-5, 0, -EBADF, pr, 0, -EBADF, r, 0, 2]);
  });

  test("count 0 does nothing and returns 0", () => {
    expect(native.readBatch(new Int32Array(0), 0, new Uint8Array(8), 0, 8, new Int32Array(0))).toBe(0);
  });
});

describe("writevBatch", () => {
  test("each of many fds gets exactly its own buffers, in order", () => {
    const ps = socketpairs(64);
    const fds = new Int32Array(64);
    const counts = new Int32Array(64);
    const bufs: Uint8Array[] = [];
    const want: Buffer[] = [];
    ps.forEach(([w], i) => {
      fds[i] = w;
      counts[i] = i % 4; // 0..3 buffers each
      const parts: Buffer[] = [];
      for (let k = 0; k < counts[i]; k++) parts.push(Buffer.from(`[${i}.${k}]`));
      bufs.push(...parts);
      want[i] = Buffer.concat(parts);
    });
    const out = new Int32Array(64).fill(-99);
    native.writevBatch(fds, 64, counts, bufs, out);
    ps.forEach(([, r], i) => {
      expect(out[i]).toBe(want[i].length);
      const got = Buffer.alloc(64);
      const n = native.read(r, got, 0, 64);
      if (want[i].length === 0) expect(n).toBe(AGAIN);
      else expect(got.subarray(0, n).equals(want[i])).toBe(true);
    });
  });

  test("a full fd reports a partial count or AGAIN; a dead peer reports -EPIPE; others are written", () => {
    const [[full, fullPeer], [dead, deadPeer], [fine, finePeer]] = socketpairs(3);
    native.setsockopt(full, "SO_SNDBUF", 4096);
    native.setsockopt(fullPeer, "SO_RCVBUF", 4096);
    const big = Buffer.alloc(1 << 20, 0x61);
    native.close(deadPeer);
    const out = new Int32Array(3);
    native.writevBatch(Int32Array.of(full, dead, fine), 3, Int32Array.of(1, 1, 1), [big, Buffer.from("x"), Buffer.from("fine")], out);
    expect(out[0]).toBeGreaterThan(0);
    expect(out[0]).toBeLessThan(big.length);
    expect(out[1]).toBe(-native.errno.EPIPE);
    expect(out[2]).toBe(4);
    native.writevBatch(Int32Array.of(full), 1, Int32Array.of(1), [big], out);
    expect(out[0]).toBe(AGAIN);
    const got = Buffer.alloc(8);
    expect(native.read(finePeer, got, 0, 8)).toBe(4);
    expect(got.toString("latin1", 0, 4)).toBe("fine");
  });

  test("works on pipes too", () => {
    const [r, w] = native.pipe();
    try {
      const out = new Int32Array(1);
      native.writevBatch(Int32Array.of(w), 1, Int32Array.of(2), [Buffer.from("pi"), Buffer.from("pe")], out);
      expect(out[0]).toBe(4);
      const b = Buffer.alloc(4);
      expect(native.read(r, b, 0, 4)).toBe(4);
      expect(b.toString()).toBe("pipe");
    } finally {
      native.close(r);
      native.close(w);
    }
  });

  test("a bad buffer anywhere throws before any fd is written", () => {
    const [[w1, r1], [w2]] = socketpairs(2);
    const out = new Int32Array(2);
    let err: { name?: string; message?: string } = {};
    try {
      native.writevBatch(Int32Array.of(w1, w2), 2, Int32Array.of(1, 1), [Buffer.from("a"), "b" as unknown as Uint8Array], out);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.name).toBe("TypeError");
    expect(err.message).toMatch(/"bufs\[1\]"/);
    expect(native.read(r1, Buffer.alloc(1), 0, 1)).toBe(AGAIN);
  });
});
