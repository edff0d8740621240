/**
 * Wire compatibility with Twisted's own framers (Debian python3-twisted under
 * /usr/bin/python3, fixtures/twisted_framers.py): for Int32/Int16/Int8 strings, netstrings
 * and lines, a Twisted server echoes an fdreactor client's frames and an fdreactor server
 * echoes a Twisted client's, frames of 0 B up to each prefix's limit (300 kB for 32 bits),
 * checked byte for byte on both sides.
 */
import * as path from "node:path";
import { connectTCP, listenTCP, type TCPPort } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, LineReceiver, NetstringReceiver } from "../../lib/protocols/basic";
import { ClientFactory, Protocol, ServerFactory } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { runTwistedPeer, type PeerExit } from "../support/twisted";

expectNoFdLeaks();

const PEER = path.join(__dirname, "fixtures", "twisted_framers.py");

type Kind = "int32" | "int16" | "int8" | "netstring" | "line";
const LIMITS: Record<Kind, number> = { int32: 300000, int16: 65535, int8: 255, netstring: 300000, line: 1000 };

/** The frames both sides agree on (as fixtures/twisted_framers.py makes them). */
function frames(kind: Kind): Buffer[] {
  return [0, 1, 2, 100, 255, 1000, 65535, 300000]
    .filter((s) => s <= LIMITS[kind])
    .map((size, n) => {
      const b = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) b[i] = (n + i) % 251;
      if (kind === "line") for (let i = 0; i < size; i++) b[i] = b[i] === 13 ? 114 : b[i] === 10 ? 110 : b[i];
      return b;
    });
}

/** A framer of `kind` that calls `onFrame(self, frame)` and can `send(frame)`. */
function framer(kind: Kind, onFrame: (p: Protocol & { send(d: Buffer): void }, frame: Buffer) => void): Protocol & { send(d: Buffer): void } {
  if (kind === "line") {
    const p = new (class extends LineReceiver {
      override MAX_LENGTH = 1000000;
      send(d: Buffer): void {
        this.sendLine(d);
      }
      override lineReceived(line: Buffer): void {
        onFrame(this, line);
      }
    })();
    return p;
  }
  if (kind === "netstring") {
    return new (class extends NetstringReceiver {
      override MAX_LENGTH = 1000000;
      send(d: Buffer): void {
        this.sendString(d);
      }
      override stringReceived(data: Buffer): void {
        onFrame(this, data);
      }
    })();
  }
  // The three differ only in prefixLength: one subclass body serves them all.
  const Base = (kind === "int32" ? Int32StringReceiver : kind === "int16" ? Int16StringReceiver : Int8StringReceiver) as typeof Int32StringReceiver;
  return new (class extends Base {
    override MAX_LENGTH = 1000000;
    send(d: Buffer): void {
      this.sendString(d);
    }
    override stringReceived(data: Buffer): void {
      onFrame(this, data);
    }
  })();
}

/** Runs this suite's Twisted peer (PEER) with `args`; see runTwistedPeer. */
function runPeer(args: string[], onLine?: (line: string) => void): Promise<PeerExit> {
  return runTwistedPeer(PEER, args, onLine);
}

const KINDS: Kind[] = ["int32", "int16", "int8", "netstring", "line"];

describeWithPeer("python3-twisted").each(KINDS)("%s against Twisted", (kind) => {
  test("a Twisted server echoes an fdreactor client's frames exactly", async () => {
    const reactor = new Reactor();
    const expected = frames(kind);
    const got: Buffer[] = [];
    const cf = new ClientFactory();
    cf.buildProtocol = (addr: Address) => {
      void addr;
      const p = framer(kind, (self, frame) => {
        got.push(frame);
        if (got.length === expected.length) self.transport?.loseConnection();
      });
      p.connectionMade = () => expected.forEach((f) => p.send(f));
      return p;
    };
    const peer = runPeer(["server", kind], (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      // Node's loop runs the reactor (integrated mode): calling in from its callbacks is safe.
      if (m) connectTCP(reactor, "127.0.0.1", Number(m[1]), cf);
    });
    const guard = reactor.callLater(25, () => reactor.stop());
    void peer.then(() => reactor.stop());
    await reactor.run();
    if (guard.active()) guard.cancel();
    const result = await peer;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(got.map((g) => g.length)).toEqual(expected.map((e) => e.length));
    got.forEach((g, i) => expect(g.equals(expected[i])).toBe(true));
  });

  test("an fdreactor server echoes a Twisted client's frames exactly", async () => {
    const reactor = new Reactor();
    let port: TCPPort | null = null;
    const sf = new ServerFactory();
    sf.buildProtocol = (addr: Address) => {
      void addr;
      return framer(kind, (p, frame) => p.send(frame));
    };
    let peer: Promise<PeerExit> | null = null;
    const guard = reactor.callLater(25, () => reactor.stop());
    reactor.callWhenRunning(() => {
      port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const host = port.getHost();
      peer = runPeer(["client", kind, String(host.type === "UNIX" ? 0 : host.port)]);
      void peer.then(() => {
        port?.stopListening();
        reactor.stop();
      });
    });
    await reactor.run();
    if (guard.active()) guard.cancel();
    const result = await (peer as unknown as Promise<PeerExit>);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([`OK ${frames(kind).length}`]);
  });
});
