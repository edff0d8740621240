#!/usr/bin/env node
// npm run test:asan: the native and platform suites (test/native, test/platform) and the TLS
// transport suites (test/net/tls*: the reactor driving the TLS engine) and the io_uring
// transport suite (test/net/io_uring*: the reactor driving the ring's batched I/O) against
// the addon compiled with AddressSanitizer + UndefinedBehaviorSanitizer (asan/binding.gyp).
//
// 1. Builds asan/build/Release/ when it is missing or older than a native source (under the
//    same build lock as every other build of the tree).
// 2. Proves LeakSanitizer is armed: a child that leaks on purpose (canary.cc) must end with
//    LeakSanitizer's exit code and a report naming the canary, with the same suppressions.
// 3. Runs jest with the sanitizer runtimes preloaded (node itself is not instrumented, so
//    libasan must come first in the process), FDREACTOR_ADDON pointing at the sanitizer
//    build (lib/native.ts honours it) and FDREACTOR_KQEMU_ADDON at its kqueue-emulation
//    twin. Any ASan report aborts the process that hit it; any UBSan report too
//    (-fno-sanitize-recover); a leak makes the leaking process exit with status 23, which
//    fails its test or jest itself. Suppressed: only Node's, V8's and jest's own leaks
//    (asan/lsan.supp says why, one by one).
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(__dirname, "build", "Release");
const ADDON = path.join(OUT, "fdreactor.node");
const KQEMU = path.join(OUT, "fdreactor_kqemu.node");
const CANARY = path.join(OUT, "lsan_canary.node");
const LEAK_EXIT = 23;

function newestSource() {
  let newest = fs.statSync(path.join(__dirname, "binding.gyp")).mtimeMs;
  const dirs = [path.join(ROOT, "native"), path.join(ROOT, "native", "kqueue_emul"), path.join(ROOT, "native", "kqueue_emul", "sys")];
  for (const dir of dirs) {
    for (const f of fs.readdirSync(dir)) {
      if (/\.(cc|h)$/.test(f)) newest = Math.max(newest, fs.statSync(path.join(dir, f)).mtimeMs);
    }
  }
  // kqemu/sources.js decides what asan/binding.gyp compiles, so a change to it counts too.
  for (const f of [path.join(ROOT, "binding.gyp"), path.join(ROOT, "kqemu", "sources.js"), path.join(__dirname, "canary.cc")]) {
    newest = Math.max(newest, fs.statSync(f).mtimeMs);
  }
  return newest;
}

function needsBuild() {
  for (const f of [ADDON, KQEMU, CANARY]) if (!fs.existsSync(f)) return true;
  return Math.min(...[ADDON, KQEMU, CANARY].map((f) => fs.statSync(f).mtimeMs)) < newestSource();
}

function gcc(lib) {
  return execFileSync("gcc", [`-print-file-name=${lib}`], { encoding: "utf8" }).trim();
}

if (needsBuild()) {
  console.log("test:asan: building the sanitizer addon (asan/build/Release)");
  execFileSync("flock", ["/tmp/fdreactor-build.lock", "npx", "node-gyp", "rebuild", `--directory=${__dirname}`], {
    cwd: ROOT,
    stdio: "inherit",
  });
}

const preload = [gcc("libasan.so"), gcc("libubsan.so")];
for (const lib of preload) {
  if (!path.isAbsolute(lib) || !fs.existsSync(lib)) {
    console.error(`test:asan: the sanitizer runtime ${lib} is missing (install gcc's libasan/libubsan)`);
    process.exit(2);
  }
}
const env = {
  ...process.env,
  LD_PRELOAD: preload.join(" "),
  ASAN_OPTIONS: `detect_leaks=1:exitcode=${LEAK_EXIT}:abort_on_error=0:strict_string_checks=1:check_initialization_order=1`,
  LSAN_OPTIONS: `suppressions=${path.join(__dirname, "lsan.supp")}:print_suppressions=0`,
  UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1",
  FDREACTOR_ADDON: ADDON,
  FDREACTOR_KQEMU_ADDON: KQEMU,
};

const canary = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(CANARY)}).leak(); let s = 0; for (let i = 0; i < 1e5; i++) s += i;`], {
  env,
  encoding: "utf8",
});
if (canary.status !== LEAK_EXIT || !canary.stderr.includes("fdr_lsan_canary")) {
  console.error(`test:asan: LeakSanitizer did not report the canary's leak (status ${canary.status}):\n${canary.stderr}`);
  process.exit(1);
}
console.log("test:asan: LeakSanitizer armed (the canary's deliberate leak was reported)");

const jest = path.join(ROOT, "node_modules", "jest", "bin", "jest.js");
const args = process.argv.slice(2);
const r = spawnSync(process.execPath, [jest, ...(args.length ? args : ["test/native", "test/platform", "test/net/tls", "test/net/io_uring"])], { cwd: ROOT, env, stdio: "inherit" });
if (r.status !== 0) console.error(`test:asan: FAILED (jest exit status ${r.status}${r.signal ? `, signal ${r.signal}` : ""}; ${LEAK_EXIT} = a leak)`);
process.exit(r.status ?? 1);
