/**
 * The echo examples (examples/echo-server, echo-client, multicore-echo) on one reactor:
 * the client gets back exactly what it sent, reports a refused connect, and two
 * SO_REUSEPORT listeners on one port (as the multicore example's workers have) share the
 * incoming connections.
 */
import { Failure } from "../../lib/defer";
import { ConnectionRefusedError } from "../../lib/error";
import { connectTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { Factory } from "../../lib/protocols";
import { EchoClientFactory } from "../../examples/echo-client/client";
import { Echo } from "../../examples/echo-server/server";
import { serveEcho } from "../../examples/multicore-echo/server";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

describe.each(MODES)("echo examples (%s mode)", (mode) => {
  test("the echo client gets back exactly the messages it sent from the echo server", async () => {
    const out = await runReactor<{ error: Failure | null; echo: string }>(mode, (reactor, finish) => {
      const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      const f = new EchoClientFactory(["one\n", "two\n", "ünïcode\n"], (error, echo) => {
        port.stopListening();
        finish({ error, echo });
      });
      reactor.connectTCP("127.0.0.1", portOf(port.getHost()), f);
    });
    expect(out).toEqual({ error: null, echo: "one\ntwo\nünïcode\n" });
  });

  test("the echo client reports a refused connection", async () => {
    const fd = native.socket("IPv4", "tcp");
    native.bind(fd, "127.0.0.1", 0);
    const free = (native.getsockname(fd) as { port: number }).port;
    native.close(fd);
    const err = await runReactor<Failure | null>(mode, (reactor, finish) => {
      reactor.connectTCP("127.0.0.1", free, new EchoClientFactory(["x"], (reason) => finish(reason)));
    });
    expect(err).toBeInstanceOf(Failure);
    expect(err!.value).toBeInstanceOf(ConnectionRefusedError);
    expect(err!.check(ConnectionRefusedError)).toBe(ConnectionRefusedError);
  });

  test("two reusePort echo listeners on one port share 200 connections, each echoing", async () => {
    const N = 200;
    const out = await runReactor<{ a: number; b: number; echoed: number }>(mode, (reactor, finish, fail) => {
      const a = serveEcho(reactor, 0);
      const b = serveEcho(reactor, portOf(a.getHost()));
      let echoed = 0;
      let lost = 0;
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("x");
        p.onData = () => {
          echoed++;
          p.transport!.loseConnection();
        };
        return p;
      });
      cf.onFailed = fail;
      cf.onLost = () => {
        if (++lost === N) {
          a.stopListening();
          b.stopListening();
          finish({ a: a.acceptedCount, b: b.acceptedCount, echoed });
        }
      };
      for (let i = 0; i < N; i++) connectTCP(reactor, "127.0.0.1", portOf(a.getHost()), cf);
    });
    expect(out.echoed).toBe(N);
    expect(out.a + out.b).toBe(N);
    // The kernel hashes connections over both sockets: each gets some (all on one: p = 2^-199).
    expect(out.a).toBeGreaterThan(0);
    expect(out.b).toBeGreaterThan(0);
  });
});
