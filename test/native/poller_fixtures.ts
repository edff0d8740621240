/**
 * Helpers for the poller and watcher tests: pipes and socketpairs from the addon, filling
 * and draining them, and reading the event array back as triples.
 */
import { AGAIN, EVENT_STRIDE, native } from "../../lib/native";

/** Writes all of `text` to `fd` (throws on a short write). */
export function write(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  const n = native.write(fd, bytes, 0, bytes.length);
  if (n !== bytes.length) throw new Error(`short write: ${n} of ${bytes.length}`);
}

/** Writes until `fd` would block; returns the bytes written (bounded at 16 MiB). */
export function fill(fd: number): number {
  const chunk = Buffer.alloc(65536, 0x61);
  let total = 0;
  for (let i = 0; i < 256; i++) {
    const n = native.write(fd, chunk, 0, chunk.length);
    if (n === AGAIN) break;
    total += n;
  }
  return total;
}

/** Reads what `fd` holds now (until AGAIN or EOF, bounded at 64 MiB) as a string. */
export function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = "";
  for (let i = 0; i < 1024; i++) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n <= 0) break; // AGAIN or EOF
    out += buf.toString("latin1", 0, n);
  }
  return out;
}

/** Closes every fd given. */
export function closeAll(fds: number[]): void {
  for (const fd of fds) native.close(fd);
  fds.length = 0;
}

/** The events written by the last wait, as [slot, generation, bits] triples. */
export function eventsOf(events: Uint32Array, count: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < count; i++) {
    const at = i * EVENT_STRIDE;
    out.push([events[at], events[at + 1], events[at + 2]]);
  }
  return out;
}

/** Sorted by slot, for backends that report in a different order. */
export function bySlot(evs: Array<[number, number, number]>): Array<[number, number, number]> {
  return [...evs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
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
