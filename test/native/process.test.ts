/**
 * native/process.cc on real children: childPipe's flags, spawn's fd map (posix_spawn and
 * fork + exec alike), its errors, reap's exit codes and signals, pidfdOpen, and the SIGCHLD
 * self-pipe. The transport over these is tested in test/net/process.test.ts; this file is
 * also what `npm run test:asan` runs over the spawning code.
 */
import * as fs from "node:fs";
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { thrownBy } from "../support/thrown";

// The SIGCHLD self-pipe is the process's for good (two fds, made once): make it before counting.
const sigchldFd = native.sigchldFd();
expectNoFdLeaks();

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const flagsOf = (fd: number): number => parseInt(/flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1], 8);
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reaps `pid`, waiting up to 5 s; [exit code, signal]. */
async function reaped(pid: number): Promise<[number, number]> {
  const status = new Int32Array(2);
  for (let i = 0; i < 500; i++) {
    if (native.reap(pid, status)) return [status[0], status[1]];
    await sleepMs(10);
  }
  throw new Error(`child ${pid} did not end`);
}

/** Everything readable on `fd` (blocking reads are fine: the child has ended). */
function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  let out = "";
  for (;;) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n <= 0) return out;
    out += buf.toString("utf8", 0, n);
  }
}

test("childPipe: both ends close-on-exec, only the parent's end non-blocking", () => {
  for (const parentReads of [true, false]) {
    const [parent, child] = native.childPipe(parentReads);
    try {
      expect(flagsOf(parent) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
      expect(flagsOf(child) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_CLOEXEC);
      // The parent's end is the read end exactly when parentReads.
      expect(flagsOf(parent) & 3).toBe(parentReads ? 0 : 1);
    } finally {
      native.close(parent);
      native.close(child);
    }
  }
});

test.each([
  ["posix_spawn", -1, -1],
  ["fork + exec", process.getuid!(), process.getgid!()],
])("%s: the child gets its fd map, exits with its code, and a source fd that is also a target number is moved first", async (_how, uid, gid) => {
  const [r1, w1] = native.childPipe(true);
  const [r2, w2] = native.childPipe(true);
  // Swap-like map: child fd 1 from w1, child fd 3 from w2, plus each source's own number,
  // which the child must not see unless mapped.
  const map = new Int32Array([1, w1, 3, w2]);
  const pid = native.spawn("/bin/sh", ["sh", "-c", "echo one; echo three >&3; exit 7"], ["A=1"], "/", uid, gid, map);
  // The same map on a child that opens nothing, its fds read from outside: a shell's listing
  // of its own fds would show the shell's saved and pipeline fds too (dash keeps fd 10 while it
  // runs `cmd >&3`). The loader and setlocale open and close files as sleep starts, so the
  // listing is taken once it has stayed the same for 100 ms.
  const idle = native.spawn("/bin/sleep", ["sleep", "30"], [], "/", uid, gid, map);
  try {
    const list = (): string => fs.readdirSync(`/proc/${idle}/fd`).map(Number).sort((a, b) => a - b).join(",");
    let fds = list();
    for (let same = 0, i = 0; same < 5 && i < 200; i++) {
      await sleepMs(20);
      const now = list();
      same = now === fds ? same + 1 : 0;
      fds = now;
    }
    expect(fds).toBe("1,3");
  } finally {
    process.kill(idle, "SIGKILL");
    expect(await reaped(idle)).toEqual([-1, 9]);
  }
  native.close(w1);
  native.close(w2);
  expect(await reaped(pid)).toEqual([7, 0]);
  expect(readAll(r1)).toBe("one\n");
  expect(readAll(r2)).toBe("three\n");
  native.close(r1);
  native.close(r2);
});

test("reap reports a signal as [-1, signal]; pidfdOpen gives a close-on-exec fd", async () => {
  const pid = native.spawn("/bin/sleep", ["sleep", "30"], [], null, -1, -1, new Int32Array(0));
  const status = new Int32Array(2);
  expect(native.reap(pid, status)).toBe(false);
  const pidfd = native.pidfdOpen(pid);
  expect(pidfd).toBeGreaterThanOrEqual(0);
  expect(flagsOf(pidfd) & O_CLOEXEC).toBe(O_CLOEXEC);
  process.kill(pid, "SIGKILL");
  expect(await reaped(pid)).toEqual([-1, 9]);
  native.close(pidfd);
  expect(thrownBy(() => native.reap(pid, status))).toMatchObject({ code: "ECHILD", syscall: "waitpid" });
});

/**
 * Reaps `pid` without giving the event loop a turn (up to 5 s). libuv puts SIGCHLD back to
 * its default when its last child_process handle closes, which a child left by an earlier
 * test file in this worker may do at any turn of the loop; sigchldFd() puts our handler
 * back, but only when called, so the wait between it and the child's end must not yield.
 */
function reapedWithoutYielding(pid: number): [number, number] {
  const status = new Int32Array(2);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2500; i++) {
    if (native.reap(pid, status)) return [status[0], status[1]];
    Atomics.wait(nap, 0, 0, 2);
  }
  throw new Error(`child ${pid} did not end`);
}

test("the SIGCHLD self-pipe gets a byte when a child ends, and is the same fd each time", () => {
  expect(flagsOf(sigchldFd) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
  const buf = Buffer.alloc(64);
  while (native.read(sigchldFd, buf, 0, 64) > 0);
  // Also puts the handler back if anything replaced it since the file began.
  expect(native.sigchldFd()).toBe(sigchldFd);
  const pid = native.spawn("/bin/true", ["true"], [], null, -1, -1, new Int32Array(0));
  expect(reapedWithoutYielding(pid)).toEqual([0, 0]);
  expect(native.read(sigchldFd, buf, 0, 64)).toBeGreaterThanOrEqual(1);
});

test("spawn's errors: exec failures name the file and leave no child; wrong arguments name the argument", () => {
  const none = new Int32Array(0);
  expect(thrownBy(() => native.spawn("/no/such", ["x"], [], null, -1, -1, none))).toMatchObject({ code: "ENOENT", syscall: "posix_spawn", message: expect.stringContaining("/no/such") });
  expect(thrownBy(() => native.spawn("/no/such", ["x"], [], null, process.getuid!(), -1, none))).toMatchObject({ code: "ENOENT", syscall: "execve" });
  expect(thrownBy(() => native.spawn("/bin/true", ["x"], [], "/no/such/dir", process.getuid!(), -1, none))).toMatchObject({ code: "ENOENT", syscall: "chdir" });
  const X = (v: unknown) => v as never;
  expect(thrownBy(() => native.spawn(X(1), [], [], null, -1, -1, none))).toMatchObject({ name: "TypeError", message: expect.stringContaining("file") });
  expect(thrownBy(() => native.spawn("/bin/true", X(["a", 1]), [], null, -1, -1, none))).toMatchObject({ name: "TypeError", message: expect.stringContaining("argv") });
  expect(thrownBy(() => native.spawn("/bin/true", ["a\0b"], [], null, -1, -1, none))).toMatchObject({ name: "TypeError", message: expect.stringContaining("argv") });
  expect(thrownBy(() => native.spawn("/bin/true", [], X("A=1"), null, -1, -1, none))).toMatchObject({ name: "TypeError", message: expect.stringContaining("envp") });
  expect(thrownBy(() => native.spawn("/bin/true", [], [], X(5), -1, -1, none))).toMatchObject({ name: "TypeError", message: expect.stringContaining("cwd") });
  expect(thrownBy(() => native.spawn("/bin/true", [], [], null, -2, -1, none))).toMatchObject({ name: "RangeError", message: expect.stringContaining("uid") });
  expect(thrownBy(() => native.spawn("/bin/true", [], [], null, -1, -1, new Int32Array([1])))).toMatchObject({ name: "RangeError", message: expect.stringContaining("fdMap") });
  expect(thrownBy(() => native.spawn("/bin/true", [], [], null, -1, -1, new Int32Array([1, 1, 1, 2])))).toMatchObject({ name: "RangeError", message: expect.stringContaining("twice") });
  expect(thrownBy(() => native.spawn("/bin/true", [], [], null, -1, -1, X([1, 1])))).toMatchObject({ name: "TypeError", message: expect.stringContaining("fdMap") });
  expect(thrownBy(() => native.childPipe(X(1)))).toMatchObject({ name: "TypeError", message: expect.stringContaining("parentReads") });
  expect(thrownBy(() => native.reap(1, new Int32Array(1)))).toMatchObject({ name: "RangeError", message: expect.stringContaining("status") });
  expect(thrownBy(() => native.pidfdOpen(0))).toMatchObject({ name: "RangeError", message: expect.stringContaining("pid") });
});
