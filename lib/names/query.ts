/**
 * One DNS exchange over TCP (RFC 1035 4.2.2 length prefix, after a truncated UDP answer),
 * and the checks every response passes (UDP queries go through channels.ts).
 *
 * Choices the next reader should not undo:
 * - A response is accepted only if it parses as a whole, is a response, carries the
 *   query's id and echoes exactly the question asked (name case-insensitively, type, class
 *   IN): packet.ts compares it with the query's own bytes. Anything else is dropped and
 *   the query keeps waiting: a spoofed or garbled answer can delay an answer until the
 *   timeout, never replace it.
 */
import { randomInt } from "node:crypto";
import { Deferred, Failure, TimeoutError, type IReactorTime } from "../defer";
import { connectTCP, type TCPConnector } from "../net";
import type { IReactorFDSet } from "../net/fdset";
import { ClientFactory, Int16StringReceiver } from "../protocols";
import { DNSQueryError } from "./errors";
import { decodeResponse, encodeQuery, type AddressType, type DNSResponse } from "./packet";
import type { NameServer } from "./resolvconf";

export { encodeQuery, type AddressType, type DNSRecord, type DNSResponse } from "./packet";

/** What a query needs from the reactor: file descriptors and time. */
export type QueryReactor = IReactorFDSet & IReactorTime;

/** A random 16-bit query id. */
export function randomQueryId(): number {
  return randomInt(0, 65536);
}

/**
 * The response in `bytes` if it answers query `id` for `name`/`type`, else null (never
 * throws, whatever the bytes are).
 */
export function acceptResponse(bytes: Buffer, id: number, name: string, type: AddressType): DNSResponse | null {
  return decodeResponse(bytes, encodeQuery(id, name, type));
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
  override connectionLost(reason: Failure): void {
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
    const r = decodeResponse(data, this.bytes, this.name);
    if (r === null) return;
    this.close();
    this.d.callback(r);
  }

  /** The connection ended; if no answer came, the try failed. */
  lost(reason: Failure): void {
    if (this.d.called || this.closing) return;
    this.d.errback(new DNSQueryError("CONNECT", this.name, this.type, `${describeServer(this.server)} closed the TCP connection without an answer`, { cause: reason.value }));
  }

  /** The connection could not be made. */
  override clientConnectionFailed(_connector: unknown, reason: Failure): void {
    if (this.d.called || this.closing) return;
    this.d.errback(new DNSQueryError("CONNECT", this.name, this.type, `TCP to ${describeServer(this.server)} failed: ${reason.getErrorMessage()}`, { cause: reason.value }));
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
