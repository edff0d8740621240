/**
 * The global `reactor` is made when it is first used, not when the package is imported:
 * importing (ES module entry or CommonJS) opens no fd and leaves installReactor() free;
 * the ES entry's `reactor` then reaches whichever reactor was installed, with its methods,
 * its fields and `instanceof Reactor`. Each case runs in a fresh child process, counting
 * /proc/self/fd around the import.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const DIST = path.resolve(__dirname, "..", "..", "dist", "lib");

/** Runs `code` as an ES module in a child; returns the JSON it prints last. */
function runModule(code: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 20000 });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  return JSON.parse(r.stdout.trim().split("\n").pop() as string) as Record<string, unknown>;
}

const COUNT_FDS = `import fs from "node:fs";
const fds = () => fs.readdirSync("/proc/self/fd").length;`;

beforeAll(() => {
  const entry = path.join(DIST, "index.mjs");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: npm test builds it (pretest), or: npm run tsc && node scripts/esm-entry.js`);
});

describe("the global reactor is made at first use", () => {
  test("importing the ES module entry opens no fd and makes no reactor: installReactor still chooses it, and `reactor` is that one", () => {
    const got = runModule(`${COUNT_FDS}
const before = fds();
const m = await import(${JSON.stringify(path.join(DIST, "index.mjs"))});
const afterImport = fds();
const mine = new m.Reactor({ backend: "poll" });
m.installReactor(mine);
const r = m.reactor;
const fields = { backend: r.backend, mode: r.mode, isReactor: r instanceof m.Reactor, same: m.getDefaultReactor() === mine, has: "callLater" in r };
const order = [];
r.callLater(0.01, () => { order.push("later"); r.stop(); });
r.callWhenRunning(() => order.push("running"));
await r.run();
console.log(JSON.stringify({ before, afterImport, fields, order, running: r.running }));`);
    expect(got.afterImport).toBe(got.before);
    expect(got.fields).toEqual({ backend: "poll", mode: "exclusive", isReactor: true, same: true, has: true });
    expect(got.order).toEqual(["running", "later"]);
    expect(got.running).toBe(false);
  });

  test("the ES entry's `reactor`, first used with nothing installed, makes the default reactor; its fds open only when it needs them", () => {
    const got = runModule(`${COUNT_FDS}
const before = fds();
const { reactor, getDefaultReactor, installReactor, Reactor } = await import(${JSON.stringify(path.join(DIST, "index.mjs"))});
const afterImport = fds();
const call = reactor.callLater(60, () => undefined); // a timer needs no fd
const afterTimer = fds();
call.cancel();
let refused = null;
try { installReactor(new Reactor()); } catch (e) { refused = e.name; }
const bound = reactor.seconds === reactor.seconds; // one bound function per method
console.log(JSON.stringify({ before, afterImport, afterTimer, refused, backend: getDefaultReactor().backend, same: reactor.backend === getDefaultReactor().backend, bound }));`);
    expect(got.afterImport).toBe(got.before);
    expect(got.afterTimer).toBe(got.before);
    expect(got.refused).toBe("ReactorAlreadyInstalledError");
    expect(got.same).toBe(true);
    expect(got.bound).toBe(true);
  });

  test("requiring the CommonJS entry opens no fd and makes no reactor; its `reactor` getter is the installed one", () => {
    const got = runModule(`${COUNT_FDS}
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const before = fds();
const m = require(${JSON.stringify(path.join(DIST, "index.js"))});
const afterRequire = fds();
const mine = new m.Reactor({ backend: "select" });
m.installReactor(mine);
console.log(JSON.stringify({ before, afterRequire, same: m.reactor === mine }));`);
    expect(got.afterRequire).toBe(got.before);
    expect(got.same).toBe(true);
  });
});
