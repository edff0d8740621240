/**
 * What a call throws, for tests of the addon. Errors made by the addon come from Node's main
 * realm, not jest's test realm, so tests check `name` (and code, errno, syscall) rather than
 * `instanceof`.
 */

/** The fields tests read from an addon error. */
export interface Thrown {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

/** What `fn` throws; throws "expected a throw" when it returns. */
export function thrownBy(fn: () => unknown): Thrown {
  try {
    fn();
  } catch (e) {
    return e as Thrown;
  }
  throw new Error("expected a throw");
}
