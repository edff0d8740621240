#!/usr/bin/env node
// npm run build:dist (prepack runs it): the published build of the library. Clears dist/lib
// (so no file of a removed source and no source map of a development build is left to be
// packed), compiles lib/ with tsconfig.build.json (declarations, no maps), then writes the
// ES module entry (scripts/esm-entry.js).
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
fs.rmSync(path.join(ROOT, "dist", "lib"), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
require("./esm-entry");
