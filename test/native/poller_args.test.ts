/**
 * Every wrong argument to Poller is refused with a TypeError or RangeError naming it,
 * and nothing JavaScript passes reaches the kernel or the event memory unchecked.
 */
import { EVENT_STRIDE, HANGUP, ERROR, READABLE, native, type Poller } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { thrownBy } from "../support/thrown";

expectNoFdLeaks();

const PollerCtor = native.Poller as unknown as new (...args: unknown[]) => Poller;

describe("the Poller constructor", () => {
  test.each([
    ["no arguments", [], "TypeError", '"backend"'],
    ["a number as backend", [5, new Uint32Array(3)], "TypeError", '"backend"'],
    ["no events array", ["poll"], "TypeError", '"events"'],
    ["an Int32Array", ["poll", new Int32Array(3)], "TypeError", '"events"'],
    ["a Uint8Array", ["poll", new Uint8Array(12)], "TypeError", '"events"'],
    ["a plain array", ["poll", [0, 0, 0]], "TypeError", '"events"'],
    ["an ArrayBuffer", ["poll", new ArrayBuffer(12)], "TypeError", '"events"'],
    ["an array too short for one event", ["poll", new Uint32Array(EVENT_STRIDE - 1)], "RangeError", '"events"'],
  ])("refuses %s", (_what, args, name, mention) => {
    const e = thrownBy(() => new PollerCtor(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain(mention);
  });

  test("refuses an unknown backend, naming the ones this build has", () => {
    const e = thrownBy(() => new native.Poller("devpoll" as never, new Uint32Array(3)));
    expect(e).toMatchObject({
      name: "UnknownBackendError",
      code: "ERR_UNKNOWN_BACKEND",
      message: `Unknown poller backend "devpoll": this build has ${native.backends().join(", ")}`,
    });
  });

  test("lists the backends default first (epoll, not io_uring, on Linux), poll and select last", () => {
    const list = native.backends();
    expect(list.slice(-2)).toEqual(["poll", "select"]);
    expect(list[0]).toBe(process.platform === "linux" ? "epoll" : "kqueue");
    if (list.includes("io_uring")) expect(list[1]).toBe("io_uring");
    expect(new Set(list).size).toBe(list.length);
    for (const b of list) expect(["epoll", "io_uring", "kqueue", "poll", "select"]).toContain(b);
  });

  test("cannot be called without new", () => {
    const call = native.Poller as unknown as (...args: unknown[]) => unknown;
    expect(thrownBy(() => call("poll", new Uint32Array(3))).name).toBe("TypeError");
  });

  test("accepts an array whose length is not a multiple of EVENT_STRIDE", () => {
    const p = new native.Poller("poll", new Uint32Array(EVENT_STRIDE + 2));
    expect(p.wait(0)).toBe(0);
    p.close();
  });
});

describe.each(native.backends())("the %s poller's methods", (backend) => {
  let poller: Poller;
  let fds: [number, number];
  beforeEach(() => {
    poller = new native.Poller(backend, new Uint32Array(3));
    fds = native.pipe();
  });
  afterEach(() => {
    poller.close();
    native.close(fds[0]);
    native.close(fds[1]);
  });

  const registrations: Array<[string, unknown[], string, string]> = [
    ["a missing fd", [], "TypeError", '"fd"'],
    ["a negative fd", [-1, 1, 1, READABLE], "RangeError", '"fd"'],
    ["a fractional fd", [1.5, 1, 1, READABLE], "RangeError", '"fd"'],
    ["a NaN fd", [NaN, 1, 1, READABLE], "RangeError", '"fd"'],
    ["an fd given as a string", ["3", 1, 1, READABLE], "TypeError", '"fd"'],
    ["an fd past 2^31-1", [2 ** 31, 1, 1, READABLE], "RangeError", '"fd"'],
    ["a missing slot", [3], "TypeError", '"slot"'],
    ["a negative slot", [3, -1, 1, READABLE], "RangeError", '"slot"'],
    ["a slot past 2^32-1", [3, 2 ** 32, 1, READABLE], "RangeError", '"slot"'],
    ["a generation past 2^32-1", [3, 1, 2 ** 32, READABLE], "RangeError", '"generation"'],
    ["a fractional generation", [3, 1, 0.5, READABLE], "RangeError", '"generation"'],
    ["a missing interest", [3, 1, 1], "TypeError", '"interest"'],
    ["ERROR as interest", [3, 1, 1, ERROR], "RangeError", '"interest"'],
    ["HANGUP as interest", [3, 1, 1, READABLE | HANGUP], "RangeError", '"interest"'],
    ["an unknown interest bit", [3, 1, 1, 256], "RangeError", '"interest"'],
    ["a negative interest", [3, 1, 1, -1], "RangeError", '"interest"'],
  ];

  test.each(registrations)("add refuses %s", (_what, args, name, mention) => {
    const e = thrownBy(() => (poller.add as (...a: unknown[]) => void)(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain(mention);
  });

  test.each(registrations)("modify refuses %s", (_what, args, name, mention) => {
    const e = thrownBy(() => (poller.modify as (...a: unknown[]) => void)(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain(mention);
  });

  test.each([
    ["a missing fd", [], "TypeError"],
    ["a negative fd", [-3], "RangeError"],
    ["an fd as an object", [{}], "TypeError"],
  ])("remove refuses %s", (_what, args, name) => {
    const e = thrownBy(() => (poller.remove as (...a: unknown[]) => void)(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain('"fd"');
  });

  test.each([
    ["a missing timeout", [], "TypeError"],
    ["a timeout as a string", ["5"], "TypeError"],
    ["a timeout below -1", [-2], "RangeError"],
    ["a negative fraction", [-0.5], "RangeError"],
    ["NaN", [NaN], "RangeError"],
    ["a timeout past 2^31-1 ms", [2 ** 31], "RangeError"],
    ["Infinity", [Infinity], "RangeError"],
  ])("wait refuses %s", (_what, args, name) => {
    const e = thrownBy(() => (poller.wait as (...a: unknown[]) => number)(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain('"timeoutMs"');
  });

  test("a registration refused for its arguments leaves nothing registered", () => {
    thrownBy(() => poller.add(fds[0], -1, 1, READABLE));
    expect(thrownBy(() => poller.remove(fds[0])).code).toBe("ENOENT");
  });
});

describe("methods called on something that is not a Poller", () => {
  const proto = native.Poller.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  let watcherFds: [number, number];
  let watcher: object;
  beforeAll(() => {
    watcherFds = native.pipe();
    watcher = new native.FdWatcher(watcherFds[0], () => undefined);
  });
  afterAll(() => {
    (watcher as { close(): void }).close();
    native.close(watcherFds[0]);
    native.close(watcherFds[1]);
  });

  test.each(["wait", "add", "remove", "fd", "close"])("%s throws a TypeError on a foreign object", (method) => {
    for (const self of [{}, watcher, Object.create(native.Poller.prototype)]) {
      const e = thrownBy(() => proto[method].call(self, 0, 1, 1, READABLE));
      expect(e.name).toBe("TypeError");
    }
  });

  test("the backend getter throws a TypeError on a foreign object", () => {
    const getter = Object.getOwnPropertyDescriptor(native.Poller.prototype, "backend")?.get;
    expect(getter).toBeDefined();
    expect(thrownBy(() => getter?.call(watcher)).name).toBe("TypeError");
    // Primitives and unwrapped objects too, with the binding's own message (not V8's).
    for (const self of [undefined, null, 1, "x", {}, Object.create(native.Poller.prototype)]) {
      const e = thrownBy(() => getter?.call(self));
      expect(e.name).toBe("TypeError");
      expect(e.message).toBe("Illegal invocation: `this` is not a Poller");
    }
  });
});
