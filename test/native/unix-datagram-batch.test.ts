/**
 * recvBatch/sendBatch on Unix datagram sockets (native/datagram_batch.cc, the `names`
 * argument): destinations and sources as [1, offset, length] blocks naming sun_path bytes,
 * abstract names with their leading NUL, an unbound sender, truncation, and errors naming
 * the argument. Run under ASan by npm run test:asan.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ADDRESS_UNIX, RECV_RECORD_WORDS, RECV_TRUNCATED, SEND_RECORD_WORDS, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const NAME = native.UNIX_NAME_BYTES;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-ndgram-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function bound(name: string | null): number {
  const fd = native.socket("unix", "udp");
  if (name !== null) native.bindUnix(fd, name);
  return fd;
}

/** Sends `payloads` from `fd` to `to` in one sendBatch, the destination's name in slot 0. */
function sendTo(fd: number, to: string, payloads: string[]): number[] {
  const slab = Buffer.concat(payloads.map((p) => Buffer.from(p)));
  const rec = new Int32Array(payloads.length * SEND_RECORD_WORDS);
  const names = Buffer.alloc(NAME);
  const n = names.write(to, 0, "utf8");
  let off = 0;
  payloads.forEach((p, i) => {
    const b = i * SEND_RECORD_WORDS;
    rec[b] = off;
    rec[b + 1] = Buffer.byteLength(p);
    rec[b + 3] = ADDRESS_UNIX;
    rec[b + 4] = 0;
    rec[b + 5] = n;
    off += Buffer.byteLength(p);
  });
  expect(native.sendBatch(fd, slab, rec, payloads.length, names)).toBe(payloads.length);
  return payloads.map((_, i) => rec[i * SEND_RECORD_WORDS + 2]);
}

/** Receives up to 8 datagrams of at most `per` bytes: [data, source name, truncated size or -1]. */
function receive(fd: number, per: number): Array<[string, string, number]> {
  const slab = Buffer.alloc(8 * 64);
  const rec = new Int32Array(8 * RECV_RECORD_WORDS);
  const names = Buffer.alloc(8 * NAME);
  const n = native.recvBatch(fd, slab, 0, per, 8, rec, names);
  const out: Array<[string, string, number]> = [];
  for (let i = 0; i < n; i++) {
    const b = i * RECV_RECORD_WORDS;
    const a = b + 4;
    const name = rec[a] === ADDRESS_UNIX ? names.toString("utf8", rec[a + 1], rec[a + 1] + rec[a + 2]) : `family ${rec[a]}`;
    out.push([slab.toString("utf8", rec[b], rec[b] + rec[b + 1]), name, (rec[b + 3] & RECV_TRUNCATED) !== 0 ? rec[b + 2] : -1]);
  }
  return out;
}

describe("datagram batches on Unix sockets", () => {
  test("paths: destinations from names, sources into names, boundaries and truncation kept", () => {
    const pa = path.join(dir, "a.sock");
    const pb = path.join(dir, "b.sock");
    const a = bound(pa);
    const b = bound(pb);
    expect(sendTo(a, pb, ["one", "", "three-long"])).toEqual([3, 0, 10]);
    expect(receive(b, 8)).toEqual([
      ["one", pa, -1],
      ["", pa, -1],
      ["three-lo", pa, 10],
    ]);
    native.close(a);
    native.close(b);
  });

  test("abstract names keep their leading NUL; an unbound sender has an empty name", () => {
    const na = `\0fdr-ndgram-a-${process.pid}`;
    const nb = `\0fdr-ndgram-b-${process.pid}`;
    const a = bound(na);
    const b = bound(nb);
    const c = bound(null);
    sendTo(a, nb, ["x"]);
    sendTo(c, nb, ["y"]);
    expect(receive(b, 8)).toEqual([
      ["x", na, -1],
      ["y", "", -1],
    ]);
    for (const fd of [a, b, c]) native.close(fd);
  });

  test("errors name the argument", () => {
    const a = bound(null);
    const rec = new Int32Array(SEND_RECORD_WORDS);
    rec[1] = 1;
    rec[3] = ADDRESS_UNIX;
    rec[5] = 3;
    expect(() => native.sendBatch(a, Buffer.from("x"), rec, 1)).toThrow(/records/); // no names
    expect(() => native.sendBatch(a, Buffer.from("x"), rec, 1, Buffer.alloc(2))).toThrow(/records/); // outside names
    rec[5] = NAME + 1;
    expect(() => native.sendBatch(a, Buffer.from("x"), rec, 1, Buffer.alloc(NAME * 2))).toThrow(/records/); // longer than sun_path
    expect(() => native.sendBatch(a, Buffer.from("x"), rec, 1, "names" as never)).toThrow(/names/);
    expect(() => native.recvBatch(a, Buffer.alloc(64), 0, 8, 2, new Int32Array(2 * RECV_RECORD_WORDS), Buffer.alloc(NAME))).toThrow(/names/);
    native.close(a);
  });
});
