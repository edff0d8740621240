/**
 * How a transport writes: write() only queues (the reactor's batch flush makes the
 * syscall), the transport watches WRITABLE only while the kernel has not taken everything,
 * and stopProducing closes like loseConnection.
 */
import { listenTCP, connectTCP, type Connection } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

function sink(onLost?: (p: Recorder) => void): ServerFactory {
  const f = new ServerFactory();
  f.buildProtocol = (addr: Address) => {
    void addr;
    const p = new Recorder();
    p.dataReceived = (d) => p.received.push(d);
    if (onLost) p.onLost = () => onLost(p);
    return p;
  };
  return f;
}

describe.each(MODES)("writes (%s mode)", (mode) => {
  test("write() makes no syscall: the bytes wait in the queue for the end-of-iteration flush", async () => {
    const out = await runReactor<{ queuedNow: number; later: number; received: string }>(mode, (reactor, finish) => {
      let queuedNow = -1;
      let client: Connection;
      const port = listenTCP(
        reactor,
        0,
        sink((p) => {
          port.stopListening();
          finish({ queuedNow, later: client.bufferedBytes(), received: p.bytes().toString() });
        }),
        { interface: "127.0.0.1" },
      );
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          client = p.transport as unknown as Connection;
          client.write("abc");
          client.write("def");
          queuedNow = client.bufferedBytes();
          client.loseConnection();
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out).toEqual({ queuedNow: 6, later: 0, received: "abcdef" });
  });

  test("WRITABLE is watched only while the kernel has not taken everything", async () => {
    const out = await runReactor<{ whileFull: boolean; afterDrain: boolean; small: boolean }>(mode, (reactor, finish) => {
      let server: Recorder;
      const f = new ServerFactory();
      f.buildProtocol = () => {
        server = new Recorder();
        // Not reading: the client's 32 MiB cannot all fit in the kernel's buffers.
        server.onMade = () => server.transport!.pauseProducing();
        server.dataReceived = () => {};
        return server;
      };
      const port = listenTCP(reactor, 0, f, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const t = p.transport as unknown as Connection;
          // A small write goes out in the batch flush: never registered as a writer.
          t.write("x");
          reactor.callLater(0.05, () => {
            const small = reactor.getWriters().includes(t);
            t.write(Buffer.alloc(32 * 1024 * 1024));
            reactor.callLater(0.05, () => {
              const whileFull = reactor.getWriters().includes(t);
              t.registerProducer(
                {
                  pauseProducing() {},
                  resumeProducing() {
                    if (t.bufferedBytes() === 0) {
                      const afterDrain = reactor.getWriters().includes(t);
                      t.unregisterProducer();
                      t.loseConnection();
                      port.stopListening();
                      finish({ whileFull, afterDrain, small });
                    }
                  },
                  stopProducing() {},
                },
                false,
              );
              server.transport!.resumeProducing();
            });
          });
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    }, 60);
    expect(out).toEqual({ whileFull: true, afterDrain: false, small: false });
  });

  test("stopProducing on a transport closes it cleanly after its queue is flushed", async () => {
    const received = await runReactor<string>(mode, (reactor, finish) => {
      const port = listenTCP(
        reactor,
        0,
        sink((p) => {
          port.stopListening();
          finish(`${p.bytes().toString()}|${p.events[p.events.length - 1]}`);
        }),
        { interface: "127.0.0.1" },
      );
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          p.transport!.write("last words");
          p.transport!.stopProducing();
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(received).toBe("last words|lost:ConnectionDone");
  });
});
