/**
 * Jest reporter for skipped tests: one line per test file that skipped any (naming the
 * missing peer and its install command, or the reason, from the marker test/support/peers.ts
 * puts in the title), and at the end of the run the list of everything skipped and why.
 */
"use strict";
const path = require("node:path");

const NEEDS = /\[needs ([^:\]]+): ([^\]]+)\]/;
const SKIPPED = /\[skipped: ([^\]]+)\]/;

/** Why a skipped test was skipped: the marker peers.ts put in its own or an enclosing title. */
function reasonOf(result) {
  for (const title of [result.title, ...result.ancestorTitles]) {
    const m = NEEDS.exec(title);
    if (m) return `needs ${m[1]} (${m[2]})`;
    const s = SKIPPED.exec(title);
    if (s) return s[1];
  }
  return "test.skip with no reason given";
}

class SkipReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    /** file -> reason -> count */
    this.skips = new Map();
  }

  onTestResult(_test, fileResult) {
    const file = path.relative(this.rootDir, fileResult.testFilePath);
    const reasons = new Map();
    for (const r of fileResult.testResults) {
      if (r.status !== "pending" && r.status !== "skipped") continue;
      const why = reasonOf(r);
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    if (reasons.size === 0) return;
    this.skips.set(file, reasons);
    for (const [why, n] of reasons) process.stderr.write(`SKIP ${file}: ${n} test${n === 1 ? "" : "s"}, ${why}\n`);
  }

  onRunComplete() {
    if (this.skips.size === 0) {
      process.stderr.write("Skipped: nothing.\n");
      return;
    }
    let total = 0;
    const lines = [];
    for (const [file, reasons] of this.skips) {
      for (const [why, n] of reasons) {
        total += n;
        lines.push(`  ${file}: ${n}, ${why}`);
      }
    }
    process.stderr.write(`Skipped: ${total} test${total === 1 ? "" : "s"} in ${this.skips.size} file${this.skips.size === 1 ? "" : "s"}\n${lines.join("\n")}\n`);
  }
}

module.exports = SkipReporter;
