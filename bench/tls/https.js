"use strict";
/**
 * The https benchmark (run by run.js): bench/http's keep-alive hello world over TLS 1.3,
 * every server with the same certificate and suite (certs.js), load from Debian's wrk
 * held by an OpenSSL config to that suite and group (on CPU 1), every server on CPU 0.
 * Primary figure: server CPU µs per request.
 */
const { TLS_SERVERS, verifyHttps } = require("./servers");
const { benchCertificate, SUITE, GROUP } = require("./certs");
const { runWrk } = require("../lib/wrk");
const { sampledRun, wrkRound } = require("../lib/measure");

/** One measured round: a wrk warm-up run (its connections' handshakes), then the server sampled around the measured wrk run. */
async function measure(ctx) {
  const { server, workload, loadCpu } = ctx;
  const env = { OPENSSL_CONF: benchCertificate().conf };
  return wrkRound(await sampledRun(ctx, (seconds) => runWrk({ port: server.port, conns: workload.conns, seconds, cpu: loadCpu, scheme: "https", env })));
}

/** The https benchmark for bench/lib/runner.js. */
module.exports = {
  kind: "https",
  script: "bench/tls/run.js https",
  unit: "req",
  registry: TLS_SERVERS,
  defaults: { kind: "https", unit: "request", rounds: 3, duration: 3, warmup: 1, conns: [100], baseline: "node-https", wholeSeconds: true, heading: "## TLS" },
  workloadName: (conns) => `https-c${conns}`,
  settings: () => `keep-alive GET / over TLS 1.3 (${SUITE}, ${GROUP}, one EC P-256 certificate for every server), 13-byte body; each wrk connection's handshake falls in the warm-up`,
  verify: verifyHttps,
  measure,
};
