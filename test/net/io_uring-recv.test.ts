/**
 * TCP transports on io_uring's completion path (docs/platforms.md): the ring receives for
 * each connection into buffers cut from the reactor's read slabs, and the wait hands the
 * bytes to dataReceived. The suite states which read path this kernel gives (Linux 6.12+:
 * "completion") and checks the transport contract on it, both run modes: bytes in order
 * across many chunks, nothing delivered while paused and nothing lost or reordered across
 * pause/resume, 1 MiB through a ring far too small (ENOBUFS, refilled), EOF after every
 * byte, user-defined readers keep readiness, and no fd leaks.
 */
import { createHash } from "node:crypto";
import * as os from "node:os";
import { connectTCP, listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { Reactor, type ReactorOptions } from "../../lib/reactor";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, portOf, runReactor } from "./helpers";

expectNoFdLeaks();

// A ring of 2 buffers of 4 KiB: every few receives run out of buffers (ENOBUFS).
const TINY_RING: ReactorOptions = { backend: "io_uring", recvRing: 2, slabSize: 8 * 1024, maxReadPerFd: 4 * 1024 };

const [major, minor] = os.release().split(".").map(Number);
const HAS_INC_RINGS = major > 6 || (major === 6 && minor >= 12);

/** `size` bytes that differ per position (and per `seed`). */
function pattern(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed * 5 + (i >> 12)) & 0xff;
  return b;
}

const digest = (b: Buffer): string => createHash("sha1").update(b).digest("hex");

describeOnKernel("io_uring")("TCP on io_uring's completion path", () => {
  test("this kernel's read path is stated: with recvRing, completion from Linux 6.12 (readiness before); readiness by default", () => {
    const r = new Reactor({ backend: "io_uring", mode: "exclusive", recvRing: 64 });
    const off = new Reactor({ backend: "io_uring", mode: "exclusive" });
    try {
      const [a, b] = native.socketpair("stream");
      const reader = { fileno: () => a, doRead: () => undefined, connectionLost: () => undefined };
      r.addReader(reader);
      off.addReader(reader);
      expect(r.readPath).toBe(HAS_INC_RINGS ? "completion" : "readiness");
      expect(r.readPathRefusal === null).toBe(HAS_INC_RINGS);
      expect(off.readPath).toBe("readiness");
      expect(off.readPathRefusal).toBeNull();
      r.removeReader(reader);
      off.removeReader(reader);
      native.close(a);
      native.close(b);
    } finally {
      r.close();
      off.close();
    }
    expect(() => new Reactor({ backend: "io_uring", recvRing: 3 })).toThrow(/recvRing/);
    expect(() => new Reactor({ backend: "io_uring", recvRing: 2 })).toThrow(/recvRing/); // below slabSize / maxReadPerFd (4)
  });

  describe.each(MODES)("%s mode", (mode) => {
    /**
     * One connection through TINY_RING: the client writes `payload` in `chunk`-byte writes and
     * closes; the server (`onData` sees each view) reports what it got and the read path.
     */
    function oneUpload(payload: Buffer, chunk: number, onData: ((data: Buffer) => void) | null = null) {
      return runReactor<{ digest: string; events: string[]; path: string }>(
        mode,
        (reactor, finish) => {
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            // Only once the server has its connection: a port stopped earlier drops it.
            port.stopListening();
            const p = new Recorder();
            p.onData = onData;
            p.onLost = () => finish({ digest: digest(p.bytes()), events: p.events.filter((e) => !e.startsWith("data:")), path: reactor.readPath });
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const cf = new RecordingClientFactory(() => {
            const p = new Recorder();
            p.onMade = () => {
              for (let at = 0; at < payload.length; at += chunk) p.transport!.write(payload.subarray(at, Math.min(payload.length, at + chunk)));
              p.transport!.loseConnection();
            };
            return p;
          });
          connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
        },
        20,
        TINY_RING,
      );
    }

    test("1 MiB in 2,000 chunks through a ring of two 4 KiB buffers arrives whole and in order, then EOF", async () => {
      const payload = pattern(1, 1024 * 1024);
      const out = await oneUpload(payload, 524);
      expect(out.path).toBe(HAS_INC_RINGS ? "completion" : "readiness");
      expect(out.digest).toBe(digest(payload));
      expect(out.events).toEqual(["made", "lost:ConnectionDone"]);
    });

    test("a protocol that transfers the buffer of the bytes it got detaches nothing the ring still fills: the transfer copies", async () => {
      const payload = pattern(3, 256 * 1024);
      let detached = 0;
      const out = await oneUpload(payload, 4000, (data) => {
        // What a protocol handing bytes to a worker does; a detached slab would empty this
        // view and every other view of it, the recorded ones too.
        structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
        if (data.buffer.byteLength === 0) detached++;
      });
      expect(out.path).toBe(HAS_INC_RINGS ? "completion" : "readiness");
      expect(detached).toBe(0);
      expect(out.digest).toBe(digest(payload));
    });

    test("pauseProducing stops deliveries at once; resumeProducing delivers what came meanwhile, nothing lost or reordered", async () => {
      const SIZE = 512 * 1024;
      const payload = pattern(2, SIZE);
      const out = await runReactor<{ digest: string; whilePaused: number; pauses: number }>(
        mode,
        (reactor, finish) => {
          let whilePaused = 0;
          let pauses = 0;
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            // Only once the server has its connection: a port stopped earlier drops it.
            port.stopListening();
            const p = new Recorder();
            let paused = false;
            let chunks = 0;
            p.onData = () => {
              if (paused) whilePaused++;
              // Every 5th chunk: pause for 5 ms while the peer keeps sending.
              if (++chunks % 5 === 0 && !paused) {
                paused = true;
                pauses++;
                p.transport!.pauseProducing();
                reactor.callLater(0.005, () => {
                  paused = false;
                  p.transport!.resumeProducing();
                });
              }
            };
            p.onLost = () => finish({ digest: digest(p.bytes()), whilePaused, pauses });
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const cf = new RecordingClientFactory(() => {
            const p = new Recorder();
            p.onMade = () => {
              for (let at = 0; at < SIZE; at += 4000) p.transport!.write(payload.subarray(at, Math.min(SIZE, at + 4000)));
              p.transport!.loseConnection();
            };
            return p;
          });
          connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
        },
        20,
        { backend: "io_uring", slabSize: 16 * 1024, maxReadPerFd: 4 * 1024, recvRing: 8 },
      );
      expect(out.digest).toBe(digest(payload));
      expect(out.whilePaused).toBe(0);
      expect(out.pauses).toBeGreaterThan(3);
    });

    test("a user-defined IReadDescriptor keeps readiness: doRead, reading the socket itself", async () => {
      const got = await runReactor<string>(
        mode,
        (reactor, finish) => {
          const [a, b] = native.socketpair("stream");
          const buf = Buffer.alloc(64);
          const reader = {
            fileno: () => a,
            doRead: () => {
              const n = native.read(a, buf, 0, buf.length);
              if (n <= 0) return;
              reactor.removeReader(reader);
              native.close(a);
              native.close(b);
              finish(buf.toString("latin1", 0, n));
            },
            connectionLost: () => undefined,
          };
          reactor.addReader(reader);
          native.write(b, Buffer.from("by readiness"), 0, 12);
        },
        10,
        { backend: "io_uring", recvRing: 64 },
      );
      expect(got).toBe("by readiness");
    });
  });
});
