import { spawn } from "node:child_process";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { compileLib } from "./fixtures/compile";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "signal-child.js");
let compiled = "";
beforeAll(() => {
  compiled = compileLib();
});

/** Runs the child, sends `signal` once it prints "running"; resolves with its exit and output. */
function runChild(mode: string, signal: NodeJS.Signals): Promise<{ code: number | null; sig: string | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, compiled, mode], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let sent = false;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      out += s;
      if (!sent && out.includes("running\n")) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stderr.on("data", (s: string) => (err += s));
    child.on("error", reject);
    child.on("close", (code, sig) => resolve({ code, sig, out, err }));
  });
}

describe.each([
  ["integrated", "SIGINT"],
  ["exclusive", "SIGINT"],
  ["integrated", "SIGTERM"],
  ["exclusive", "SIGTERM"],
  ["default", "SIGINT"],
] as const)("signals (%s reactor, %s)", (mode, signal) => {
  test("stop the reactor gracefully: shutdown triggers run, handlers are removed, exit code 0", async () => {
    const { code, sig, out, err } = await runChild(mode, signal);
    expect({ code, sig }).toEqual({ code: 0, sig: null });
    expect(out).toBe("running\nbefore shutdown\nafter shutdown\nstopped; handlers left: 0,0\n");
    expect(err).toBe(`[fdreactor] info: Received ${signal}, shutting down.\n`);
  });
});
