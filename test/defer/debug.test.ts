/** Debug mode: creation and firing stacks in AlreadyCalledError (Twisted's AlreadyCalledTests). */
import { expectNoFdLeaks } from "../support/fds";
import { AlreadyCalledError, Deferred, getDebugging, setDebugging } from "../../lib/defer";

expectNoFdLeaks();

afterEach(() => setDebugging(false));

function call1(d: Deferred<string>): void {
  d.callback("hello");
}
function call2(d: Deferred<string>): void {
  d.callback("twice");
}
function err1(d: Deferred<string>): void {
  d.errback(new Error("one"));
}
function err2(d: Deferred<string>): void {
  d.errback(new Error("two"));
}

/** The text of the "C:" and "I:" sections of an AlreadyCalledError message. */
function sections(e: Error): { creator: string; invoker: string } {
  const m = e.message;
  const c = m.indexOf("C: Deferred was created:");
  const i = m.indexOf("I: First Invoker was:");
  expect(c).toBeGreaterThanOrEqual(0);
  expect(i).toBeGreaterThan(c);
  return { creator: m.slice(c, i), invoker: m.slice(i) };
}

describe("debug mode", () => {
  test("setDebugging and getDebugging", () => {
    expect(getDebugging()).toBe(false);
    setDebugging(true);
    expect(getDebugging()).toBe(true);
  });

  test.each([
    ["callback, callback", call1, call2, "call1", "call2"],
    ["callback, errback", call1, err2, "call1", "err2"],
    ["errback, callback", err1, call2, "err1", "call2"],
    ["errback, errback", err1, err2, "err1", "err2"],
  ])("AlreadyCalledError (%s) names the creator and the first invoker only", (_n, first, second, firstName, secondName) => {
    setDebugging(true);
    const d = (function creatorFunction() {
      return new Deferred<string>();
    })();
    d.addCallbacks(
      () => undefined,
      () => undefined,
    );
    first(d);
    let caught: Error | null = null;
    try {
      second(d);
    } catch (e) {
      caught = e as Error;
    }
    expect(caught).toBeInstanceOf(AlreadyCalledError);
    const { creator, invoker } = sections(caught as Error);
    expect(creator).toMatch(/creatorFunction/);
    expect(creator).not.toMatch(new RegExp(`\\b${firstName}\\b`));
    expect(invoker).toMatch(new RegExp(`\\b${firstName}\\b`));
    expect(invoker).not.toMatch(new RegExp(`\\b${secondName}\\b`));
  });

  test("without debug mode AlreadyCalledError carries no stacks", () => {
    const d = new Deferred<string>();
    call1(d);
    try {
      call2(d);
      throw new Error("no AlreadyCalledError");
    } catch (e) {
      expect(e).toBeInstanceOf(AlreadyCalledError);
      expect((e as Error).message).toBe("Deferred has already been called");
    }
  });

  test("Deferreds cope with debug mode switching between creation and firing", () => {
    setDebugging(false);
    let d = new Deferred<void>();
    d.addBoth(() => null);
    setDebugging(true);
    d.callback(undefined);
    setDebugging(false);
    d = new Deferred<void>();
    d.callback(undefined);
    setDebugging(true);
    d.addBoth(() => null);
    expect(d.result).toBeNull();
  });
});
