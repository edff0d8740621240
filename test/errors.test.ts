/**
 * One error convention: the same mistake gives the same class and `code` on every path
 * (the TypeScript layers and the addon alike), with Node's codes where Node has one.
 */
import * as net from "node:net";
import { Clock } from "../lib/defer";
import { UnknownBackendError } from "../lib/error";
import { native } from "../lib/native";
import { connectTCP, listenTCP, listenUDP } from "../lib/net";
import { ClientFactory, DatagramProtocol, Factory, Protocol } from "../lib/protocols";
import { Reactor } from "../lib/reactor";
import { expectNoFdLeaks } from "./support/fds";
import { thrownBy } from "./support/thrown";

expectNoFdLeaks();

/** The class name and code of what `f` throws. */
function shape(f: () => unknown): { name: string; code: unknown } {
  const e = thrownBy(f) as Error & { code?: unknown };
  return { name: e.name, code: e.code };
}

describe("one class and code per mistake", () => {
  let fd = -1;
  beforeAll(() => {
    fd = native.socket("IPv4", "tcp");
  });
  afterAll(() => native.close(fd));

  test("an unknown backend: UnknownBackendError ERR_UNKNOWN_BACKEND from the Reactor and from native.Poller, same message", () => {
    const fromReactor = thrownBy(() => new Reactor({ backend: "devpoll" as never }));
    const fromPoller = thrownBy(() => new native.Poller("devpoll" as never, new Uint32Array(3)));
    for (const e of [fromReactor, fromPoller]) {
      expect(e).toBeInstanceOf(UnknownBackendError);
      expect(e).toMatchObject({ name: "UnknownBackendError", code: "ERR_UNKNOWN_BACKEND" });
    }
    expect(fromPoller.message).toBe(fromReactor.message);
    expect(fromReactor.message).toBe(`Unknown poller backend "devpoll": this build has ${native.backends().join(", ")}`);
  });

  test("a bad port: RangeError ERR_SOCKET_BAD_PORT, as Node's net, for any type and from every layer", () => {
    const r = new Reactor();
    const bad = { name: "RangeError", code: "ERR_SOCKET_BAD_PORT" };
    expect(shape(() => net.connect({ port: 70000, host: "127.0.0.1" }))).toEqual(bad);
    expect(shape(() => listenTCP(r, 70000, Factory.forProtocol(Protocol)))).toEqual(bad);
    expect(shape(() => listenTCP(r, "80" as never, Factory.forProtocol(Protocol)))).toEqual(bad);
    expect(shape(() => connectTCP(r, "127.0.0.1", -1, new ClientFactory()))).toEqual(bad);
    expect(shape(() => listenUDP(r, 1.5, new DatagramProtocol()))).toEqual(bad);
    expect(shape(() => native.bind(fd, "127.0.0.1", 70000))).toEqual(bad);
    expect(shape(() => native.connect(fd, "127.0.0.1", "80" as never))).toEqual(bad);
    expect(shape(() => native.connect(fd, "127.0.0.1", 8.5))).toEqual(bad);
  });

  test("a delay that is not a number: TypeError ERR_INVALID_ARG_TYPE; a negative one on the reactor: RangeError ERR_OUT_OF_RANGE", () => {
    const r = new Reactor();
    const type = { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" };
    expect(shape(() => r.callLater("1" as never, () => undefined))).toEqual(type);
    expect(shape(() => r.callLater(NaN, () => undefined))).toEqual(type);
    expect(shape(() => new Clock().callLater("1" as never, () => undefined))).toEqual(type);
    expect(shape(() => r.iterate(Infinity))).toEqual(type);
    expect(shape(() => r.callLater(-1, () => undefined))).toEqual({ name: "RangeError", code: "ERR_OUT_OF_RANGE" });
  });

  test("a bad fd: RangeError ERR_OUT_OF_RANGE for a negative one, TypeError ERR_INVALID_ARG_TYPE for a non-number, in the reactor and the addon", async () => {
    const r = new Reactor();
    const running = r.run(); // addReader opens the poller; stop() closes it
    const descriptor = (fileno: () => number) => ({ fileno, doRead: () => undefined, connectionLost: () => undefined });
    const range = { name: "RangeError", code: "ERR_OUT_OF_RANGE" };
    const type = { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" };
    expect(shape(() => r.addReader(descriptor(() => -1)))).toEqual(range);
    expect(shape(() => native.close(-1))).toEqual(range);
    expect(shape(() => r.addReader({} as never))).toEqual(type);
    expect(shape(() => native.close("3" as never))).toEqual(type);
    r.stop();
    await running;
  });
});
