/**
 * io_uring's registered files (docs/platforms.md): a watched fd's file sits in slot fd of
 * the ring's file table, and the per-fd requests name the slot. The slot holds the file,
 * so the suite checks what must not change for the user: an fd the reactor stops watching
 * and the caller closes is closed (the peer reads EOF at once), and an fd number reused by
 * a new socket reaches only the new socket (readiness, batched receives and sends), both
 * run modes; a file the kernel refuses a slot (another ring's fd) is watched by number; the
 * option and its refusal are stated; no fd leaks.
 */
import { connectTCP, listenTCP } from "../../lib/net";
import { AGAIN, READABLE, native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { Reactor } from "../../lib/reactor";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, portOf, runReactor } from "./helpers";

expectNoFdLeaks();

const IO_URING = { backend: "io_uring" as const, fixedFiles: true };

/** A reader of `fd` that records each doRead's bytes as text ("EAGAIN", "EOF" or the bytes). */
function recordingReader(fd: number, reads: string[], onRead: () => void) {
  const buf = new Uint8Array(256);
  return {
    fileno: () => fd,
    doRead: () => {
      const n = native.read(fd, buf, 0, buf.length);
      reads.push(n === AGAIN ? "EAGAIN" : n === 0 ? "EOF" : Buffer.from(buf.subarray(0, n)).toString("latin1"));
      onRead();
      return undefined;
    },
    connectionLost: () => undefined,
  };
}

const send = (fd: number, s: string): number => native.write(fd, Buffer.from(s), 0, s.length);

describeOnKernel("io_uring")("io_uring registered files", () => {
  test("fixedFiles: true uses them where the kernel has sparse file tables (Linux 5.19+); by default fds are named by number", () => {
    const on = new Reactor({ ...IO_URING, mode: "exclusive" });
    const off = new Reactor({ backend: "io_uring", mode: "exclusive" });
    const [a, b] = native.socketpair("stream");
    const reader = { fileno: () => a, doRead: () => undefined, connectionLost: () => undefined };
    try {
      on.addReader(reader);
      off.addReader(reader);
      // This machine's kernel (6.x) has them: a refusal here is a regression, not a skip.
      expect([on.fixedFiles, on.fixedFilesRefusal]).toEqual([true, null]);
      expect([off.fixedFiles, off.fixedFilesRefusal]).toEqual([false, null]);
      on.removeReader(reader);
      off.removeReader(reader);
    } finally {
      native.close(a);
      native.close(b);
      on.close();
      off.close();
    }
    expect(() => new Reactor({ ...IO_URING, fixedFiles: "yes" as unknown as boolean })).toThrow(TypeError);
    const epoll = new Reactor({ backend: "epoll", mode: "exclusive", fixedFiles: true });
    expect(epoll.fixedFiles).toBe(false);
    epoll.close();
  });

  describe.each(MODES)("%s mode", (mode) => {
    test("an fd removed and closed is closed at once: its peer reads EOF, though the slot held the file", async () => {
      const got = await runReactor<string[]>(
        mode,
        (reactor, finish) => {
          const [a, b] = native.socketpair("stream");
          const reads: string[] = [];
          const reader = recordingReader(a, reads, () => {
            reactor.removeReader(reader);
            native.close(a);
            const buf = new Uint8Array(16);
            const n = native.read(b, buf, 0, buf.length); // no wait: the close must have happened
            native.close(b);
            finish([...reads, n === 0 ? "peer:EOF" : n === AGAIN ? "peer:EAGAIN" : `peer:${n}`]);
          });
          reactor.addReader(reader);
          send(b, "ping");
        },
        20,
        IO_URING,
      );
      expect(got).toEqual(["ping", "peer:EOF"]);
    });

    test("a reused fd number reaches the new socket only: readiness of the new one, not the old one's unread bytes", async () => {
      const got = await runReactor<{ sameNumber: boolean; reads: string[] }>(
        mode,
        (reactor, finish) => {
          const [a, b] = native.socketpair("stream");
          const first: string[] = [];
          const reader = recordingReader(a, first, () => {
            // Bytes left unread in a: a slot still holding a's file would report it readable.
            send(b, "old-unread");
            reactor.removeReader(reader);
            native.close(a);
            const [c, d] = native.socketpair("stream");
            const second: string[] = [];
            const next = recordingReader(c, second, () => {
              reactor.removeReader(next);
              for (const fd of [b, c, d]) native.close(fd);
              finish({ sameNumber: c === a, reads: [...first, ...second] });
            });
            reactor.addReader(next);
            // Only later: a read before this write would find nothing (EAGAIN).
            reactor.callLater(0.05, () => send(d, "new"));
          });
          reactor.addReader(reader);
          send(b, "first");
        },
        20,
        IO_URING,
      );
      expect(got).toEqual({ sameNumber: true, reads: ["first", "new"] });
    });

    test("TCP: both numbers of a closed connection reused by the next one; each side's batched sends and receives reach the new peer only", async () => {
      const got = await runReactor<{ reused: boolean; server: string[]; client: string[] }>(
        mode,
        (reactor, finish) => {
          const fileno = (p: Recorder): number => (p.transport as unknown as { fileno(): number }).fileno();
          const numbers: number[][] = [[], []];
          const serverGot: string[] = [];
          const clientGot: string[] = [];
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            const p = new Recorder();
            p.onData = (d) => {
              const what = d.toString("latin1");
              serverGot.push(what);
              numbers[what === "one" ? 0 : 1].push(fileno(p));
              p.transport!.write(Buffer.from(`re:${what}`));
              if (what === "one") p.transport!.loseConnection(); // the server closes the first
            };
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          const connect = (what: string, index: number, then: () => void): void => {
            const cf = new RecordingClientFactory(() => {
              const p = new Recorder();
              p.onMade = () => {
                numbers[index].push(fileno(p));
                p.transport!.write(Buffer.from(what));
              };
              p.onData = (d) => {
                clientGot.push(`${what}<-${d.toString("latin1")}`);
                if (what === "two") p.transport!.loseConnection(); // the client closes the second
              };
              p.onLost = then;
              return p;
            });
            connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
          };
          connect("one", 0, () =>
            // Once both fds of the first are closed: the second takes their numbers.
            reactor.callLater(0, () =>
              connect("two", 1, () => {
                port.stopListening();
                const [first, second] = numbers.map((f) => [...f].sort((x, y) => x - y).join(","));
                finish({ reused: first === second, server: serverGot, client: clientGot });
              }),
            ),
          );
        },
        20,
        IO_URING,
      );
      expect(got).toEqual({ reused: true, server: ["one", "two"], client: ["one<-re:one", "two<-re:two"] });
    });

    test("a file the kernel refuses a slot (another ring's fd) is watched by number", async () => {
      const got = await runReactor<string>(
        mode,
        (reactor, finish) => {
          const other = new native.Poller("io_uring", new Uint32Array(64 * 4));
          // A ring's fd polls readable once it holds a completion: a NOP's, from a socket that closed.
          const [a, b] = native.socketpair("stream");
          const ringFd = other.fd();
          const reader = {
            fileno: () => ringFd,
            doRead: () => {
              reactor.removeReader(reader);
              other.close();
              native.close(a);
              finish(reactor.fixedFiles ? "readable, by number" : "no table");
              return undefined;
            },
            connectionLost: () => undefined,
          };
          reactor.addReader(reader);
          other.add(a, 1, 1, READABLE);
          native.close(b);
          other.flush();
        },
        20,
        IO_URING,
      );
      expect(got).toBe("readable, by number");
    });
  });
});
