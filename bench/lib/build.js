"use strict";
/**
 * Compiles the C programs of bench/peers into bench/out (gitignored) with `cc -O2` when
 * the binary is missing or older than its source. The binary is written under a temporary
 * name and renamed, so two harnesses building at once never run a half-written file.
 */
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

/** The repository root (two folders above this file). */
const ROOT = path.resolve(__dirname, "..", "..");
/** Where compiled programs, configs and JSON results go (gitignored). */
const OUT_DIR = path.join(ROOT, "bench", "out");
/** Where the peers' sources live. */
const PEERS_DIR = path.join(ROOT, "bench", "peers");

/** Whether a C compiler (`cc`) can be run. */
function haveCompiler() {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of bench/out/<name>, compiled from bench/peers/<name>.c if missing or stale;
 * `libs` are linker arguments (`["-lssl", "-lcrypto"]`).
 */
function ensureBuilt(name, { libs = [] } = {}) {
  if (!/^[a-z_]+$/.test(name)) throw new TypeError(`ensureBuilt: name must be a plain program name, got ${JSON.stringify(name)}`);
  const src = path.join(PEERS_DIR, `${name}.c`);
  const bin = path.join(OUT_DIR, name);
  const srcTime = fs.statSync(src).mtimeMs;
  let binTime = -1;
  try {
    binTime = fs.statSync(bin).mtimeMs;
  } catch {
    /* missing: build */
  }
  if (binTime >= srcTime) return bin;
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    execFileSync("cc", ["-O2", "-Wall", "-o", tmp, src, ...libs], { stdio: ["ignore", "ignore", "pipe"] });
    fs.renameSync(tmp, bin);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* nothing written */
    }
    const detail = err && err.stderr ? String(err.stderr) : String(err);
    throw new Error(`cc -O2 ${path.relative(ROOT, src)} failed:\n${detail}`, { cause: err });
  }
  return bin;
}

module.exports = { ROOT, OUT_DIR, PEERS_DIR, haveCompiler, ensureBuilt };
