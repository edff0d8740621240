/**
 * Loading lib/native: the addon's exports are one object per process (require caches the
 * .node file), while lib/native may be loaded more than once (jest gives each test file
 * its own module registry; a cleared require cache does the same). Each load must leave
 * the addon's exports as they were, or the loads chain onto one another and every earlier
 * module graph stays reachable from the addon for the life of the process.
 */
import { addonPath } from "../support/addon-path";
import type { NativeAddon } from "../../lib/native";

function loadNative(): NativeAddon {
  let native: NativeAddon | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = (require("../../lib/native") as typeof import("../../lib/native")).native;
  });
  if (native === undefined) throw new Error("lib/native did not load");
  return native;
}

test("two loads of lib/native leave the addon's exports untouched and wrap only the addon's own Poller", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(addonPath()) as NativeAddon;
  const own = addon.Poller;
  const first = loadNative();
  const second = loadNative();
  expect(addon.Poller).toBe(own);
  expect(Object.getPrototypeOf(first.Poller)).toBe(own);
  expect(Object.getPrototypeOf(second.Poller)).toBe(own);
  // Both loads still make the addon's pollers.
  const events = new Uint32Array(64);
  for (const native of [first, second]) {
    const poller = new native.Poller(native.backends()[0], events);
    expect(poller).toBeInstanceOf(own);
    poller.close();
  }
});
