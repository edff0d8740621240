#!/usr/bin/env node
"use strict";
/**
 * http benchmark: see bench/http/bench.js and docs/benchmarks.md.
 *   node bench/http/run.js --help
 */
const { main } = require("../lib/runner");
const { haveWrk } = require("../lib/wrk");

if (!haveWrk() && !process.argv.includes("--help")) {
  process.stderr.write("wrk is not installed: apt-get install wrk\n");
  process.exit(2);
}
main(require("./bench"));
