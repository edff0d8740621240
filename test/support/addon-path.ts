/**
 * The path of the addon build the tests load (FDREACTOR_ADDON, else node-gyp-build's
 * choice), for tests that hand it to a worker thread or a child node.
 */
import * as path from "node:path";

/** The `.node` file lib/native loads in this test run. */
export function addonPath(): string {
  if (process.env.FDREACTOR_ADDON) return path.resolve(process.env.FDREACTOR_ADDON);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ngb = require("node-gyp-build") as { path(dir: string): string };
  return ngb.path(path.resolve(__dirname, "../.."));
}
