/**
 * Counting open file descriptors of this process, so that every test file can assert it
 * leaked none: `const before = openFds();` ... `expect(openFds()).toBe(before)`.
 */
import * as fs from "node:fs";

/** Numbers of the fds open in this process right now (from /proc/self/fd). */
export function listFds(): number[] {
  return fs
    .readdirSync("/proc/self/fd")
    .map(Number)
    .filter((n) => Number.isInteger(n));
}

/** How many fds this process has open (the readdir's own fd excluded). */
export function openFds(): number {
  return listFds().length - 1;
}

/**
 * Registers beforeAll/afterAll hooks that fail the file when it ends with more open fds
 * than it started with (after a short grace for asynchronous closes).
 */
export function expectNoFdLeaks(): void {
  let before = 0;
  beforeAll(() => {
    before = openFds();
  });
  afterAll(async () => {
    for (let i = 0; i < 50 && openFds() > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openFds()).toBeLessThanOrEqual(before);
  });
}
