/**
 * Shared pieces of the fault tests: a raw peer (a native socket driven by polling on the
 * reactor's own clock, so that it works in both run modes and owes nothing to the
 * transport code under test), a bounded poll, and a deterministic byte pattern.
 */
import { AGAIN, native } from "../../lib/native";
import type { TestReactor } from "../net/helpers";

/** Byte `i` of the test stream: a pattern whose period (251, prime) is no power of two. */
export function patternByte(i: number): number {
  return (i * 7 + 3) % 251;
}

/** `length` bytes of the pattern starting at stream offset `start`. */
export function pattern(start: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = patternByte(start + i);
  return b;
}

/** The offset of the first byte of `data` (at stream offset `start`) that breaks the pattern, or -1. */
export function firstMismatch(data: Uint8Array, start: number): number {
  for (let i = 0; i < data.length; i++) if (data[i] !== patternByte(start + i)) return start + i;
  return -1;
}

/**
 * Calls `step()` every `intervalSeconds` on the reactor until it returns true, at most
 * `maxSteps` times; then `done(null)`, or `done(error)` when it never returned true or threw.
 */
export function pollUntil(reactor: TestReactor, step: () => boolean, done: (e: Error | null) => void, maxSteps = 2000, intervalSeconds = 0.005): void {
  let n = 0;
  const tick = (): void => {
    let ok: boolean;
    try {
      ok = step();
    } catch (e) {
      done(e as Error);
      return;
    }
    if (ok) done(null);
    else if (++n >= maxSteps) done(new Error(`condition not reached after ${maxSteps} polls`));
    else reactor.callLater(intervalSeconds, tick);
  };
  tick();
}

/** A raw TCP socket to 127.0.0.1:port, outside the transport layer; every call is non-blocking. */
export class RawPeer {
  /** The socket (-1 once closed). */
  fd: number;
  /** Bytes read so far. */
  readonly chunks: Buffer[] = [];
  /** Total bytes read so far. */
  received = 0;
  /** True once a read returned 0 (the other side's FIN). */
  eof = false;
  /** The errno code of a failed read or write (e.g. "ECONNRESET"), or null. */
  error: string | null = null;

  private readonly buf = Buffer.allocUnsafe(256 * 1024);
  private isConnected = false;

  constructor(port: number) {
    this.fd = native.socket("IPv4", "tcp");
    native.connect(this.fd, "127.0.0.1", port);
  }

  /** True once the connect finished (throws its error if it failed); later errors are the reads' and writes'. */
  connected(): boolean {
    if (this.isConnected) return true;
    const err = native.socketError(this.fd);
    if (err !== 0) throw new Error(`raw connect failed: errno ${err}`);
    try {
      native.getpeername(this.fd);
      this.isConnected = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Reads what is there (at most `max` bytes in all when given); returns the bytes read this call. */
  readAvailable(max = Infinity): number {
    let got = 0;
    while (!this.eof && this.error === null && got < max) {
      const want = Math.min(this.buf.length, max - got);
      let n: number;
      try {
        n = native.read(this.fd, this.buf, 0, want);
      } catch (e) {
        this.error = (e as { code?: string }).code ?? String(e);
        break;
      }
      if (n === AGAIN) break;
      if (n === 0) {
        this.eof = true;
        break;
      }
      this.chunks.push(Buffer.from(this.buf.subarray(0, n)));
      this.received += n;
      got += n;
    }
    return got;
  }

  /** Writes as much of `data` as the kernel takes now; returns the bytes written (0 on EAGAIN). */
  writeSome(data: Uint8Array): number {
    try {
      const n = native.write(this.fd, data, 0, data.length);
      return n === AGAIN ? 0 : n;
    } catch (e) {
      this.error = (e as { code?: string }).code ?? String(e);
      return 0;
    }
  }

  /** Everything read, as one Buffer. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** shutdown(SHUT_WR): sends FIN, keeps the socket. */
  halfClose(): void {
    native.shutdown(this.fd, 1);
  }

  /**
   * Closes the socket. When bytes sent to it are still unread in its receive queue, the
   * kernel answers the close with RST instead of FIN (RFC 2525 2.17; Linux tcp_close):
   * that is how these tests reset a connection, SO_LINGER{1,0} not being part of the
   * native API.
   */
  close(): void {
    if (this.fd >= 0) {
      native.close(this.fd);
      this.fd = -1;
    }
  }
}
