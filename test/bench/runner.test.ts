/**
 * The harness around the measurements: option errors, which servers run or are listed as
 * skipped, per-round summaries and ratios, targets, appending to RESULTS.md, and one
 * tiny real run (C reference echo, 3 rounds) from options to JSON.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { sink } from "../support/sink";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const runner = require("../../bench/lib/runner");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const options = require("../../bench/lib/options");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const results = require("../../bench/lib/results");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const echoBench = require("../../bench/echo/bench");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findServer } = require("../../bench/peers/registry");

expectNoFdLeaks();

/** The echo bench's real defaults (not a copy): the tests below pin what they are. */
const DEFAULTS = echoBench.defaults;

describe("options", () => {
  test("defaults apply when nothing is given", () => {
    expect(options.parseOptions([], DEFAULTS)).toMatchObject({ rounds: 3, duration: 3, warmup: 1, conns: [100, 1000], size: 64, peers: null, record: false, pin: true });
  });
  test("an option given replaces its default and leaves the others", () => {
    expect(options.parseOptions(["--rounds", "5", "--conns", "10,20"], DEFAULTS)).toMatchObject({ rounds: 5, duration: 3, warmup: 1, conns: [10, 20], size: 64 });
  });
  test("fewer than 3 rounds is refused, naming the option", () => {
    expect(() => options.parseOptions(["--rounds", "2"], DEFAULTS)).toThrow(/--rounds must be an integer ≥ 3/);
  });
  test("more connections than one process can hold here is refused", () => {
    expect(() => options.parseOptions(["--conns", "100,25000"], DEFAULTS)).toThrow(/--conns must be integers between 1 and 19000/);
  });
  test("an unknown option is a usage error", () => {
    expect(() => options.parseOptions(["--fast"], DEFAULTS)).toThrow(options.UsageError);
  });
  test("wrk's whole seconds are enforced where the workload says so", () => {
    expect(() => options.parseOptions(["--duration", "1.5"], { ...DEFAULTS, wholeSeconds: true })).toThrow(/whole seconds/);
  });
  test("a target reads as A/B<=R", () => {
    expect(options.parseTarget("fdreactor/node-net<=0.67")).toEqual({ a: "fdreactor", b: "node-net", max: 0.67 });
    expect(() => options.parseTarget("fdreactor<node-net")).toThrow(/--target must look like/);
  });
});

describe("chooseServers", () => {
  const registry = [
    { name: "a", modes: ["echo", "http"], check: () => null },
    { name: "b", modes: ["echo"], check: () => "b not installed: apt-get install b" },
    { name: "c", modes: ["echo"], optionalIn: ["echo"], check: () => null },
    { name: "d", modes: ["http"], check: () => null },
  ];
  test("runs the installed ones, lists the missing with how to install, and the optional as not selected", () => {
    const c = runner.chooseServers(registry, "echo", null);
    expect(c.chosen.map((s: { name: string }) => s.name)).toEqual(["a"]);
    expect(c.skipped).toEqual([{ name: "b", reason: "b not installed: apt-get install b" }]);
    expect(c.notSelected).toEqual(["c"]);
  });
  test("--peers all includes the optional ones", () => {
    expect(runner.chooseServers(registry, "echo", ["all"]).chosen.map((s: { name: string }) => s.name)).toEqual(["a", "c"]);
  });
  test("a named server without the workload's mode, or an unknown one, is a usage error", () => {
    expect(() => runner.chooseServers(registry, "echo", ["d"])).toThrow(/d has no echo mode/);
    expect(() => runner.chooseServers(registry, "echo", ["zz"])).toThrow(/no server named "zz"/);
  });
});

describe("summaries", () => {
  const round = (server: string, round: number, cpuSeconds: number, count: number) =>
    runner.derive({ workload: "w", conns: 10, round, server, count, seconds: 1, rate: count, cpuSeconds, wallSeconds: 1, rssKb: 2048, errors: 0, latencyUs: { p50: 10, p99: 20, p999: 30 } });
  const rounds = [round("base", 1, 0.3, 10000), round("x", 1, 0.1, 10000), round("base", 2, 0.3, 10000), round("x", 2, 0.2, 10000), round("base", 3, 0.3, 10000), round("x", 3, 0.15, 10000)];
  const servers = [{ name: "base" }, { name: "x" }];
  const rows = runner.summariseRounds(rounds, [{ name: "w", conns: 10 }], servers, "base");

  test("CPU per unit is server CPU time over the units served, in µs", () => {
    expect(rounds[0].cpuUsPer).toBeCloseTo(30, 10);
    expect(rounds[0].cpuPercent).toBeCloseTo(30, 10);
  });
  test("the ratio is the median CPU per unit against the baseline's, and a wide spread is noisy", () => {
    const x = rows.find((r: { server: string }) => r.server === "x");
    expect(x.cpuUsPer.median).toBeCloseTo(15, 10);
    expect(x.ratio).toBeCloseTo(0.5, 10);
    expect(x.cpuUsPer.noisy).toBe(true); // 10..20 around 15
    expect(rows.find((r: { server: string }) => r.server === "base").cpuUsPer.noisy).toBe(false);
  });
  test("targets pass or fail on that ratio", () => {
    expect(runner.checkTargets(rows, [{ a: "x", b: "base", max: 0.67 }], "msg")).toEqual([{ ok: true, text: "PASS x/base CPU per msg at 10 conns: 0.50 (target ≤ 0.67)" }]);
    expect(runner.checkTargets(rows, [{ a: "x", b: "base", max: 0.4 }], "msg")[0].ok).toBe(false);
  });
});

describe("appendResults", () => {
  test("appends, writing the section heading once for consecutive runs, never rewriting", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-results-"));
    const file = path.join(dir, "RESULTS.md");
    try {
      fs.writeFileSync(file, "# Benchmark results\n\n## Someone else's section\n\ntheir figures\n");
      const run = (title: string) => ({ title, command: "node bench/echo/run.js --record", date: "2026-11-25T15:00:00Z", machine: "nproc 2", settings: "3 rounds", table: "| a |\n| --- |\n| 1 |", notes: ["noisy: x"], rawTable: "| r |\n| --- |\n| 9 |" });
      results.appendResults(file, "## Peers (baseline)", run("echo"));
      results.appendResults(file, "## Peers (baseline)", run("http"));
      const text = fs.readFileSync(file, "utf8");
      expect(text.startsWith("# Benchmark results\n\n## Someone else's section\n\ntheir figures\n## Peers (baseline)\n\n### echo\n")).toBe(true);
      expect(text.match(/^## Peers \(baseline\)$/gm)).toHaveLength(1);
      expect(text).toContain("- Command: `node bench/echo/run.js --record`\n- Date: 2026-11-25T15:00:00Z\n- Machine: nproc 2\n- Settings: 3 rounds\n");
      expect(text).toContain("### http\n");
      expect(text).toContain("Raw per-round figures:\n\n| r |");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a run already rendered goes in as is; the intro follows the heading only when the heading is written (the last ## heading decides)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-results-"));
    const file = path.join(dir, "RESULTS.md");
    try {
      fs.writeFileSync(file, "# Benchmark results\n\n## Batched I/O\n\nold intro\n\n## Dispatch\n\nx\n");
      results.appendResults(file, "## Batched I/O", "### one\n\nfigures 1\n", { intro: "What is measured." });
      results.appendResults(file, "## Batched I/O", "### two\n\nfigures 2\n", { intro: "What is measured." });
      const text = fs.readFileSync(file, "utf8");
      expect(text).toBe("# Benchmark results\n\n## Batched I/O\n\nold intro\n\n## Dispatch\n\nx\n## Batched I/O\n\nWhat is measured.\n\n### one\n\nfigures 1\n\n### two\n\nfigures 2\n\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("refuses a section that is not a ## heading", () => {
    expect(() => results.appendResults("/nonexistent/x.md", "Peers", {})).toThrow(RangeError);
  });
});

test("a tiny real echo run against the C reference produces 3 interleaved rounds in its JSON", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-run-"));
  const json = path.join(dir, "echo.json");
  const out = sink();
  const err = sink();
  try {
    const bench = { ...echoBench, registry: [findServer("c-reference")] };
    const code = await runner.runBench(bench, ["--rounds", "3", "--duration", "0.5", "--warmup", "0", "--conns", "10,20", "--no-pin", "--baseline", "c-reference", "--json", json], { out, err, cleanup: false });
    expect(code).toBe(0);
    const r = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(r.rounds.map((x: { conns: number; round: number }) => `${x.conns}:${x.round}`)).toEqual(["10:1", "10:2", "10:3", "20:1", "20:2", "20:3"]);
    for (const x of r.rounds) {
      expect(x.error).toBeUndefined();
      expect(x.errors).toBe(0);
      expect(x.count).toBeGreaterThan(0);
      expect(x.bytesVerified).toBe(x.count * 64);
    }
    expect(r.summary.map((s: { ratio: number }) => s.ratio)).toEqual([1, 1]);
    expect(r.peers["c-reference"].status).toBe("ok");
    expect(out.text).toContain("C epoll reference");
    expect(out.text).toContain("NOT pinned (--no-pin)");
    expect(fs.existsSync(path.join(dir, "echo.svg"))).toBe(true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the chart is an SVG naming every measured server, with CPU, throughput and p99 panels", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const chart = require("../../bench/lib/chart");
  const s = (median: number) => ({ median, min: median * 0.9, max: median * 1.1 });
  const rows = [
    { label: "C epoll reference", conns: 100, rounds: 3, cpuUsPer: s(4.5), rate: s(30000), p99: s(2500) },
    { label: "Node net", conns: 100, rounds: 3, cpuUsPer: s(7.5), rate: s(25000), p99: s(4000) },
    { label: "never ran", conns: 100, rounds: 0, cpuUsPer: s(NaN), rate: s(NaN), p99: s(NaN) },
  ];
  expect(chart.chartRecords(rows)).toEqual([
    { server: "C epoll reference", conns: "100", cpu: 4.5, cpuMin: 4.05, cpuMax: 4.95, rate: 30000, p99ms: 2.5 },
    { server: "Node net", conns: "100", cpu: 7.5, cpuMin: 6.75, cpuMax: 8.25, rate: 25000, p99ms: 4 },
  ]);
  const svg: string = await chart.chartSvg(rows, { unit: "message", title: "echo" });
  expect(svg.startsWith("<svg")).toBe(true);
  for (const text of ["C epoll reference", "Node net", "server CPU µs per message (median, min–max)", "messages per second (median)", "p99 latency, ms (median)"]) {
    expect(svg).toContain(text);
  }
  expect(svg).not.toContain("never ran");
});
