// Prints what ../binding.gyp's Linux build compiles, for kqemu/binding.gyp: `sources`
// (paths relative to kqemu/) or `defines`. The kqueue-emulation test build thus compiles
// exactly the sources and defines of the shipped addon, plus its own.
"use strict";
const fs = require("fs");
const path = require("path");
const what = process.argv[2];
const gyp = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "binding.gyp"), "utf8"));
const target = gyp.targets[0];
const out = [...(target[what] || [])];
for (const [cond, extra] of target.conditions || []) {
  if (/OS=='linux'/.test(cond) && extra[what]) out.push(...extra[what]);
}
const items = what === "sources" ? out.map((s) => path.posix.join("..", s)) : out;
process.stdout.write(items.join(" ") + "\n");
