/**
 * Half-close (Twisted's IHalfCloseableProtocol): loseWriteConnection shuts one direction,
 * the peer's half-close-aware protocol hears readConnectionLost and may still write.
 */
import { listenTCP, connectTCP } from "../../lib/net";
import type { Address, ITCPTransport } from "../../lib/net/interfaces";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { HalfRecorder, MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

function serverFactory(make: () => Recorder): ServerFactory & { built: Recorder[] } {
  const f = new ServerFactory() as ServerFactory & { built: Recorder[] };
  f.built = [];
  f.buildProtocol = (addr: Address) => {
    void addr;
    const p = make();
    f.built.push(p);
    return p;
  };
  return f;
}

describe.each(MODES)("half-close (%s mode)", (mode) => {
  test("client half-closes: the server reads EOF as readConnectionLost and still answers", async () => {
    const out = await runReactor<{ client: HalfRecorder; server: HalfRecorder }>(mode, (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new HalfRecorder();
        p.onReadLost = () => {
          p.transport!.write(`got ${p.bytes().length} bytes`);
          p.transport!.loseConnection();
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new HalfRecorder();
        p.onMade = () => {
          p.transport!.write("request");
          (p.transport as ITCPTransport).loseWriteConnection();
          // Until the queue is flushed and the write side shut, writes still go out (as in Twisted).
          p.transport!.write(" more");
        };
        return p;
      });
      cf.onLost = () => {
        const server = sf.built[0] as HalfRecorder;
        const done = (): void => {
          port.stopListening();
          finish({ client: cf.built[0] as HalfRecorder, server });
        };
        if (server.reason) done();
        else server.onLost = done;
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    // The server's close is the client's read EOF: with its write side already shut, that ends it.
    expect(out.client.events).toEqual(["made", "writeLost", "data:got 12 bytes", "readLost", "lost:ConnectionDone"]);
    expect(out.server.events).toEqual(["made", "data:request more", "readLost", "lost:ConnectionDone"]);
  });

  test("server half-closes: the client keeps sending until it half-closes too, then both see ConnectionDone", async () => {
    const out = await runReactor<{ client: HalfRecorder; server: HalfRecorder }>(mode, (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new HalfRecorder();
        p.onMade = () => {
          p.transport!.write("banner");
          (p.transport as ITCPTransport).loseWriteConnection();
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new HalfRecorder();
        p.onReadLost = () => {
          p.transport!.write("after");
          (p.transport as ITCPTransport).loseWriteConnection();
        };
        return p;
      });
      let lost = 0;
      const both = (): void => {
        if (++lost === 2) {
          port.stopListening();
          finish({ client: cf.built[0] as HalfRecorder, server: sf.built[0] as HalfRecorder });
        }
      };
      cf.onLost = both;
      sf.buildProtocol = ((orig) => (addr: Address) => {
        const p = orig(addr) as Recorder;
        p.onLost = both;
        return p;
      })(sf.buildProtocol);
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.server.events).toEqual(["made", "writeLost", "data:after", "readLost", "lost:ConnectionDone"]);
    expect(out.client.events).toEqual(["made", "data:banner", "readLost", "writeLost", "lost:ConnectionDone"]);
  });

  test("a protocol that is not half-close aware sees the peer's half-close as ConnectionDone", async () => {
    const out = await runReactor<{ server: Recorder; client: HalfRecorder }>(mode, (reactor, finish) => {
      const sf = serverFactory(() => new Recorder());
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new HalfRecorder();
        p.onMade = () => {
          p.transport!.write("x");
          (p.transport as ITCPTransport).loseWriteConnection();
        };
        return p;
      });
      cf.onLost = () => {
        port.stopListening();
        finish({ server: sf.built[0], client: cf.built[0] as HalfRecorder });
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.server.events).toEqual(["made", "data:x", "lost:ConnectionDone"]);
    expect(out.client.events).toEqual(["made", "writeLost", "readLost", "lost:ConnectionDone"]);
  });
});
