/**
 * native/fd_passing.cc and fd_control.cc on real sockets and pipes: descriptors ride on the
 * bytes of a sendmsg, come back close-on-exec from recvmsg, a cut-off message (MSG_CTRUNC)
 * is reported and leaks nothing, and bad arguments throw errors naming them.
 */
import { AGAIN, native } from "../../lib/native";
import { expectNoFdLeaks, openFds } from "../support/fds";
import * as fs from "node:fs";

expectNoFdLeaks();

/** Is close-on-exec set on `fd`? (from /proc/self/fdinfo) */
function cloexec(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1];
  return (parseInt(flags, 8) & 0o2000000) !== 0;
}

describe("sendFds / recvFds", () => {
  test("a pipe's write end crosses a socketpair with its byte; the copy received writes into the same pipe", () => {
    const [a, b] = native.socketpair("stream");
    const [r, w] = native.pipe();
    expect(native.sendFds(a, Buffer.from("xy"), Int32Array.of(w), 1)).toBe(2);
    native.close(w);
    const buf = Buffer.alloc(16);
    const out = new Int32Array(2 + 4);
    expect(native.recvFds(b, buf, out)).toBe(2);
    expect(buf.subarray(0, 2).toString()).toBe("xy");
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(0);
    const got = out[2];
    expect(cloexec(got)).toBe(true);
    native.write(got, Buffer.from("through"), 0, 7);
    native.close(got);
    const seen = Buffer.alloc(16);
    expect(native.read(r, seen, 0, 16)).toBe(7);
    expect(seen.subarray(0, 7).toString()).toBe("through");
    expect(native.read(r, seen, 0, 16)).toBe(0); // every write end is closed: nothing leaked
    for (const fd of [a, b, r]) native.close(fd);
  });

  test("with no room for every descriptor, MSG_CTRUNC is reported and the ones cut off are not installed", () => {
    const [a, b] = native.socketpair("stream");
    const pipes = [native.pipe(), native.pipe(), native.pipe(), native.pipe()];
    expect(native.sendFds(a, Buffer.from("z"), Int32Array.from(pipes.map((p) => p[1])), 4)).toBe(1);
    for (const [, w] of pipes) native.close(w);
    const before = openFds();
    const out = new Int32Array(3); // room for one descriptor
    expect(native.recvFds(b, Buffer.alloc(4), out)).toBe(1);
    expect(out[1]).toBe(1);
    expect(out[0]).toBe(1);
    expect(openFds()).toBe(before + 1);
    native.close(out[2]);
    // Every write end is closed again: each pipe reads EOF.
    for (const [r] of pipes) expect(native.read(r, Buffer.alloc(1), 0, 1)).toBe(0);
    for (const [r] of pipes) native.close(r);
    native.close(a);
    native.close(b);
  });

  test("AGAIN when nothing is there, 0 at EOF, -errno on a socket error", () => {
    const [a, b] = native.socketpair("stream");
    const out = new Int32Array(3);
    expect(native.recvFds(b, Buffer.alloc(4), out)).toBe(AGAIN);
    native.close(a);
    expect(native.recvFds(b, Buffer.alloc(4), out)).toBe(0);
    expect(out[0]).toBe(0);
    const [r, w] = native.pipe();
    expect(native.sendFds(b, Buffer.from("q"), Int32Array.of(r), 1)).toBe(-native.errno.EPIPE);
    for (const fd of [b, r, w]) native.close(fd);
  });

  test("bad arguments throw errors naming them", () => {
    const [a, b] = native.socketpair("stream");
    expect(() => native.sendFds(a, Buffer.alloc(0), Int32Array.of(a), 1)).toThrow(/buf/);
    expect(() => native.sendFds(a, Buffer.from("x"), Int32Array.of(a), 2)).toThrow(/count/);
    expect(() => native.sendFds(a, Buffer.from("x"), new Int32Array(0), 0)).toThrow(/count/);
    expect(() => native.sendFds(a, Buffer.from("x"), [a] as unknown as Int32Array, 1)).toThrow(/fds/);
    expect(() => native.recvFds(b, Buffer.alloc(0), new Int32Array(3))).toThrow(/buf/);
    expect(() => native.recvFds(b, Buffer.alloc(1), new Int32Array(2))).toThrow(/out/);
    expect(() => native.recvFds(-1, Buffer.alloc(1), new Int32Array(3))).toThrow(/fd/);
    native.close(a);
    native.close(b);
  });
});

describe("dupFd / status flags", () => {
  test("dupFd makes a close-on-exec duplicate sharing the open file description's flags", () => {
    const [r, w] = native.pipe();
    const d = native.dupFd(r);
    expect(d).not.toBe(r);
    expect(cloexec(d)).toBe(true);
    const flags = native.getStatusFlags(r);
    expect(flags & native.O_NONBLOCK).toBe(native.O_NONBLOCK);
    native.setStatusFlags(d, flags & ~native.O_NONBLOCK);
    expect(native.getStatusFlags(r) & native.O_NONBLOCK).toBe(0); // one description, one flag word
    native.setStatusFlags(d, flags);
    expect(native.getStatusFlags(r)).toBe(flags);
    for (const fd of [d, r, w]) native.close(fd);
  });

  test("errors name the call and the argument", () => {
    expect(() => native.dupFd(-1)).toThrow(/fd/);
    expect(() => native.setStatusFlags(0, -1)).toThrow(/flags/);
    const [r, w] = native.pipe();
    native.close(r);
    native.close(w);
    expect(() => native.getStatusFlags(r)).toThrow(expect.objectContaining({ code: "EBADF", syscall: "fcntl" }));
  });
});
