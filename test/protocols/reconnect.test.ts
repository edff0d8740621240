/**
 * ReconnectingClientFactory: back-off arithmetic on a deterministic Clock with a connector
 * that records calls, and one real reconnect to a TCP server that starts late.
 */
import * as fc from "fast-check";
import { Clock, Failure } from "../../lib/defer";
import { ConnectionRefusedError } from "../../lib/error";
import { setLogObservers } from "../../lib/log";
import { connectTCP, listenTCP, NotConnectingError } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { Protocol, ServerFactory } from "../../lib/protocols/protocol";
import { ReconnectingClientFactory } from "../../lib/protocols/reconnect";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { closedPort } from "../support/loopback";

expectNoFdLeaks();

/** A connector that records connect/stopConnecting calls; stopConnecting throws unless connecting. */
class RecordingConnector {
  calls: string[] = [];
  connecting = false;
  connect(): void {
    this.calls.push("connect");
    this.connecting = true;
  }
  stopConnecting(): void {
    this.calls.push("stopConnecting");
    if (!this.connecting) throw new NotConnectingError("not connecting");
    this.connecting = false;
  }
}

const refused = new Failure(new ConnectionRefusedError("refused"));

function setup(configure: (f: ReconnectingClientFactory) => void = () => undefined) {
  const clock = new Clock();
  const factory = new ReconnectingClientFactory();
  factory.clock = clock;
  factory.noisy = false;
  configure(factory);
  const connector = new RecordingConnector();
  /** Fails the current attempt; returns the delay scheduled (null when none). */
  const fail = (): number | null => {
    connector.connecting = false;
    factory.clientConnectionFailed(connector, refused);
    const calls = clock.getDelayedCalls();
    if (calls.length === 0) return null;
    expect(calls.length).toBe(1);
    return calls[0].getTime() - clock.seconds();
  };
  return { clock, factory, connector, fail };
}

test("without jitter each delay is the previous one times factor, capped at maxDelay", () => {
  const { clock, connector, fail } = setup((f) => {
    f.initialDelay = 1;
    f.factor = 2;
    f.jitter = 0;
    f.maxDelay = 20;
  });
  const delays: (number | null)[] = [];
  for (let i = 0; i < 7; i++) {
    const d = fail();
    delays.push(d);
    expect(connector.calls.length).toBe(i);
    clock.advance(d ?? 0);
    expect(connector.calls.length).toBe(i + 1);
  }
  expect(delays).toEqual([2, 4, 8, 16, 20, 20, 20]);
});

test("with jitter each delay lies within ±jitter of the grown previous one and never above maxDelay", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 30 }),
      fc.double({ min: 1, max: 4, noNaN: true }),
      fc.double({ min: 0, max: 0.9, noNaN: true }),
      (randoms, factor, jitter) => {
        let k = 0;
        const { clock, factory, fail } = setup((f) => {
          f.initialDelay = 0.5;
          f.factor = factor;
          f.jitter = jitter;
          f.maxDelay = 60;
          f.random = () => randoms[k++ % randoms.length];
        });
        let previous = 0.5;
        for (let i = 0; i < randoms.length; i++) {
          const d = fail() as number;
          const grown = Math.min(previous * factor, 60);
          expect(d).toBeGreaterThanOrEqual(grown * (1 - jitter) - 1e-9);
          expect(d).toBeLessThanOrEqual(Math.min(grown * (1 + jitter), 60) + 1e-9);
          expect(factory.delay).toBeCloseTo(d, 9);
          previous = factory.delay;
          clock.advance(d);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("after maxRetries retries the factory gives up and logs it", () => {
  const records: string[] = [];
  const restore = setLogObservers([(level, message) => records.push(`${level}:${message}`)]);
  try {
    const { clock, factory, connector, fail } = setup((f) => {
      f.maxRetries = 3;
      f.jitter = 0;
    });
    factory.noisy = true;
    for (let i = 0; i < 3; i++) clock.advance(fail() as number);
    expect(connector.calls).toEqual(["connect", "connect", "connect"]);
    expect(fail()).toBeNull();
    expect(factory.retries).toBe(4);
    expect(records.filter((r) => r.startsWith("info:"))).toEqual(["info:ReconnectingClientFactory: abandoning the connection after 3 retries"]);
  } finally {
    restore();
  }
});

test("stopTrying cancels the scheduled retry and later failures schedule nothing", () => {
  const { clock, factory, connector, fail } = setup();
  expect(fail()).not.toBeNull();
  factory.stopTrying();
  expect(clock.getDelayedCalls()).toEqual([]);
  expect(factory.continueTrying).toBe(false);
  // The connector was not connecting: its NotConnectingError is swallowed.
  expect(connector.calls).toEqual(["stopConnecting"]);
  clock.advance(1000);
  expect(connector.calls).toEqual(["stopConnecting"]);
  expect(fail()).toBeNull();
  factory.clientConnectionLost(connector, refused);
  expect(clock.getDelayedCalls()).toEqual([]);
});

test("stopTrying during an attempt abandons that attempt", () => {
  const { clock, factory, connector, fail } = setup();
  clock.advance(fail() as number);
  expect(connector.connecting).toBe(true);
  factory.stopTrying();
  expect(connector.calls).toEqual(["connect", "stopConnecting"]);
  expect(connector.connecting).toBe(false);
});

test("a lost connection is retried like a failed attempt", () => {
  const { clock, factory, connector } = setup((f) => {
    f.jitter = 0;
    f.initialDelay = 3;
    f.factor = 1;
  });
  factory.clientConnectionLost(connector, new Failure(new Error("lost")));
  expect(clock.getDelayedCalls().map((c) => c.getTime())).toEqual([3]);
  clock.advance(3);
  expect(connector.calls).toEqual(["connect"]);
});

test("resetDelay starts over from initialDelay with zero retries, and trying again", () => {
  const { factory, fail } = setup((f) => {
    f.jitter = 0;
    f.factor = 2;
    f.initialDelay = 1;
  });
  fail();
  factory.stopTrying();
  factory.resetDelay();
  expect([factory.delay, factory.retries, factory.continueTrying]).toEqual([1, 0, true]);
});

test("retry with no connector ever seen throws a TypeError naming connector; bad settings throw RangeErrors", () => {
  const f = new ReconnectingClientFactory();
  expect(() => f.retry()).toThrow(new TypeError("retry: connector is required (no connection attempt has been seen yet)"));
  const { factory, connector } = setup((g) => {
    g.jitter = 1;
  });
  expect(() => factory.clientConnectionFailed(connector, refused)).toThrow(new RangeError("jitter must be a number in [0, 1), received 1"));
  factory.jitter = 0;
  factory.factor = 0.5;
  expect(() => factory.retry()).toThrow(new RangeError("factor must be a number >= 1, received 0.5"));
});

test("a real client reconnects to a server that starts listening after its first attempt was refused", async () => {
  const portNumber = closedPort();
  const reactor = new Reactor();
  const events: string[] = [];
  let failure: unknown = null;
  let retriesWhenConnected = -1;

  class Hello extends Protocol {
    override connectionMade(): void {
      this.transport?.write("hello");
    }
  }
  class Client extends ReconnectingClientFactory {
    override buildProtocol(addr: Address) {
      events.push("connected");
      retriesWhenConnected = this.retries;
      this.resetDelay();
      return super.buildProtocol(addr);
    }
    override clientConnectionFailed(connector: unknown, reason: Failure): void {
      events.push(`failed:${reason.type?.name}`);
      super.clientConnectionFailed(connector, reason);
      // Only now does the server start: the retry scheduled above must find it.
      if (server === null) server = listenTCP(reactor, portNumber, serverFactory, { interface: "127.0.0.1" });
    }
  }
  class Receiver extends Protocol {
    override dataReceived(data: Buffer): void {
      events.push(`server got:${data.toString()}`);
      client.stopTrying();
      this.transport?.loseConnection();
    }
    override connectionLost(): void {
      events.push("server lost");
      server?.stopListening();
      reactor.stop();
    }
  }
  const serverFactory = ServerFactory.forProtocol(Receiver);
  let server: ReturnType<typeof listenTCP> | null = null;
  const client = Client.forProtocol(Hello);
  client.noisy = false;
  client.initialDelay = 0.02;
  client.factor = 1.5;
  client.jitter = 0;

  const guard = reactor.callLater(10, () => {
    failure = new Error("did not reconnect within 10 s");
    reactor.stop();
  });
  reactor.callWhenRunning(() => connectTCP(reactor, "127.0.0.1", portNumber, client));
  await reactor.run();
  if (guard.active()) guard.cancel();
  expect(failure).toBeNull();
  expect(events).toEqual(["failed:ConnectionRefusedError", "connected", "server got:hello", "server lost"]);
  expect(retriesWhenConnected).toBe(1);
  expect(client.retries).toBe(0);
  expect(client.continueTrying).toBe(false);
});
