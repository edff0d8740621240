/**
 * Reading wrk's report: two outputs captured from Debian's wrk on this project's machines
 * (a clean run against the C reference, and one against a server answering 404s and
 * dropping connections), then one real 1-second wrk run against the C reference.
 * Needs Debian's `wrk` (CI installs it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const wrk = require("../../bench/lib/wrk");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startServer } = require("../../bench/lib/server");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findServer } = require("../../bench/peers/registry");

expectNoFdLeaks();

const fixture = (name: string): string => fs.readFileSync(path.join(__dirname, "fixtures", name), "utf8");
const withoutScriptLine = (text: string): string => text.replace(/^WRK_JSON .*\n/m, "");

describe("parseWrk on a clean run", () => {
  test("takes exact counts and p99.9 from the report script's JSON line", () => {
    const r = wrk.parseWrk(fixture("wrk-sample-c100.txt"));
    expect(r.fromScript).toBe(true);
    expect(r.requests).toBe(180580);
    expect(r.seconds).toBe(1.002486);
    expect(r.rps).toBeCloseTo(180580 / 1.002486, 6);
    expect(r.latencyUs).toEqual({ mean: 304.6, max: 5544, p50: 267, p75: 292, p90: 430, p99: 933, p999: 1990 });
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0, status: 0, total: 0 });
  });
  test("without the script line reads wrk's own text, units converted to µs", () => {
    const r = wrk.parseWrk(withoutScriptLine(fixture("wrk-sample-c100.txt")));
    expect(r.fromScript).toBe(false);
    expect(r.requests).toBe(180580);
    expect(r.seconds).toBe(1);
    expect(r.rps).toBe(180132.19);
    expect(r.latencyUs).toEqual({ mean: 304.56, max: 5540, p50: 267, p75: 292, p90: 430, p99: 930 });
    expect(r.errors.total).toBe(0);
  });
});

describe("parseWrk on a run with errors", () => {
  test("counts socket errors and non-2xx answers from the text", () => {
    const r = wrk.parseWrk(withoutScriptLine(fixture("wrk-sample-errors.txt")));
    expect(r.errors).toEqual({ connect: 0, read: 21, write: 0, timeout: 0, status: 3653, total: 3674 });
    expect(r.requests).toBe(10960);
    expect(r.seconds).toBe(1.02);
    expect(r.latencyUs).toEqual({ mean: 10900, max: 150770, p50: 3780, p75: 7870, p90: 24860, p99: 118190 });
  });
  test("and the same counts from the script line", () => {
    const r = wrk.parseWrk(fixture("wrk-sample-errors.txt"));
    expect(r.errors).toEqual({ connect: 0, read: 21, write: 0, timeout: 0, status: 3653, total: 3674 });
    expect(r.latencyUs.p999).toBe(146831);
  });
});

describe("wrk units", () => {
  test("durations in us, ms, s and m become µs", () => {
    expect([wrk.parseDurationUs("850.00us"), wrk.parseDurationUs("1.50ms"), wrk.parseDurationUs("2.00s"), wrk.parseDurationUs("1.00m")]).toEqual([850, 1500, 2e6, 60e6]);
  });
  test("counts with k and M suffixes", () => {
    expect([wrk.parseCount("12"), wrk.parseCount("80.00k"), wrk.parseCount("1.5M")]).toEqual([12, 80000, 1.5e6]);
  });
  test("a truncated report is an error that quotes the output", () => {
    expect(() => wrk.parseWrk("Running 1s test @ http://127.0.0.1:1/\n")).toThrow(/no summary.*Running 1s test/s);
  });
});

describeWithPeer("wrk")("a real run", () => {
  test("a real 1-second wrk run against the C reference serves requests with no error", async () => {
    expect(wrk.haveWrk()).toBe(true);
    const srv = await startServer(findServer("c-reference"), "http", { cpu: null });
    try {
      const r = await wrk.runWrk({ port: srv.port, conns: 10, seconds: 1, cpu: null });
      expect(r.fromScript).toBe(true);
      expect(r.requests).toBeGreaterThan(0);
      expect(r.errors.total).toBe(0);
      expect(r.latencyUs.p50).toBeGreaterThan(0);
      expect(r.command).toMatch(/^wrk -t1 -c10 -d1s --timeout 2s --latency -s \S+wrk_report\.lua http:\/\/127\.0\.0\.1:\d+\/$/);
    } finally {
      await srv.stop();
    }
  });
});

test("runWrk names its bad argument", async () => {
  await expect(wrk.runWrk({ port: 0, conns: 1, seconds: 1 })).rejects.toThrow(/port/);
  await expect(wrk.runWrk({ port: 80, conns: 0, seconds: 1 })).rejects.toThrow(/conns/);
});
