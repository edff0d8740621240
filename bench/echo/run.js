#!/usr/bin/env node
"use strict";
/**
 * echo benchmark: see bench/echo/bench.js and docs/benchmarks.md.
 *   node bench/echo/run.js --help
 */
const { main } = require("../lib/runner");
main(require("./bench"));
