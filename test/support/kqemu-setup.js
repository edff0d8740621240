/**
 * Jest globalSetup: makes the kqueue-emulation test build (kqemu/build/Release, what
 * `npm run build:kqemu` makes) when it is missing or older than a source it is built from,
 * so that `npm test` on a fresh clone runs the kqueue cases instead of failing them. Only
 * when the run includes a suite that loads it (test/kqemu, test/platform, test/net/process-kqueue), and not when
 * FDREACTOR_KQEMU_ADDON names another build (asan/run.js brings its own).
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "../..");
const OUT = path.join(ROOT, "kqemu", "build", "Release");
const OUTPUTS = [path.join(OUT, "fdreactor_kqemu.node"), path.join(OUT, "kqemu_raw.node")];
const USERS = [
  path.join(ROOT, "test", "kqemu", "backend.test.ts"),
  path.join(ROOT, "test", "platform", "behaviour.test.ts"),
  path.join(ROOT, "test", "net", "process-kqueue.test.ts"),
];

/** The newest mtime among the sources and build files the kqemu build reads. */
function newestInput() {
  let newest = 0;
  const visit = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (/\.(cc|h)$/.test(e.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  visit(path.join(ROOT, "native"));
  for (const f of ["binding.gyp", "kqemu/binding.gyp", "kqemu/sources.js"]) newest = Math.max(newest, fs.statSync(path.join(ROOT, f)).mtimeMs);
  return newest;
}

/** Whether the kqemu build is missing or older than one of its inputs. */
function stale() {
  if (!OUTPUTS.every((f) => fs.existsSync(f))) return true;
  return Math.min(...OUTPUTS.map((f) => fs.statSync(f).mtimeMs)) < newestInput();
}

/** Whether this run selects a suite that loads the kqemu build. */
function selected(globalConfig) {
  const patterns = globalConfig.testPathPatterns;
  if (!patterns || typeof patterns.isSet !== "function" || !patterns.isSet()) return true;
  const executor = patterns.toExecutor({ rootDir: globalConfig.rootDir });
  return USERS.some((f) => executor.isMatch(f));
}

module.exports = async function kqemuSetup(globalConfig) {
  // The emulation is epoll underneath: Linux only (elsewhere kqueue is the real one or absent).
  if (process.platform !== "linux" || process.env.FDREACTOR_KQEMU_ADDON || !selected(globalConfig) || !stale()) return;
  process.stderr.write("\nkqemu: the kqueue-emulation test build is missing or stale: npm run build:kqemu\n");
  const started = Date.now();
  // The same lock as asan/run.js: two builds of one tree must not interleave.
  const r = spawnSync("flock", ["/tmp/fdreactor-build.lock", "npm", "run", "--silent", "build:kqemu"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`npm run build:kqemu failed (${r.error ?? `exit ${r.status}`}); the kqueue suites need it:\n${r.stdout}${r.stderr}`);
  }
  process.stderr.write(`kqemu: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
};
