/**
 * What an idle keep-alive connection of a Site costs: no parser or request state between
 * requests (it is pooled by the Site and reused), and one idle timer per Site instead of
 * one per connection. Driven over an in-memory transport with a reactor that records the
 * timers asked of it.
 */
import { Failure, type IDelayedCall } from "../../lib/defer";
import { NOT_DONE_YET, Site, type Request } from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { connectInMemory } from "./helpers";

expectNoFdLeaks();

/** A timer the test fires by hand. */
interface FakeCall {
  delay: number;
  f: (...a: any[]) => unknown;
  args: unknown[];
  live: boolean;
}

/** A reactor clock that only records callLater. */
function recordingReactor(): { seconds(): number; callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): IDelayedCall; calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  return {
    calls,
    seconds: () => 0,
    callLater(delay, f, ...args) {
      const c: FakeCall = { delay, f, args, live: true };
      calls.push(c);
      return {
        active: () => c.live,
        cancel: () => void (c.live = false),
        getTime: () => delay,
        reset: () => undefined,
        delay: () => undefined,
      } as unknown as IDelayedCall;
    },
  };
}

const HELLO = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/** A site whose requests wait (NOT_DONE_YET) in `pending` for the test to finish them. */
function deferringSite(): { pending: Request[]; site: Site } {
  const pending: Request[] = [];
  const site = new Site(
    (req: Request) => {
      pending.push(req);
      return NOT_DONE_YET;
    },
    { reactor: recordingReactor() },
  );
  return { pending, site };
}

test("a connection holds no parser or request state before its first request and after each response", () => {
  const clock = recordingReactor();
  const site = new Site(() => "hi", { reactor: clock });
  const { ch, t } = connectInMemory(site);
  expect(ch.holdsRequestState).toBe(false);
  expect(site.pooledReaders).toBe(0);
  ch.dataReceived(Buffer.from(HELLO + HELLO, "latin1"));
  expect(t.written.length).toBe(2);
  expect(ch.requestCount).toBe(2);
  expect(ch.holdsRequestState).toBe(false);
  expect(site.pooledReaders).toBe(1);
  ch.connectionLost(new Failure(new Error("done")));
});

test("a request head arriving in pieces holds the state (and a header timer) until it is answered", () => {
  const clock = recordingReactor();
  const site = new Site(() => "hi", { reactor: clock, idleTimeout: 60, headerTimeout: 10 });
  const { ch, t } = connectInMemory(site);
  expect(clock.calls.map((c) => c.delay)).toEqual([60]);
  ch.dataReceived(Buffer.from("GET / HTTP/1.1\r\n", "latin1"));
  expect(ch.holdsRequestState).toBe(true);
  expect(clock.calls.map((c) => [c.delay, c.live])).toEqual([[60, true], [10, true]]);
  ch.dataReceived(Buffer.from("Host: x\r\n\r\n", "latin1"));
  expect(t.written.length).toBe(1);
  expect(clock.calls.map((c) => [c.delay, c.live])).toEqual([[60, true], [10, false]]);
  expect(ch.holdsRequestState).toBe(false);
  ch.connectionLost(new Failure(new Error("done")));
  expect(clock.calls.map((c) => c.live)).toEqual([false, false]);
});

test("a response finished later holds the state until then; pipelined requests wait and are answered in order", () => {
  const { pending, site } = deferringSite();
  const { ch, t } = connectInMemory(site);
  ch.dataReceived(Buffer.from("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"));
  expect(pending.map((r) => r.uri)).toEqual(["/a"]);
  expect(ch.holdsRequestState).toBe(true);
  pending[0].finish("A");
  expect(pending.map((r) => r.uri)).toEqual(["/a", "/b"]);
  expect(ch.holdsRequestState).toBe(true);
  pending[1].finish("B");
  expect(t.written.map((w) => w.slice(w.indexOf("\r\n\r\n") + 4))).toEqual(["A", "B"]);
  expect(ch.holdsRequestState).toBe(false);
  expect(site.pooledReaders).toBe(1);
  ch.connectionLost(new Failure(new Error("done")));
});

test("one reader serves many connections in turn: the pool does not grow with the connections", () => {
  const site = new Site(() => "hi", { reactor: recordingReactor() });
  const conns = Array.from({ length: 50 }, () => connectInMemory(site));
  for (const { ch } of conns) ch.dataReceived(Buffer.from(HELLO, "latin1"));
  expect(conns.map(({ t }) => t.written.length)).toEqual(Array(50).fill(1));
  expect(conns.filter(({ ch }) => ch.holdsRequestState).length).toBe(0);
  expect(site.pooledReaders).toBe(1);
  for (const { ch } of conns) ch.connectionLost(new Failure(new Error("done")));
});

test("readers held by responses in flight on several connections come back once each and serve again, in any order", () => {
  const { pending, site } = deferringSite();
  const conns = Array.from({ length: 5 }, () => connectInMemory(site));
  for (let round = 0; round < 3; round++) {
    conns.forEach(({ ch }, i) => ch.dataReceived(Buffer.from(`GET /${round}-${i} HTTP/1.1\r\nHost: x\r\n\r\n`, "latin1")));
    expect(site.pooledReaders).toBe(0);
    // Finished out of order: 3, 1, 4, 0, 2.
    for (const k of [3, 1, 4, 0, 2]) pending[round * 5 + k].finish(pending[round * 5 + k].uri);
    expect(site.pooledReaders).toBe(5);
    expect(conns.filter(({ ch }) => ch.holdsRequestState).length).toBe(0);
  }
  expect(conns.map(({ t }) => t.written.map((w) => w.slice(w.indexOf("\r\n\r\n") + 4)))).toEqual(conns.map((_c, i) => [0, 1, 2].map((round) => `/${round}-${i}`)));
  for (const { ch } of conns) ch.connectionLost(new Failure(new Error("done")));
  expect(site.pooledReaders).toBe(5);
});

test("a thousand idle connections share one idle timer, which closes those idle past idleTimeout and re-arms for the rest", () => {
  let now = 1_700_000_000_000;
  const spy = jest.spyOn(Date, "now").mockImplementation(() => now);
  try {
    const clock = recordingReactor();
    const site = new Site(() => "hi", { reactor: clock, idleTimeout: 60, headerTimeout: 0 });
    const conns = Array.from({ length: 1000 }, () => connectInMemory(site));
    expect(clock.calls.map((c) => c.delay)).toEqual([60]);
    expect(site.idleCount).toBe(1000);
    now += 30_000;
    conns[999].ch.dataReceived(Buffer.from(HELLO, "latin1")); // active at 30 s: due at 90 s
    now += 30_000;
    const first = clock.calls[0];
    first.live = false;
    first.f(...first.args);
    expect(conns.filter(({ t }) => t.closing).length).toBe(999);
    expect(conns[999].t.closing).toBe(false);
    expect(site.idleCount).toBe(1);
    expect(clock.calls.map((c) => [c.delay, c.live])).toEqual([[60, false], [30, true]]);
    for (const { ch } of conns) ch.connectionLost(new Failure(new Error("done")));
    expect(site.idleCount).toBe(0);
    expect(clock.calls[1].live).toBe(false);
  } finally {
    spy.mockRestore();
  }
});

test("a connection whose response is outstanding when the idle timer fires is not closed; its idle time restarts", () => {
  let now = 1_700_000_000_000;
  const spy = jest.spyOn(Date, "now").mockImplementation(() => now);
  try {
    const clock = recordingReactor();
    const pending: Request[] = [];
    const site = new Site(
      (req: Request) => {
        pending.push(req);
        return NOT_DONE_YET;
      },
      { reactor: clock, idleTimeout: 60, headerTimeout: 0 },
    );
    const { ch, t } = connectInMemory(site);
    ch.dataReceived(Buffer.from(HELLO, "latin1"));
    now += 61_000;
    clock.calls[0].f(...clock.calls[0].args);
    expect(t.closing).toBe(false);
    expect(clock.calls.map((c) => c.delay)).toEqual([60, 60]);
    now += 10_000;
    pending[0].finish("late");
    now += 59_000;
    clock.calls[1].f(...clock.calls[1].args);
    expect(t.closing).toBe(false); // 59 s after the response
    expect(clock.calls.map((c) => c.delay)).toEqual([60, 60, 1]);
    now += 1_000;
    clock.calls[2].f(...clock.calls[2].args);
    expect(t.closing).toBe(true);
    ch.connectionLost(new Failure(new Error("done")));
  } finally {
    spy.mockRestore();
  }
});

test("an idle connection with no timeouts configured is in no list and asks for no timer", () => {
  const clock = recordingReactor();
  const site = new Site(() => "hi", { reactor: clock, idleTimeout: 0, headerTimeout: 0 });
  const { ch, t } = connectInMemory(site);
  ch.dataReceived(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n", "latin1"));
  ch.dataReceived(Buffer.from("\r\n", "latin1"));
  expect(t.written.length).toBe(1);
  expect(site.idleCount).toBe(0);
  expect(clock.calls.length).toBe(0);
  ch.connectionLost(new Failure(new Error("done")));
});
