/**
 * Integrated mode asks the kernel for events only when the poller's fd woke it: a wake-up
 * by a due timer, a call from this thread or stop() runs its iteration without a wait
 * (which would find nothing), and nothing is lost by that: bytes written from a timer's
 * callback, a call queued from one, and stop() all still come through the watcher or the
 * iteration itself. The poller's wait is counted by wrapping it on the running reactor.
 */
import { native, type Poller } from "../../lib/native";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { FdReader, closeAll } from "./helpers";

expectNoFdLeaks();

/** Counts the running reactor's kernel waits and the events each returned. */
function countWaits(r: Reactor): number[] {
  const poller = (r as unknown as { poller: Poller }).poller;
  const wait = poller.wait.bind(poller);
  const returned: number[] = [];
  poller.wait = (timeoutMs: number): number => {
    const n = wait(timeoutMs);
    returned.push(n);
    return n;
  };
  return returned;
}

const TICKS = 20;

describe("integrated mode (epoll): kernel waits per wake-up", () => {
  test(`${TICKS} timer wake-ups with no fd ready make no wait; a call from this thread and stop() need none either`, async () => {
    const r = new Reactor({ backend: "epoll", mode: "integrated" });
    const order: string[] = [];
    const running = r.run();
    const waits = countWaits(r);
    const tick = (i: number): void => {
      order.push(`t${i}`);
      if (i + 1 < TICKS) r.callLater(0.002, tick, i + 1);
      else r.callFromThread(() => {
        order.push("fromThread");
        r.stop();
      });
    };
    r.callLater(0.002, tick, 0);
    await running;
    expect(order).toEqual([...Array.from({ length: TICKS }, (_, i) => `t${i}`), "fromThread"]);
    expect(waits).toEqual([]);
  });

  test("bytes written from timer callbacks are all read, each by a wait the fd's wake-up made, none empty", async () => {
    const r = new Reactor({ backend: "epoll", mode: "integrated" });
    const [rd, wr] = native.socketpair("stream");
    const reader = new FdReader(rd, (x) => {
      if (x.text().length === TICKS) r.stop();
    });
    r.addReader(reader);
    const running = r.run();
    const waits = countWaits(r);
    const tick = (i: number): void => {
      native.write(wr, Buffer.from(String.fromCharCode(97 + i)), 0, 1);
      if (i + 1 < TICKS) r.callLater(0.002, tick, i + 1);
    };
    r.callLater(0.002, tick, 0);
    await running;
    expect(reader.text()).toBe("abcdefghijklmnopqrst".slice(0, TICKS));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits.length).toBeLessThanOrEqual(TICKS);
    expect(waits.filter((n) => n === 0)).toEqual([]);
    closeAll(rd, wr);
  });
});
