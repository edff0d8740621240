/** DeferredSemaphore: at most N holders. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Deferred, DeferredSemaphore, InvalidStateError } from "../../lib/defer";
import { failureResultOf } from "./support";

expectNoFdLeaks();

describe("DeferredSemaphore", () => {
  test("run holds a token until the function's Deferred fires", () => {
    const sem = new DeferredSemaphore(13);
    const control = new Deferred<void>();
    let arg: unknown = null;
    const results: unknown[] = [];
    const unique = {};
    const d = sem.run((a: object) => {
      arg = a;
      return control;
    }, unique);
    d.addCallback((r) => results.push(r));
    expect(results).toEqual([]);
    expect(arg).toBe(unique);
    expect(sem.tokens).toBe(12);
    control.callback(undefined);
    expect(results).toEqual([undefined]);
    expect(sem.tokens).toBe(13);
  });

  test("N acquires fire at once, the next waits until a release", () => {
    const N = 13;
    const sem = new DeferredSemaphore(N);
    let counter = 0;
    for (let i = 1; i <= N; i++) {
      sem.acquire().addCallback(() => counter++);
      expect(counter).toBe(i);
    }
    const outcome: boolean[] = [];
    const d = sem.acquire().addCallbacks(
      () => {
        outcome.push(false);
      },
      () => {
        outcome.push(true);
      },
    );
    d.cancel();
    expect(outcome).toEqual([true]);
    sem.acquire().addCallback(() => counter++);
    expect(counter).toBe(N);
    sem.release();
    expect(counter).toBe(N + 1);
    for (let i = 1; i < N; i++) {
      sem.release();
      expect(counter).toBe(N + 1);
    }
    expect(sem.tokens).toBe(N - 1);
  });

  test("fewer than one token is a RangeError; a non-integer a TypeError", () => {
    expect(() => new DeferredSemaphore(0)).toThrow(RangeError);
    expect(() => new DeferredSemaphore(-1)).toThrow(RangeError);
    expect(() => new DeferredSemaphore(1.5)).toThrow(TypeError);
  });

  test("cancelling an acquire that holds a token does nothing", () => {
    const sem = new DeferredSemaphore(1);
    const d = sem.acquire();
    const eb = jest.fn();
    d.addErrback(eb);
    d.cancel();
    expect(eb).not.toHaveBeenCalled();
  });

  test("cancelling a waiting acquire fails it with CancelledError and frees its place", () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const d = sem.acquire();
    d.cancel();
    failureResultOf(d, CancelledError);
    expect(sem.waiting).toEqual([]);
    sem.release();
    expect(sem.tokens).toBe(1);
  });

  test("releasing more than acquired throws", () => {
    const sem = new DeferredSemaphore(2);
    expect(() => sem.release()).toThrow(InvalidStateError);
  });

  test("a limit of 2 runs at most two functions at a time, in FIFO order", () => {
    const sem = new DeferredSemaphore(2);
    const running: number[] = [];
    const started: number[] = [];
    const gates: Deferred<void>[] = [];
    for (let i = 0; i < 5; i++) {
      const gate = new Deferred<void>();
      gates.push(gate);
      sem.run(() => {
        started.push(i);
        running.push(i);
        return gate.addCallback(() => {
          running.splice(running.indexOf(i), 1);
        });
      });
    }
    expect(started).toEqual([0, 1]);
    gates[1].callback(undefined);
    expect(started).toEqual([0, 1, 2]);
    gates[0].callback(undefined);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(running).toEqual([2, 3]);
    gates[2].callback(undefined);
    gates[3].callback(undefined);
    gates[4].callback(undefined);
    expect(running).toEqual([]);
    expect(sem.tokens).toBe(2);
  });
});
