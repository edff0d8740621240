/**
 * TCP transports on the io_uring backend, whose batched reads and writes are RECV/SEND
 * requests submitted in one io_uring_enter (docs/platforms.md). The transport semantics
 * must be those of the syscall batches: bytes in order across many connections, bursts
 * larger than the read slab, short sends that keep the rest queued, EOF, resets, and a
 * close while data is still queued. Both run modes.
 */
import { createHash } from "node:crypto";
import { ConnectionDone, ConnectionLost } from "../../lib/error";
import { connectTCP, listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import type { ReactorOptions } from "../../lib/reactor";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, echoFactory, portOf, runReactor } from "./helpers";

expectNoFdLeaks();

// A slab far smaller than what each connection sends: every burst spans many slabs.
const SMALL_SLAB: ReactorOptions = { backend: "io_uring", slabSize: 16 * 1024, maxReadPerFd: 8 * 1024 };

/** `size` bytes that differ per connection `seed` and per position. */
function pattern(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

const digest = (b: Buffer): string => createHash("sha1").update(b).digest("hex");

describeOnKernel("io_uring")("TCP on the io_uring backend", () => {
  describe.each(MODES)("%s mode", (mode) => {
    test("40 connections each echo 256 KiB through a 16 KiB slab: every byte back, in order", async () => {
      const CONNS = 40;
      const SIZE = 256 * 1024;
      const got = await runReactor<string[]>(
        mode,
        (reactor, finish) => {
          const port = listenTCP(reactor, 0, echoFactory(), { interface: "127.0.0.1" });
          const results: string[] = new Array<string>(CONNS).fill("");
          let done = 0;
          for (let c = 0; c < CONNS; c++) {
            const cf = new RecordingClientFactory(() => {
              const p = new Recorder();
              let n = 0;
              p.onMade = () => p.transport!.write(pattern(c, SIZE)); // one write: sent in short pieces
              p.onData = (d) => {
                n += d.length;
                if (n >= SIZE) p.transport!.loseConnection();
              };
              p.onLost = () => {
                results[c] = digest(p.bytes());
                if (++done === CONNS) {
                  port.stopListening();
                  finish(results);
                }
              };
              return p;
            });
            connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
          }
        },
        30,
        SMALL_SLAB,
      );
      expect(got).toEqual(Array.from({ length: CONNS }, (_, c) => digest(pattern(c, SIZE))));
    });

    test("4 MiB written at once, then loseConnection: the peer gets every byte, then ConnectionDone", async () => {
      const SIZE = 4 * 1024 * 1024;
      const data = pattern(3, SIZE);
      const out = await runReactor<{ digest: string; lost: string[] }>(
        mode,
        (reactor, finish) => {
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            const p = new Recorder();
            p.onMade = () => {
              p.transport!.write(data); // far beyond the socket buffer: short sends, the rest queued
              p.transport!.loseConnection(); // closes only once the queue is empty
            };
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const cf = new RecordingClientFactory();
          cf.onLost = () => {
            port.stopListening();
            const p = cf.built[0] as Recorder;
            finish({ digest: digest(p.bytes()), lost: p.events.filter((e) => e.startsWith("lost")) });
          };
          connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
        },
        30,
        SMALL_SLAB,
      );
      expect(out.digest).toBe(digest(data));
      expect(out.lost).toEqual(["lost:ConnectionDone"]);
    });

    test("a peer's reset reaches connectionLost as ConnectionLost with ECONNRESET; the bytes before it arrive", async () => {
      const out = await runReactor<{ data: string; reason: ConnectionLost }>(
        mode,
        (reactor, finish) => {
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            const p = new Recorder();
            p.onLost = (reason) => finish({ data: p.bytes().toString(), reason: reason.value as ConnectionLost });
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const client = native.socket("IPv4", "tcp");
          native.connect(client, "127.0.0.1", portOf(port.getHost()));
          // Give the connection a moment, then say something and reset it.
          reactor.callLater(0.05, () => {
            native.write(client, Buffer.from("last words"), 0, 10);
            reactor.callLater(0.05, () => {
              native.setsockopt(client, "SO_LINGER", 0);
              native.close(client);
              port.stopListening();
            });
          });
        },
        20,
        { backend: "io_uring" },
      );
      expect(out.data).toBe("last words");
      expect(out.reason).toBeInstanceOf(ConnectionLost);
      expect(out.reason).not.toBeInstanceOf(ConnectionDone);
      expect(out.reason.code).toBe("ECONNRESET");
    });

    test("abortConnection with megabytes still queued: the queue is dropped, the peer sees a reset, nothing leaks", async () => {
      const out = await runReactor<{ serverLost: string; clientLost: string; received: number }>(
        mode,
        (reactor, finish) => {
          let serverLost = "";
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            const p = new Recorder();
            p.onMade = () => {
              p.transport!.write(Buffer.alloc(8 * 1024 * 1024, 1));
              reactor.callLater(0.02, () => p.transport!.abortConnection());
            };
            p.onLost = (reason) => {
              serverLost = reason.type?.name ?? "";
            };
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const cf = new RecordingClientFactory();
          cf.onLost = (reason) => {
            port.stopListening();
            const p = cf.built[0] as Recorder;
            finish({ serverLost, clientLost: reason.type?.name ?? "", received: p.bytes().length });
          };
          connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
        },
        20,
        SMALL_SLAB,
      );
      expect(out.serverLost).toBe("ConnectionAborted");
      expect(out.clientLost).toBe("ConnectionLost");
      expect(out.received).toBeLessThan(8 * 1024 * 1024);
    });
  });
});
