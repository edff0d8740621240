/**
 * Half-open peers: peers that send, shut their write side (FIN) and then neither read nor
 * close. A half-close-aware server still answers each of them and closes; a server that is
 * not half-close aware sees a clean ConnectionDone and closes. Either way every server-side
 * fd is released although the peers keep theirs open, and every peer reads exactly what
 * the server wrote, then EOF.
 */
import type { Failure } from "../../lib/defer";
import { ConnectionDone } from "../../lib/error";
import { listenTCP } from "../../lib/net";
import type { IHalfCloseableProtocol } from "../../lib/net/interfaces";
import { Protocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, runReactor, type TestReactor } from "../net/helpers";
import { pollUntil, RawPeer } from "./support";

expectNoFdLeaks();

const PEERS = 200;

/** Collects what a peer says; answers once the peer half-closes, then closes. */
class Answerer extends Protocol implements IHalfCloseableProtocol {
  got: Buffer[] = [];
  events: string[] = [];
  constructor(private readonly lost: (p: Answerer, reason: Failure) => void) {
    super();
  }
  override dataReceived(data: Buffer): void {
    this.got.push(data);
  }
  readConnectionLost(): void {
    this.events.push("readLost");
    this.transport!.write(Buffer.concat([Buffer.from("you said: "), ...this.got]));
    this.transport!.loseConnection();
  }
  override connectionLost(reason: Failure): void {
    this.events.push(`lost:${reason.type?.name}`);
    this.lost(this, reason);
  }
}

/** Not half-close aware: records only how it ended. */
class Plain extends Protocol {
  constructor(private readonly lost: (reason: Failure) => void) {
    super();
  }
  override connectionLost(reason: Failure): void {
    this.lost(reason);
  }
}

/** Connects PEERS raw peers; each sends its line then half-closes; resolves when all read EOF. */
function driveHalfOpenPeers(reactor: TestReactor, port: number, done: (e: Error | null, peers: RawPeer[]) => void): void {
  const peers: RawPeer[] = [];
  for (let i = 0; i < PEERS; i++) peers.push(new RawPeer(port));
  const sent = new Array<boolean>(PEERS).fill(false);
  pollUntil(
    reactor,
    () => {
      let finished = 0;
      for (let i = 0; i < PEERS; i++) {
        const p = peers[i];
        if (!sent[i]) {
          if (!p.connected()) continue;
          const line = Buffer.from(`peer ${i}\n`);
          if (p.writeSome(line) !== line.length) throw new Error(`peer ${i}: short write`);
          p.halfClose();
          sent[i] = true;
        }
        p.readAvailable();
        if (p.error !== null) throw new Error(`peer ${i}: ${p.error}`);
        if (p.eof) finished++;
      }
      return finished === PEERS;
    },
    (e) => done(e, peers),
  );
}

describe.each(MODES)("half-open peers (%s mode)", (mode) => {
  test(`${PEERS} peers half-close and never close: a half-close-aware server answers each exactly, then every server fd is released`, async () => {
    const out = await runReactor<{ answers: string[]; events: string[][] }>(mode, (reactor, finish, fail) => {
      const servers: Answerer[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Answerer(() => undefined);
        servers.push(p);
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      driveHalfOpenPeers(reactor, portOf(port.getHost()), (e, peers) => {
        const answers = peers.map((p) => p.bytes().toString("latin1"));
        // The peers still hold their fds: only the server's side must be gone.
        pollUntil(
          reactor,
          () => servers.length === PEERS && servers.every((s) => s.events.length === 2),
          (e2) => {
            for (const p of peers) p.close();
            if (e || e2) return fail(e ?? e2);
            finish({ answers, events: servers.map((s) => s.events) });
          },
        );
      });
    });
    expect(out.answers.sort()).toEqual(
      Array.from({ length: PEERS }, (_, i) => `you said: peer ${i}\n`).sort(),
    );
    for (const ev of out.events) expect(ev).toEqual(["readLost", "lost:ConnectionDone"]);
  });

  test(`${PEERS} peers half-close and never close: a server that is not half-close aware sees ConnectionDone and closes each`, async () => {
    const out = await runReactor<{ reasons: Failure[]; peerBytes: number }>(mode, (reactor, finish, fail) => {
      const reasons: Failure[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Plain((r) => reasons.push(r));
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      driveHalfOpenPeers(reactor, portOf(port.getHost()), (e, peers) => {
        const peerBytes = peers.reduce((s, p) => s + p.received, 0);
        pollUntil(
          reactor,
          () => reasons.length === PEERS,
          (e2) => {
            for (const p of peers) p.close();
            if (e || e2) return fail(e ?? e2);
            finish({ reasons, peerBytes });
          },
        );
      });
    });
    expect(out.reasons).toHaveLength(PEERS);
    for (const r of out.reasons) expect(r.value).toBeInstanceOf(ConnectionDone);
    expect(out.peerBytes).toBe(0);
  });
});
