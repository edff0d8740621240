/**
 * Real sockets for the platform suite: TCP connections on 127.0.0.1, socketpairs, and
 * bounded helpers to fill, drain and wait. Every fd made here is tracked and closed by
 * {@link Fds.closeAll}.
 */
import { AGAIN, EVENT_STRIDE, native, type Poller } from "../../lib/native";

/** An [slot, generation, bits] event as read back from a poller's array. */
export type Ev = [number, number, number];

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
    const fd = native.socket("IPv4", "tcp");
    try {
      native.bind(fd, "127.0.0.1", 0);
      const addr = native.getsockname(fd);
      if (addr.family === "unix") throw new Error("expected an IPv4 address");
      return addr.port;
    } finally {
      native.close(fd);
    }
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

/** Writes all of `text` to `fd` (throws on a short write). */
export function send(fd: number, text: string): void {
  const b = Buffer.from(text, "latin1");
  const n = native.write(fd, b, 0, b.length);
  if (n !== b.length) throw new Error(`short write: ${n} of ${b.length}`);
}

/** Writes until `fd` would block; returns the bytes written (bounded at 64 MiB). */
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

/** Reads what `fd` holds now (until AGAIN or EOF, bounded at 64 MiB). */
export function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = "";
  for (let i = 0; i < 1024; i++) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n <= 0) break;
    out += buf.toString("latin1", 0, n);
  }
  return out;
}

/** The events of the last wait, sorted by slot then generation. */
export function eventsOf(events: Uint32Array, count: number): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * EVENT_STRIDE;
    out.push([events[at], events[at + 1], events[at + 2]]);
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** Waits until `poller` reports something (at most `rounds` waits of 100 ms); returns the events. */
export function waitFor(poller: Poller, events: Uint32Array, rounds = 50): Ev[] {
  for (let i = 0; i < rounds; i++) {
    const n = poller.wait(100);
    if (n > 0) return eventsOf(events, n);
  }
  return [];
}
