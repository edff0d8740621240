/**
 * Shared pieces of the resolver tests: a reactor running beside Node's loop for the
 * duration of an async body, temporary hosts/resolv.conf files, and a settable clock.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Reactor } from "../../lib/reactor";
import type { Failure } from "../../lib/defer";
import "../../lib/net";

/**
 * Runs `body(reactor)` while a new reactor runs (integrated mode: Node sockets of the
 * fake servers keep working), then stops it. A guard fails the body after `limitSeconds`.
 */
export async function withReactor<T>(body: (reactor: Reactor) => Promise<T>, limitSeconds = 15): Promise<T> {
  const reactor = new Reactor({ mode: "integrated" });
  const running = reactor.run();
  let guard: NodeJS.Timeout | undefined;
  try {
    const limit = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`test did not finish within ${limitSeconds} s`)), limitSeconds * 1000);
    });
    return await Promise.race([body(reactor), limit]);
  } finally {
    clearTimeout(guard);
    reactor.stop();
    await running;
  }
}

/** A fresh temporary directory (removed by `cleanup`). */
export function tempDir(): { dir: string; file: (name: string, text: string) => string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-names-"));
  return {
    dir,
    file: (name, text) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A clock the test moves by hand (for TTL expiry). */
export class ManualClock {
  now = 1000;
  /** Now, in seconds. */
  seconds(): number {
    return this.now;
  }
}

/** The error a Deferred failed with (awaiting its promise), or a thrown Error when it succeeded. */
export async function failureOf(p: PromiseLike<unknown>): Promise<Error> {
  try {
    const v = await p;
    throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
  } catch (e) {
    return e as Error;
  }
}

/** For type annotations of errbacks. */
export type { Failure };
