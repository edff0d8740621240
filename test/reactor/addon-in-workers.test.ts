/**
 * Worker threads that load the addon and are terminated while loading it (the thread pool
 * terminates its workers at reactor shutdown, some may still be loading lib/native). The
 * addon is built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: without it, node-addon-api
 * aborts the whole process (SIGABRT, "FATAL ERROR: Error::ThrowAsJavaScriptException
 * napi_throw") when its module init cannot throw into an environment being torn down.
 */
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { addonPath } from "../support/addon-path";

const FIXTURE = path.join(__dirname, "fixtures", "terminate-loading.js");

test("terminating workers while they load the addon ends each worker, not the process", () => {
  // 40 workers, or as many as fit in 6 s: a build without the define aborted within the
  // first 34 terminations in every run measured (most within 5).
  const r = spawnSync(process.execPath, [FIXTURE, addonPath(), "40", "6000"], { encoding: "utf8", timeout: 20000 });
  expect(r.stderr).not.toContain("FATAL ERROR");
  expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
  const out = JSON.parse(r.stdout) as { started: number; duringLoad: number; errors: string[] };
  expect(out.errors).toEqual([]);
  // The test can only fail if terminations land inside require(addon): demand that they did.
  expect(out.started).toBeGreaterThanOrEqual(10);
  expect(out.duringLoad).toBeGreaterThanOrEqual(5);
});
