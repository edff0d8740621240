/**
 * Addresses of datagram batches (native recvBatch/sendBatch): the Address handed to
 * `datagramReceived` is interned, so a port that hears the same peers again makes no object
 * per datagram; a destination host literal is parsed once, then its address words are copied
 * from a cache into each send record.
 *
 * Choices the next reader should not undo:
 * - Sources are keyed by a hash of their words that stays a small integer (a boxed number
 *   key would be an allocation per datagram), and every word is compared on a hit, so a
 *   collision only replaces the entry, never returns another peer's address.
 * - Both tables are bounded: past MAX_ENTRIES they start again empty (a port hearing many
 *   peers pays one object per new peer, as before; memory stays flat).
 */
import { native, ADDRESS_WORDS } from "../native";
import { checkPort, literalFamily } from "./address";
import type { Address } from "./interfaces";

/** Entries per table before it is emptied. */
const MAX_ENTRIES = 4096;

/** An interned source with the words it was made from. */
interface Source {
  readonly address: Address;
  readonly family: number;
  readonly port: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly scope: number;
}

/** Interns the source Addresses of received datagrams (one table per port). */
export class SourceAddresses {
  private readonly table = new Map<number, Source>();
  /** The source of the datagram handed over last (a reply usually goes back to it). */
  private last: Source | null = null;

  /**
   * Writes the address block of `address` at words[b] with `port` when it is the Address
   * of the datagram received last (the frozen object get returned, so its words are
   * known); false otherwise.
   */
  fillIfLast(address: unknown, words: Int32Array, b: number): boolean {
    const s = this.last;
    if (s === null || address !== s.address) return false;
    words[b] = s.family;
    words[b + 1] = s.port;
    words[b + 2] = s.w0;
    words[b + 3] = s.w1;
    words[b + 4] = s.w2;
    words[b + 5] = s.w3;
    words[b + 6] = s.scope;
    return true;
  }

  /** The Address of the address block at words[b] (family, port, w0..w3, scope); the same object for the same peer. */
  get(words: Int32Array, b: number): Address {
    const family = words[b];
    if (family !== 4 && family !== 6) return UNNAMED; // the kernel names the source of every UDP datagram
    const port = words[b + 1];
    const w0 = words[b + 2];
    const w1 = words[b + 3];
    const w2 = words[b + 4];
    const w3 = words[b + 5];
    const scope = words[b + 6];
    // A small-integer key (no boxed number per lookup); every word is compared on a hit.
    const key = (Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w3 ^ scope, 0xc2b2ae35), 0x27d4eb2f) ^ port) & 0x3fffffff;
    const e = this.table.get(key);
    if (e !== undefined && e.port === port && e.w0 === w0 && e.w3 === w3 && e.w1 === w1 && e.w2 === w2 && e.scope === scope && e.family === family) {
      this.last = e;
      return e.address;
    }
    if (e === undefined && this.table.size >= MAX_ENTRIES) this.table.clear();
    const address = Object.freeze({ type: "UDP", host: native.addressText(words, b), port, family: family === 4 ? "IPv4" : "IPv6" }) as Address;
    const made: Source = { address, family, port, w0, w1, w2, w3, scope };
    this.table.set(key, made);
    this.last = made;
    return address;
  }
}

const UNNAMED: Address = Object.freeze({ type: "UDP", host: "", port: 0, family: "IPv4" }) as Address;

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
    words[b] = w[0];
    words[b + 1] = port as number;
    words[b + 2] = w[2];
    words[b + 3] = w[3];
    words[b + 4] = w[4];
    words[b + 5] = w[5];
    words[b + 6] = w[6];
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
