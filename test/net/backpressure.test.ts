/**
 * Producers and consumers: 64 MiB each way between a client and a server on one reactor,
 * with a push producer on the client and the server's own transport registered as the
 * producer of its echo. Neither side ever holds more than its water mark plus one chunk
 * (or one read) in its write queue, so memory stays bounded whatever the volume.
 */
import { DEFAULT_HIGH_WATER_MARK, listenTCP, connectTCP, type FileDescriptor } from "../../lib/net";
import type { Address, IPullProducer, IPushProducer, ITransport } from "../../lib/net/interfaces";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** Byte i of the stream: a pattern that a dropped, repeated or reordered chunk breaks. */
function patternChunk(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

/** Writes TOTAL bytes in CHUNKs while not paused; records the largest queue it saw. */
class PatternProducer implements IPushProducer {
  sent = 0;
  paused = false;
  pauses = 0;
  maxBuffered = 0;
  constructor(private readonly transport: ITransport & { bufferedBytes(): number }) {}
  resumeProducing(): void {
    this.paused = false;
    for (let i = 0; i < TOTAL / CHUNK && !this.paused && this.sent < TOTAL; i++) {
      this.transport.write(patternChunk(this.sent, CHUNK));
      this.sent += CHUNK;
      this.maxBuffered = Math.max(this.maxBuffered, this.transport.bufferedBytes());
    }
    if (this.sent >= TOTAL) this.transport.unregisterProducer();
  }
  pauseProducing(): void {
    this.paused = true;
    this.pauses++;
  }
  stopProducing(): void {
    this.paused = true;
  }
}

describe.each(MODES)("backpressure (%s mode)", (mode) => {
  test("64 MiB echoed through a server with flow control: exact bytes, bounded write queues", async () => {
    const out = await runReactor<{ received: number; ok: boolean; clientMax: number; serverMax: number; pauses: number; serverPauses: number }>(
      mode,
      (reactor, finish, fail) => {
        let serverMax = 0;
        let serverPauses = 0;
        const sf = new ServerFactory();
        sf.buildProtocol = (addr: Address) => {
          void addr;
          const p = new Recorder();
          p.onMade = () => {
            const t = p.transport as unknown as FileDescriptor;
            // The transport is its own producer: reading pauses while the echo queue is full.
            const pause = t.pauseProducing.bind(t);
            t.pauseProducing = () => {
              serverPauses++;
              pause();
              // The server has stopped reading: the client may read again.
              if (clientPaused !== null) {
                const c = clientPaused;
                clientPaused = null;
                reactor.callLater(0, () => c.resumeProducing());
              }
            };
            t.registerProducer(t, true);
          };
          p.dataReceived = (d) => {
            const t = p.transport as unknown as FileDescriptor;
            t.write(d);
            serverMax = Math.max(serverMax, t.bufferedBytes());
          };
          return p;
        };
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        let received = 0;
        let ok = true;
        let clientPaused: ITransport | null = null;
        let producer: PatternProducer;
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          p.onMade = () => {
            producer = new PatternProducer(p.transport as ITransport & { bufferedBytes(): number });
            p.transport!.registerProducer(producer, true);
            producer.resumeProducing();
          };
          p.dataReceived = (d) => {
            if (ok && !d.equals(patternChunk(received, d.length))) ok = false;
            const before = received;
            received += d.length;
            // Stop reading mid-stream until the server's echo queue is full and the server
            // stops reading in turn (which also pauses our own producer).
            if (before < TOTAL / 8 && received >= TOTAL / 8) {
              p.transport!.pauseProducing();
              clientPaused = p.transport;
            }
            if (received >= TOTAL) p.transport!.loseConnection();
          };
          p.onLost = (reason) => {
            port.stopListening();
            if (received !== TOTAL) fail(new Error(`lost after ${received} bytes: ${reason.getErrorMessage()}`));
            else finish({ received, ok, clientMax: producer.maxBuffered, serverMax, pauses: producer.pauses, serverPauses });
          };
          return p;
        });
        connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
      },
      60,
    );
    expect(out.received).toBe(TOTAL);
    expect(out.ok).toBe(true);
    // The producer was paused (the kernel can't absorb 64 MiB) and its queue stayed at the mark.
    expect(out.pauses).toBeGreaterThan(0);
    expect(out.clientMax).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_MARK + CHUNK);
    // The server stopped reading while its echo queue was full: bounded by the mark plus reads.
    expect(out.serverPauses).toBeGreaterThan(0);
    expect(out.serverMax).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_MARK + 1024 * 1024);
  });

  test("a pull producer is asked for one chunk each time the queue empties, then loseConnection completes after unregister", async () => {
    const out = await runReactor<{ bytes: number; calls: number; events: string[] }>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      let bytes = 0;
      sf.buildProtocol = () => {
        const p = new Recorder();
        p.dataReceived = (d) => {
          bytes += d.length;
        };
        p.onLost = () => {
          port.stopListening();
          finish({ bytes, calls, events: p.events });
        };
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      let calls = 0;
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const t = p.transport!;
          const pull: IPullProducer = {
            resumeProducing: () => {
              calls++;
              if (calls <= 10) t.write(Buffer.alloc(1000, calls));
              else t.unregisterProducer();
            },
            stopProducing: () => {},
          };
          t.registerProducer(pull, false);
          // Asked to close while the producer is attached: waits for it to unregister.
          t.loseConnection();
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.bytes).toBe(10000);
    expect(out.calls).toBe(11);
    expect(out.events[out.events.length - 1]).toBe("lost:ConnectionDone");
  });

  test("registering a second producer throws; a producer on a closed transport is stopped at once", async () => {
    const out = await runReactor<{ err: unknown; stopped: boolean }>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Recorder();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        const noop: IPushProducer = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} };
        p.onMade = () => {
          p.transport!.registerProducer(noop, true);
          let err: unknown = null;
          try {
            p.transport!.registerProducer(noop, true);
          } catch (e) {
            err = e;
          }
          p.transport!.unregisterProducer();
          p.transport!.abortConnection();
          let stopped = false;
          p.transport!.registerProducer({ pauseProducing() {}, resumeProducing() {}, stopProducing: () => (stopped = true) }, true);
          port.stopListening();
          finish({ err, stopped });
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.err).toBeInstanceOf(Error);
    expect((out.err as Error).message).toContain("already registered");
    expect(out.stopped).toBe(true);
  });

  test("the transport's own pauseProducing stops dataReceived until resumeProducing", async () => {
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      const events: string[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        p.onMade = () => {
          p.transport!.pauseProducing();
          events.push("paused");
          reactor.callLater(0.05, () => {
            events.push(`resumed after ${p.bytes().length} bytes`);
            p.transport!.resumeProducing();
          });
        };
        p.onData = () => {
          events.push(`data ${p.bytes().length}`);
          p.transport!.loseConnection();
        };
        p.onLost = () => {
          port.stopListening();
          finish(events);
        };
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("12345");
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(events).toEqual(["paused", "resumed after 0 bytes", "data 5"]);
  });
});
