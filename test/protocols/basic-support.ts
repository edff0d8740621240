/**
 * An in-memory transport for the framing protocols' unit tests (Twisted's
 * StringTransport): writes are captured, loseConnection marks it `disconnecting`.
 * Only for pure framing logic; behaviour over real sockets is tested in basic-tcp.test.ts.
 */
import type { Address, IPullProducer, IPushProducer, ITransport } from "../../lib/net/interfaces";

/** Captures what a protocol writes and how it asks to close or throttle. */
export class StringTransport implements ITransport {
  /** Every chunk written, in order. */
  readonly written: Buffer[] = [];
  /** True after loseConnection or abortConnection. */
  disconnecting = false;
  /** How many times loseConnection was called. */
  loseCount = 0;
  /** "paused" / "resumed" / "stopped" calls from the protocol, in order. */
  readonly producerCalls: string[] = [];

  /** All bytes written so far, as one Buffer. */
  value(): Buffer {
    return Buffer.concat(this.written);
  }

  /** Captures one chunk. */
  write(data: Uint8Array | string): void {
    this.written.push(typeof data === "string" ? Buffer.from(data) : Buffer.from(data));
  }

  /** Captures each chunk in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void {
    for (const d of data) this.write(d);
  }

  /** Marks the transport as closing. */
  loseConnection(): void {
    this.loseCount++;
    this.disconnecting = true;
  }

  /** Marks the transport as closing. */
  abortConnection(): void {
    this.disconnecting = true;
  }

  /** A fixed peer address. */
  getPeer(): Address {
    return { type: "TCP", host: "127.0.0.1", port: 40000, family: "IPv4" };
  }

  /** A fixed local address. */
  getHost(): Address {
    return { type: "TCP", host: "127.0.0.1", port: 40001, family: "IPv4" };
  }

  /** Records the call. */
  pauseProducing(): void {
    this.producerCalls.push("paused");
  }

  /** Records the call. */
  resumeProducing(): void {
    this.producerCalls.push("resumed");
  }

  /** Records the call. */
  stopProducing(): void {
    this.producerCalls.push("stopped");
  }

  /** Not used by the framers. */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    void producer;
    void streaming;
  }

  /** Not used by the framers. */
  unregisterProducer(): void {}
}

/** Splits `data` at the given cut points (sorted, deduplicated, clamped) into chunks. */
export function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(data.length, c))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last) chunks.push(Buffer.from(data.subarray(last, p)));
    last = p;
  }
  if (last < data.length) chunks.push(Buffer.from(data.subarray(last)));
  return chunks;
}
