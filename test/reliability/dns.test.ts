/**
 * A DNS server that answers late, wrong or never. The server is a DatagramProtocol on the
 * reactor under test (127.0.0.1, port 0), scripted per case; the resolver asks it with
 * short timeouts. Late answers inside the timeout are taken; late answers past it, silence
 * and garbage end in DNSLookupError with a TIMEOUT cause after exactly `attempts` tries per
 * server; wrong answers (another id, another question, a query instead of a response,
 * truncated or random bytes) are dropped without an exception and the right answer that
 * follows is taken; no timer and no socket outlives a lookup.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as dnsPacket from "dns-packet";
import { DNSLookupError } from "../../lib/error";
import { addLogObserver } from "../../lib/log";
import { listenUDP } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import type { IUDPTransport } from "../../lib/net/udp";
import { DNSQueryError, Resolver } from "../../lib/names";
import { DatagramProtocol } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, runReactor, type TestReactor } from "../net/helpers";

expectNoFdLeaks();

const NAME = "late.example.test";
const ADDRESS = "127.0.0.42";
let emptyConf = "";
beforeAll(() => {
  emptyConf = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fdr-reliability-")), "resolv.conf");
  fs.writeFileSync(emptyConf, "");
});
afterAll(() => {
  fs.rmSync(path.dirname(emptyConf), { recursive: true, force: true });
});

/** One datagram the script sends back: after `delay` seconds, these bytes. */
interface Send {
  delay: number;
  bytes: (q: dnsPacket.DecodedPacket) => Buffer;
}

/** The right answer to query `q`. */
function answer(q: dnsPacket.DecodedPacket, rcode: "NOERROR" | "SERVFAIL" = "NOERROR"): Buffer {
  return dnsPacket.encode({
    type: "response",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (rcode === "SERVFAIL" ? 2 : 0),
    questions: q.questions,
    answers: rcode === "NOERROR" ? [{ type: "A", name: NAME, ttl: 60, class: "IN", data: ADDRESS }] : [],
  });
}

const wrongId: Send["bytes"] = (q) => answer({ ...q, id: (q.id! + 1) & 0xffff });
const otherQuestion: Send["bytes"] = (q) => answer({ ...q, questions: [{ type: "A", class: "IN", name: "other.example.test" }] });
const queryNotResponse: Send["bytes"] = (q) => dnsPacket.encode({ type: "query", id: q.id, questions: q.questions });
const truncatedHeader: Send["bytes"] = (q) => answer(q).subarray(0, 7);
const cutInAnswer: Send["bytes"] = (q) => answer(q).subarray(0, answer(q).length - 3);
/** Deterministic junk with the query's id in front, so it passes the id check and must fail decoding. */
const junk: Send["bytes"] = (q) => {
  const b = Buffer.alloc(64);
  for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 0xff;
  b.writeUInt16BE(q.id!, 0);
  b[2] = 0x81;
  return b;
};

/** A scripted DNS server: `script(n)` says what to send for the n-th query it receives. */
class ScriptedServer extends DatagramProtocol {
  queries = 0;
  constructor(
    private readonly reactor: TestReactor,
    private readonly script: (n: number) => Send[],
  ) {
    super();
  }
  override datagramReceived(data: Buffer, addr: Address): void {
    const q = dnsPacket.decode(data);
    const n = this.queries++;
    if (addr.type !== "UDP") return;
    const t = this.transport as unknown as IUDPTransport;
    for (const s of this.script(n)) this.reactor.callLater(s.delay, () => t.write(s.bytes(q), { host: addr.host, port: addr.port }));
  }
}

interface Outcome {
  addresses: string[] | null;
  error: string | null;
  queries: number[];
  timersLeft: number;
  /** Messages logged at level "error" during the lookup (an exception escaping a callback is logged so). */
  errors: string[];
}

/** Resolves NAME against one scripted server per script, with `timeout` and `attempts`. */
function resolveWith(mode: "integrated" | "exclusive", scripts: Array<(n: number) => Send[]>, timeout: number, attempts: number): Promise<Outcome> {
  const errors: string[] = [];
  const remove = addLogObserver((level, message) => {
    if (level === "error") errors.push(message);
  });
  return runReactor<Outcome>(mode, (reactor, finish) => {
    const servers = scripts.map((s) => new ScriptedServer(reactor, s));
    const ports = servers.map((s) => listenUDP(reactor, 0, s, { interface: "127.0.0.1" }));
    const resolver = new Resolver(reactor, {
      hostsPath: null,
      resolvConfPath: emptyConf,
      cacheSize: 0,
      config: { nameservers: ports.map((p) => ({ host: "127.0.0.1", port: (p.getHost() as { port: number }).port })), timeout, attempts, search: [], ndots: 1 },
    });
    const done = (addresses: string[] | null, error: string | null): void => {
      // Let the scripted late answers land on closed sockets first, then count timers.
      reactor.callLater(0.8, () => {
        const timersLeft = reactor.getDelayedCalls().length - 1; // minus the test's own guard
        for (const p of ports) p.stopListening();
        remove();
        finish({ addresses, error, queries: servers.map((s) => s.queries), timersLeft, errors });
      });
    };
    resolver.lookupAddress(NAME).then(
      (a) => done(a, null),
      (e: unknown) => {
        const cause = (e as { cause?: unknown }).cause;
        done(null, `${(e as Error).constructor.name}/${cause instanceof DNSQueryError ? cause.reason : String(cause)}${e instanceof DNSLookupError ? "" : "?"}`);
      },
    );
  });
}

const now = (bytes: Send["bytes"], delay = 0): Send => ({ delay, bytes });

describe.each(MODES)("a DNS server that answers late, wrong or never (%s mode)", (mode) => {
  test("late inside the timeout: the answer is taken, one query", async () => {
    const out = await resolveWith(mode, [() => [now(answer, 0.15)]], 0.5, 2);
    expect(out).toEqual({ addresses: [ADDRESS], error: null, queries: [1], timersLeft: 0, errors: [] });
  });

  test("late past the timeout on every try: TIMEOUT after exactly 2 queries; the late answers are dropped", async () => {
    const out = await resolveWith(mode, [() => [now(answer, 0.45)]], 0.2, 2);
    expect(out).toEqual({ addresses: null, error: "DNSLookupError/TIMEOUT", queries: [2], timersLeft: 0, errors: [] });
  });

  test("never (two silent servers): TIMEOUT after 2 tries of each", async () => {
    const out = await resolveWith(mode, [() => [], () => []], 0.15, 2);
    expect(out).toEqual({ addresses: null, error: "DNSLookupError/TIMEOUT", queries: [2, 2], timersLeft: 0, errors: [] });
  });

  test("wrong first (other id, other question, a query, truncated, junk), then right: the right answer is taken", async () => {
    const wrong = [wrongId, otherQuestion, queryNotResponse, truncatedHeader, cutInAnswer, junk];
    const out = await resolveWith(mode, [() => [...wrong.map((w) => now(w)), now(answer, 0.05)]], 1, 1);
    expect(out).toEqual({ addresses: [ADDRESS], error: null, queries: [1], timersLeft: 0, errors: [] });
  });

  test("only wrong answers: TIMEOUT, nothing thrown into the reactor", async () => {
    const wrong = [wrongId, otherQuestion, queryNotResponse, truncatedHeader, cutInAnswer, junk];
    const out = await resolveWith(mode, [() => wrong.map((w) => now(w))], 0.2, 2);
    expect(out).toEqual({ addresses: null, error: "DNSLookupError/TIMEOUT", queries: [2], timersLeft: 0, errors: [] });
  });

  test("SERVFAIL from the first server, the answer from the second", async () => {
    const out = await resolveWith(mode, [() => [now((q) => answer(q, "SERVFAIL"))], () => [now(answer)]], 0.5, 1);
    expect(out).toEqual({ addresses: [ADDRESS], error: null, queries: [1, 1], timersLeft: 0, errors: [] });
  });
});
