/** DeferredLock: one holder at a time, FIFO waiters, cancellable acquire. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Deferred, DeferredLock, Failure, InvalidStateError, succeed } from "../../lib/defer";
import { failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("DeferredLock", () => {
  test("acquire fires at once when free, waits while held, and release passes it on", () => {
    const lock = new DeferredLock();
    let counter = 0;
    lock.acquire().addCallback(() => counter++);
    expect(lock.locked).toBe(true);
    expect(counter).toBe(1);
    lock.acquire().addCallback(() => counter++);
    expect(lock.locked).toBe(true);
    expect(counter).toBe(1);
    lock.release();
    expect(lock.locked).toBe(true);
    expect(counter).toBe(2);
    lock.release();
    expect(lock.locked).toBe(false);
  });

  test("acquire fires with the lock itself", () => {
    const lock = new DeferredLock();
    expect(successResultOf(lock.acquire())).toBe(lock);
  });

  test("waiters get the lock in the order they asked", () => {
    const lock = new DeferredLock();
    const order: number[] = [];
    lock.acquire();
    for (let i = 0; i < 3; i++) lock.acquire().addCallback(() => order.push(i));
    lock.release();
    lock.release();
    lock.release();
    expect(order).toEqual([0, 1, 2]);
  });

  test("run holds the lock until the function's Deferred fires, and gives its result", () => {
    const lock = new DeferredLock();
    const control = new Deferred<string>();
    const args: unknown[] = [];
    const result = lock.run((a: string, b: number) => {
      args.push(a, b);
      return control;
    }, "first", 1);
    expect(lock.locked).toBe(true);
    expect(args).toEqual(["first", 1]);
    let counter = 0;
    lock.acquire().addCallback(() => counter++);
    expect(counter).toBe(0);
    control.callback("second");
    expect(successResultOf(result)).toBe("second");
    expect(counter).toBe(1);
    lock.release();
    expect(lock.locked).toBe(false);
  });

  test("run releases the lock when the function throws", () => {
    const lock = new DeferredLock();
    const d = lock.run(() => {
      throw new RangeError("no");
    });
    failureResultOf(d, RangeError);
    expect(lock.locked).toBe(false);
  });

  test("run without a function is a TypeError", () => {
    const lock = new DeferredLock();
    expect(() => (lock.run as unknown as () => void)()).toThrow(TypeError);
  });

  test("cancelling a waiting acquire fails it with CancelledError and removes it from the queue", () => {
    const lock = new DeferredLock();
    lock.acquire();
    const seen: unknown[] = [];
    const d = lock.acquire().addBoth((r) => {
      seen.push(r);
    });
    d.cancel();
    expect((seen[0] as Failure).type).toBe(CancelledError);
    expect(lock.waiting).toEqual([]);
    lock.release();
    expect(lock.locked).toBe(false);
  });

  test("cancelling an acquire that already has the lock does nothing", () => {
    const lock = new DeferredLock();
    const d = lock.acquire();
    const eb = jest.fn();
    d.addErrback(eb);
    d.cancel();
    expect(eb).not.toHaveBeenCalled();
    expect(lock.locked).toBe(true);
  });

  test("releasing a lock that is not held throws", () => {
    expect(() => new DeferredLock().release()).toThrow(InvalidStateError);
    expect(() => new DeferredLock().release()).toThrow(/not locked/);
  });

  test("run accepts functions returning values, Deferreds and Promises", async () => {
    const lock = new DeferredLock();
    expect(successResultOf(lock.run(() => 5))).toBe(5);
    expect(successResultOf(lock.run(() => succeed("d")))).toBe("d");
    expect(await lock.run(async () => "p")).toBe("p");
    expect(lock.locked).toBe(false);
  });
});
