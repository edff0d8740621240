/**
 * epoll asks for EPOLLRDHUP only with READABLE interest. EPOLLRDHUP is level-triggered: a
 * writer-only registration (a transport whose reading is paused, waiting for its send
 * buffer to drain) would otherwise be woken by every wait once the peer half-closed, and
 * the reactor would spin.
 */
import { EVENT_STRIDE, HANGUP, READABLE, WRITABLE, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { closeAll, eventsOf, fill } from "./poller_fixtures";

expectNoFdLeaks();

const describeEpoll = native.backends().includes("epoll") ? describe : describe.skip;

describeEpoll("epoll and a peer's half-close", () => {
  test("a writer-only registration with a full send buffer stays quiet after the peer's shutdown(SHUT_WR)", () => {
    const events = new Uint32Array(8 * EVENT_STRIDE);
    const poller = new native.Poller("epoll", events);
    const [a, b] = native.socketpair("stream");
    try {
      expect(fill(a)).toBeGreaterThan(0); // a's send buffer is full: no WRITABLE
      poller.add(a, 3, 1, WRITABLE);
      native.shutdown(b, 1);
      expect(poller.wait(0)).toBe(0);
      expect(poller.wait(0)).toBe(0);
    } finally {
      poller.close();
      closeAll([a, b]);
    }
  });

  test("a reader sees the same half-close as READABLE|HANGUP", () => {
    const events = new Uint32Array(8 * EVENT_STRIDE);
    const poller = new native.Poller("epoll", events);
    const [a, b] = native.socketpair("stream");
    try {
      fill(a);
      poller.add(a, 3, 1, READABLE | WRITABLE);
      native.shutdown(b, 1);
      expect(poller.wait(0)).toBe(1);
      expect(eventsOf(events, 1)).toEqual([[3, 1, READABLE | HANGUP]]);
    } finally {
      poller.close();
      closeAll([a, b]);
    }
  });
});
