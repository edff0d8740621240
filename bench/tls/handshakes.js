"use strict";
/**
 * The handshakes benchmark (run by run.js): a new TLS 1.3 connection per request. The
 * load client (bench/peers/tls_client.c, on CPU 1) keeps `--conns` connections in flight;
 * each makes a full handshake (nothing to resume), sends one GET /, reads the answer and
 * closes with RST. Primary figure: server CPU µs per handshake (its inverse is handshakes
 * per server CPU-second).
 */
const { TLS_SERVERS, verifyHttps } = require("./servers");
const { SUITE, GROUP } = require("./certs");
const { ensureBuilt } = require("../lib/build");
const { spawnTracked, stopTracked } = require("../lib/children");
const { sampledRun } = require("../lib/measure");

/** At most this many handshakes per run, whatever the duration. */
const MAX_PER_RUN = 1_000_000;

/** Runs the client for `seconds`; resolves to its RESULT line (handshakes, seconds, errors, version, cipher) and command. */
async function runClient({ port, conns, seconds, cpu }) {
  const bin = ensureBuilt("tls_client", { libs: ["-lssl", "-lcrypto"] });
  const args = ["handshakes", String(port), String(conns), String(seconds), String(MAX_PER_RUN)];
  const child = spawnTracked("tls_client", bin, args, { cpu });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const guard = setTimeout(() => stopTracked(child, 500), (seconds + 10) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(guard);
  const m = /^RESULT (\{.*\})$/m.exec(out);
  if (code !== 0 || !m) throw new Error(`tls_client exited with code ${code} signal ${signal}:\n${err}${out}`);
  const r = JSON.parse(m[1]);
  if (r.handshakes > 0 && (r.version !== "TLSv1.3" || r.cipher !== SUITE)) throw new Error(`tls_client negotiated ${r.version} ${r.cipher}`);
  return { ...r, command: `${cpu === null ? "" : `taskset -c ${cpu} `}bench/out/tls_client ${args.join(" ")}` };
}

/** One measured round: a warm-up run, then the server sampled around the measured run. */
async function measure(ctx) {
  const { server, workload, loadCpu } = ctx;
  const { result: r, end, cpuSeconds, wallSeconds } = await sampledRun(ctx, (seconds) => runClient({ port: server.port, conns: workload.conns, seconds, cpu: loadCpu }));
  return {
    count: r.handshakes,
    seconds: r.seconds,
    rate: r.handshakes / r.seconds,
    latencyUs: {},
    errors: r.errors,
    errorDetail: { client: r.errors },
    cpuSeconds,
    wallSeconds,
    rssKb: end.rssKb,
    processes: end.pids,
    command: r.command.replace(/handshakes \d+ \d+ /, "handshakes PORT N "),
  };
}

/** The handshakes benchmark for bench/lib/runner.js (and its client, for the tests). */
module.exports = {
  runClient,
  kind: "handshakes",
  script: "bench/tls/run.js handshakes",
  unit: "handshake",
  registry: TLS_SERVERS,
  defaults: { kind: "handshakes", unit: "handshake", rounds: 3, duration: 3, warmup: 1, conns: [16], baseline: "node-https", heading: "## TLS" },
  workloadName: (conns) => `handshakes-c${conns}`,
  settings: () => `a new connection per request: full TLS 1.3 handshake (${SUITE}, ${GROUP}, EC P-256 certificate, no resumption), one GET /, RST; --conns = handshakes in flight`,
  verify: verifyHttps,
  measure,
};
