/**
 * TCP ports, connectors and connections on 127.0.0.1: the calls of Twisted's IReactorTCP,
 * IListeningPort, IConnector and ITCPTransport, in both reactor run modes.
 */
import * as net from "node:net";
import { Failure } from "../../lib/defer";
import { CannotListenError, ConnectionAborted, ConnectionDone, ConnectionLost, ConnectionRefusedError, DNSLookupError, UserError } from "../../lib/error";
import { setLogObservers, type LogLevel } from "../../lib/log";
import { connectTCP, listenTCP, NotConnectingError, type TCPConnector, type TCPPort } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { Factory, Protocol, ServerFactory } from "../../lib/protocols";
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

/** A server factory that keeps every protocol it builds. */
class KeepingFactory extends ServerFactory {
  built: Recorder[] = [];
  constructor(private readonly make: () => Recorder = () => new Recorder()) {
    super();
  }
  override buildProtocol(addr: Address): Recorder {
    void addr;
    const p = this.make();
    p.factory = this;
    this.built.push(p);
    return p;
  }
}

class Echo extends Protocol {
  override dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
}

describe.each(MODES)("TCP (%s mode)", (mode) => {
  test("listenTCP on port 0 picks a free port that getHost reports", async () => {
    const host = await runReactor<Address>(mode, (reactor, finish) => {
      const port = listenTCP(reactor, 0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      const h = port.getHost();
      port.stopListening();
      finish(h);
    });
    expect(host.type).toBe("TCP");
    expect(host).toMatchObject({ host: "127.0.0.1", family: "IPv4" });
    expect(portOf(host)).toBeGreaterThan(0);
  });

  test("a client and server exchange exact bytes, in order, and both see ConnectionDone", async () => {
    const out = await runReactor<{ server: Recorder; client: Recorder }>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.onData = (d) => p.transport!.write(Buffer.concat([Buffer.from("echo:"), d]));
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("ping");
        p.onData = () => p.transport!.loseConnection();
        p.onLost = () => {
          const server = sf.built[0];
          if (server.reason) done();
          else server.onLost = done;
        };
        return p;
      });
      function done(): void {
        port.stopListening();
        finish({ server: sf.built[0], client: cf.built[0] as Recorder });
      }
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.client.events).toEqual(["made", "data:echo:ping", "lost:ConnectionDone"]);
    expect(out.server.events).toEqual(["made", "data:ping", "lost:ConnectionDone"]);
  });

  test("a protocol that transfers the buffer of its bytes (postMessage, structuredClone) empties no other connection's bytes: the transfer copies", async () => {
    const SIZE = 64 * 1024;
    const out = await runReactor<{ a: number; b: string; emptied: number }>(mode, (reactor, finish) => {
      // Both connections' reads land in the reactor's shared read slab.
      const servers: Recorder[] = [];
      let emptied = 0;
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        if (servers.length === 0) {
          p.onData = (data: Buffer) => {
            structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
            if (data.length === 0) emptied++;
          };
        }
        servers.push(p);
        p.onLost = () => {
          if (servers.length === 2 && servers.every((s) => s.reason !== null)) finish({ a: servers[0].bytes().length, b: servers[1].bytes().toString("latin1"), emptied });
        };
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      for (const fill of ["a", "b"]) {
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          p.onMade = () => {
            p.transport!.write(Buffer.alloc(SIZE, fill));
            p.transport!.loseConnection();
          };
          return p;
        });
        connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
      }
    });
    expect(out.emptied).toBe(0);
    expect(out.a).toBe(SIZE);
    expect(out.b).toBe("b".repeat(SIZE));
  });

  test("getPeer and getHost of the two ends mirror each other", async () => {
    const out = await runReactor<Address[]>(mode, (reactor, finish) => {
      const sf = new KeepingFactory();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("x");
        return p;
      });
      sf.built.length = 0;
      const orig = sf.buildProtocol.bind(sf);
      sf.buildProtocol = (addr) => {
        const p = orig(addr);
        p.onData = () => {
          const c = cf.built[0].transport!;
          const s = p.transport!;
          const res = [c.getHost(), c.getPeer(), s.getHost(), s.getPeer(), port.getHost()];
          c.loseConnection();
          s.loseConnection();
          port.stopListening();
          finish(res);
        };
        return p;
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    const [cHost, cPeer, sHost, sPeer, portHost] = out;
    expect(cPeer).toEqual(portHost);
    expect(sHost).toEqual(portHost);
    expect(sPeer).toEqual(cHost);
    expect(cHost).toMatchObject({ type: "TCP", host: "127.0.0.1", family: "IPv4" });
  });

  test("writeSequence and string writes arrive as the same bytes in order", async () => {
    const bytes = await runReactor<Buffer>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.onLost = () => {
          port.stopListening();
          finish(p.bytes());
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const t = p.transport!;
          t.writeSequence(["a", Buffer.from("bc"), new Uint8Array([100]), "", "é"]);
          t.write("fin");
          t.loseConnection();
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(bytes).toEqual(Buffer.from("abcdéfin", "utf8"));
  });

  test("loseConnection sends everything queued before closing", async () => {
    const size = 4 * 1024 * 1024;
    const got = await runReactor<number>(mode, (reactor, finish) => {
      let n = 0;
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.dataReceived = (d) => {
          n += d.length;
        };
        p.onLost = (reason) => {
          port.stopListening();
          finish(reason.check(ConnectionDone) !== null ? n : -1);
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          p.transport!.write(Buffer.alloc(size, 7));
          p.transport!.loseConnection();
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(got).toBe(size);
  });

  test("abortConnection drops the queue: the aborting side gets ConnectionAborted", async () => {
    const out = await runReactor<{ reason: Failure; written: number }>(mode, (reactor, finish) => {
      const sf = new KeepingFactory();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          p.transport!.write(Buffer.alloc(1024));
          p.transport!.abortConnection();
        };
        p.onLost = (reason) => {
          port.stopListening();
          // Written after the abort: ignored, never throws.
          p.transport!.write("late");
          finish({ reason, written: (p.transport as unknown as { bufferedBytes(): number }).bufferedBytes() });
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.reason).toBeInstanceOf(Failure);
    expect(out.reason.value).toBeInstanceOf(ConnectionAborted);
    expect(out.reason.check(ConnectionLost)).toBe(ConnectionLost);
    expect(out.written).toBe(0);
  });

  test("abortConnection resets the connection, as Twisted's does: the peer gets ECONNRESET, not an orderly end", async () => {
    const peer = net.createServer();
    const seen = new Promise<string>((resolve) => {
      peer.on("connection", (s) => {
        s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
        s.on("end", () => resolve("end"));
      });
    });
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", () => r()));
    try {
      const reason = await runReactor<Failure>(mode, (reactor, finish) => {
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          // Nothing written, nothing unread: only SO_LINGER 0 makes this close a reset.
          p.onMade = () => p.transport!.abortConnection();
          p.onLost = (why) => void seen.then(() => finish(why));
          return p;
        });
        connectTCP(reactor, "127.0.0.1", (peer.address() as net.AddressInfo).port, cf);
      });
      expect(reason.value).toBeInstanceOf(ConnectionAborted);
      expect(await seen).toBe("error ECONNRESET");
    } finally {
      await new Promise((r) => peer.close(r));
    }
  });

  test("a refused connect reaches clientConnectionFailed with ConnectionRefusedError (ECONNREFUSED)", async () => {
    // A port that was just listening and is now closed refuses connections.
    const fd = native.socket("IPv4", "tcp");
    native.bind(fd, "127.0.0.1", 0);
    const free = (native.getsockname(fd) as { port: number }).port;
    native.close(fd);
    const f = await runReactor<RecordingClientFactory>(mode, (reactor, finish) => {
      const cf = new RecordingClientFactory();
      cf.onFailed = () => finish(cf);
      connectTCP(reactor, "127.0.0.1", free, cf);
    });
    expect(f.events).toEqual(["started", "failed:ConnectionRefusedError"]);
    expect(f.failReason!.value).toBeInstanceOf(ConnectionRefusedError);
    expect(f.failReason!.value).toMatchObject({ code: "ECONNREFUSED", errno: native.errno.ECONNREFUSED });
    expect(f.numPorts).toBe(0);
  });

  test("connectTCP never reports a result synchronously", async () => {
    const order = await runReactor<string[]>(mode, (reactor, finish) => {
      const order: string[] = [];
      const cf = new RecordingClientFactory();
      cf.onFailed = () => {
        order.push("failed");
        finish(order);
      };
      connectTCP(reactor, "no.such.host.invalid", 80, cf);
      order.push("returned");
    });
    expect(order).toEqual(["returned", "failed"]);
  });

  test("an unresolvable name fails with DNSLookupError naming the host", async () => {
    const f = await runReactor<RecordingClientFactory>(mode, (reactor, finish) => {
      const cf = new RecordingClientFactory();
      cf.onFailed = () => finish(cf);
      connectTCP(reactor, "no.such.host.invalid", 80, cf);
    });
    expect(f.events).toEqual(["started", "failed:DNSLookupError"]);
    expect(f.failReason!.value).toBeInstanceOf(DNSLookupError);
    expect(f.failReason!.getErrorMessage()).toContain("no.such.host.invalid");
  });

  test("'localhost' resolves through the default resolver and connects", async () => {
    const peer = await runReactor<Address>(mode, (reactor, finish) => {
      const port = listenTCP(reactor, 0, new KeepingFactory(), { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const a = p.transport!.getPeer();
          p.transport!.loseConnection();
          port.stopListening();
          finish(a);
        };
        return p;
      });
      connectTCP(reactor, "localhost", portOf(port.getHost()), cf);
    });
    expect(peer).toMatchObject({ type: "TCP", host: "127.0.0.1" });
  });

  test("a resolver installed on the reactor is asked for names, and its failure becomes DNSLookupError", async () => {
    const out = await runReactor<{ asked: string[]; peer: Address; failed: Failure }>(mode, (reactor, finish) => {
      const asked: string[] = [];
      reactor.resolve = (name: string) => {
        asked.push(name);
        return name === "server.test" ? Promise.resolve("127.0.0.1") : Promise.reject(new Error(`no such name ${name}`));
      };
      const port = listenTCP(reactor, 0, new KeepingFactory(), { interface: "127.0.0.1" });
      const bad = new RecordingClientFactory();
      const good = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const peer = p.transport!.getPeer();
          p.transport!.loseConnection();
          bad.onFailed = (failed) => {
            port.stopListening();
            finish({ asked, peer, failed });
          };
          connectTCP(reactor, "other.test", 1, bad);
        };
        return p;
      });
      connectTCP(reactor, "server.test", portOf(port.getHost()), good);
    });
    expect(out.asked).toEqual(["server.test", "other.test"]);
    expect(out.peer).toMatchObject({ host: "127.0.0.1" });
    expect(out.failed.value).toBeInstanceOf(DNSLookupError);
    expect((out.failed.value as Error & { cause: Error }).cause.message).toBe("no such name other.test");
  });

  test("stopListening returns a Deferred, stops the factory, and frees the port (connects are then refused)", async () => {
    const out = await runReactor<{ fired: boolean; stops: number; failed: string[] }>(mode, (reactor, finish) => {
      let stops = 0;
      const sf = new KeepingFactory();
      sf.stopFactory = () => {
        stops++;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const n = portOf(port.getHost());
      let fired = false;
      port.stopListening().addCallback(() => {
        fired = true;
      });
      const cf = new RecordingClientFactory();
      cf.onFailed = () => finish({ fired, stops, failed: cf.events });
      connectTCP(reactor, "127.0.0.1", n, cf);
    });
    expect(out).toEqual({ fired: true, stops: 1, failed: ["started", "failed:ConnectionRefusedError"] });
  });

  test("listening on a port in use throws CannotListenError carrying EADDRINUSE", async () => {
    const err = await runReactor<unknown>(mode, (reactor, finish) => {
      const a = listenTCP(reactor, 0, new KeepingFactory(), { interface: "127.0.0.1" });
      try {
        listenTCP(reactor, portOf(a.getHost()), new KeepingFactory(), { interface: "127.0.0.1" });
        finish(null);
      } catch (e) {
        finish(e);
      } finally {
        a.stopListening();
      }
    });
    expect(err).toBeInstanceOf(CannotListenError);
    expect(err).toMatchObject({ code: "EADDRINUSE" });
  });

  test("reusePort lets two ports listen on the same port number", async () => {
    const hosts = await runReactor<Address[]>(mode, (reactor, finish) => {
      const a = listenTCP(reactor, 0, new KeepingFactory(), { interface: "127.0.0.1", reusePort: true });
      const b = listenTCP(reactor, portOf(a.getHost()), new KeepingFactory(), { interface: "127.0.0.1", reusePort: true });
      const res = [a.getHost(), b.getHost()];
      a.stopListening();
      b.stopListening();
      finish(res);
    });
    expect(hosts[1]).toEqual(hosts[0]);
  });

  test("the factory is started once for two ports and stopped after the last one stops", async () => {
    const calls = await runReactor<string[]>(mode, (reactor, finish) => {
      const calls: string[] = [];
      const f = new KeepingFactory();
      f.startFactory = () => calls.push("start");
      f.stopFactory = () => calls.push("stop");
      const a = listenTCP(reactor, 0, f, { interface: "127.0.0.1" });
      const b = listenTCP(reactor, 0, f, { interface: "127.0.0.1", backlog: 5 });
      calls.push(`ports:${f.numPorts}`);
      a.stopListening();
      calls.push(`ports:${f.numPorts}`);
      b.stopListening();
      calls.push(`ports:${f.numPorts}`);
      finish(calls);
    });
    expect(calls).toEqual(["start", "ports:2", "ports:1", "stop", "ports:0"]);
  });

  test("a factory returning null from buildProtocol refuses the connection: the client sees it closed", async () => {
    const f = await runReactor<RecordingClientFactory>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => null;
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory();
      cf.onLost = () => {
        port.stopListening();
        finish(cf);
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(f.events).toEqual(["started", "lost:ConnectionDone"]);
    expect((f.built[0] as Recorder).events).toEqual(["made", "lost:ConnectionDone"]);
  });

  test("a client factory returning null from buildProtocol gets its connection closed cleanly", async () => {
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      const port = listenTCP(reactor, 0, new KeepingFactory(), { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory();
      cf.buildProtocol = () => null as unknown as Recorder;
      cf.onLost = () => {
        port.stopListening();
        finish(cf.events);
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(events).toEqual(["started", "lost:ConnectionDone"]);
  });

  test("a protocol whose dataReceived throws loses its own connection (logged); another connection goes on", async () => {
    const records: [LogLevel, string][] = [];
    const restore = setLogObservers([(level, message) => records.push([level, message])]);
    try {
      const out = await runReactor<{ bad: Recorder; good: Recorder }>(mode, (reactor, finish) => {
        let n = 0;
        const sf = new KeepingFactory(() => {
          const p = new Recorder();
          const which = n++;
          p.onData = (d) => {
            if (which === 0) throw new TypeError("boom");
            p.transport!.write(d);
          };
          return p;
        });
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        const first = new RecordingClientFactory(() => {
          const p = new Recorder();
          p.onMade = () => p.transport!.write("a");
          return p;
        });
        first.onLost = () => {
          const second = new RecordingClientFactory(() => {
            const p = new Recorder();
            p.onMade = () => p.transport!.write("b");
            p.onData = () => {
              p.transport!.loseConnection();
            };
            return p;
          });
          second.onLost = () => {
            const good = sf.built[1];
            const done = (): void => {
              port.stopListening();
              finish({ bad: sf.built[0], good });
            };
            if (good.reason) done();
            else good.onLost = done;
          };
          connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), second);
        };
        connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), first);
      });
      expect(out.bad.events).toEqual(["made", "data:a", "lost:ConnectionLost"]);
      expect((out.bad.reason!.value as Error & { cause: Error }).cause).toBeInstanceOf(TypeError);
      expect(out.good.events).toEqual(["made", "data:b", "lost:ConnectionDone"]);
      expect(records.filter(([l]) => l === "error").map(([, m]) => m)).toEqual(["Recorder.dataReceived threw: closing its connection"]);
    } finally {
      restore();
    }
  });

  test("setTcpNoDelay and setTcpKeepAlive change the socket options", async () => {
    const seen = await runReactor<boolean[]>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const t = p.transport as unknown as {
            setTcpNoDelay(b: boolean): void;
            setTcpKeepAlive(b: boolean): void;
            getTcpNoDelay(): boolean;
            getTcpKeepAlive(): boolean;
            loseConnection(): void;
          };
          const r: boolean[] = [t.getTcpNoDelay(), t.getTcpKeepAlive()];
          t.setTcpNoDelay(true);
          t.setTcpKeepAlive(true);
          r.push(t.getTcpNoDelay(), t.getTcpKeepAlive());
          t.setTcpNoDelay(false);
          r.push(t.getTcpNoDelay());
          t.loseConnection();
          port.stopListening();
          finish(r);
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), new RecordingClientFactory());
    });
    expect(seen).toEqual([false, false, true, true, false]);
  });

  test("bindAddress binds the client's local port before connecting", async () => {
    const fd = native.socket("IPv4", "tcp");
    native.bind(fd, "127.0.0.1", 0);
    const local = (native.getsockname(fd) as { port: number }).port;
    native.close(fd);
    const peer = await runReactor<Address>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          const a = p.transport!.getPeer();
          p.transport!.loseConnection();
          port.stopListening();
          finish(a);
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), new RecordingClientFactory(), { bindAddress: ["127.0.0.1", local] });
    });
    expect(peer).toEqual({ type: "TCP", host: "127.0.0.1", port: local, family: "IPv4" });
  });

  test("getDestination names the host and port as given", async () => {
    const dest = await runReactor<Address>(mode, (reactor, finish) => {
      const c = connectTCP(reactor, "localhost", 9, new RecordingClientFactory());
      const d = c.getDestination();
      c.stopConnecting();
      finish(d);
    });
    expect(dest).toEqual({ type: "TCP", host: "localhost", port: 9, family: "IPv4" });
  });

  test("stopConnecting fails the attempt with UserError; a second stopConnecting throws NotConnectingError", async () => {
    const out = await runReactor<{ f: RecordingClientFactory; second: unknown; state: string }>(mode, (reactor, finish) => {
      const cf = new RecordingClientFactory();
      const c = connectTCP(reactor, "127.0.0.1", 9, cf);
      c.stopConnecting();
      let second: unknown = null;
      try {
        c.stopConnecting();
      } catch (e) {
        second = e;
      }
      finish({ f: cf, second, state: c.state });
    });
    expect(out.f.events).toEqual(["started", "failed:UserError"]);
    expect(out.f.failReason!.value).toBeInstanceOf(UserError);
    expect(out.second).toBeInstanceOf(NotConnectingError);
    expect(out.state).toBe("disconnected");
  });

  test("connector.disconnect closes an established connection; connector.connect connects again", async () => {
    const out = await runReactor<{ events: string[]; accepted: number }>(mode, (reactor, finish) => {
      const sf = new KeepingFactory();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      let connector: TCPConnector;
      let made = 0;
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          made++;
          cf.events.push(`state:${connector.state}`);
          connector.disconnect();
        };
        return p;
      });
      cf.onLost = () => {
        if (made === 1) connector.connect();
        else {
          port.stopListening();
          finish({ events: cf.events, accepted: sf.built.length });
        }
      };
      connector = connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.events).toEqual(["started", "state:connected", "lost:ConnectionDone", "started", "state:connected", "lost:ConnectionDone"]);
    expect(out.accepted).toBe(2);
  });

  test("a client factory is started once per connector and stopped when it is idle", async () => {
    const calls = await runReactor<string[]>(mode, (reactor, finish) => {
      const calls: string[] = [];
      const cf = new RecordingClientFactory();
      cf.startFactory = () => calls.push("start");
      cf.stopFactory = () => calls.push("stop");
      cf.onFailed = () => finish(calls);
      connectTCP(reactor, "127.0.0.1", 9, cf).stopConnecting();
    });
    expect(calls).toEqual(["start", "stop"]);
  });

  test("bad arguments throw TypeError or RangeError naming them", async () => {
    const errs = await runReactor<unknown[]>(mode, (reactor, finish) => {
      const f = new KeepingFactory();
      const cf = new RecordingClientFactory();
      const errs: unknown[] = [];
      const tries: (() => unknown)[] = [
        () => listenTCP(reactor, 70000, f),
        () => listenTCP(reactor, 1.5, f),
        () => listenTCP(reactor, 0, f, { interface: "not-an-address" }),
        () => listenTCP(reactor, 0, null as unknown as Factory),
        () => listenTCP(reactor, 0, f, { backlog: -1 }),
        () => connectTCP(reactor, "", 80, cf),
        () => connectTCP(reactor, "127.0.0.1", -1, cf),
        () => connectTCP(reactor, "127.0.0.1", 80, cf, { timeout: -1 }),
        () => connectTCP(reactor, "127.0.0.1", 80, cf, { bindAddress: "nope" }),
      ];
      for (const t of tries) {
        try {
          const r = t() as TCPPort;
          errs.push(r);
        } catch (e) {
          errs.push(e);
        }
      }
      finish(errs);
    });
    expect(errs.map((e) => (e as Error).constructor.name)).toEqual([
      "RangeError",
      "RangeError", // a fractional port: ERR_SOCKET_BAD_PORT, a RangeError whatever the type (as Node's net)
      "TypeError",
      "TypeError",
      "RangeError",
      "TypeError",
      "RangeError",
      "RangeError",
      "TypeError",
    ]);
    expect((errs[0] as Error).message).toContain("port");
    expect((errs[2] as Error).message).toContain("interface");
    expect((errs[4] as Error).message).toContain("backlog");
    expect((errs[7] as Error).message).toContain("timeout");
    expect((errs[8] as Error).message).toContain("bindAddress");
  });

  test("the reactor's shutdown closes every port and connection, paused and idle ones included", async () => {
    const seen: Recorder[] = [];
    let port: TCPPort | null = null;
    await runReactor<void>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        // Not reading and nothing to write: registered with the reactor for nothing.
        p.onMade = () => p.transport!.pauseProducing();
        seen.push(p);
        return p;
      });
      port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          p.transport!.pauseProducing();
          seen.push(p);
          if (seen.length === 2) finish(undefined);
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(seen.map((p) => p.events)).toEqual([
      ["made", "lost:ConnectionLost"],
      ["made", "lost:ConnectionLost"],
    ]);
    expect(port!.connected).toBe(false);
    expect(port!.fileno()).toBe(-1);
  });

  test("transport.write rejects a non-bytes value with a TypeError naming data", async () => {
    const err = await runReactor<unknown>(mode, (reactor, finish) => {
      const sf = new KeepingFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          let e: unknown = null;
          try {
            p.transport!.write(42 as unknown as string);
          } catch (x) {
            e = x;
          }
          p.transport!.loseConnection();
          port.stopListening();
          finish(e);
        };
        return p;
      });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), new RecordingClientFactory());
    });
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toContain("data");
  });
});
