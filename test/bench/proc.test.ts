/**
 * Reading a server's cost from /proc, checked against real processes: a child that burns a
 * known amount of CPU and holds a known amount of memory, and a process tree whose
 * grandchild must be found (and ended with it).
 */
import * as fs from "node:fs";
import { expectNoFdLeaks } from "../support/fds";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const proc = require("../../bench/lib/proc");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const children = require("../../bench/lib/children");

expectNoFdLeaks();

/** Resolves with the first stdout line of `child` matching `re`. */
function lineMatching(child: { stdout: NodeJS.ReadableStream }, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      const m = re.exec(buf);
      if (m) resolve(m);
    });
    child.stdout.on("end", () => reject(new Error(`no line matching ${re} in ${JSON.stringify(buf)}`)));
  });
}

describe("busy time per CPU (/proc/stat)", () => {
  test("user + nice + system + irq + softirq + steal of each cpuN line; idle and iowait left out", () => {
    const text = "cpu  10 1 20 300 4 2 5 66 0 0\ncpu0 5 1 10 150 2 1 3 41 0 0\ncpu1 5 0 10 150 2 1 2 25 0 0\nintr 123\n";
    expect(proc.parseBusy(text)).toEqual({ 0: 5 + 1 + 10 + 1 + 3 + 41, 1: 5 + 10 + 1 + 2 + 25 });
  });

  test("300 ms of this process spinning shows as at least 200 ms of busy ticks summed over the CPUs", () => {
    const before = proc.readBusy();
    const end = Date.now() + 300;
    while (Date.now() < end); // busy for 300 ms on whichever CPU runs us
    const after = proc.readBusy();
    const gained = Object.keys(after).reduce((sum, c) => sum + after[c] - before[c], 0);
    expect(gained).toBeGreaterThanOrEqual(Math.floor((0.2 * proc.clockTicksPerSecond())));
  });
});

describe("steal time (/proc/stat)", () => {
  test("the 8th figure of each cpuN line, per CPU; the all-CPU line is left out", () => {
    const text = "cpu  10 0 20 300 4 0 5 66 0 0\ncpu0 5 0 10 150 2 0 3 41 0 0\ncpu1 5 0 10 150 2 0 2 25 0 0\nintr 123\n";
    expect(proc.parseSteal(text)).toEqual({ 0: 41, 1: 25 });
  });

  test("milliseconds between two readings of one CPU; NaN when the CPU is unknown or not pinned", () => {
    const hz = proc.clockTicksPerSecond();
    expect(proc.stealMsBetween({ 0: 40, 1: 7 }, { 0: 43, 1: 7 }, 0)).toBeCloseTo((3 * 1000) / hz, 10);
    expect(proc.stealMsBetween({ 0: 40 }, { 0: 43 }, 1)).toBeNaN();
    expect(proc.stealMsBetween({ 0: 40 }, { 0: 43 }, null)).toBeNaN();
  });

  test("this machine's /proc/stat gives a non-negative count for every CPU", () => {
    const now = proc.readSteal();
    const cpus = fs.readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
    expect(Object.keys(now)).toHaveLength(cpus);
    for (const v of Object.values(now)) expect(v).toBeGreaterThanOrEqual(0);
  });
});

describe("parseStat", () => {
  test("counts fields from the last ')' so a command name with spaces and parentheses parses", () => {
    // Fields 3.. of a real line, after a hostile comm.
    const line = "4242 (my (odd) server) S 17 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 3 0 100 0 0\n";
    expect(proc.parseStat(line)).toEqual({ pid: 4242, comm: "my (odd) server", state: "S", ppid: 17, utime: 1234, stime: 567 });
  });
  test("refuses text that is not a stat line", () => {
    expect(() => proc.parseStat("hello")).toThrow(/not a \/proc\/PID\/stat line/);
  });
});

describe("parseRssKb", () => {
  test("reads the VmRSS line in KiB", () => {
    expect(proc.parseRssKb("Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nVmData:\t 1 kB\n")).toBe(51234);
  });
  test("is 0 when the process has no VmRSS line (a zombie)", () => {
    expect(proc.parseRssKb("Name:\tx\nState:\tZ (zombie)\n")).toBe(0);
  });
});

test("clock ticks per second comes from getconf and is a positive integer", () => {
  const hz = proc.clockTicksPerSecond();
  expect(Number.isInteger(hz)).toBe(true);
  expect(hz).toBeGreaterThan(0);
});

test("a child that burned 0.3 s of CPU and holds 64 MiB shows both in its /proc sample", async () => {
  // The child spins until its own CPU clock says 300 ms, touches 64 MiB, reports, then idles.
  const script = `
    const start = process.cpuUsage();
    let used = 0;
    while (used < 300000) { const u = process.cpuUsage(start); used = u.user + u.system; }
    const mem = Buffer.alloc(64 * 1024 * 1024, 1);
    const total = process.cpuUsage();
    process.stdout.write("BURNED " + (total.user + total.system) + " " + mem[12345] + "\\n");
    setInterval(() => {}, 1000);`;
  const child = children.spawnTracked("burner", process.execPath, ["-e", script], { cpu: null });
  try {
    const m = await lineMatching(child, /BURNED (\d+) 1\n/);
    const reportedSeconds = Number(m[1]) / 1e6;
    const s = proc.sampleTree(child.pid);
    const seconds = s.ticks / proc.clockTicksPerSecond();
    // /proc counts in ticks: allow one tick below what the child measured itself.
    expect(seconds).toBeGreaterThanOrEqual(0.3 - 1 / proc.clockTicksPerSecond());
    expect(seconds).toBeGreaterThanOrEqual(reportedSeconds - 2 / proc.clockTicksPerSecond());
    expect(s.rssKb).toBeGreaterThanOrEqual(64 * 1024);
    expect(s.pids).toBe(1);
    expect(proc.readCpuTicks(child.pid)).toBeGreaterThanOrEqual(s.ticks);
  } finally {
    await children.stopTracked(child);
  }
  expect(proc.readCpuTicks(child.pid)).toBeNull();
  expect(children.liveCount()).toBe(0);
});

test("two processes spinning on one CPU wait on its run queue, and the sample of both counts it", async () => {
  // Each spins until it has used 250 ms of CPU. On one CPU each runs only while the other
  // waits: together they wait about as long as one of them ran (a lone one, ~0).
  const script = `
    const start = process.cpuUsage();
    let used = 0;
    while (used < 250000) { const u = process.cpuUsage(start); used = u.user + u.system; }
    process.stdout.write("SPUN\\n");
    setInterval(() => {}, 1000);`;
  const a = children.spawnTracked("spinner-a", process.execPath, ["-e", script], { cpu: 0 });
  const b = children.spawnTracked("spinner-b", process.execPath, ["-e", script], { cpu: 0 });
  try {
    await Promise.all([lineMatching(a, /SPUN\n/), lineMatching(b, /SPUN\n/)]);
    const s = proc.sampleTrees([a.pid, b.pid]);
    expect(s.pids).toBe(2);
    expect(proc.readRunDelayNs(a.pid)).toBeGreaterThanOrEqual(0);
    expect(proc.waitMsBetween({ waitNs: 0 }, s)).toBeGreaterThan(100);
    expect(proc.waitMsBetween({ waitNs: null }, s)).toBeNaN();
  } finally {
    await children.stopTracked(a);
    await children.stopTracked(b);
  }
  expect(proc.readRunDelayNs(a.pid)).toBeNull();
  expect(children.liveCount()).toBe(0);
});

test("a process tree is sampled with its grandchild, and stopping it ends the grandchild by PID", async () => {
  const child = children.spawnTracked("tree", "/bin/sh", ["-c", "sleep 60 & echo SLEEPER $!; wait"], { cpu: null });
  let sleeper = 0;
  try {
    sleeper = Number((await lineMatching(child, /SLEEPER (\d+)\n/))[1]);
    expect(proc.descendants(child.pid)).toContain(sleeper);
    expect(proc.sampleTree(child.pid).pids).toBe(2);
  } finally {
    children.rememberFamily(child);
    await children.stopTracked(child);
  }
  // SIGKILL is delivered asynchronously: give the kernel a bounded moment. Gone, or a
  // zombie waiting for init to reap it: either way no longer running.
  const stateOf = (): string => {
    try {
      return proc.parseStat(fs.readFileSync(`/proc/${sleeper}/stat`, "utf8")).state;
    } catch {
      return "gone";
    }
  };
  let state = stateOf();
  for (let i = 0; i < 100 && !["gone", "Z", "X"].includes(state); i++) {
    await new Promise((r) => setTimeout(r, 20));
    state = stateOf();
  }
  expect(["gone", "Z", "X"]).toContain(state);
});

test("several process trees sampled at once count every live process of each tree (sampleTrees, one /proc scan)", async () => {
  const a = children.spawnTracked("tree-a", "/bin/sh", ["-c", "sleep 60 & echo SLEEPER $!; wait"], { cpu: null });
  const b = children.spawnTracked("tree-b", "/bin/sh", ["-c", "sleep 60 & echo SLEEPER $!; wait"], { cpu: null });
  try {
    await lineMatching(a, /SLEEPER (\d+)\n/);
    await lineMatching(b, /SLEEPER (\d+)\n/);
    const both = proc.sampleTrees([a.pid, b.pid]);
    expect(both.pids).toBe(4);
    expect(typeof both.at).toBe("bigint");
    expect(both.rssKb).toBeGreaterThan(0);
    // A tree named twice is counted once.
    expect(proc.sampleTrees([a.pid, a.pid]).pids).toBe(2);
  } finally {
    children.rememberFamily(a);
    children.rememberFamily(b);
    await children.stopTracked(a);
    await children.stopTracked(b);
  }
});

test("a process spawned with nice runs at that priority, threads included (field 19 of /proc/PID/task/*/stat)", async () => {
  // A Node child: its V8 worker threads start after the exec, so they must inherit it.
  const script = "setTimeout(() => {}, 5000); process.stdout.write('UP\\n');";
  const child = children.spawnTracked("niced", process.execPath, ["-e", script], { cpu: null, nice: 19 });
  try {
    await lineMatching(child, /UP\n/);
    const tasks = fs.readdirSync(`/proc/${child.pid}/task`);
    expect(tasks.length).toBeGreaterThan(1);
    for (const t of tasks) {
      const text = fs.readFileSync(`/proc/${child.pid}/task/${t}/stat`, "utf8");
      const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
      expect(Number(rest[19 - 3])).toBe(19);
    }
  } finally {
    await children.stopTracked(child);
  }
  expect(children.liveCount()).toBe(0);
});
