/**
 * A DNS server for the tests, on 127.0.0.1 over Node's own sockets (node:dgram and
 * node:net), speaking through dns-packet: UDP and TCP on the same port number. The test
 * decides every reply (`respond`), and every query is logged, so tests can assert which
 * server was asked what, over which transport, and how often.
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import * as dnsPacket from "dns-packet";

/** A query as the server saw it. */
export interface SeenQuery {
  id: number;
  name: string;
  type: string;
  via: "udp" | "tcp";
  fromPort: number;
}

/** What the responder tells the server to do with a query. */
export interface Reply {
  rcode?: "NOERROR" | "NXDOMAIN" | "SERVFAIL" | "REFUSED";
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  /** Set the TC bit (the UDP answer was cut short). */
  truncated?: boolean;
}

/** Decides the reply to a query: a Reply, or null to stay silent. */
export type Responder = (q: SeenQuery, server: FakeDNSServer) => Reply | null;

const RCODES = { NOERROR: 0, NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 } as const;

/** An SOA for negative answers, with `minimum` as the negative TTL. */
export function soa(zone: string, minimum: number, ttl = 3600): dnsPacket.Answer {
  return {
    type: "SOA",
    name: zone,
    ttl,
    class: "IN",
    data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
  };
}

/** An A record. */
export function a(name: string, address: string, ttl = 300): dnsPacket.Answer {
  return { type: "A", name, ttl, class: "IN", data: address };
}

/** An AAAA record. */
export function aaaa(name: string, address: string, ttl = 300): dnsPacket.Answer {
  return { type: "AAAA", name, ttl, class: "IN", data: address };
}

/** A CNAME record. */
export function cname(name: string, target: string, ttl = 300): dnsPacket.Answer {
  return { type: "CNAME", name, ttl, class: "IN", data: target };
}

/** The wire bytes of `reply` to query `q` (id and question echoed unless overridden). */
export function encodeReply(q: Pick<SeenQuery, "id" | "name" | "type">, reply: Reply, override: { id?: number; name?: string; type?: string; class?: string } = {}): Buffer {
  let flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | RCODES[reply.rcode ?? "NOERROR"];
  if (reply.truncated === true) flags |= dnsPacket.TRUNCATED_RESPONSE;
  return dnsPacket.encode({
    type: "response",
    id: override.id ?? q.id,
    flags,
    questions: [{ name: override.name ?? q.name, type: (override.type ?? q.type) as dnsPacket.RecordType, class: (override.class ?? "IN") as dnsPacket.RecordClass }],
    answers: reply.answers ?? [],
    authorities: reply.authorities ?? [],
  });
}

/** The fake server: UDP and TCP on 127.0.0.1:port. */
export class FakeDNSServer {
  /** Every query received, in order. */
  readonly queries: SeenQuery[] = [];
  /** The reply policy (tests may change it between lookups). */
  respond: Responder;
  /** Called with each query's raw reply target, so tests can send extra datagrams first. */
  beforeReply: ((q: SeenQuery, rinfo: dgram.RemoteInfo) => void) | null = null;

  private constructor(
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    respond: Responder,
  ) {
    this.respond = respond;
  }

  /** Starts a server on a free port where both UDP and TCP could be bound (a few tries). */
  static async start(respond: Responder, options: { tcp?: boolean } = {}): Promise<FakeDNSServer> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const udp = dgram.createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(0, "127.0.0.1", () => resolve());
      });
      const port = udp.address().port;
      const tcp = net.createServer();
      const ok = options.tcp === false
        ? true
        : await new Promise<boolean>((resolve) => {
            tcp.once("error", () => resolve(false));
            tcp.listen(port, "127.0.0.1", () => resolve(true));
          });
      if (!ok) {
        udp.close();
        continue;
      }
      const server = new FakeDNSServer(port, udp, tcp, respond);
      server.serve();
      return server;
    }
    throw new Error("no port free for both UDP and TCP after 20 tries");
  }

  /** Sends raw bytes to `rinfo` from the server's own UDP socket. */
  sendRaw(bytes: Uint8Array, rinfo: dgram.RemoteInfo): void {
    this.udp.send(bytes, rinfo.port, rinfo.address);
  }

  /** Stops both sockets. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    if (this.tcp.listening) await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  /** How many queries for `name` (any transport) arrived. */
  count(name: string, via?: "udp" | "tcp"): number {
    return this.queries.filter((q) => q.name.toLowerCase() === name.toLowerCase() && (via === undefined || q.via === via)).length;
  }

  private serve(): void {
    this.udp.on("message", (msg, rinfo) => {
      const q = this.parse(msg, "udp", rinfo.port);
      if (q === null) return;
      this.beforeReply?.(q, rinfo);
      const reply = this.respond(q, this);
      if (reply !== null) this.udp.send(encodeReply(q, reply), rinfo.port, rinfo.address);
    });
    this.tcp.on("connection", (sock) => {
      let buf = Buffer.alloc(0);
      sock.on("error", () => undefined);
      sock.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (let i = 0; i < 16 && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0); i++) {
          const len = buf.readUInt16BE(0);
          const msg = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          const q = this.parse(msg, "tcp", sock.remotePort ?? 0);
          if (q === null) continue;
          const reply = this.respond(q, this);
          if (reply === null) continue;
          const out = encodeReply(q, { ...reply, truncated: false });
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(out.length, 0);
          sock.write(Buffer.concat([prefix, out]));
        }
      });
    });
  }

  private parse(msg: Buffer, via: "udp" | "tcp", fromPort: number): SeenQuery | null {
    let p: dnsPacket.DecodedPacket;
    try {
      p = dnsPacket.decode(msg);
    } catch {
      return null;
    }
    const q = p.questions?.[0];
    if (q === undefined) return null;
    const seen = { id: p.id ?? 0, name: q.name, type: q.type, via, fromPort };
    this.queries.push(seen);
    return seen;
  }
}

/** A zone as a responder: records by lower-cased name; other names get NXDOMAIN with an SOA (negative TTL `negTTL`). */
export function zoneResponder(records: dnsPacket.Answer[], negTTL = 60): Responder {
  return (q) => {
    const name = q.name.toLowerCase();
    const own = records.filter((r) => r.name.toLowerCase() === name);
    if (own.length === 0) return { rcode: "NXDOMAIN", authorities: [soa("test", negTTL)] };
    // A CNAME answers every type, with the target's records when this zone has them (as a server would).
    const answers: dnsPacket.Answer[] = [];
    let current = name;
    for (let i = 0; i < 8; i++) {
      const here = records.filter((r) => r.name.toLowerCase() === current);
      const wanted = here.filter((r) => r.type === q.type);
      if (wanted.length > 0) {
        answers.push(...wanted);
        break;
      }
      const c = here.find((r) => r.type === "CNAME");
      if (c === undefined) break;
      answers.push(c);
      current = String((c as { data: string }).data).toLowerCase();
    }
    if (answers.length === 0) return { rcode: "NOERROR", authorities: [soa("test", negTTL)] };
    return { rcode: "NOERROR", answers };
  };
}
