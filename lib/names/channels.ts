/**
 * DNS over UDP through a few sockets per server (Twisted's DNSDatagramProtocol, which
 * multiplexes queries by id on one port): each channel is a UDP socket bound to a random
 * port and connected to one server; queries to that server share the channels, matched by
 * their random ids; channels are retired and replaced as they age.
 *
 * Choices the next reader should not undo (docs/names.md, "What the socket pool trades"):
 * - A channel takes at most MAX_QUERIES queries and MAX_AGE seconds of new queries, then
 *   takes no more and closes once its last query is settled, so a source port that leaked
 *   is useful to a spoofer for a bounded number of queries. A channel with nothing in
 *   flight closes after IDLE seconds; the reactor's shutdown closes the rest.
 * - Ids are random (from a buffer of crypto bytes) and unique among a channel's queries in
 *   flight. The socket is connected, so the kernel drops datagrams from any other address
 *   or port; the source is checked again, and an answer must carry a live id and echo the
 *   question exactly (packet.ts's rules, applied natively by dnsRecvBatch with the
 *   channel's table of ids and query bytes) or it is ignored: the query keeps waiting.
 * - One timer per pool, not one per query: queries are kept in the order they were sent,
 *   and the timer wakes for the oldest unsettled one (a timeout shortened meanwhile is
 *   honoured once the queries sent before it are due).
 * - An ICMP refusal on a channel fails every query in flight on it (the server's port is
 *   closed to all of them) and retires the channel.
 */
import { randomFillSync } from "node:crypto";
import type { IDelayedCall } from "../defer";
import { log } from "../log";
import { native, AGAIN, DNS_ADDRESSES, DNS_DECODE, DNS_QUERIES_USED, DNS_RECORD_WORDS, DNS_SEND_WORDS, DNS_SLOT_COUNT, DNS_SLOT_WORDS, DNS_TABLE_HEAD } from "../native";
import { errnoName } from "../net/oserror";
import { UDPPort, type ListenUDPOptions } from "../net/udp";
import { DatagramProtocol } from "../protocols";
import { DNSQueryError } from "./errors";
import { decodeResponse, ipv4Text, ipv6Text, type AddressType, type DNSResponse } from "./packet";
import { canonicalAddress, describeServer, type QueryReactor } from "./query";
import type { NameServer } from "./resolvconf";

/** Channels in use per server at most. */
export const CHANNELS_PER_SERVER = 4;
/** Queries one channel carries before it is retired. */
export const MAX_QUERIES = 100;
/** Seconds a channel takes new queries before it is retired. */
export const MAX_AGE = 10;
/** Seconds a channel with nothing in flight stays open. */
export const IDLE = 0.5;
/** Largest UDP response read (EDNS0 is not advertised, so 512 is what servers send; room for more). */
const MAX_UDP_RESPONSE = 4096;
/** Datagrams one dnsRecvBatch call reads at most, and batches one readable event reads at most. */
const RECV_BATCH = 32;
const MAX_BATCHES = 8;
/** Bytes of a channel's query buffer at first (it grows when names are long). */
const FIRST_QUERIES_SIZE = MAX_QUERIES * 40;

/**
 * dnsRecvBatch's buffers, shared by every channel (a batch is dealt with before the next
 * is read): the datagrams, the answer records and the address bytes they point into.
 */
let recvSlab: Buffer | null = null;
const answerRecords = new Int32Array(1 + RECV_BATCH * DNS_RECORD_WORDS);
const answerAddresses = new Uint8Array(RECV_BATCH * 64 * 4);
/** dnsSendQueries's records (shared: a send is done before the next starts) and the queries one call sends at most. */
const SEND_BATCH = native.DATAGRAM_BATCH;
const sendRecords = new Int32Array(SEND_BATCH * DNS_SEND_WORDS);

/** Random 16-bit words, refilled from the kernel's CSPRNG when used up. */
const random = new Uint16Array(1024);
let randomAt = random.length;
function random16(): number {
  if (randomAt === random.length) {
    randomFillSync(random);
    randomAt = 0;
  }
  return random[randomAt++];
}

/** Who hears how a query ended: called once, with the accepted response (or its gist) or the failure. */
export interface QueryWaiter {
  /** The server's accepted response, decoded (a truncated one, another rcode, a CNAME chain, ...). */
  answered(r: DNSResponse): void;
  /** An accepted NOERROR response with `addresses` (distinct, in answer order) of the query's type for the name asked; `ttl` the least of theirs. */
  found(addresses: string[], ttl: number): void;
  /** An accepted NXDOMAIN (`nxdomain`), or NOERROR with no address and no CNAME for the name asked; `ttl` the negative TTL (RFC 2308; 0 without SOA). */
  negative(nxdomain: boolean, ttl: number): void;
  /** TIMEOUT after the query's timeout, CONNECT when refused or when no socket could be made. */
  failed(e: DNSQueryError): void;
}

/** One query in flight. */
export class PendingQuery {
  settled = false;
  constructor(
    readonly channel: Channel,
    /** Its slot in the channel's table. */
    readonly slot: number,
    readonly id: number,
    readonly name: string,
    readonly type: AddressType,
    readonly deadline: number,
    readonly timeout: number,
    readonly waiter: QueryWaiter,
  ) {}
}

/**
 * A channel's socket: its datagrams are read and checked by one native call per batch
 * (dnsRecvBatch), which keeps only the answers to the queries in the channel's table.
 */
class ChannelPort extends UDPPort {
  constructor(
    reactor: QueryReactor,
    private readonly channel: Channel,
    options: ListenUDPOptions,
  ) {
    super(reactor, 0, channel, options);
  }

  /** Reads batches of datagrams until the socket is empty (a bounded number per event); the pool settles the answers. */
  override doRead(): Error | void {
    const c = this.channel;
    const slab = (recvSlab ??= Buffer.allocUnsafeSlow(RECV_BATCH * MAX_UDP_RESPONSE));
    for (let i = 0; i < MAX_BATCHES && this.connected; i++) {
      let n: number;
      try {
        n = native.dnsRecvBatch(this.fileno(), slab, MAX_UDP_RESPONSE, RECV_BATCH, c.table, c.queries, answerRecords, answerAddresses);
      } catch (e) {
        return this.readFailed(e);
      }
      if (answerRecords[0] > 0) c.pool.answers(c, slab);
      // A short batch emptied the queue: asking again would only meet EAGAIN.
      if (n < RECV_BATCH) return;
    }
  }
}

/** One connected socket to one server and the queries in flight on it. */
class Channel extends DatagramProtocol {
  readonly live = new Map<number, PendingQuery>();
  /** The queries sent, by slot (a channel sends at most MAX_QUERIES). */
  readonly slots: PendingQuery[] = [];
  /**
   * What dnsRecvBatch checks answers against: the server's address block (read by the
   * native side), the slot count, then per slot [id (-1: settled), offset, length] of its
   * query in `queries`.
   */
  readonly table = new Int32Array(DNS_TABLE_HEAD + MAX_QUERIES * DNS_SLOT_WORDS);
  /** The bytes of the channel's queries, one after another (a query's bytes are a view of it). */
  queries = new Uint8Array(FIRST_QUERIES_SIZE);
  port: UDPPort | null = null;
  sent = 0;
  retired = false;
  /** Set once the pool closed it. */
  closed = false;
  /** Queries made since the last flush, sent together by the pool's microtask. */
  outbox: PendingQuery[] = [];
  /** When it last had nothing in flight (reactor seconds), for the idle close. */
  idleSince: number;

  constructor(
    readonly pool: ChannelPool,
    readonly server: NameServer,
    readonly host: string,
    readonly opened: number,
  ) {
    super();
    this.noisy = false;
    this.idleSince = opened;
  }

  /** The bytes of the query sent from `slot`. */
  queryBytes(slot: number): Uint8Array {
    const b = DNS_TABLE_HEAD + slot * DNS_SLOT_WORDS;
    return this.queries.subarray(this.table[b + 1], this.table[b + 1] + this.table[b + 2]);
  }

  /**
   * Writes and sends the first `count` queries of sendRecords (`names` theirs), growing
   * the query buffer when they do not fit; a send error is reported as UDPPort reports
   * one of a batch (a refusal fails the channel's queries, anything else is logged).
   */
  send(names: readonly string[], count: number): void {
    const fd = this.port!.fileno();
    let from = 0;
    for (;;) {
      from = native.dnsSendQueries(fd, this.table, this.queries, names, sendRecords, from, count);
      if (from === count) break;
      // Long names: a larger buffer, the queries written so far copied (their slots keep their offsets).
      const grown = new Uint8Array(this.queries.length * 2);
      grown.set(this.queries.subarray(0, this.table[DNS_QUERIES_USED]));
      this.queries = grown;
    }
    for (let i = 0; i < count; i++) {
      const result = sendRecords[i * DNS_SEND_WORDS + 2];
      if (result >= 0 || result === AGAIN) continue; // AGAIN: dropped, as a full buffer drops any datagram; the query times out
      const code = errnoName(-result);
      if (code === "ECONNREFUSED") {
        this.pool.refused(this);
        return;
      }
      log("warn", `a DNS query to ${describeServer(this.server)} was not sent: ${code}`);
    }
  }

  /** The server's port is closed (ICMP): every query on this channel has failed. */
  override connectionRefused(): void {
    this.pool.refused(this);
  }

  /** The socket was closed under us (reactor shutdown, a receive error). */
  override stopProtocol(): void {
    this.port = null;
    this.pool.lost(this);
  }
}

/** The UDP channels of one resolver, per server, and the one timer of their queries. */
export class ChannelPool {
  private readonly byServer = new Map<string, Channel[]>();
  private readonly retiring = new Set<Channel>();
  /** Queries in the order sent; `head` is the oldest that may be unsettled. */
  private order: PendingQuery[] = [];
  private head = 0;
  private timer: IDelayedCall | null = null;
  private timerAt = Infinity;
  /** Queries in flight on all channels. */
  private inFlight = 0;
  /** Channels with queries in their outbox; the flush microtask is queued while non-empty. */
  private sending: Channel[] = [];
  /** The names of one dnsSendQueries call (reused: emptied after each flush). */
  private readonly names: string[] = [];
  /** The server object last asked for and its list of channels: no key is built per query. */
  private lastServer: NameServer | null = null;
  private lastList: Channel[] | null = null;
  private readonly flushAll = (): void => this.flush();
  private readonly sweepNow = (): void => this.sweep();

  /** A pool sending through `reactor`. */
  constructor(private readonly reactor: QueryReactor) {}

  /**
   * Asks `server` for `name`/`type`; `waiter` hears the accepted response, or the failure
   * (DNSQueryError: TIMEOUT after `timeout` seconds, CONNECT when refused or when no socket
   * could be made; then it may be told before this returns, and null is returned). The
   * query can be forgotten with `cancel` (a later answer is ignored). `now` is the
   * reactor's time when the caller has just read it.
   */
  query(server: NameServer, name: string, type: AddressType, timeout: number, waiter: QueryWaiter, now = this.reactor.seconds()): PendingQuery | null {
    // The channel, the id and the slot are chosen here, in one function that no caller
    // inlines, so that V8 compiles this path once (docs/names.md, "What a lookup costs").
    let list = server === this.lastServer ? this.lastList : null;
    if (list === null) list = this.listFor(server);
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      if (c.sent >= MAX_QUERIES || now - c.opened >= MAX_AGE) this.retire(c, list, i);
    }
    let channel: Channel;
    if (list.length < CHANNELS_PER_SERVER) {
      try {
        channel = this.open(server, now);
      } catch (e) {
        waiter.failed(new DNSQueryError("CONNECT", name, type, `could not send to ${describeServer(server)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return null;
      }
      list.push(channel);
    } else channel = list[random16() % list.length];
    // One call site that runs for every query: a retry-only call (a clash of ids, about one
    // query in 8,000) would be code V8 optimized without feedback, and its first use would
    // throw away the optimized lookup path.
    let id: number;
    do id = random16();
    while (channel.live.has(id));
    // The next slot of the channel's table (the query's bytes are written when it is sent).
    const slot = channel.sent++;
    const t = channel.table;
    const b = DNS_TABLE_HEAD + slot * DNS_SLOT_WORDS;
    t[b] = id;
    t[b + 1] = 0;
    t[b + 2] = 0;
    t[DNS_SLOT_COUNT] = slot + 1;
    const q = new PendingQuery(channel, slot, id, name, type, now + timeout, timeout, waiter);
    channel.slots.push(q);
    channel.live.set(id, q);
    this.inFlight++;
    this.order.push(q);
    if (q.deadline < this.timerAt) this.schedule(q.deadline);
    // Sent at the end of this turn with the others made meanwhile: lookups started by the
    // callbacks of one batch of answers leave in one sendmmsg.
    if (channel.outbox.length === 0) {
      if (this.sending.length === 0) queueMicrotask(this.flushAll);
      this.sending.push(channel);
    }
    channel.outbox.push(q);
    return q;
  }

  /** Forgets `q` (its waiter hears nothing more; a later answer is ignored). */
  cancel(q: PendingQuery): void {
    if (!q.settled) this.done(q);
  }

  /** Sends every channel's outbox, one native call per channel (per DATAGRAM_BATCH queries). */
  private flush(): void {
    const channels = this.sending;
    this.sending = [];
    const names = this.names;
    for (const c of channels) {
      const queries = c.outbox;
      c.outbox = [];
      let i = 0;
      while (i < queries.length && c.port !== null) {
        let count = 0;
        for (; i < queries.length && count < SEND_BATCH; i++) {
          const q = queries[i];
          if (q.settled) continue;
          names[count] = q.name;
          sendRecords[count * DNS_SEND_WORDS] = q.slot;
          sendRecords[count * DNS_SEND_WORDS + 1] = q.type === "A" ? 1 : 28;
          count++;
        }
        if (count === 0) break;
        try {
          c.send(names, count);
        } catch (e) {
          for (const q of queries) {
            if (!q.settled) this.fail(q, new DNSQueryError("CONNECT", q.name, q.type, `could not send to ${describeServer(c.server)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
          }
          break;
        }
      }
    }
    names.length = 0;
  }

  /** Open channels (sockets) of this pool, retiring ones included. */
  get size(): number {
    let n = this.retiring.size;
    for (const list of this.byServer.values()) n += list.length;
    return n;
  }

  /** The list of `server`'s channels (made empty the first time), remembered as the last asked for. */
  private listFor(server: NameServer): Channel[] {
    const key = `${server.host}|${server.port}`;
    let list = this.byServer.get(key);
    if (list === undefined) {
      list = [];
      this.byServer.set(key, list);
    }
    this.lastServer = server;
    this.lastList = list;
    return list;
  }

  private open(server: NameServer, now: number): Channel {
    const host = canonicalAddress(server.host);
    const c = new Channel(this, server, host, now);
    const port = new ChannelPort(this.reactor, c, { interface: host.includes(":") ? "::" : "0.0.0.0", maxPacketSize: MAX_UDP_RESPONSE });
    port.startListening();
    c.port = port;
    try {
      port.connect(host, server.port);
    } catch (e) {
      port.stopListening();
      throw e;
    }
    return c;
  }

  /** Takes `c` out of service (list[i]); it closes once nothing is in flight on it. */
  private retire(c: Channel, list: Channel[], i: number): void {
    list.splice(i, 1);
    c.retired = true;
    if (c.live.size === 0) this.close(c);
    else this.retiring.add(c);
  }

  private close(c: Channel): void {
    c.closed = true;
    this.retiring.delete(c);
    const list = this.byServer.get(`${c.server.host}|${c.server.port}`);
    const i = list === undefined ? -1 : list.indexOf(c);
    if (i >= 0) list!.splice(i, 1);
    const port = c.port;
    c.port = null;
    if (port !== null) port.stopListening();
  }

  /**
   * The answers dnsRecvBatch kept from `c`'s last batch (answerRecords, the datagrams in
   * `slab`): each settles its query, unless an earlier one of the batch did.
   */
  answers(c: Channel, slab: Buffer): void {
    const rec = answerRecords;
    const n = rec[0];
    for (let i = 0; i < n; i++) {
      const b = 1 + i * DNS_RECORD_WORDS;
      const q = c.slots[rec[b]];
      if (q.settled) continue;
      const kind = rec[b + 1];
      if (kind === DNS_DECODE) {
        const r = decodeResponse(slab.subarray(rec[b + 2], rec[b + 2] + rec[b + 3]), c.queryBytes(q.slot), q.name);
        if (r !== null) {
          this.done(q);
          q.waiter.answered(r);
        }
        continue;
      }
      this.done(q);
      if (kind === DNS_ADDRESSES) q.waiter.found(addressTexts(q.type, rec[b + 7], rec[b + 8]), rec[b + 5] >>> 0);
      else q.waiter.negative((rec[b + 4] & 0x0f) === 3, rec[b + 6] >>> 0);
    }
  }

  /** `q` failed with `e`. */
  private fail(q: PendingQuery, e: DNSQueryError): void {
    this.done(q);
    q.waiter.failed(e);
  }

  /** Removes `q` from its channel; a retired channel left empty closes. */
  private done(q: PendingQuery): void {
    q.settled = true;
    const order = this.order;
    while (this.head < order.length && order[this.head].settled) this.head++;
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
    const c = q.channel;
    c.table[DNS_TABLE_HEAD + q.slot * DNS_SLOT_WORDS] = -1;
    c.live.delete(q.id);
    this.inFlight--;
    if (c.live.size > 0) return;
    if (c.retired) this.close(c);
    else c.idleSince = this.reactor.seconds();
    // Nothing in flight: the timer is only wanted for the idle close, no timeout outlives its query.
    if (this.inFlight === 0) this.schedule(this.firstIdleClose());
    else if (!c.retired && c.idleSince + IDLE < this.timerAt) this.schedule(c.idleSince + IDLE);
  }

  /** When the first open channel becomes idle long enough to close (Infinity: none open). */
  private firstIdleClose(): number {
    let at = Infinity;
    for (const list of this.byServer.values()) for (const c of list) if (c.live.size === 0) at = Math.min(at, c.idleSince + IDLE);
    return at;
  }

  /** ICMP refusal on `c`: fails all its queries and retires it. */
  refused(c: Channel): void {
    const list = this.byServer.get(`${c.server.host}|${c.server.port}`);
    const i = list === undefined ? -1 : list.indexOf(c);
    if (i >= 0) this.retire(c, list!, i);
    for (const q of [...c.live.values()]) {
      this.fail(q, new DNSQueryError("CONNECT", q.name, q.type, `${describeServer(c.server)} refused the query (port unreachable)`));
    }
  }

  /** `c`'s socket closed without us: its queries can no longer be answered. */
  lost(c: Channel): void {
    if (c.closed) return;
    c.closed = true;
    this.retiring.delete(c);
    const list = this.byServer.get(`${c.server.host}|${c.server.port}`);
    const i = list === undefined ? -1 : list.indexOf(c);
    if (i >= 0) list!.splice(i, 1);
    c.retired = true;
    for (const q of [...c.live.values()]) {
      this.fail(q, new DNSQueryError("CONNECT", q.name, q.type, `the socket to ${describeServer(c.server)} was closed`));
    }
  }

  /** Sets the one timer for `at` (Infinity: none). */
  private schedule(at: number): void {
    if (this.timer !== null && this.timer.active()) this.timer.cancel();
    this.timer = null;
    this.timerAt = at;
    if (at !== Infinity) this.timer = this.reactor.callLater(Math.max(0, at - this.reactor.seconds()), this.sweepNow);
  }

  /** Times out the queries that are due, closes idle channels, and sets the timer again. */
  private sweep(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.reactor.seconds();
    const order = this.order;
    let next = Infinity;
    while (this.head < order.length) {
      const q = order[this.head];
      if (q.settled) {
        this.head++;
        continue;
      }
      if (q.deadline > now) {
        next = q.deadline;
        break;
      }
      this.head++;
      this.fail(q, new DNSQueryError("TIMEOUT", q.name, q.type, `no UDP answer from ${describeServer(q.channel.server)} within ${q.timeout} s`));
    }
    if (this.head === order.length) {
      this.order = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
    for (const list of this.byServer.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const c = list[i];
        if (c.live.size > 0) continue;
        if (now - c.idleSince >= IDLE) this.close(c);
        else next = Math.min(next, c.idleSince + IDLE);
      }
    }
    if (next !== Infinity) this.schedule(next);
  }
}

/** The texts of `count` addresses of `type` at answerAddresses[at..]. */
function addressTexts(type: AddressType, at: number, count: number): string[] {
  const bytes = answerAddresses;
  const v4 = type === "A";
  const out = [v4 ? ipv4Text(bytes, at) : ipv6Text(bytes, at)];
  for (let i = 1; i < count; i++) out.push(v4 ? ipv4Text(bytes, at + 4 * i) : ipv6Text(bytes, at + 16 * i));
  return out;
}
