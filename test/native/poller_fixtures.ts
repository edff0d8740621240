/**
 * Helpers for the poller and watcher tests: closing fds and running the addon in a child
 * node, plus the fd and event helpers they share with the platform suite (re-exported).
 */
import { native } from "../../lib/native";

// Shared with the platform suite (test/support/pollers.ts); `write` is its `send`.
export { send as write, fill, drain, eventsOf, bySlot } from "../support/pollers";

/** Closes every fd given. */
export function closeAll(fds: number[]): void {
  for (const fd of fds) native.close(fd);
  fds.length = 0;
}

/** Source text that loads the addon the tests use, for scripts run in a child node. */
export function addonLoader(): string {
  const root = require("node:path").resolve(__dirname, "../..") as string;
  const override = process.env.FDREACTOR_ADDON;
  return override
    ? `require(${JSON.stringify(require("node:path").resolve(override))})`
    : `require(${JSON.stringify(root + "/node_modules/node-gyp-build")})(${JSON.stringify(root)})`;
}

/** Runs `script` in a child node (the addon loaded as `addon`); returns its exit status and output. */
export function runNode(script: string, nodeArgs: string[] = []): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const r = spawnSync(process.execPath, [...nodeArgs, "-e", `const addon = ${addonLoader()};\n${script}`], {
    encoding: "utf8",
    timeout: 20000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
