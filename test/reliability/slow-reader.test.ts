/**
 * A peer that never reads. The server streams through a push producer: once the kernel's
 * buffers are full the transport's queue reaches its high-water mark and pauses the
 * producer, and the queued bytes then stay under a bound (high-water mark + one chunk)
 * for as long as the peer does not read: memory does not grow with the peer's stubbornness.
 * When the peer reads at last, the producer resumes and every byte arrives, in order.
 */
import { listenTCP } from "../../lib/net";
import type { IPushProducer } from "../../lib/net/interfaces";
import { Protocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, runReactor, type TestReactor } from "../net/helpers";
import { firstMismatch, pattern, pollUntil, RawPeer } from "./support";

expectNoFdLeaks();

const CHUNK = 32 * 1024;
const TOTAL = 24 * 1024 * 1024;

/** Produces TOTAL pattern bytes in CHUNK writes, one burst per reactor turn while not paused. */
class StreamProducer extends Protocol implements IPushProducer {
  produced = 0;
  paused = false;
  pauses = 0;
  resumes = 0;
  /** Largest queue seen right after a write while paused was not yet in force. */
  maxQueued = 0;
  private scheduled = false;

  constructor(private readonly reactor: TestReactor) {
    super();
  }

  override connectionMade(): void {
    this.transport!.registerProducer(this, true);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.paused || this.produced >= TOTAL) return;
    this.scheduled = true;
    this.reactor.callLater(0, () => {
      this.scheduled = false;
      this.produce();
    });
  }

  private produce(): void {
    const t = this.transport as unknown as { write(b: Uint8Array): void; bufferedBytes(): number; unregisterProducer(): void; loseConnection(): void };
    // Write until told to pause (a bounded burst per turn, so I/O interleaves).
    for (let i = 0; i < 64 && !this.paused && this.produced < TOTAL; i++) {
      const n = Math.min(CHUNK, TOTAL - this.produced);
      t.write(pattern(this.produced, n));
      this.produced += n;
      this.maxQueued = Math.max(this.maxQueued, t.bufferedBytes());
    }
    if (this.produced >= TOTAL) {
      t.unregisterProducer();
      t.loseConnection();
    } else this.schedule();
  }

  pauseProducing(): void {
    this.paused = true;
    this.pauses++;
  }

  resumeProducing(): void {
    this.paused = false;
    this.resumes++;
    this.schedule();
  }

  stopProducing(): void {
    this.paused = true;
  }
}

describe.each(MODES)("a peer that never reads (%s mode)", (mode) => {
  test("the producer is paused and the queue stays bounded while the peer does not read; then every byte arrives in order", async () => {
    const out = await runReactor<{ samples: number[]; pausedThroughout: boolean; producedWhilePaused: number; server: StreamProducer; got: Buffer; eof: boolean; highWater: number }>(
      mode,
      (reactor, finish, fail) => {
        let server: StreamProducer | null = null;
        const sf = new ServerFactory();
        sf.buildProtocol = () => (server = new StreamProducer(reactor));
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        const peer = new RawPeer(portOf(port.getHost()));
        const samples: number[] = [];
        let pausedThroughout = true;
        let producedAtPause = 0;
        // Phase 1: the peer reads nothing until the server's producer is paused and the
        // kernel's buffers are full (the queue unchanged over 20 polls: autotuning done).
        let last = -1;
        let still = 0;
        pollUntil(
          reactor,
          () => {
            if (!peer.connected() || server === null || !server.paused) return false;
            const q = (server.transport as unknown as { bufferedBytes(): number }).bufferedBytes();
            still = q === last ? still + 1 : 0;
            last = q;
            return still >= 20;
          },
          (e) => {
            if (e) return fail(e);
            const s = server!;
            producedAtPause = s.produced;
            const t = s.transport as unknown as { bufferedBytes(): number; writeHighWaterMark: number };
            // Phase 2: 100 polls (~0.5 s) of a peer that still reads nothing.
            let polls = 0;
            pollUntil(
              reactor,
              () => {
                samples.push(t.bufferedBytes());
                if (!s.paused) pausedThroughout = false;
                return ++polls >= 100;
              },
              (e2) => {
                if (e2) return fail(e2);
                const producedWhilePaused = s.produced - producedAtPause;
                // Phase 3: the peer reads everything; the producer resumes until TOTAL, then the server closes.
                pollUntil(
                  reactor,
                  () => {
                    peer.readAvailable();
                    if (peer.error !== null) throw new Error(`peer read failed: ${peer.error}`);
                    return peer.eof;
                  },
                  (e3) => {
                    const got = peer.bytes();
                    peer.close();
                    if (e3) return fail(e3);
                    finish({ samples, pausedThroughout, producedWhilePaused, server: s, got, eof: peer.eof, highWater: t.writeHighWaterMark });
                  },
                  20000,
                  0.001,
                );
              },
            );
          },
        );
      },
      60,
    );
    const bound = out.highWater + 64 * CHUNK; // the mark plus one burst, written before the pause took effect
    expect(out.pausedThroughout).toBe(true);
    expect(out.producedWhilePaused).toBe(0);
    expect(out.samples).toHaveLength(100);
    for (const s of out.samples) expect(s).toBeLessThanOrEqual(bound);
    // Nothing drains while the peer does not read: the queue is flat, not growing.
    expect(Math.max(...out.samples)).toBe(Math.min(...out.samples));
    expect(out.server.maxQueued).toBeLessThanOrEqual(bound);
    expect(out.server.pauses).toBeGreaterThanOrEqual(1);
    expect(out.server.resumes).toBeGreaterThanOrEqual(1);
    expect(out.eof).toBe(true);
    expect(out.got.length).toBe(TOTAL);
    expect(firstMismatch(out.got, 0)).toBe(-1);
  });
});
