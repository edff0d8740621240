"use strict";
/**
 * The JavaScript cost of one keep-alive request through lib/web alone, with no kernel in
 * the way: a Site's HTTPChannel on an in-memory transport is fed the same GET again and
 * again (parser, Request, routing, the hello resource, the response written), and the
 * process's CPU time is divided by the requests. Loopback TCP costs ~10 µs per request
 * here and varies by more than this whole path between rounds on a shared machine; this
 * isolates the part the web code decides.
 *
 *   node bench/http/request_cpu.js [--base DIR] [--rounds N] [--requests N]
 *
 * Each round runs one child process per build (this checkout, and --base's, an older
 * checkout with its dist/ built), interleaved A, B, A, B, pinned to CPU 0 with taskset
 * when it is there. Prints µs per request per round, the medians and the ratio new ÷ base
 * (median of per-round ratios).
 */
const { execFileSync, spawnSync } = require("node:child_process");
const path = require("node:path");
const { median } = require("../lib/stats");

const ROOT = path.resolve(__dirname, "..", "..");

/** The child: `node request_cpu.js --child ROOT N` prints the CPU µs per request of N requests. */
function child(root, n) {
  // That checkout's hello-world Site (bench/lib), on its own dist/.
  const { helloSite } = require(path.join(root, "bench", "lib", "fdreactor_server.js"));
  const timer = { cancel() {}, active: () => true };
  const reactor = { seconds: () => Date.now() / 1000, callLater: () => timer };
  const site = helloSite(reactor, 60);
  let bytes = 0;
  const transport = {
    disconnecting: false,
    write(d) {
      bytes += d.length;
    },
    writeSequence(ds) {
      for (const d of ds) bytes += d.length;
    },
    loseConnection() {},
    abortConnection() {},
    getPeer: () => ({ type: "TCP", host: "127.0.0.1", port: 1 }),
    getHost: () => ({ type: "TCP", host: "127.0.0.1", port: 2 }),
    registerProducer() {},
    unregisterProducer() {},
    pauseProducing() {},
    resumeProducing() {},
    stopProducing() {},
  };
  const ch = site.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1 });
  ch.makeConnection(transport);
  const get = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n", "latin1");
  const feed = (k) => {
    for (let i = 0; i < k; i++) ch.dataReceived(get.subarray(0)); // a new view per read, as the reactor hands out
  };
  feed(Math.min(n, 200000)); // warm-up: the JIT settles
  const before = bytes;
  const t0 = process.cpuUsage();
  feed(n);
  const t = process.cpuUsage(t0);
  const perResponse = (bytes - before) / n;
  if (!(perResponse > 100)) throw new Error(`responses missing: ${perResponse} bytes per request`);
  process.stdout.write(`${((t.user + t.system) / n).toFixed(4)}\n`);
}

function main(argv) {
  const opts = { base: null, rounds: 5, requests: 1000000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--base") opts.base = path.resolve(argv[++i]);
    else if (a === "--rounds") opts.rounds = Number(argv[++i]);
    else if (a === "--requests") opts.requests = Number(argv[++i]);
    else if (a === "--help") {
      process.stdout.write("usage: node bench/http/request_cpu.js [--base DIR] [--rounds N (>= 1, default 5)] [--requests N (default 1000000)]\n");
      return 0;
    } else {
      process.stderr.write(`unknown option ${a}\n`);
      return 2;
    }
  }
  if (!(Number.isInteger(opts.rounds) && opts.rounds >= 1 && opts.rounds <= 50) || !(Number.isInteger(opts.requests) && opts.requests >= 1000 && opts.requests <= 1e8)) {
    process.stderr.write("--rounds must be 1..50 and --requests 1000..1e8\n");
    return 2;
  }
  let taskset = null;
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    taskset = "taskset";
  } catch {
    process.stdout.write("note: taskset not available: not pinned\n");
  }
  const builds = [["this build", ROOT]];
  if (opts.base) builds.push(["base build", opts.base]);
  const got = builds.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let b = 0; b < builds.length; b++) {
      const args = [__filename, "--child", builds[b][1], String(opts.requests)];
      const res = taskset ? spawnSync(taskset, ["-c", "0", process.execPath, ...args], { encoding: "utf8" }) : spawnSync(process.execPath, args, { encoding: "utf8" });
      if (res.status !== 0) {
        process.stderr.write(`${builds[b][0]} failed: ${res.stderr}\n`);
        return 1;
      }
      got[b].push(Number(res.stdout.trim()));
    }
  }
  for (let b = 0; b < builds.length; b++) {
    const v = got[b];
    const m = median(v);
    process.stdout.write(`${builds[b][0].padEnd(11)} µs/request per round: ${v.map((x) => x.toFixed(3)).join(" · ")}  median ${m.toFixed(3)}  spread ${(((Math.max(...v) - Math.min(...v)) / m) * 100).toFixed(0)}%\n`);
  }
  if (builds.length === 2) {
    const ratios = got[0].map((x, i) => x / got[1][i]);
    process.stdout.write(`this ÷ base per round: ${ratios.map((x) => x.toFixed(2)).join(" · ")}  median ${median(ratios).toFixed(2)}\n`);
  }
  return 0;
}

if (process.argv[2] === "--child") child(process.argv[3], Number(process.argv[4]));
else process.exitCode = main(process.argv.slice(2));
