#!/usr/bin/env node
"use strict";
/**
 * TLS benchmarks (docs/benchmarks.md, "TLS"):
 *   node bench/tls/run.js https [options]        keep-alive HTTPS hello world, CPU per request (wrk)
 *   node bench/tls/run.js handshakes [options]   a full handshake per request, CPU per handshake
 *   node bench/tls/run.js idle [options]         server memory per idle TLS connection at 10,000
 *   node bench/tls/run.js <which> --help
 */
const { main } = require("../lib/runner");
const { haveWrk } = require("../lib/wrk");

const which = process.argv[2];
const benches = { https: "./https", handshakes: "./handshakes", idle: "./idle" };
if (!(which in benches)) {
  process.stderr.write("usage: node bench/tls/run.js https|handshakes|idle [options] (--help for each)\n");
  process.exit(2);
}
process.argv.splice(2, 1);
if (which === "https" && !haveWrk() && !process.argv.includes("--help")) {
  process.stderr.write("wrk is not installed: apt-get install wrk\n");
  process.exit(2);
}
if (which === "idle") require("./idle").main();
else main(require(benches[which]));
