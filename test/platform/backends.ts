/**
 * The backends the platform suite runs on: every backend of the main addon (epoll,
 * io_uring, poll, select on Linux) plus kqueue from the kqueue-emulation test build (kqemu/), which
 * `npm run build:kqemu` makes. A missing kqemu build is a failure of the kqueue cases,
 * never a skip: CI must run the suite on kqueue too.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { native, type Backend, type NativeAddon, type PollerConstructor } from "../../lib/native";
import { KQEMU_ADDON, KQEMU_MISSING } from "../support/kqemu-path";

export { KQEMU_ADDON, KQEMU_MISSING };

/** Where `npm run build:kqemu` puts the raw kqueue()/kevent() emulation binding. */
export const KQEMU_RAW = path.resolve(__dirname, "../../kqemu/build/Release/kqemu_raw.node");

/** One backend under test: where its Poller class comes from (null: build missing). */
export interface BackendCase {
  backend: Backend;
  Poller: PollerConstructor | null;
}

/** Loads the kqemu addon, or null when it was not built. */
export function loadKqemu(): NativeAddon | null {
  if (!fs.existsSync(KQEMU_ADDON)) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(KQEMU_ADDON) as NativeAddon;
}

/** Every backend this build can run, kqueue included (through the emulation on Linux). */
export function backendCases(): BackendCase[] {
  const cases: BackendCase[] = native.backends().map((backend) => ({ backend, Poller: native.Poller }));
  if (!cases.some((c) => c.backend === "kqueue")) {
    const kq = loadKqemu();
    cases.push({ backend: "kqueue", Poller: kq ? kq.Poller : null });
  }
  return cases;
}

/** The Poller class of `c`, or a thrown Error telling how to build it. */
export function pollerClass(c: BackendCase): PollerConstructor {
  if (!c.Poller) throw new Error(KQEMU_MISSING);
  return c.Poller;
}
