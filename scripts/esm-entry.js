#!/usr/bin/env node
// Writes dist/lib/index.mjs, the ES module entry, from the CommonJS build in dist/lib (run
// by build:dist and by `npm test`'s pretest). Node's detection of CommonJS exports cannot
// see the getter behind the global `reactor`, so the entry names every export explicitly.
// `reactor` itself is the lazy stand-in of lib/reactor/default.ts: an ES binding cannot be
// a getter, and reading the CommonJS getter here would make the global reactor at import.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const OUT = path.resolve(__dirname, "..", "dist", "lib");
// Object.keys reads names only: the getter (and so the global reactor) is not touched here.
const names = Object.keys(require(path.join(OUT, "index.js"))).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default" && n !== "reactor");
const text = [
  "// The ES module entry of fdreactor, written by scripts/esm-entry.js from the CommonJS build.",
  "// `reactor` makes the global reactor when it is first used, not at import.",
  'import cjs from "./index.js";',
  'import defaultReactor from "./reactor/default.js";',
  "",
  `export const {\n${names.map((n) => `  ${n},`).join("\n")}\n} = cjs;`,
  "export const reactor = defaultReactor.lazyDefaultReactor;",
  "export default cjs;",
  "",
].join("\n");
fs.writeFileSync(path.join(OUT, "index.mjs"), text);
console.log(`esm-entry: dist/lib/index.mjs names ${names.length} exports`);
