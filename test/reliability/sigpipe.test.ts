/**
 * SIGPIPE never kills the process and is never even raised by a socket write: every send
 * carries MSG_NOSIGNAL (SO_NOSIGPIPE where there is none), so a write to a peer that has
 * gone fails with EPIPE (raw calls) or ends the connection with ConnectionLost (transports).
 * Checked in child processes, once with Node's default disposition and once with a SIGPIPE
 * listener installed, which turns any raised SIGPIPE into a counted event.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { compileLib } from "../reactor/fixtures/compile";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "sigpipe-child.js");
let compiled = "";
beforeAll(() => {
  compiled = compileLib();
});

interface Counts {
  rawWrites: number;
  rawEPIPE: number;
  transportWrites: number;
  transportLost: number;
  lostCodes: Record<string, number>;
  signals: number;
}

function run(mode: string, listen: boolean): { status: number | null; signal: string | null; counts: Counts | null; stderr: string } {
  const r = spawnSync(process.execPath, [CHILD, compiled, mode, listen ? "listen" : "default"], { encoding: "utf8", timeout: 60000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let counts: Counts | null = null;
  try {
    counts = JSON.parse(line) as Counts;
  } catch {
    counts = null;
  }
  return { status: r.status, signal: r.signal, counts, stderr: r.stderr };
}

describe.each(["integrated", "exclusive"])("SIGPIPE (%s mode)", (mode) => {
  test.each([false, true])("2,000 raw writes and 100,000 transport writes to gone peers: EPIPE / ConnectionLost, no signal, exit 0 (SIGPIPE listener: %s)", (listen) => {
    const r = run(mode, listen);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
    const c = r.counts!;
    expect(c.rawWrites).toBe(2000);
    expect(c.rawEPIPE).toBe(2000);
    expect(c.transportLost).toBe(100);
    expect(c.transportWrites).toBeGreaterThanOrEqual(100 * 100);
    expect(c.transportWrites).toBeLessThanOrEqual(100 * 1000);
    for (const code of Object.keys(c.lostCodes)) expect(["ConnectionLost:EPIPE", "ConnectionLost:ECONNRESET"]).toContain(code);
    expect(c.signals).toBe(0);
  });
});
