/** DeferredQueue: getters wait for items, items wait for getters, size and backlog limits. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, DeferredQueue, QueueOverflow, QueueUnderflow } from "../../lib/defer";
import { failureResultOf } from "./support";

expectNoFdLeaks();

describe("DeferredQueue", () => {
  test("waiting getters get items in order; limits raise QueueUnderflow and QueueOverflow", () => {
    const N = 2;
    const M = 2;
    const queue = new DeferredQueue<number>(N, M);
    let gotten: number[] = [];
    for (let i = 0; i < M; i++) queue.get().addCallback((v) => gotten.push(v));
    expect(() => queue.get()).toThrow(QueueUnderflow);
    for (let i = 0; i < M; i++) {
      queue.put(i);
      expect(gotten).toEqual(Array.from({ length: i + 1 }, (_, k) => k));
    }
    for (let i = 0; i < N; i++) {
      queue.put(N + i);
      expect(gotten).toEqual([0, 1]);
    }
    expect(() => queue.put(99)).toThrow(QueueOverflow);
    gotten = [];
    for (let i = 0; i < N; i++) {
      queue.get().addCallback((v) => gotten.push(v));
      expect(gotten).toEqual(Array.from({ length: i + 1 }, (_, k) => N + k));
    }
  });

  test("an unbounded queue serves waiting getters in order", () => {
    const queue = new DeferredQueue<number>();
    const gotten: number[] = [];
    for (let i = 0; i < 3; i++) queue.get().addCallback((v) => gotten.push(v));
    for (let i = 0; i < 3; i++) queue.put(i);
    expect(gotten).toEqual([0, 1, 2]);
  });

  test("size 0 refuses every put; backlog 0 refuses every waiting get", () => {
    expect(() => new DeferredQueue<number>(0).put(1)).toThrow(QueueOverflow);
    expect(() => new DeferredQueue<number>(undefined, 0).get()).toThrow(QueueUnderflow);
  });

  test("cancelling a get that already has its item does nothing", () => {
    const queue = new DeferredQueue<null>();
    const d = queue.get();
    const eb = jest.fn();
    d.addErrback(eb);
    queue.put(null);
    d.cancel();
    expect(eb).not.toHaveBeenCalled();
  });

  test("cancelling a waiting get fails it and the queue no longer tries to fire it", () => {
    const queue = new DeferredQueue<string>();
    const d = queue.get();
    d.cancel();
    failureResultOf(d, CancelledError);
    queue.put("x");
    expect(queue.pending).toEqual(["x"]);
    const got: string[] = [];
    queue.get().addCallback((v) => got.push(v));
    expect(got).toEqual(["x"]);
  });

  test("bad size or backlog is a RangeError", () => {
    expect(() => new DeferredQueue(-1)).toThrow(RangeError);
    expect(() => new DeferredQueue(undefined, 1.5)).toThrow(RangeError);
  });
});
