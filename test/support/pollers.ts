/**
 * Helpers shared by the poller suites (test/native, test/platform, test/kqemu): writing,
 * filling and draining raw fds through the addon, and reading a poller's event array back
 * as [slot, generation, bits] triples. Every loop is bounded.
 */
import { AGAIN, EVENT_STRIDE, native } from "../../lib/native";

/** An [slot, generation, bits] event as read back from a poller's array. */
export type Ev = [number, number, number];

/** Writes all of `text` (latin1) to `fd`; throws on a short write. */
export function send(fd: number, text: string): void {
  const b = Buffer.from(text, "latin1");
  const n = native.write(fd, b, 0, b.length);
  if (n !== b.length) throw new Error(`short write: ${n} of ${b.length}`);
}

/** Writes until `fd` would block; returns the bytes written (throws after 64 MiB without blocking). */
export function fill(fd: number): number {
  const chunk = Buffer.alloc(65536, 0x61);
  let total = 0;
  for (let i = 0; i < 1024; i++) {
    const n = native.write(fd, chunk, 0, chunk.length);
    if (n === AGAIN) return total;
    total += n;
  }
  throw new Error("fill: 64 MiB written without the fd blocking");
}

/** Reads what `fd` holds now (until AGAIN or EOF, bounded at 64 MiB) as a latin1 string. */
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

/** The first `count` events of `events` (a poller's array), in the order the poller wrote them. */
export function eventsOf(events: Uint32Array, count: number): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * EVENT_STRIDE;
    out.push([events[at], events[at + 1], events[at + 2]]);
  }
  return out;
}

/** A copy of `evs` sorted by slot then generation, for backends that report in a different order. */
export function bySlot(evs: Ev[]): Ev[] {
  return [...evs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** The first `count` events of `events`, sorted by slot then generation. */
export function sortedEvents(events: Uint32Array, count: number): Ev[] {
  return bySlot(eventsOf(events, count));
}
