/**
 * StandardIO (Twisted's twisted.internet.stdio): a child Node process echoes its standard
 * input to its standard output through StandardIO, fed through real pipes, Node's own
 * child_process socketpairs, regular files, /dev/null and a pseudo-terminal; bytes and
 * their order are checked exactly, the end of input closes cleanly, and the child reports
 * whether fds 0 and 1 — the descriptions its parent shares — were left as found. In this
 * process: producers and consumers over pipes, and misuse.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionDone } from "../../lib/error";
import { StandardIO } from "../../lib/net";
import { native } from "../../lib/native";
import { Protocol } from "../../lib/protocols";
import { compileLib } from "../reactor/fixtures/compile";
import { expectNoFdLeaks } from "../support/fds";
import { testIf } from "../support/peers";
import { MODES, runReactor } from "./helpers";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "stdio-echo.js");
let compiled: string;
let dir: string;
beforeAll(() => {
  compiled = compileLib();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-stdio-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `length` bytes, byte i = i % 251 (so a lost, repeated or reordered chunk shows). */
function pattern(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `argv` with `input` written to its stdin in 64 KiB chunks, collecting its output. */
function run(argv: string[], input: Buffer | null): Promise<Run> {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.on("error", () => undefined); // a child that stops reading early
  if (input !== null) {
    for (let i = 0; i < input.length; i += 65536) child.stdin.write(input.subarray(i, i + 65536));
  }
  child.stdin.end();
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr })));
}

const node = (extra = ""): string => `"${process.execPath}" "${CHILD}" "${compiled}"${extra}`;

describe("StandardIO in a child process", () => {
  test("through real pipes (sh: cat | child | cat): 1 MiB echoed exactly, then a clean close; fd 0 and 1 never made non-blocking", async () => {
    const input = pattern(1 << 20);
    const r = await run(["/bin/sh", "-c", `cat | ${node()} | cat`], input);
    expect(r.stderr).toBe("during 0,0\nlost ConnectionDone\nafter 0,0\n");
    expect(r.code).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  });

  test("through Node's child_process socketpairs: the shared description is non-blocking only while open, then restored", async () => {
    const input = pattern(256 * 1024);
    const r = await run([process.execPath, CHILD, compiled], input);
    expect(r.stderr).toBe("during 1,1\nlost ConnectionDone\nafter 0,0\n");
    expect(r.code).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  });

  test("from a regular file to a regular file (not pollable: read and written without readiness)", async () => {
    const input = pattern((1 << 20) + 17);
    const inPath = path.join(dir, "in.bin");
    const outPath = path.join(dir, "out.bin");
    fs.writeFileSync(inPath, input);
    const r = await run(["/bin/sh", "-c", `${node()} < "${inPath}" > "${outPath}"`], null);
    expect(r.stderr).toBe("during 0,0\nlost ConnectionDone\nafter 0,0\n");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(outPath).equals(input)).toBe(true);
  });

  test("stdin from /dev/null ends at once; a half-close-aware protocol is told and writes after it", async () => {
    const r = await run(["/bin/sh", "-c", `${node(" halfclose")} < /dev/null`], null);
    expect(r.stderr).toBe("during 0,1\nlost ConnectionDone\nafter 0,0\n"); // fd 1: Node's socketpair
    expect(r.stdout.toString()).toBe("<eof>");
    const r2 = await run([process.execPath, CHILD, compiled, "halfclose"], Buffer.from("abc"));
    expect(r2.stdout.toString()).toBe("abc<eof>");
  });

  test("a reader of stdout that goes away (EPIPE) ends the transport with ConnectionLost, not a crash", async () => {
    const r = await run(["/bin/sh", "-c", `head -c 8000000 /dev/zero | ${node()} | head -c 1 >/dev/null`], null);
    expect(r.stderr).toMatch(/^during 0,0\nlost ConnectionLost\nafter 0,0\n$/);
    expect(r.code).toBe(0);
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;
  testIf(hasScript, "util-linux script(1) is not installed: no pseudo-terminal to test with")("on a pseudo-terminal (script(1)): a line is echoed, Ctrl-D ends it, the terminal's flags untouched", async () => {
    const child = spawn("script", ["-qfec", node(), "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    for (let i = 0; i < 200 && !out.includes("during"); i++) await new Promise((r) => setTimeout(r, 25));
    child.stdin.write("hello\n");
    for (let i = 0; i < 200 && (out.match(/hello\r\n/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    child.stdin.write("\x04");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    child.stdin.end();
    expect(code).toBe(0);
    // The terminal echoes the line itself, then the child echoes it (ONLCR turns \n into \r\n).
    expect(out.match(/hello\r\n/g)).toHaveLength(2);
    expect(out).toContain("during 0,0\r\n");
    expect(out).toContain("lost ConnectionDone\r\nafter 0,0\r\n");
  });
});

/** Records what StandardIO does to it. */
class Probe extends Protocol {
  events: string[] = [];
  override connectionMade(): void {
    this.events.push("made");
  }
  override dataReceived(data: Buffer): void {
    this.events.push(`data:${data.toString()}`);
  }
  override connectionLost(reason: import("../../lib/defer").Failure): void {
    this.events.push(`lost:${reason.type?.name}`);
  }
}

describe.each(MODES)("StandardIO on pipes in this process (%s mode)", (mode) => {
  test("a streaming producer is paused while stdout's reader is slow and resumed once it drains; the fds passed in stay open", async () => {
    const [inR, inW] = native.pipe();
    const [outR, outW] = native.pipe();
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      const p = new Probe();
      const io = new StandardIO(p, { stdin: inR, stdout: outW, reactor });
      const log = p.events;
      const chunk = Buffer.alloc(16 * 1024, 120);
      let paused = false;
      let written = 0;
      const producer = {
        pauseProducing: () => {
          paused = true;
          log.push("paused");
          // Drain stdout's pipe from here on: the producer must be resumed.
          const drain = (): void => {
            const buf = Buffer.alloc(65536);
            while (native.read(outR, buf, 0, buf.length) > 0);
            if (paused) reactor.callLater(0.01, drain);
          };
          reactor.callLater(0.01, drain);
        },
        resumeProducing: () => {
          paused = false;
          log.push("resumed");
          io.unregisterProducer();
          io.loseConnection();
        },
        stopProducing: () => log.push("stopped"),
      };
      io.registerProducer(producer, true);
      while (!paused && written < 8 << 20) {
        io.write(chunk);
        written += chunk.length;
      }
      p.connectionLost = (reason) => {
        Probe.prototype.connectionLost.call(p, reason);
        finish(p.events);
      };
    });
    expect(events).toEqual(["made", "paused", "resumed", "lost:ConnectionDone"]);
    // The transport closed its own descriptors only.
    for (const fd of [inR, inW, outR, outW]) expect(() => native.getStatusFlags(fd)).not.toThrow();
    for (const fd of [inR, inW, outR, outW]) native.close(fd);
  });

  test("bytes from stdin reach dataReceived in order; its end closes cleanly", async () => {
    const [inR, inW] = native.pipe();
    const [outR, outW] = native.pipe();
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      const p = new Probe();
      p.connectionLost = (reason) => {
        Probe.prototype.connectionLost.call(p, reason);
        expect(reason.check(ConnectionDone)).toBeTruthy();
        finish(p.events);
      };
      new StandardIO(p, { stdin: inR, stdout: outW, reactor });
      native.write(inW, Buffer.from("one"), 0, 3);
      reactor.callLater(0.05, () => {
        native.write(inW, Buffer.from("two"), 0, 3);
        native.close(inW);
      });
    });
    expect(events.filter((e) => e.startsWith("data:")).join("")).toBe("data:onedata:two");
    expect(events[0]).toBe("made");
    expect(events[events.length - 1]).toBe("lost:ConnectionDone");
    for (const fd of [inR, outR, outW]) native.close(fd);
  });
});

describe("StandardIO misuse", () => {
  test("wrong arguments throw TypeErrors naming them and open nothing", () => {
    const reactor = { addReader: () => undefined } as never;
    expect(() => new StandardIO(null as never, { reactor })).toThrow(/protocol must be/);
    expect(() => new StandardIO(new Probe(), { stdin: -1, reactor })).toThrow(/stdin must be a file descriptor/);
    expect(() => new StandardIO(new Probe(), { stdout: 1.5, reactor })).toThrow(/stdout must be a file descriptor/);
    const closed = 99_999; // far above anything this process opens
    expect(() => new StandardIO(new Probe(), { stdin: closed, stdout: 1, reactor })).toThrow(/stdin must be an open file descriptor: fd 99999 is not \(EBADF\)/);
    expect(() => new StandardIO(new Probe(), { stdin: 0, stdout: closed, reactor })).toThrow(/stdout must be an open file descriptor/);
    const d = fs.openSync(os.tmpdir(), "r");
    expect(() => new StandardIO(new Probe(), { stdin: d, reactor })).toThrow(/stdin must not be a directory/);
    fs.closeSync(d);
  });
});
