#!/usr/bin/env node
"use strict";
/**
 * One measured run of spawn-and-reap in this process (bench/process/run.js starts it pinned):
 *   node bench/process/spawner.js fdreactor|node exit|echo COUNT CONCURRENCY
 * exit: /bin/true with stdin, stdout and stderr pipes, until it has ended (fdreactor:
 * processEnded; Node: "close"). echo: /bin/cat is given 1 MiB on stdin, which is then
 * closed, and the 1 MiB that comes back is counted. COUNT children, CONCURRENCY at a time,
 * after a warm-up of COUNT/10. Prints one JSON line: children, this process's CPU seconds
 * (getrusage RUSAGE_SELF: user + system of every thread, children excluded), wall seconds,
 * and, for fdreactor, the zombies and fds left after the run.
 */
const fs = require("node:fs");
const childProcess = require("node:child_process");

const [peer, workload, countArg, concArg] = process.argv.slice(2);
const COUNT = Number(countArg);
const CONCURRENCY = Number(concArg);
const MIB = Buffer.alloc(1024 * 1024, 0x61);
const EXE = workload === "echo" ? "/bin/cat" : "/bin/true";
const ARGV = workload === "echo" ? ["cat"] : ["true"];

function zombies() {
  let n = 0;
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" && rest[1] === String(process.pid)) n++;
    } catch {
      // gone
    }
  }
  return n;
}

/** Runs `total` children, `conc` at a time, with `one(done)`; resolves when all ended. */
function runMany(total, conc, one) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let ended = 0;
    const next = () => {
      if (started >= total) return;
      started++;
      one((err) => {
        if (err) return reject(err);
        if (++ended === total) resolve();
        else next();
      });
    };
    for (let i = 0; i < Math.min(conc, total); i++) next();
  });
}

function nodeOne(done) {
  const c = childProcess.spawn(EXE, ARGV.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: {} });
  let got = 0;
  c.stdout.on("data", (d) => (got += d.length));
  c.stderr.resume();
  c.on("error", done);
  c.on("close", (code) => done(code !== 0 ? new Error(`exit ${code}`) : workload === "echo" && got !== MIB.length ? new Error(`echoed ${got}`) : null));
  if (workload === "echo") c.stdin.end(MIB);
  else c.stdin.end();
}

function fdreactorSetup() {
  const { Reactor } = require("../../dist/lib/reactor");
  const net = require("../../dist/lib/net");
  const { ProcessProtocol } = require("../../dist/lib/protocols");
  const reactor = new Reactor();
  class Child extends ProcessProtocol {
    constructor(done) {
      super();
      this.done = done;
      this.got = 0;
    }
    connectionMade() {
      if (workload === "echo") this.transport.write(MIB);
      this.transport.closeStdin();
    }
    outReceived(d) {
      this.got += d.length;
    }
    processEnded(reason) {
      const v = reason.value;
      this.done(v.exitCode !== 0 ? v : workload === "echo" && this.got !== MIB.length ? new Error(`echoed ${this.got}`) : null);
    }
  }
  const one = (done) => net.spawnProcess(reactor, new Child(done), EXE, ARGV, { env: {} });
  return { reactor, one };
}

async function main() {
  let one;
  let reactor = null;
  if (peer === "fdreactor") ({ reactor, one } = fdreactorSetup());
  else one = nodeOne;
  const body = async () => {
    await runMany(Math.max(1, Math.floor(COUNT / 10)), CONCURRENCY, one);
    const fdsBefore = fs.readdirSync("/proc/self/fd").length;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await runMany(COUNT, CONCURRENCY, one);
    const cpu = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const out = { peer, workload, children: COUNT, cpuSec: (cpu.user + cpu.system) / 1e6, wallSec: wall };
    if (peer === "fdreactor") {
      out.zombies = zombies();
      out.fdsLeft = fs.readdirSync("/proc/self/fd").length - fdsBefore;
    }
    console.log(JSON.stringify(out));
  };
  if (reactor === null) return body();
  let failed = null;
  reactor.callWhenRunning(() =>
    body().then(
      () => reactor.stop(),
      (e) => {
        failed = e;
        reactor.stop();
      },
    ),
  );
  await reactor.run();
  if (failed) throw failed;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
