/**
 * The C10K harness' static workload and its ratios past one process: `--scenario static`
 * and `--file-sizes` on the command line, the load generator's check of every file answer
 * (status, Content-Length, CRC-32 of the body) against a server that corrupts one byte,
 * ratios taken against the Node cluster peer where the baseline cannot run, and tiny real
 * runs from the command line to the JSON file.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { sink } from "../support/sink";
import { measureAgainst } from "./support";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runC10k, summarise, summaryTable } = require("../../bench/c10k/run");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseC10kOptions, UsageError } = require("../../bench/c10k/options");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { liveCount } = require("../../bench/lib/children");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureStaticTree, seededBytes } = require("../../bench/peers/static_tree");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Load } = require("../../bench/c10k/load");

expectNoFdLeaks();

/** Runs the harness with argv, collecting its output; never compiles nor installs exit handlers. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await runC10k(argv, { out, err, cleanup: false, compile: false });
  return { code, out: out.text, err: err.text };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "c10k-static-test-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("command line", () => {
  test("--scenario static: files of 4 KiB, 64 KiB and 1 MiB, ratios against Node http + createReadStream", () => {
    expect(parseC10kOptions(["--scenario", "static"])).toMatchObject({ scenario: "static", fileSizes: [4096, 65536, 1048576], baseline: "node-http-static" });
    expect(parseC10kOptions(["--scenario", "static", "--file-sizes", "65536, 1048576", "--baseline", "nginx"])).toMatchObject({ fileSizes: [65536, 1048576], baseline: "nginx" });
    expect(parseC10kOptions([]).baseline).toBe("node-net");
    expect(parseC10kOptions(["--scenario", "static"]).clientRcvbuf).toBe("whole");
    expect(parseC10kOptions(["--scenario", "static", "--client-rcvbuf", "default"]).clientRcvbuf).toBe("default");
  });

  test.each([
    [["--file-sizes", "4096"], /--file-sizes is for --scenario static/],
    [["--scenario", "static", "--file-sizes", "0"], /--file-sizes must be distinct integers from 1 to 16777216/],
    [["--scenario", "static", "--file-sizes", "4096,x"], /--file-sizes must be distinct integers/],
    [["--scenario", "static", "--file-sizes", "4096,4096"], /--file-sizes must be distinct integers/],
    [["--scenario", "static", "--file-sizes", "16777217"], /--file-sizes must be distinct integers from 1 to 16777216/],
    [["--scenario", "static", "--file-sizes", ""], /--file-sizes must be distinct integers/],
    [["--client-rcvbuf", "whole"], /--client-rcvbuf is for --scenario static/],
    [["--scenario", "static", "--client-rcvbuf", "big"], /--client-rcvbuf must be whole or default/],
  ])("%j is refused with a message naming the option", (argv, message) => {
    expect(() => parseC10kOptions(argv)).toThrow(UsageError);
    expect(() => parseC10kOptions(argv)).toThrow(message);
  });

  test("--help explains --file-sizes and the static scenario; an unknown static server lists the static ones", async () => {
    const help = await run(["--help"]);
    expect(help.out).toContain("  --file-sizes LIST ");
    expect(help.out).toMatch(/or static \(keep-alive\s+GETs of files/);
    const r = await run(["--scenario", "static", "--peers", "lighttpd"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no static server named "lighttpd" \(known: node-http-static, uws, twisted-web, nginx, node-http-static-cluster, fdreactor, fdreactor-exclusive\)/);
  });
});

describe("the static files", () => {
  test("the same bytes every run: each file's CRC-32 follows from its size alone", () => {
    const a = ensureStaticTree([100, 4096], path.join(dir, "a"));
    const b = ensureStaticTree([100, 4096], path.join(dir, "b"));
    expect(a).toEqual(b);
    expect(a.map((f: { path: string; size: number }) => [f.path, f.size])).toEqual([
      ["/f100.bin", 100],
      ["/f4096.bin", 4096],
    ]);
    expect(fs.readFileSync(path.join(dir, "a", "f4096.bin")).equals(seededBytes(4096, 4096 * 2654435761))).toBe(true);
    // A file changed on disk is written again.
    fs.writeFileSync(path.join(dir, "a", "f100.bin"), "x");
    ensureStaticTree([100], path.join(dir, "a"));
    expect(fs.statSync(path.join(dir, "a", "f100.bin")).size).toBe(100);
  });
});

/**
 * A server that hands each GET of one of `files` (whose contents are `bytes`) to `send`
 * with that file's bytes. No Nagle: the last partial segment of a body would otherwise
 * wait for the load generator's delayed ACK (40 ms and more).
 */
function fileServer(files: { path: string }[], bytes: Buffer[], send: (s: net.Socket, body: Buffer) => void): net.Server {
  return net.createServer({ noDelay: true }, (s) => {
    let pending = "";
    s.on("data", (d) => {
      pending += d.toString("latin1");
      let end: number;
      while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
        const target = pending.slice(4, pending.indexOf(" ", 4));
        pending = pending.slice(end + 4);
        send(s, bytes[files.findIndex((f) => f.path === target)]);
      }
    });
    s.on("error", () => s.destroy());
  });
}

describe("the load generator's file check", () => {
  test("a body with one byte changed is a mismatch, a right one is counted; the Content-Length must be the file's", async () => {
    const files = ensureStaticTree([3000, 70000], path.join(dir, "check"));
    const bytes = files.map((f: { path: string }) => fs.readFileSync(path.join(dir, "check", f.path.slice(1))));
    let served = 0;
    // Every fourth answer has one body byte flipped; the others are right, split into two writes.
    const server = fileServer(files, bytes, (s, right) => {
      const body = Buffer.from(right);
      if (++served % 4 === 0) body[body.length >> 1] ^= 1;
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body.subarray(0, 1000));
      s.write(body.subarray(1000));
    });
    const m = await measureAgainst(server, { conns: 3, active: 2, scenario: "static", files }, 400);
    expect(m.count).toBeGreaterThan(0);
    expect(m.errors.mismatch).toBeGreaterThan(0);
    expect(m.errors.mismatch).toBeLessThanOrEqual(Math.ceil((m.count + m.errors.mismatch) / 4) + 2);
    expect({ ...m.errors, mismatch: 0 }).toEqual({ mismatch: 0, extra: 0, reset: 0, closed: 0, connectFailed: 0, connectTimeout: 0 });
    expect(liveCount()).toBe(0);
  }, 30000);
});

describe("the load generator's paced phase on files", () => {
  /** A server on 127.0.0.1 answering GETs of a 4 KiB and a 200,000-byte file, and a Load (3 connections, 2 driven) on it with `extra` options. */
  async function filesAndLoad(extra: Record<string, unknown> = {}) {
    const files = ensureStaticTree([4096, 200000], path.join(dir, "paced"));
    const bytes = files.map((f: { path: string }) => fs.readFileSync(path.join(dir, "paced", f.path.slice(1))));
    const server = fileServer(files, bytes, (s, body) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const load = new Load({ port: (server.address() as net.AddressInfo).port, conns: 3, active: 2, scenario: "static", files, size: 0, rate: 1000, perProcess: 18000, cpu: null, deadlineS: 30, ...extra });
    return { server, load };
  }

  test("from the paced phase on, each driven connection can hold a whole answer, and the driver sleeps between messages instead of spinning", async () => {
    // 800 requests/s over 2 connections: 1.25 ms apart, where echo and http poll. Static
    // files must not: one wakeup per message at most, where a spinning driver counts one
    // per turn of its loop (thousands in half a second).
    const { server, load } = await filesAndLoad();
    try {
      load.start();
      await load.waitFor("connected", 15000);
      // Without wholeAnswers (--client-rcvbuf default) the closed loop keeps the kernel's buffer.
      load.tell("run");
      await load.waitFor("driving", 5000);
      expect(load.reports.get(0).driving).toMatchObject({ phase: "closed", rcvbuf: null });
      expect(load.answerBuffer()).toBeNull();
      await load.collect("report");
      load.tell("pace 800 2");
      await new Promise((r) => setTimeout(r, 200));
      load.tell("measure");
      await new Promise((r) => setTimeout(r, 500));
      const merged = await load.collect("stop");
      const { driving, result } = load.reports.get(0);
      // 200,000 bytes + 8,192 of head room, doubled by Linux (below the default rmem_max of 212,992).
      const rmemMax = Number(fs.readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
      expect(driving).toMatchObject({ phase: "paced", polls: false, answerRoom: 208192, rcvbuf: 2 * Math.min(208192, rmemMax) });
      expect(load.answerBuffer()).toEqual({ granted: 2 * Math.min(208192, rmemMax), room: 208192, capped: rmemMax < 208192 });
      expect(merged.count).toBeGreaterThan(100);
      expect(merged.errorTotal).toBe(0);
      expect(result.paceWakeups).toBeGreaterThan(0);
      expect(result.paceWakeups).toBeLessThanOrEqual(Math.ceil(800 * result.seconds) + 2);
    } finally {
      await load.stop();
      await new Promise((r) => server.close(r));
    }
    expect(liveCount()).toBe(0);
  }, 30000);

  test("with wholeAnswers (--client-rcvbuf whole) the closed loop's driven connections get the whole-answer buffer too", async () => {
    const { server, load } = await filesAndLoad({ wholeAnswers: true });
    try {
      load.start();
      await load.waitFor("connected", 15000);
      load.tell("run");
      await load.waitFor("driving", 5000);
      const rmemMax = Number(fs.readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
      expect(load.reports.get(0).driving).toMatchObject({ phase: "closed", answerRoom: 208192, rcvbuf: 2 * Math.min(208192, rmemMax) });
      await new Promise((r) => setTimeout(r, 300));
      load.tell("measure");
      await new Promise((r) => setTimeout(r, 300));
      const merged = await load.collect("stop");
      expect(merged.count).toBeGreaterThan(10);
      expect(merged.errorTotal).toBe(0);
    } finally {
      await load.stop();
      await new Promise((r) => server.close(r));
    }
    expect(liveCount()).toBe(0);
  }, 30000);
});

describe("ratios past one process", () => {
  const round = (server: string, conns: number, cpu: number) => ({ server, conns, round: 1, cpuUsPer: cpu, rssPerConnKb: 2, established: conns, openAtEnd: conns, setupRate: 1, setupCpuUsPerConn: 1, rate: 1, cpuPercent: 1, loadCpuPercent: 1, latencyUs: { p50: 1, p90: 1, p99: 1, p999: 1 }, rssKb: 1, errorTotal: 0, serverProcs: 1, loadProcs: 1 });
  const servers = [{ name: "node-net", label: "Node net" }, { name: "node-net-cluster", label: "Node net (cluster)" }, { name: "fdreactor", label: "fdreactor" }];

  test("where the baseline could not run, the ratios are against the cluster peer, and the table says so", () => {
    const rounds = [round("node-net", 10000, 6), round("fdreactor", 10000, 3), { server: "node-net", conns: 50000, round: 1, skipped: "one process" }, round("node-net-cluster", 50000, 8), round("fdreactor", 50000, 4), round("node-net-cluster", 10000, 12)];
    const rows = summarise(rounds, servers, [10000, 50000], "node-net", "node-net-cluster");
    const at = (s: string, c: number) => rows.find((r: { server: string; conns: number }) => r.server === s && r.conns === c);
    expect(at("fdreactor", 10000)).toMatchObject({ ratioAgainst: "node-net", ratio: 0.5 });
    expect(at("fdreactor", 50000)).toMatchObject({ ratioAgainst: "node-net-cluster", ratio: 0.5 });
    expect(at("node-net-cluster", 10000).ratio).toBe(2);
    const table = summaryTable(rows, { unit: "msg", baselineLabel: "Node net", baseline: "node-net", labels: { "node-net-cluster": "Node net (cluster)" } });
    const fd50 = table.body.find((b: string[]) => b[0] === "fdreactor" && b[1] === "50,000");
    expect(fd50[table.headers.indexOf("× Node net")]).toBe("0.50×");
    expect(fd50[fd50.length - 1]).toContain("× against Node net (cluster)");
    const fd10 = table.body.find((b: string[]) => b[0] === "fdreactor" && b[1] === "10,000");
    expect(fd10[fd10.length - 1]).not.toContain("against");
  });

  test("with a paced phase the table gives each server's CPU per request at that rate and its ratio there, beside the closed loop's", () => {
    const paced = (r: ReturnType<typeof round>, cpu: number) => ({ ...r, paced: { target: 600, rate: 600, cpuUsPer: cpu, latencyUs: { p50: 1, p90: 1, p99: 1, p999: 1 } } });
    // Closed loop: fdreactor dearer (3 ÷ 2); at the fixed rate: cheaper (130 ÷ 260).
    const rounds = [paced(round("node-net", 100, 2), 260), paced(round("fdreactor", 100, 3), 130)];
    const rows = summarise(rounds, servers, [100], "node-net");
    expect(rows.find((r: { server: string }) => r.server === "fdreactor")).toMatchObject({ ratio: 1.5, pacedRatio: 0.5 });
    const table = summaryTable(rows, { unit: "req", baselineLabel: "nginx", paced: 600, baseline: "node-net" });
    const fd = table.body.find((b: string[]) => b[0] === "fdreactor");
    expect(fd[table.headers.indexOf("× nginx")]).toBe("1.50×");
    expect(fd[table.headers.indexOf("CPU µs/req @600/s")]).toBe("130");
    expect(fd[table.headers.indexOf("× nginx @600/s")]).toBe("0.50×");
    expect(table.headers.length).toBe(fd.length);
    // Without a paced phase there are no such columns.
    expect(summaryTable(rows, { unit: "req", baselineLabel: "nginx", baseline: "node-net" }).headers.some((h: string) => h.includes("@"))).toBe(false);
  });

  test("without a fallback there is no ratio at that count, and the row says why", () => {
    const rows = summarise([{ server: "node-net", conns: 50000, round: 1, skipped: "one process" }, round("fdreactor", 50000, 4)], servers, [50000], "node-net");
    expect(Number.isNaN(rows.find((r: { server: string }) => r.server === "fdreactor").ratio)).toBe(true);
    const table = summaryTable(rows, { unit: "msg", baselineLabel: "Node net", baseline: "node-net" });
    const fd = table.body.find((b: string[]) => b[0] === "fdreactor");
    expect(fd[fd.length - 1]).toBe("no ratio: node-net skipped at 50,000: one process");
  });

  test("a ratio against a peer that closed idle connections says so", () => {
    const closing = { ...round("node-net-cluster", 50000, 8), openAtEnd: 30000 };
    const rows = summarise([{ server: "node-net", conns: 50000, round: 1, skipped: "one process" }, closing, round("fdreactor", 50000, 4)], servers, [50000], "node-net", "node-net-cluster");
    const table = summaryTable(rows, { unit: "msg", baselineLabel: "Node net", baseline: "node-net", labels: { "node-net-cluster": "Node net (cluster)" } });
    const fd = table.body.find((b: string[]) => b[0] === "fdreactor");
    expect(fd[table.headers.indexOf("× Node net")]).toBe("0.50×");
    expect(fd[fd.length - 1]).toBe("× against Node net (cluster), × against a peer that closed 20,000 of its connections");
    const cl = table.body.find((b: string[]) => b[0] === "Node net (cluster)");
    expect(cl[cl.length - 1]).not.toContain("a peer that closed");
  });

  test("a fallback whose rounds failed: no ratio, and the row names the failure", () => {
    const failed = { server: "node-net-cluster", conns: 50000, round: 1, error: "the load processes did not report connected within 60 s (1 of 2)\nstderr" };
    const rows = summarise([{ server: "node-net", conns: 50000, round: 1, skipped: "one process" }, failed, round("fdreactor", 50000, 4)], servers, [50000], "node-net", "node-net-cluster");
    const table = summaryTable(rows, { unit: "msg", baselineLabel: "Node net", baseline: "node-net" });
    const last = (name: string) => {
      const b = table.body.find((x: string[]) => x[0] === name);
      return b[b.length - 1];
    };
    expect(last("fdreactor")).toBe("no ratio: node-net-cluster failed at 50,000: the load processes did not report connected within 60 s (1 of 2)");
    expect(last("Node net (cluster)")).toBe("1 round(s) failed, no data: the load processes did not report connected within 60 s (1 of 2)");
  });
});

describe("tiny real runs", () => {
  test("static against fdreactor and Node http + createReadStream: every answer's length and CRC-32 checked, no errors, a ratio", async () => {
    const json = path.join(dir, "static.json");
    const r = await run(["--scenario", "static", "--conns", "20", "--active", "6", "--paced", "0", "--rounds", "1", "--duration", "0.5", "--warmup", "0.2", "--peers", "fdreactor-exclusive", "--json", json]);
    expect(r.err).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    const data = JSON.parse(fs.readFileSync(json, "utf8"));
    // The baseline joins the run for the ratios.
    expect(data.rounds.map((x: { server: string }) => x.server)).toEqual(["node-http-static", "fdreactor-exclusive"]);
    for (const round of data.rounds) {
      expect(round).toMatchObject({ conns: 20, established: 20, openAtEnd: 20, errorTotal: 0 });
      expect(round.count).toBeGreaterThan(0);
    }
    const fd = data.summary.find((x: { server: string }) => x.server === "fdreactor-exclusive");
    expect(fd.ratio).toBeGreaterThan(0);
    expect(data.settings).toContain("files of 4096, 65536, 1048576 bytes");
    expect(liveCount()).toBe(0);
  }, 60000);

  test("past one process the Node cluster peer joins the run and the ratios there are against it, not blank", async () => {
    const json = path.join(dir, "cluster.json");
    const r = await run(["--scenario", "http", "--conns", "50,200", "--per-process", "100", "--active", "10", "--paced", "0", "--rounds", "1", "--duration", "0.5", "--warmup", "0.2", "--peers", "fdreactor-exclusive", "--json", json]);
    expect(r.err).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.out).toContain("note: at 200 connections the ratios are against Node net (cluster): Node net runs as one process (it was added to the run for that, at those counts only)");
    const data = JSON.parse(fs.readFileSync(json, "utf8"));
    // The cluster peer runs at 200 only; Node net at 50 only.
    expect(data.rounds.filter((x: { skipped?: string }) => !x.skipped).map((x: { server: string; conns: number }) => `${x.server}@${x.conns}`).sort()).toEqual(["fdreactor-exclusive@200", "fdreactor-exclusive@50", "node-net-cluster@200", "node-net@50"]);
    const fd = (c: number) => data.summary.find((x: { server: string; conns: number }) => x.server === "fdreactor-exclusive" && x.conns === c);
    expect(fd(50)).toMatchObject({ ratioAgainst: "node-net" });
    expect(fd(200)).toMatchObject({ ratioAgainst: "node-net-cluster" });
    expect(fd(50).ratio).toBeGreaterThan(0);
    expect(fd(200).ratio).toBeGreaterThan(0);
    expect(r.out).not.toContain("no ratios there");
    expect(liveCount()).toBe(0);
  }, 90000);
});
