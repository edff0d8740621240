/**
 * Real sockets for the platform suite: TCP connections on 127.0.0.1, socketpairs, and
 * bounded helpers to fill, drain and wait. Every fd made here is tracked and closed by
 * {@link Fds.closeAll}.
 */
import { EVENT_STRIDE, native, type Poller } from "../../lib/native";
import { closedPort } from "../support/loopback";
import { sortedEvents, type Ev } from "../support/pollers";

/** Tracks the fds a test opens so that each test closes them all. */
export class Fds {
  private readonly open = new Set<number>();

  /** Records `fd` as open and returns it. */
  track(fd: number): number {
    this.open.add(fd);
    return fd;
  }

  /** Closes `fd` (once) and forgets it. */
  close(fd: number): void {
    if (this.open.delete(fd)) native.close(fd);
  }

  /** Closes every fd still open. */
  closeAll(): void {
    for (const fd of this.open) native.close(fd);
    this.open.clear();
  }

  /** A non-blocking AF_UNIX stream socketpair. */
  socketpair(): [number, number] {
    const [a, b] = native.socketpair("stream");
    return [this.track(a), this.track(b)];
  }

  /** A listening TCP socket on 127.0.0.1 and its port. */
  listener(): { fd: number; port: number } {
    const fd = this.track(native.socket("IPv4", "tcp"));
    native.bind(fd, "127.0.0.1", 0);
    native.listen(fd, 64);
    const addr = native.getsockname(fd);
    if (addr.family === "unix") throw new Error("expected an IPv4 address");
    return { fd, port: addr.port };
  }

  /** A connected TCP pair on 127.0.0.1: [client, server side]. */
  tcpPair(): [number, number] {
    const l = this.listener();
    const client = this.track(native.socket("IPv4", "tcp"));
    native.connect(client, "127.0.0.1", l.port);
    const server = this.track(acceptOne(l.fd));
    this.close(l.fd);
    return [client, server];
  }

  /** A port on 127.0.0.1 where nothing listens (bound, then closed). */
  closedPort(): number {
    return closedPort("tcp");
  }
}

/** Accepts one connection, waiting (bounded: 5 s) with a private poll poller. */
export function acceptOne(listener: number): number {
  const events = new Uint32Array(EVENT_STRIDE);
  const p = new native.Poller("poll", events);
  try {
    p.add(listener, 0, 0, 1);
    for (let i = 0; i < 50; i++) {
      const got = native.accept(listener, 1);
      if (got.length === 1) return got[0].fd;
      p.wait(100);
    }
  } finally {
    p.close();
  }
  throw new Error("no connection to accept within 5 s");
}

// The fd and event helpers are shared with test/native (test/support/pollers.ts).
export { send, fill, drain } from "../support/pollers";
export type { Ev } from "../support/pollers";

/** The events of the last wait, sorted by slot then generation (this suite's order). */
export const eventsOf = sortedEvents;

/** Waits until `poller` reports something (at most `rounds` waits of 100 ms); returns the events. */
export function waitFor(poller: Poller, events: Uint32Array, rounds = 50): Ev[] {
  for (let i = 0; i < rounds; i++) {
    const n = poller.wait(100);
    if (n > 0) return sortedEvents(events, n);
  }
  return [];
}
