/**
 * Twisted's protocol API: Protocol's call order and attributes, Factory's start/stop
 * counting and forProtocol, ClientCreator and connectProtocol, and the reactor methods
 * that lib/net installs (reactor.listenTCP & co).
 */
import { CancelledError, Failure } from "../../lib/defer";
import { ConnectionRefusedError } from "../../lib/error";
import "../../lib/net";
import type { Address, ITransport } from "../../lib/net/interfaces";
import { ClientCreator, ClientFactory, connectProtocol, Factory, Protocol, ServerFactory } from "../../lib/protocols";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { closedPort } from "../support/loopback";
import { MODES, portOf, Recorder, runReactor } from "../net/helpers";

expectNoFdLeaks();

class Echo extends Protocol {
  override dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
}

describe("Protocol and Factory without a reactor", () => {
  test("makeConnection sets transport and connected, then calls connectionMade", () => {
    const seen: unknown[] = [];
    class P extends Protocol {
      override connectionMade(): void {
        seen.push(this.connected, this.transport);
      }
    }
    const p = new P();
    const t = {} as ITransport;
    expect(p.connected).toBe(false);
    expect(p.transport).toBeNull();
    p.makeConnection(t);
    expect(seen).toEqual([true, t]);
  });

  test("buildProtocol makes an instance of factory.protocol with factory set", () => {
    class EchoFactory extends Factory {
      override protocol = Echo;
    }
    const f = new EchoFactory();
    const p = f.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1, family: "IPv4" }) as Echo;
    expect(p).toBeInstanceOf(Echo);
    expect(p.factory).toBe(f);
  });

  test("forProtocol makes a factory of the calling class with constructor arguments", () => {
    class Named extends ServerFactory {
      constructor(readonly name: string) {
        super();
      }
    }
    const f = Named.forProtocol(Echo, "svc");
    expect(f).toBeInstanceOf(Named);
    expect(f.name).toBe("svc");
    expect(f.protocol).toBe(Echo);
    expect(() => Factory.forProtocol(null as unknown as typeof Echo)).toThrow(TypeError);
  });

  test("buildProtocol without a protocol class is a TypeError naming factory.protocol", () => {
    expect(() => new Factory().buildProtocol({ type: "UNIX", name: "x" })).toThrow(/factory\.protocol/);
  });

  test("doStart/doStop call startFactory once for nested starts and stopFactory after the last stop", () => {
    const calls: string[] = [];
    const f = new Factory();
    f.startFactory = () => calls.push("start");
    f.stopFactory = () => calls.push("stop");
    f.doStart();
    f.doStart();
    f.doStop();
    calls.push(`n=${f.numPorts}`);
    f.doStop();
    f.doStop(); // one too many: ignored
    expect(calls).toEqual(["start", "n=1", "stop"]);
    expect(f.numPorts).toBe(0);
  });

  test("ClientFactory's callbacks exist and do nothing by default", () => {
    const f = new ClientFactory();
    expect(() => {
      f.startedConnecting(null);
      f.clientConnectionFailed(null, new Failure(new Error("x")));
      f.clientConnectionLost(null, new Failure(new Error("y")));
    }).not.toThrow();
  });
});

describe.each(MODES)("connecting helpers and reactor methods (%s mode)", (mode) => {
  test("reactor.listenTCP/connectTCP are installed by importing lib/net", async () => {
    expect(typeof Reactor.prototype.listenTCP).toBe("function");
    const echoed = await runReactor<string>(mode, (reactor, finish) => {
      const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      class Client extends Recorder {
        override connectionMade(): void {
          this.transport!.write("via the reactor");
        }
        override dataReceived(d: Buffer): void {
          this.transport!.loseConnection();
          port.stopListening();
          finish(d.toString());
        }
      }
      reactor.connectTCP("127.0.0.1", portOf(port.getHost()), ClientFactory.forProtocol(Client));
    });
    expect(echoed).toBe("via the reactor");
  });

  test("ClientCreator.connectTCP fires with the connected protocol after connectionMade", async () => {
    const out = await runReactor<{ made: boolean; peer: Address; args: string }>(mode, (reactor, finish, fail) => {
      const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      class Greeter extends Recorder {
        constructor(readonly greeting: string) {
          super();
        }
      }
      new ClientCreator(reactor, Greeter, "hi")
        .connectTCP("127.0.0.1", portOf(port.getHost()))
        .addCallbacks(
          (p: Greeter) => {
            const res = { made: p.events[0] === "made", peer: p.transport!.getPeer(), args: p.greeting };
            p.transport!.loseConnection();
            port.stopListening();
            finish(res);
          },
          (f) => fail(f.value),
        );
    });
    expect(out.made).toBe(true);
    expect(out.peer).toMatchObject({ type: "TCP", host: "127.0.0.1" });
    expect(out.args).toBe("hi");
  });

  test("ClientCreator's Deferred fails with the connect error (ConnectionRefusedError)", async () => {
    const err = await runReactor<unknown>(mode, (reactor, finish) => {
      new ClientCreator(reactor, Recorder).connectTCP("127.0.0.1", closedPort()).addCallbacks(
        () => finish(null),
        (f) => finish(f.value),
      );
    });
    expect(err).toBeInstanceOf(ConnectionRefusedError);
  });

  test("connectProtocol connects an instance over TCP and over a Unix socket", async () => {
    const out = await runReactor<string[]>(mode, (reactor, finish, fail) => {
      const results: string[] = [];
      const tcp = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      const name = `\0fdreactor-protocol-test-${process.pid}`;
      const unix = reactor.listenUNIX(name, Factory.forProtocol(Echo));
      const a = new Recorder();
      connectProtocol(reactor, { host: "127.0.0.1", port: portOf(tcp.getHost()) }, a).addCallbacks((p) => {
        results.push(`tcp:${p === a}`);
        p.transport!.loseConnection();
        const b = new Recorder();
        connectProtocol(reactor, { path: name }, b).addCallbacks(
          (q) => {
            results.push(`unix:${q === b}:${JSON.stringify(q.transport!.getPeer())}`);
            q.transport!.loseConnection();
            tcp.stopListening();
            unix.stopListening();
            finish(results);
          },
          (f) => fail(f.value),
        );
      }, (f) => fail(f.value));
    });
    expect(out).toEqual(["tcp:true", `unix:true:${JSON.stringify({ type: "UNIX", name: `\0fdreactor-protocol-test-${process.pid}` })}`]);
  });

  test("cancelling connectProtocol's Deferred stops the attempt: it fails with CancelledError", async () => {
    const out = await runReactor<{ err: unknown; made: string[] }>(mode, (reactor, finish) => {
      // Cancelled at once: the attempt (which starts in the next iteration) never reports.
      const p = new Recorder();
      const d = connectProtocol(reactor, { host: "127.0.0.1", port: closedPort() }, p);
      d.addErrback((f) => finish({ err: f.value, made: p.events }));
      d.cancel();
    });
    expect(out.err).toBeInstanceOf(CancelledError);
    expect(out.made).toEqual([]);
  });

  test("connectProtocol rejects a destination or protocol of the wrong kind with TypeError", async () => {
    const errs = await runReactor<unknown[]>(mode, (reactor, finish) => {
      const errs: unknown[] = [];
      for (const f of [
        () => connectProtocol(reactor, null as unknown as { path: string }, new Recorder()),
        () => connectProtocol(reactor, { path: "/x" }, {} as Recorder),
      ]) {
        try {
          f();
        } catch (e) {
          errs.push(e);
        }
      }
      finish(errs);
    });
    expect(errs.map((e) => (e as Error).constructor.name)).toEqual(["TypeError", "TypeError"]);
    expect((errs[0] as Error).message).toContain("destination");
    expect((errs[1] as Error).message).toContain("protocol");
  });
});
