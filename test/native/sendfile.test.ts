/**
 * sendfile: bytes of a regular file go to a socket without passing through JavaScript; the
 * result is one word (bytes, AGAIN or -errno) as for the batched writes, and only a bad
 * argument throws.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AGAIN, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

let dir = "";
const open: number[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-sendfile-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const fd of open.splice(0)) fs.closeSync(fd);
});

/** A file of `bytes` opened for reading (closed after the test). */
function fileOf(bytes: Buffer): number {
  const p = path.join(dir, `f${open.length}-${bytes.length}`);
  fs.writeFileSync(p, bytes);
  const fd = fs.openSync(p, "r");
  open.push(fd);
  return fd;
}

/** A socketpair closed after the test. */
function pair(): [number, number] {
  const [a, b] = native.socketpair("stream");
  open.push(a, b);
  return [a, b];
}

/** Reads everything available on `fd` until AGAIN. */
function drain(fd: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(256 * 1024);
  for (;;) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n === AGAIN || n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

test("a 4 KiB file arrives whole and byte for byte; the file's own position does not move", () => {
  const data = randomBytes(4096);
  const f = fileOf(data);
  const [w, r] = pair();
  expect(native.sendfile(w, f, 0, data.length)).toBe(4096);
  expect(drain(r).equals(data)).toBe(true);
  // The offset is explicit: a read of the fd still starts at byte 0.
  const head = Buffer.alloc(8);
  expect(fs.readSync(f, head, 0, 8, null)).toBe(8);
  expect(head.equals(data.subarray(0, 8))).toBe(true);
});

test("offset and length select exactly that range", () => {
  const data = randomBytes(10000);
  const f = fileOf(data);
  const [w, r] = pair();
  expect(native.sendfile(w, f, 1234, 567)).toBe(567);
  expect(drain(r).equals(data.subarray(1234, 1234 + 567))).toBe(true);
});

test("a full socket gives partial counts then AGAIN, and the rest resumes at the offset reached (1 MiB, checksum)", () => {
  const data = randomBytes(1024 * 1024);
  const f = fileOf(data);
  const [w, r] = pair();
  let off = 0;
  let agains = 0;
  const got: Buffer[] = [];
  for (let guard = 0; off < data.length && guard < 100000; guard++) {
    const n = native.sendfile(w, f, off, data.length - off);
    if (n === AGAIN) {
      agains++;
      got.push(drain(r));
      continue;
    }
    expect(n).toBeGreaterThan(0);
    off += n;
  }
  got.push(drain(r));
  expect(agains).toBeGreaterThan(0); // a socketpair holds far less than 1 MiB
  const all = Buffer.concat(got);
  expect(all.length).toBe(data.length);
  expect(sha(all)).toBe(sha(data));
});

test("at or past the file's end the result is 0 (the caller's sign that the file shrank)", () => {
  const f = fileOf(randomBytes(100));
  const [w] = pair();
  expect(native.sendfile(w, f, 100, 10)).toBe(0);
  expect(native.sendfile(w, f, 5000, 10)).toBe(0);
  expect(native.sendfile(w, f, 0, 0)).toBe(0);
});

test("failures are -errno words, not throws: a peer gone gives -EPIPE, a bad fd -EBADF", () => {
  const f = fileOf(randomBytes(100));
  const [w, r] = native.socketpair("stream");
  native.close(r);
  try {
    expect(native.sendfile(w, f, 0, 100)).toBe(-native.errno.EPIPE); // and no SIGPIPE kills the test
  } finally {
    native.close(w);
  }
  const [a] = pair();
  const closed = fs.openSync(path.join(dir, "gone"), "w");
  fs.closeSync(closed);
  expect(native.sendfile(a, closed, 0, 1)).toBe(-native.errno.EBADF);
});

test("wrong arguments throw typed errors naming the argument", () => {
  const f = fileOf(randomBytes(10));
  const [w] = pair();
  expect(() => native.sendfile("x" as unknown as number, f, 0, 1)).toThrow(/socketFd/);
  expect(() => native.sendfile(w, -1, 0, 1)).toThrow(/fileFd/);
  expect(() => native.sendfile(w, f, -1, 1)).toThrow(/offset/);
  expect(() => native.sendfile(w, f, 0, 1.5)).toThrow(/length/);
});

describe("fileIdentity", () => {
  test("a path's stat and the open fd's fstat give the same eight fields, the ones fs.statSync sees", () => {
    const p = path.join(dir, "identity");
    fs.writeFileSync(p, Buffer.alloc(1234, 7));
    const fd = fs.openSync(p, "r");
    open.push(fd);
    const byPath = new Float64Array(8);
    const byFd = new Float64Array(8);
    expect(native.fileIdentity(p, byPath)).toBe(0);
    expect(native.fileIdentity(fd, byFd)).toBe(0);
    expect(Array.from(byPath)).toEqual(Array.from(byFd));
    const st = fs.statSync(p, { bigint: true });
    expect(byPath[0]).toBe(Number(st.dev));
    expect(byPath[1]).toBe(Number(st.ino));
    expect(byPath[2]).toBe(1234);
    expect(byPath[3]).toBe(Number(st.mode));
    expect(BigInt(byPath[4]) * 1000000000n + BigInt(byPath[5])).toBe(st.mtimeNs);
    expect(BigInt(byPath[6]) * 1000000000n + BigInt(byPath[7])).toBe(st.ctimeNs);
  });

  test("a change to the file shows in its fields; a missing path or one with a NUL is -ENOENT, a bad fd -EBADF", () => {
    const p = path.join(dir, "identity-change");
    fs.writeFileSync(p, "one");
    const before = new Float64Array(8);
    const after = new Float64Array(8);
    expect(native.fileIdentity(p, before)).toBe(0);
    fs.appendFileSync(p, "two");
    expect(native.fileIdentity(p, after)).toBe(0);
    expect(after[2]).toBe(6);
    expect(after[1]).toBe(before[1]);
    const ENOENT = os.constants.errno.ENOENT;
    expect(native.fileIdentity(path.join(dir, "no-such-file"), after)).toBe(-ENOENT);
    expect(native.fileIdentity(`${p}\0x`, after)).toBe(-ENOENT);
    const [a] = pair();
    native.close(a);
    open.splice(open.indexOf(a), 1);
    expect(native.fileIdentity(a, after)).toBe(-os.constants.errno.EBADF);
  });

  test("a wrong out array or first argument throws a TypeError naming it", () => {
    expect(() => native.fileIdentity(dir, new Float64Array(7))).toThrow(/out/);
    expect(() => native.fileIdentity(dir, new Int32Array(8) as unknown as Float64Array)).toThrow(/out/);
    expect(() => native.fileIdentity({} as unknown as string, new Float64Array(8))).toThrow(/pathOrFd/);
  });
});
