"use strict";
/**
 * The harness' side of the load generator (bench/c10k/loadgen.js): starts as many load
 * processes as the connection count needs (each pinned to the load CPU): drivers with the
 * active connections, holders with the idle ones (planProcesses), each with its share of
 * the connect rate and its own loopback source address (127.0.0.x; rotated between rounds
 * so that the ports a closed round left in TIME_WAIT are never needed again), then steps
 * them together through connect → run (closed loop: warm-up, measure, report) → pace
 * (settle, measure) → stop, and collects their reports.
 */
const path = require("node:path");
const { spawnTracked, stopTracked } = require("../lib/children");
const { sampleTrees } = require("../lib/proc");
const { parseReport, mergeResults } = require("./results");

const LOADGEN = path.join(__dirname, "loadgen.js");

/**
 * Connections per source address. bind() to port 0 takes the odd half of the ephemeral
 * range first (~14,000 ports here) and becomes slow by orders of magnitude once that half
 * is used up, so each address is kept well below it.
 */
const PER_SOURCE = 9000;

/**
 * V8 flags of the holder processes (see Load.start): no memory reducer (the GC it starts
 * seconds after a holder goes idle is what used to take the load CPU from the driver) and
 * no GC helper threads (a collection that does happen stays on one thread).
 */
const HOLDER_NODE_FLAGS = ["--no-memory-reducer", "--single-threaded-gc"];

/** The next source address to hand out: 127.0.0.2 .. 127.0.0.254, starting somewhere per harness run. */
let sourceCursor = 2 + (process.pid % 253);

/** `n` fresh loopback source addresses (never 127.0.0.1, which every other test uses). */
function nextSources(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(`127.0.0.${sourceCursor}`);
    sourceCursor = sourceCursor >= 254 ? 2 : sourceCursor + 1;
  }
  return out;
}

/** Splits `total` into `parts` integers that differ by at most one (the first ones larger). */
function split(total, parts) {
  const out = [];
  for (let i = 0; i < parts; i++) out.push(Math.floor(total / parts) + (i < total % parts ? 1 : 0));
  return out;
}

/**
 * The load processes for `conns` connections of which `active` are driven, at most
 * `perProcess` each: drivers that hold the active connections and nothing else (one, unless
 * there are more active ones than a process holds), then holders that keep the idle ones
 * open and sleep. Returns [{ conns, active }] per process.
 *
 * Why drivers hold nothing else: a closed loop spread over several load processes on one
 * CPU measures their time slices (an answer waits until its process runs again: 25-30 ms
 * p99 at 100k with six of them), not the server; and a driver that also held 17,000 idle
 * connections stalled every message for as long as a major GC of that heap took (up to
 * ~130 ms seen at 100k). A driver with only its active connections has a small heap.
 */
function planProcesses(conns, active, perProcess) {
  const drivers = split(active, Math.ceil(active / perProcess)).map((n) => ({ conns: n, active: n }));
  const idle = conns - active;
  const holders = idle > 0 ? split(idle, Math.ceil(idle / perProcess)).map((n) => ({ conns: n, active: 0 })) : [];
  return [...drivers, ...holders].filter((p) => p.conns > 0);
}

/** Error raised when the load generator fails; carries what its processes wrote on stderr. */
class LoadError extends Error {
  /** @param {string} message @param {string} stderr */
  constructor(message, stderr) {
    super(stderr ? `${message}\n--- load generator stderr ---\n${stderr}` : message);
    this.name = "LoadError";
    this.stderr = stderr;
  }
}

/**
 * A set of load processes against 127.0.0.1:port. Options: { port, conns, active, scenario,
 * size, rate, perProcess, response (http), files (static), cpu, connectTimeoutS,
 * deadlineS, backend }.
 */
class Load {
  /** @param {object} o the options above */
  constructor(o) {
    this.o = o;
    this.plan = planProcesses(o.conns, o.active, o.perProcess);
    this.procs = this.plan.length;
    this.children = [];
    this.reports = new Map(); // id -> { limits, progress, connected, result }
    // Processes whose stdout has closed: every line they printed has been read. Their exit
    // alone does not say so: Node may see a child's exit before the last of its output.
    this.drained = new Set();
    this.stderr = "";
    this.waiters = [];
  }

  /** Spawns the processes; they start connecting at once. */
  start() {
    const o = this.o;
    const conns = this.plan.map((p) => p.conns);
    const active = this.plan.map((p) => p.active);
    let indexBase = 0;
    for (let i = 0; i < this.procs; i++) {
      const cfg = {
        id: i,
        host: "127.0.0.1",
        port: o.port,
        conns: conns[i],
        active: active[i],
        scenario: o.scenario,
        size: o.size,
        rate: Math.max(1, Math.round((o.rate * conns[i]) / o.conns)),
        maxPending: 512,
        sources: nextSources(Math.ceil(conns[i] / PER_SOURCE)),
        response: o.response || null,
        files: o.files || null,
        wholeAnswers: o.wholeAnswers === true,
        connectTimeoutS: o.connectTimeoutS ?? 20,
        deadlineS: o.deadlineS,
        backend: o.backend || "epoll",
        indexBase,
      };
      indexBase += conns[i];
      // Holders run at the driver's priority, without V8's memory reducer: once idle, that
      // reducer collected their 17,000-connection heaps seconds later, and the GC (helper
      // threads and all) took the load CPU from the driver mid-measurement for 30-100 ms,
      // whatever the server. They used to run at nice 19 for that; on a loaded machine they
      // then got no CPU to connect and the 50,000 and 100,000 counts never started.
      const flags = active[i] === 0 ? HOLDER_NODE_FLAGS : [];
      const child = spawnTracked(`loadgen-${i}`, process.execPath, [...flags, LOADGEN, JSON.stringify(cfg)], { cpu: o.cpu, stdio: ["pipe", "pipe", "pipe"] });
      const report = { sources: cfg.sources };
      this.reports.set(i, report);
      let buf = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const r = parseReport(line);
            report[r.type] = r;
          } catch (err) {
            this.stderr += `${err.message}\n`;
          }
          this.wake();
        }
      });
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (d) => {
        this.stderr = (this.stderr + d).slice(-4000);
      });
      child.stdout.on("close", () => {
        this.drained.add(i);
        this.wake();
      });
      child.exited.then(() => this.wake());
      child.stdin.on("error", () => {}); // a process that already exited: its exit says why
      this.children.push(child);
    }
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once every process has `type` reported, rejects when one exits first or `timeoutMs` passes. */
  async waitFor(type, timeoutMs, onTick) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = [...this.reports.values()];
      if (all.every((r) => r[type])) return all.map((r) => r[type]);
      const dead = this.children.find((c, i) => (c.exitCode !== null || c.signalCode !== null) && this.drained.has(i) && !this.reports.get(i)[type]);
      if (dead) throw new LoadError(`a load process exited (code ${dead.exitCode}, signal ${dead.signalCode}) before it reported ${type}`, this.stderr);
      if (Date.now() > deadline) {
        const per = [...this.reports.values()].map((r, i) => `#${i} ${r.sources.join(",")}: ${JSON.stringify(r.connected || r.progress || null)}`).join("; ");
        throw new LoadError(`the load processes did not report ${type} within ${Math.round(timeoutMs / 1000)} s (${this.progress().established} of ${this.o.conns} connected; ${per})`, this.stderr);
      }
      if (onTick) onTick(this.progress());
      await new Promise((resolve) => {
        const t = setTimeout(resolve, 250);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Connections established so far, over all processes. */
  progress() {
    let established = 0;
    for (const r of this.reports.values()) established += (r.connected || r.progress || { established: 0 }).established;
    return { established, conns: this.o.conns };
  }

  /** Sends one control line to every process. */
  tell(cmd) {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.stdin.write(`${cmd}\n`);
  }

  /** CPU ticks of every load process together, as one sample (bench/lib/proc's shape). */
  sample() {
    return sampleTrees(this.children.map((c) => c.pid));
  }

  /**
   * static: the smallest receive buffer the kernel granted a driven connection (SO_RCVBUF
   * read back, which Linux doubles) and the room a whole answer needs; null when no driver
   * reported one (echo, http).
   */
  answerBuffer() {
    let granted = null;
    let room = 0;
    for (const r of this.reports.values()) {
      const d = r.driving;
      if (!d || typeof d.rcvbuf !== "number") continue;
      if (granted === null || d.rcvbuf < granted) granted = d.rcvbuf;
      room = Math.max(room, d.answerRoom || 0);
    }
    return granted === null ? null : { granted, room, capped: granted < 2 * room };
  }

  /** The fd limits each process reported (for the notes). */
  limits() {
    return [...this.reports.values()].map((r) => r.limits).filter(Boolean);
  }

  /**
   * Sends `cmd` ("report": the processes keep their connections for the next phase; "stop":
   * they exit), waits for every result and returns them merged (see results.mergeResults).
   */
  async collect(cmd = "stop", timeoutMs = 15000) {
    for (const r of this.reports.values()) delete r.result;
    this.tell(cmd);
    const results = await this.waitFor("result", timeoutMs);
    return { ...mergeResults(results), perProcess: results.map((r) => ({ count: r.count, rate: r.rate, established: r.established, errors: r.errors })) };
  }

  /** Ends every load process (they exit by themselves after "stop"; this makes sure). */
  async stop() {
    await Promise.all(this.children.map((c) => stopTracked(c, 5000)));
  }
}

module.exports = { Load, split, planProcesses };
