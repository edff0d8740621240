/**
 * The churn bench (bench/accept/run.js) for real on 127.0.0.1: a short round against the
 * fdreactor io_uring server reports every churned connection echoed and checked, and a bad
 * option is refused with exit status 2 naming it.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describeOnKernel } from "../support/backends";

const RUN = path.join(__dirname, "..", "..", "bench", "accept", "run.js");

describe("bench/accept/run.js", () => {
  test("--rounds 0 is refused naming the option, exit status 2", () => {
    const r = spawnSync(process.execPath, [RUN, "--rounds", "0"], { encoding: "utf8", timeout: 20000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--rounds must be an integer in 1\.\.20, got 0/);
  });
});

describeOnKernel("io_uring")("bench/accept/run.js against the io_uring server", () => {
  test("one 2 s round: a table row with CPU per connection, connections churned and none failed", () => {
    const r = spawnSync(process.execPath, [RUN, "--rounds", "1", "--seconds", "2", "--rate", "500", "--peers", "fdreactor-io_uring-exclusive"], {
      encoding: "utf8",
      timeout: 25000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const row = r.stdout.split("\n").find((l) => l.startsWith("| fdreactor (io_uring, exclusive) |"));
    expect(row).toBeDefined();
    const cells = row!.split("|").map((c) => c.trim());
    expect(Number(cells[3])).toBeGreaterThan(0); // µs per connection
    expect(Number(cells[7])).toBeGreaterThan(100); // connections per second, at 500/s asked
    expect(cells[8]).toBe("0"); // failed
  });
});
