/**
 * Which write syscall each kind of fd gets: a pipe the transport knows is one (spawnProcess,
 * StandardIO) is written with one writev per flush and never tried with sendmsg first; a
 * socket still gets sendmsg with MSG_NOSIGNAL, so a peer that closed is EPIPE and never a
 * SIGPIPE. Counted by strace on a child (test/net/fixtures/write-syscalls.js) whose reactor
 * writes chunks one per iteration, first to `cat` over a pipe, then over TCP; the same fd
 * number often serves both in turn, so the flag is shown to follow the transport, not the fd.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { native } from "../../lib/native";
import { compileLib } from "../reactor/fixtures/compile";
import { describeWithPeer, peerEnv } from "../support/peers";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "write-syscalls.js");
const CHUNKS = 20;
let compiled: string;
let dir: string;
beforeAll(() => {
  compiled = compileLib();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-pipe-writes-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `argv`, resolving with its exit code, stdout and stderr (killed after 30 s). */
function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: peerEnv() });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("writevBatch's notSocket argument", () => {
  test("a pipe flagged notSocket gets the bytes of every buffer, in order", () => {
    const [r, w] = native.pipe();
    try {
      const out = new Int32Array(1);
      native.writevBatch(Int32Array.of(w), 1, Int32Array.of(2), [Buffer.from("ab"), Buffer.from("cde")], out, Uint8Array.of(1));
      expect(out[0]).toBe(5);
      const got = Buffer.alloc(16);
      expect(native.read(r, got, 0, got.length)).toBe(5);
      expect(got.subarray(0, 5).toString()).toBe("abcde");
    } finally {
      native.close(r);
      native.close(w);
    }
  });

  test("a socket whose peer closed is EPIPE without a SIGPIPE; the control, a flagged pipe with no reader, does raise one", async () => {
    // In a child: a 'SIGPIPE' listener there replaces Node's SIG_IGN, which jest's worker keeps.
    const r = await run([process.execPath, CHILD, compiled, "sigpipe"]);
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as Record<string, { result: number; signals: number }>;
    expect(got.socket).toEqual({ result: -native.errno.EPIPE, signals: 0 });
    expect(got.pipe).toEqual({ result: -native.errno.EPIPE, signals: 1 });
  });
});

describeWithPeer("strace")("write syscalls counted by strace", () => {
  test(`${CHUNKS} chunks to a child's stdin are ${CHUNKS} writev and no sendmsg; ${CHUNKS} over TCP are ${CHUNKS} sendmsg with MSG_NOSIGNAL`, async () => {
    const log = path.join(dir, "strace.log");
    const r = await run(["strace", "-f", "-qq", "-e", "trace=writev,sendmsg", "-o", log, process.execPath, CHILD, compiled, "traffic", String(CHUNKS)]);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as { pipeFd: number; socketFd: number; pipeOk: boolean; socketOk: boolean };
    expect(got).toMatchObject({ pipeOk: true, socketOk: true });
    // "PID writev(FD, ..." lines; cat writes with write(2), so every line is the reactor's.
    const calls = fs
      .readFileSync(log, "utf8")
      .split("\n")
      .map((l) => /^\d+\s+(writev|sendmsg)\((\d+),.*\)\s+=\s+(-?\d+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    const writevs = calls.filter((m) => m[1] === "writev");
    const sendmsgs = calls.filter((m) => m[1] === "sendmsg");
    expect(writevs.map((m) => Number(m[2]))).toEqual(Array(CHUNKS).fill(got.pipeFd));
    expect(writevs.every((m) => m[3] === "100")).toBe(true);
    expect(sendmsgs.map((m) => Number(m[2]))).toEqual(Array(CHUNKS).fill(got.socketFd));
    expect(sendmsgs.every((m) => m[3] === "100" && m[0].includes("MSG_NOSIGNAL"))).toBe(true);
  }, 40000);
});
