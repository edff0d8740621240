/**
 * Backends a build has but the running kernel may refuse: io_uring fails its setup under
 * the kernel.io_uring_disabled sysctl, a container's seccomp filter, or an old kernel.
 * Suites run a refused backend's cases as skips whose title gives the kernel's reason, or,
 * under FDREACTOR_REQUIRE_PEERS=1 (CI), fail: CI must exercise every backend it builds.
 */
import { native, kernelRefusal as refusalOf, type Backend } from "../../lib/native";
import { peersRequired } from "./peers";

/** Why this kernel refuses `backend` (its setup error's message), or null when it runs. */
export function kernelRefusal(backend: Backend): string | null {
  if (!native.backends().includes(backend)) return null; // not this build's to probe (kqueue on Linux)
  const why = refusalOf(backend)?.message ?? null;
  if (why !== null && peersRequired) throw new Error(`the ${backend} backend is refused and FDREACTOR_REQUIRE_PEERS=1: ${why}`);
  return why;
}

/** The backends of this build that this kernel runs. */
export function runnableBackends(): Backend[] {
  return native.backends().filter((b) => kernelRefusal(b) === null);
}

/** `describe`, or a `describe.skip` whose title carries the kernel's reason when it refuses `backend`. */
export function describeOnKernel(backend: Backend): jest.Describe {
  const why = kernelRefusal(backend);
  if (why === null) return describe;
  const skip = ((title: string, fn: jest.EmptyFunction) => describe.skip(`${title} [skipped: ${why.replace(/[[\]]/g, "")}]`, fn)) as unknown as jest.Describe;
  return skip;
}
