/**
 * Listening ports on the io_uring backend, whose connections the kernel accepts through one
 * multishot IORING_OP_ACCEPT request per port (docs/platforms.md): the connections a port
 * delivers, their fds' flags and peer addresses must be those of accept4 on epoll, and no
 * fd may be left open by a refusal, a stopListening with connections in flight, or a
 * burst of thousands. Both run modes, real sockets, fds counted.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { listenTCP, listenUNIX } from "../../lib/net";
import { tcpAddress, unixAddress } from "../../lib/net/address";
import type { Address } from "../../lib/net/interfaces";
import { ACCEPT, AGAIN, native, READABLE, WRITABLE } from "../../lib/native";
import { setLogObservers } from "../../lib/log";
import { ServerFactory } from "../../lib/protocols";
import { Reactor, type ReactorOptions } from "../../lib/reactor";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor, type TestReactor } from "./helpers";

expectNoFdLeaks();

const URING: ReactorOptions = { backend: "io_uring" };
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const flagsOf = (fd: number): number => parseInt(/flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1], 8);

/** Counts the addon's accept (accept4) calls while `body` runs. */
async function countingAccept4<T>(body: () => Promise<T>): Promise<[T, number]> {
  const spy = jest.spyOn(native, "accept");
  try {
    const out = await body();
    return [out, spy.mock.calls.length];
  } finally {
    spy.mockRestore();
  }
}

/** A server factory recording, per connection, buildProtocol's address, getPeer() and the fd's flags. */
function peerRecorder(onMade: (p: Recorder, built: Address, flags: number) => void): ServerFactory {
  const sf = new ServerFactory();
  sf.buildProtocol = (addr: Address) => {
    const p = new Recorder();
    p.onMade = () => onMade(p, addr, flagsOf((p.transport as unknown as { fileno(): number }).fileno()));
    return p;
  };
  return sf;
}

describeOnKernel("io_uring")("multishot accept on the io_uring backend", () => {
  test("the io_uring poller offers ACCEPT on this kernel (5.19+), the other backends do not", () => {
    const ev = new Uint32Array(3);
    for (const b of native.backends()) {
      const p = new native.Poller(b, ev);
      try {
        expect([b, (p.supportedOptions & ACCEPT) !== 0]).toEqual([b, b === "io_uring"]);
      } finally {
        p.close();
      }
    }
  });

  describe.each(MODES)("%s mode", (mode) => {
    test("2,000 connections in bursts of 250: every one delivered once, by completions (no accept4), non-blocking and close-on-exec, getPeer() = the client's address", async () => {
      const TOTAL = 2000;
      const BURST = 250;
      const before = openFds();
      const clients: number[] = [];
      const [out, accept4Calls] = await countingAccept4(() =>
        runReactor<{ peers: string[]; flags: number[]; same: number }>(
          mode,
          (reactor, finish) => {
            const peers: string[] = [];
            const flags = new Set<number>();
            let same = 0;
            const made: Recorder[] = [];
            const port = listenTCP(
              reactor,
              0,
              peerRecorder((p, built, f) => {
                const peer = p.transport!.getPeer();
                if (JSON.stringify(peer) === JSON.stringify(built)) same++;
                peers.push(`${peer.type === "UNIX" ? "" : peer.host}:${portOf(peer)}`);
                flags.add(f & (O_NONBLOCK | O_CLOEXEC));
                made.push(p);
                if (made.length === TOTAL) {
                  for (const m of made) m.transport!.loseConnection();
                  port.stopListening();
                  finish({ peers, flags: [...flags], same });
                }
              }),
              { interface: "127.0.0.1", backlog: 4096 },
            );
            const target = portOf(port.getHost());
            const burst = (): void => {
              for (let i = 0; i < BURST && clients.length < TOTAL; i++) {
                const fd = native.socket("IPv4", "tcp");
                clients.push(fd);
                native.connect(fd, "127.0.0.1", target);
              }
              if (clients.length < TOTAL) reactor.callLater(0.005, burst);
            };
            burst();
          },
          25,
          URING,
        ),
      );
      const expected = clients.map((fd) => {
        const a = native.getsockname(fd) as { address: string; port: number };
        return `${a.address}:${a.port}`;
      });
      for (const fd of clients) native.close(fd);
      expect(accept4Calls).toBe(0);
      expect(out.same).toBe(TOTAL);
      expect(out.flags).toEqual([O_NONBLOCK | O_CLOEXEC]);
      expect(out.peers.length).toBe(TOTAL);
      expect(new Set(out.peers).size).toBe(TOTAL);
      expect([...out.peers].sort()).toEqual(expected.sort());
      expect(openFds()).toBe(before);
    });

    test("acceptByPoller: false keeps readiness and accept4 on io_uring", async () => {
      const [made, accept4Calls] = await countingAccept4(() =>
        runReactor<number>(
          mode,
          (reactor, finish) => {
            let n = 0;
            const port = listenTCP(
              reactor,
              0,
              peerRecorder((p) => {
                p.transport!.loseConnection();
                if (++n === 3) {
                  port.stopListening();
                  finish(n);
                }
              }),
              { interface: "127.0.0.1" },
            );
            for (let i = 0; i < 3; i++) reactor.connectTCP("127.0.0.1", portOf(port.getHost()), new RecordingClientFactory());
          },
          10,
          { ...URING, acceptByPoller: false },
        ),
      );
      expect(made).toBe(3);
      expect(accept4Calls).toBeGreaterThan(0);
    });

    test("peer addresses as accept4 gives them: IPv6, a Unix client bound to a path, an unbound one", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-uaccept-"));
      const serverPath = path.join(dir, "s");
      const clientPath = path.join(dir, "c");
      const clients: number[] = [];
      try {
        const out = await runReactor<{ built: Address; peer: Address; expected: Address }[]>(
          mode,
          (reactor, finish) => {
            const seen: { built: Address; peer: Address; expected: Address }[] = [];
            const expectedOf: Address[] = [];
            const done = (p: Recorder, built: Address): void => {
              seen.push({ built, peer: p.transport!.getPeer(), expected: expectedOf[seen.length] });
              p.transport!.loseConnection();
              if (seen.length === 3) {
                v6.stopListening();
                unix.stopListening();
                finish(seen);
              }
            };
            // One at a time, so that the order of the expected addresses is the order of accepts.
            const next = (): void => {
              if (clients.length === 1) {
                const fd = native.socket("unix", "tcp");
                native.bindUnix(fd, clientPath);
                clients.push(fd);
                expectedOf.push(unixAddress(native.getsockname(fd)));
                native.connectUnix(fd, serverPath);
              } else if (clients.length === 2) {
                const fd = native.socket("unix", "tcp");
                clients.push(fd);
                expectedOf.push(unixAddress({ family: "unix", path: "" }));
                native.connectUnix(fd, serverPath);
              }
            };
            const v6 = listenTCP(
              reactor,
              0,
              peerRecorder((p, built) => {
                done(p, built);
                next();
              }),
              { interface: "::1" },
            );
            const unix = listenUNIX(
              reactor,
              serverPath,
              peerRecorder((p, built) => {
                done(p, built);
                next();
              }),
            );
            const fd = native.socket("IPv6", "tcp");
            clients.push(fd);
            native.connect(fd, "::1", portOf(v6.getHost())); // binds the client's port at once
            expectedOf.push(tcpAddress(native.getsockname(fd)));
          },
          10,
          URING,
        );
        expect(out.length).toBe(3);
        for (const { built, peer, expected } of out) {
          expect(peer).toEqual(expected);
          expect(built).toEqual(expected);
        }
        expect(out[0].peer.type).toBe("TCP");
        expect((out[0].peer as { host: string }).host).toBe("::1");
        expect(out[1].peer).toEqual({ type: "UNIX", name: clientPath });
        expect(out[2].peer).toEqual({ type: "UNIX", name: "" });
      } finally {
        for (const fd of clients) native.close(fd);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test("buildProtocol returning null closes that connection: the client reads EOF, no fd is left", async () => {
      const before = openFds();
      const clients: number[] = [];
      const eofs = await runReactor<number>(
        mode,
        (reactor, finish) => {
          const sf = new ServerFactory();
          sf.buildProtocol = () => null;
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
          for (let i = 0; i < 20; i++) {
            const fd = native.socket("IPv4", "tcp");
            clients.push(fd);
            native.connect(fd, "127.0.0.1", portOf(port.getHost()));
          }
          const buf = new Uint8Array(16);
          const poll = (): void => {
            let eof = 0;
            for (const fd of clients) {
              try {
                if (native.read(fd, buf, 0, 16) === 0) eof++;
              } catch {
                eof++; // ECONNRESET: closed as well
              }
            }
            if (eof === clients.length) {
              port.stopListening();
              finish(eof);
            } else {
              reactor.callLater(0.01, poll);
            }
          };
          reactor.callLater(0.01, poll);
        },
        10,
        URING,
      );
      for (const fd of clients) native.close(fd);
      expect(eofs).toBe(20);
      expect(openFds()).toBe(before);
    });

    test("stopListening while connections keep arriving: each one accepted is delivered or closed, none closed twice", async () => {
      const before = openFds();
      const clients: number[] = [];
      const out = await runReactor<{ made: number; lost: number }>(
        mode,
        (reactor, finish) => {
          const made: Recorder[] = [];
          let lost = 0;
          const sf = new ServerFactory();
          sf.buildProtocol = () => {
            const p = new Recorder();
            p.onMade = () => {
              made.push(p);
              if (made.length === 10) port.stopListening(); // more are in flight in the kernel
            };
            p.onLost = () => lost++;
            return p;
          };
          const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1", backlog: 1024 });
          const target = portOf(port.getHost());
          for (let i = 0; i < 300; i++) {
            const fd = native.socket("IPv4", "tcp");
            clients.push(fd);
            native.connect(fd, "127.0.0.1", target);
          }
          // Let the in-flight completions be read (and their fds closed), then end.
          reactor.callLater(0.3, () => {
            for (const p of made) p.transport!.loseConnection();
            reactor.callLater(0.05, () => finish({ made: made.length, lost }));
          });
        },
        10,
        URING,
      );
      // The clients: each one the server delivered, closed, or reset sees EOF or an error.
      const buf = new Uint8Array(16);
      let ended = 0;
      for (const fd of clients) {
        try {
          if (native.read(fd, buf, 0, 16) !== AGAIN) ended++;
        } catch {
          ended++;
        }
        native.close(fd);
      }
      expect(out.made).toBeGreaterThanOrEqual(10);
      expect(out.lost).toBe(out.made);
      expect(ended).toBe(clients.length);
      expect(openFds()).toBe(before);
    });
  });

  test("the poller holds at most 1,024 connections accepted and not taken; the rest wait in the kernel's backlog and all come once it drains", () => {
    const before = openFds();
    const p = new native.Poller("io_uring", new Uint32Array(64 * 3));
    const l = native.socket("IPv4", "tcp");
    const clients: number[] = [];
    try {
      native.bind(l, "127.0.0.1", 0);
      native.listen(l, 2048);
      const target = (native.getsockname(l) as { port: number }).port;
      p.add(l, 1, 1, READABLE | ACCEPT);
      let most = 0;
      for (let i = 0; i < 15; i++) {
        for (let j = 0; j < 100; j++) {
          const fd = native.socket("IPv4", "tcp");
          clients.push(fd);
          native.connect(fd, "127.0.0.1", target);
        }
        p.wait(0);
        most = Math.max(most, openFds() - before - clients.length - 2); // the ring and the listener
      }
      p.wait(20);
      most = Math.max(most, openFds() - before - clients.length - 2);
      expect(most).toBeGreaterThanOrEqual(1024);
      expect(most).toBeLessThanOrEqual(1024 + 100);
      const got: number[] = [];
      for (let k = 0; k < 500 && got.length < clients.length; k++) {
        if (p.wait(20) === 0) continue;
        for (const a of p.accept(l, 128)) {
          got.push((a.address as { port: number }).port);
          native.close(a.fd);
        }
      }
      const expected = clients.map((fd) => (native.getsockname(fd) as { port: number }).port);
      expect(got.length).toBe(clients.length);
      expect([...got].sort()).toEqual(expected.sort());
    } finally {
      for (const fd of clients) native.close(fd);
      p.close();
      native.close(l);
    }
    expect(openFds()).toBe(before);
  });

  test("the poller: ACCEPT on a socket that is not listening throws the kernel's EINVAL naming io_uring_accept; ACCEPT with WRITABLE is refused", () => {
    const p = new native.Poller("io_uring", new Uint32Array(3));
    const fd = native.socket("IPv4", "tcp");
    try {
      native.bind(fd, "127.0.0.1", 0);
      expect(() => p.add(fd, 1, 1, READABLE | ACCEPT)).toThrow(expect.objectContaining({ code: "EINVAL", syscall: "io_uring_accept" }));
      native.listen(fd, 8);
      expect(() => p.add(fd, 1, 1, READABLE | WRITABLE | ACCEPT)).toThrow(expect.objectContaining({ code: "EINVAL", syscall: "io_uring_accept" }));
      p.add(fd, 1, 1, READABLE | ACCEPT);
      expect(p.accept(fd, 4)).toEqual([]);
      p.remove(fd);
      expect(() => p.accept(fd, 4)).toThrow(expect.objectContaining({ code: "ENOENT" }));
    } finally {
      p.close();
      native.close(fd);
    }
  });

  test("a listener whose accept request the kernel refuses (EINVAL: bound, not listening) is polled instead, with a warning", async () => {
    const logged: string[] = [];
    const restoreLog = setLogObservers([(level, message) => logged.push(`${level}: ${message}`)]);
    const fd = native.socket("IPv4", "tcp");
    try {
      native.bind(fd, "127.0.0.1", 0);
      const out = await runReactor<{ taken: unknown; reads: number }>(
        "exclusive",
        (reactor, finish) => {
          let reads = 0;
          const listener = { acceptsConnections: true as const, fileno: () => fd, doRead: () => void reads++, connectionLost: () => undefined };
          reactor.addReader(listener); // no throw: registered as a plain reader
          const taken = reactor.takeAccepted(fd, 8); // null: the caller accepts with accept4
          reactor.removeReader(listener);
          finish({ taken, reads });
        },
        10,
        URING,
      );
      expect(out.taken).toBeNull();
      expect(logged.filter((l) => l.includes("refused multishot accept"))).toEqual([
        "warn: the poller refused multishot accept (EINVAL): this listener accepts with readiness and accept4",
      ]);
    } finally {
      restoreLog();
      native.close(fd);
    }
  });

  test("a reactor stopped with connections accepted and not yet taken closes them: no fd is left", async () => {
    const before = openFds();
    const clients: number[] = [];
    const r = new Reactor({ backend: "io_uring", mode: "exclusive" }) as TestReactor;
    r.callWhenRunning(() => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Recorder();
      const port = listenTCP(r, 0, sf, { interface: "127.0.0.1", backlog: 512 });
      for (let i = 0; i < 200; i++) {
        const fd = native.socket("IPv4", "tcp");
        clients.push(fd);
        native.connect(fd, "127.0.0.1", portOf(port.getHost()));
      }
      r.stop(); // the kernel may accept some of them before the ring closes
    });
    await r.run();
    for (const fd of clients) native.close(fd);
    expect(openFds()).toBe(before);
  });
});
