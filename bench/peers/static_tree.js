"use strict";
/**
 * The files of the static workload (`fdreactor-c10k --scenario static`): one file per size
 * (default 4 KiB, 64 KiB, 1 MiB), named `f<size>.bin`, filled with bytes from a fixed
 * seed so that every run serves the same content, and written once under bench/out. Every
 * static peer serves this directory; the load generator checks each response's length and
 * its CRC-32 against `files`.
 */
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const { OUT_DIR } = require("../lib/build");

/** The directory every static peer serves. */
const STATIC_ROOT = path.join(OUT_DIR, "static-www");

/** The default file sizes of the static workload. */
const STATIC_SIZES = [4096, 65536, 1048576];

/** `size` bytes from a xorshift32 stream seeded with `seed` (the same bytes every run). */
function seededBytes(size, seed) {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * Writes the file of each size under `dir` (default STATIC_ROOT) unless it is there with
 * the right length; returns [{ path: "/f4096.bin", size, crc32 }] in the order of `sizes`.
 */
function ensureStaticTree(sizes = STATIC_SIZES, dir = STATIC_ROOT) {
  fs.mkdirSync(dir, { recursive: true });
  return sizes.map((size) => {
    const name = `f${size}.bin`;
    const file = path.join(dir, name);
    const bytes = seededBytes(size, size * 2654435761);
    let have = null;
    try {
      have = fs.readFileSync(file);
    } catch {
      /* not written yet */
    }
    if (have === null || !have.equals(bytes)) fs.writeFileSync(file, bytes);
    return { path: `/${name}`, size, crc32: zlib.crc32(bytes) };
  });
}

module.exports = { STATIC_ROOT, STATIC_SIZES, ensureStaticTree, seededBytes };
