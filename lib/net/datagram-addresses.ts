/**
 * Addresses of datagram batches (native recvBatch/sendBatch): the Address handed to
 * `datagramReceived` is interned, so a port that hears the same peers again makes no object
 * per datagram; a destination host literal is parsed once, then its address words are copied
 * from a cache into each send record.
 *
 * Choices the next reader should not undo:
 * - IPv4 sources are keyed exactly (address × 65536 + port is below 2^53). IPv6 sources are
 *   keyed by a hash of their words and every word is compared on a hit, so a collision only
 *   replaces the entry, never returns another peer's address.
 * - Both tables are bounded: past MAX_ENTRIES they start again empty (a port hearing many
 *   peers pays one object per new peer, as before; memory stays flat).
 */
import { native, ADDRESS_WORDS } from "../native";
import { checkPort, literalFamily } from "./address";
import type { Address } from "./interfaces";

/** Entries per table before it is emptied. */
const MAX_ENTRIES = 4096;

/** An interned IPv6 source with the words it was made from. */
interface Source6 {
  readonly address: Address;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly scope: number;
  readonly port: number;
}

/** Interns the source Addresses of received datagrams (one table per port). */
export class SourceAddresses {
  private readonly v4 = new Map<number, Address>();
  private readonly v6 = new Map<number, Source6>();

  /** The Address of the address block at words[b] (family, port, w0..w3, scope); the same object for the same peer. */
  get(words: Int32Array, b: number): Address {
    const family = words[b];
    const port = words[b + 1];
    if (family === 4) {
      const key = (words[b + 2] >>> 0) * 65536 + port;
      let a = this.v4.get(key);
      if (a === undefined) {
        if (this.v4.size >= MAX_ENTRIES) this.v4.clear();
        a = made(native.addressText(words, b), port, "IPv4");
        this.v4.set(key, a);
      }
      return a;
    }
    if (family === 6) {
      const w0 = words[b + 2];
      const w1 = words[b + 3];
      const w2 = words[b + 4];
      const w3 = words[b + 5];
      const scope = words[b + 6];
      const key = (Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w3 ^ scope, 0xc2b2ae35), 0x27d4eb2f) ^ port) >>> 0;
      const e = this.v6.get(key);
      if (e !== undefined && e.port === port && e.w3 === w3 && e.w2 === w2 && e.w1 === w1 && e.w0 === w0 && e.scope === scope) return e.address;
      if (e === undefined && this.v6.size >= MAX_ENTRIES) this.v6.clear();
      const address = made(native.addressText(words, b), port, "IPv6");
      this.v6.set(key, { address, w0, w1, w2, w3, scope, port });
      return address;
    }
    // The kernel names the source of every UDP datagram; an unnamed one is reported as such.
    return UNNAMED;
  }
}

const UNNAMED: Address = Object.freeze({ type: "UDP", host: "", port: 0, family: "IPv4" }) as Address;

function made(host: string, port: number, family: "IPv4" | "IPv6"): Address {
  return Object.freeze({ type: "UDP", host, port, family }) as Address;
}

/** The address words of destination host literals, parsed once each (one table per port). */
export class DestinationWords {
  private readonly hosts = new Map<string, Int32Array>();

  /**
   * Writes the address block of `host`:`port` at words[b]. Throws TypeError naming addr
   * when host is not an IP literal, RangeError when port is out of range.
   */
  fill(host: unknown, port: unknown, words: Int32Array, b: number): void {
    let w = typeof host === "string" ? this.hosts.get(host) : undefined;
    if (w === undefined) w = this.parse(host);
    if (typeof port !== "number" || (port & 0xffff) !== port) checkPort(port, "addr port");
    words.set(w, b);
    words[b + 1] = port as number;
  }

  private parse(host: unknown): Int32Array {
    if (typeof host !== "string" || literalFamily(host) === null) {
      throw new TypeError(`addr host must be an IPv4 or IPv6 address literal (write does not resolve names), received ${String(host)}`);
    }
    const w = new Int32Array(ADDRESS_WORDS);
    native.addressWords(host, 0, w, 0);
    if (this.hosts.size >= MAX_ENTRIES) this.hosts.clear();
    this.hosts.set(host, w);
    return w;
  }
}
