/**
 * One DNS exchange with one server: a query out, the one matching response back, over
 * UDP (a fresh socket per query) or TCP (RFC 1035 4.2.2 length prefix).
 *
 * Choices the next reader should not undo:
 * - Each UDP query binds its own socket on port 0, so the kernel picks a random source
 *   port, and the query id is random (crypto): together ~32 bits an off-path spoofer must
 *   guess. The socket is `connect`ed to the server, so the kernel drops datagrams from
 *   any other address or port, and an ICMP refusal ends the try at once instead of waiting
 *   for the timeout; the source is still checked here too.
 * - A response is accepted only if it decodes, is a response, carries the query's id and
 *   echoes exactly the question asked (name case-insensitively, type, class IN). Anything
 *   else is dropped and the query keeps waiting: a spoofed or garbled datagram can delay an
 *   answer until the timeout, never replace it.
 */
import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import * as dnsPacket from "dns-packet";
import { Deferred, Failure, TimeoutError, type IReactorTime } from "../defer";
import { connectTCP, listenUDP, type TCPConnector, type UDPPort } from "../net";
import type { IReactorFDSet } from "../net/fdset";
import type { Address } from "../net/interfaces";
import { ClientFactory, DatagramProtocol, Int16StringReceiver } from "../protocols";
import { DNSQueryError } from "./errors";
import type { NameServer } from "./resolvconf";

/** The record types the resolver asks for. */
export type AddressType = "A" | "AAAA";

/**
 * A decoded response that passed every check.
 * @internal dns-packet's type: left out of the published declarations, which need no @types/dns-packet.
 */
export type DNSResponse = dnsPacket.DecodedPacket & { rcode?: string };

/** What a query needs from the reactor: file descriptors and time. */
export type QueryReactor = IReactorFDSet & IReactorTime;

/** Largest UDP response read (EDNS0 is not advertised, so 512 is what servers send; room for more). */
const MAX_UDP_RESPONSE = 4096;

/** A random 16-bit query id. */
export function randomQueryId(): number {
  return randomInt(0, 65536);
}

/** The wire bytes of a recursive query for `name`/`type` with `id`. */
export function encodeQuery(id: number, name: string, type: AddressType): Buffer {
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, class: "IN", name }] });
}

/**
 * The response in `bytes` if it answers query `id` for `name`/`type`, else null (never
 * throws, whatever the bytes are).
 * @internal (its result is dns-packet's type, see DNSResponse)
 */
export function acceptResponse(bytes: Buffer, id: number, name: string, type: AddressType): DNSResponse | null {
  let p: DNSResponse;
  try {
    p = dnsPacket.decode(bytes) as DNSResponse;
  } catch {
    return null;
  }
  if (p === null || typeof p !== "object") return null;
  if (p.type !== "response" || p.id !== id) return null;
  const qs = p.questions;
  if (!Array.isArray(qs) || qs.length !== 1) return null;
  const q = qs[0];
  if (q === null || typeof q !== "object" || typeof q.name !== "string") return null;
  if (q.type !== type || q.class !== "IN") return null;
  if (q.name.toLowerCase() !== name.toLowerCase()) return null;
  if (!Array.isArray(p.answers) || !Array.isArray(p.authorities)) return null;
  // dns-packet reads past the end of a cut datagram without complaint (an A record's
  // missing bytes become "undefined"): a packet longer than the bytes, or with record data
  // that is not what its type says, was garbled and is dropped as a whole.
  if (dnsPacket.decode.bytes > bytes.length) return null;
  for (const rr of p.answers) if (!wellFormed(rr)) return null;
  return p;
}

/** Whether a decoded answer record's data has the shape its type promises (for the types the resolver reads). */
function wellFormed(rr: dnsPacket.Answer): boolean {
  if (rr === null || typeof rr !== "object" || typeof rr.name !== "string") return false;
  const data = (rr as { data?: unknown }).data;
  if (rr.type === "A") return typeof data === "string" && isIP(data) === 4;
  if (rr.type === "AAAA") return typeof data === "string" && isIP(data) === 6;
  if (rr.type === "CNAME") return typeof data === "string";
  return true;
}

/** The canonical text of an IP literal (so that "::0001" and "::1" compare equal). */
export function canonicalAddress(host: string): string {
  if (!host.includes(":")) return host;
  try {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    return host.toLowerCase();
  }
}

/** Turns addTimeout's TimeoutError into the TIMEOUT query error for `server`. */
function timeoutToQueryError(name: string, type: AddressType, server: NameServer, how: string) {
  return (result: unknown): unknown => {
    if (result instanceof Failure && result.value instanceof TimeoutError) {
      throw new DNSQueryError("TIMEOUT", name, type, `no ${how} answer from ${describeServer(server)} within ${result.value.seconds} s`, { cause: result.value });
    }
    return result;
  };
}

/** "127.0.0.1:53" / "[::1]:53". */
export function describeServer(server: NameServer): string {
  return server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** The datagram side of one UDP query: hands the first acceptable response to `onResponse`. */
class UDPQueryProtocol extends DatagramProtocol {
  constructor(
    private readonly expectHost: string,
    private readonly expectPort: number,
    private readonly id: number,
    private readonly name: string,
    private readonly type: AddressType,
    private readonly onResponse: (r: DNSResponse) => void,
    private readonly onRefused: () => void,
  ) {
    super();
    this.noisy = false;
  }

  /** Accepts a datagram only from the server, and only if it answers this query. */
  override datagramReceived(data: Buffer, addr: Address): void {
    if (addr.type !== "UDP" || addr.port !== this.expectPort || canonicalAddress(addr.host) !== this.expectHost) return;
    const r = acceptResponse(data, this.id, this.name, this.type);
    if (r !== null) this.onResponse(r);
  }

  /** The server's port is closed (ICMP): this try is over. */
  override connectionRefused(): void {
    this.onRefused();
  }
}

/**
 * Asks `server` for `name`/`type` over UDP; fires with the accepted response, or fails
 * with DNSQueryError (TIMEOUT after `timeout` seconds on the reactor's clock, CONNECT when
 * refused or when no socket could be made). Cancelling closes the socket.
 * @internal (its result is dns-packet's type, see DNSResponse)
 */
export function queryUDP(reactor: QueryReactor, server: NameServer, name: string, type: AddressType, timeout: number): Deferred<DNSResponse> {
  let port: UDPPort | null = null;
  const close = (): void => {
    const p = port;
    port = null;
    if (p !== null) p.stopListening();
  };
  const d = new Deferred<DNSResponse>(close);
  const id = randomQueryId();
  const host = canonicalAddress(server.host);
  const protocol = new UDPQueryProtocol(
    host,
    server.port,
    id,
    name,
    type,
    (r) => {
      if (d.called) return;
      close();
      d.callback(r);
    },
    () => {
      if (d.called) return;
      close();
      d.errback(new DNSQueryError("CONNECT", name, type, `${describeServer(server)} refused the query (port unreachable)`));
    },
  );
  try {
    port = listenUDP(reactor, 0, protocol, { interface: host.includes(":") ? "::" : "0.0.0.0", maxPacketSize: MAX_UDP_RESPONSE });
    port.connect(host, server.port);
    port.write(encodeQuery(id, name, type));
  } catch (e) {
    close();
    d.errback(new DNSQueryError("CONNECT", name, type, `could not send to ${describeServer(server)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    return d;
  }
  d.addTimeout(timeout, reactor);
  d.addErrback(timeoutToQueryError(name, type, server, "UDP"));
  return d;
}

/** The stream side of one TCP query: sends the query once connected, takes the first matching response. */
class TCPQueryProtocol extends Int16StringReceiver {
  /** Set by the factory before the connection is made. */
  query: TCPQuery | null = null;

  /** Sends the length-prefixed query. */
  override connectionMade(): void {
    if (this.query !== null) this.sendString(this.query.bytes);
  }

  /** One length-prefixed message: the answer if it matches the query. */
  override stringReceived(data: Buffer): void {
    this.query?.received(data);
  }

  /** The server closed before answering: the try failed. */
  override connectionLost(reason: Error): void {
    this.query?.lost(reason);
  }
}

/** One TCP exchange: the factory of its single connection and the Deferred it fires. */
class TCPQuery extends ClientFactory {
  readonly bytes: Buffer;
  readonly id = randomQueryId();
  connector: TCPConnector | null = null;
  /** Set once we close: what the connection reports afterwards is our own doing. */
  private closing = false;
  private transportProtocol: TCPQueryProtocol | null = null;

  constructor(
    readonly d: Deferred<DNSResponse>,
    readonly server: NameServer,
    readonly name: string,
    readonly type: AddressType,
  ) {
    super();
    this.noisy = false;
    this.bytes = encodeQuery(this.id, name, type);
  }

  /** A protocol bound to this query. */
  override buildProtocol(): TCPQueryProtocol {
    const p = new TCPQueryProtocol();
    p.query = this;
    this.transportProtocol = p;
    return p;
  }

  /** Accepts the response if it matches; closes the connection either way once answered. */
  received(data: Buffer): void {
    if (this.d.called) return;
    const r = acceptResponse(data, this.id, this.name, this.type);
    if (r === null) return;
    this.close();
    this.d.callback(r);
  }

  /** The connection ended; if no answer came, the try failed. */
  lost(reason: Error): void {
    if (this.d.called || this.closing) return;
    this.d.errback(new DNSQueryError("CONNECT", this.name, this.type, `${describeServer(this.server)} closed the TCP connection without an answer`, { cause: reason }));
  }

  /** The connection could not be made. */
  override clientConnectionFailed(_connector: unknown, reason: Error): void {
    if (this.d.called || this.closing) return;
    this.d.errback(new DNSQueryError("CONNECT", this.name, this.type, `TCP to ${describeServer(this.server)} failed: ${reason.message}`, { cause: reason }));
  }

  /** Stops the attempt or drops the connection. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    const p = this.transportProtocol;
    if (p !== null) {
      p.query = null;
      p.transport?.abortConnection();
    } else if (this.connector !== null && this.connector.state === "connecting") {
      this.connector.stopConnecting();
    }
  }
}

/**
 * Asks `server` for `name`/`type` over TCP (after a truncated UDP answer); fires with the
 * accepted response or fails with DNSQueryError (TIMEOUT, CONNECT). Cancelling closes.
 * @internal (its result is dns-packet's type, see DNSResponse)
 */
export function queryTCP(reactor: QueryReactor, server: NameServer, name: string, type: AddressType, timeout: number): Deferred<DNSResponse> {
  let query: TCPQuery | null = null;
  const d = new Deferred<DNSResponse>(() => query?.close());
  query = new TCPQuery(d, server, name, type);
  try {
    query.connector = connectTCP(reactor, canonicalAddress(server.host), server.port, query, { timeout: 0 });
  } catch (e) {
    d.errback(new DNSQueryError("CONNECT", name, type, `TCP to ${describeServer(server)} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    return d;
  }
  d.addTimeout(timeout, reactor);
  d.addErrback(timeoutToQueryError(name, type, server, "TCP"));
  return d;
}
