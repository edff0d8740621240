/** Failure: a thrown value with its stack (Twisted's twisted.python.failure). */
import { expectNoFdLeaks } from "../support/fds";
import { Failure } from "../../lib/defer";
import { ConnectionAborted, ConnectionDone, ConnectionLost } from "../../lib/error";
import { GenericError } from "./support";

expectNoFdLeaks();

class SubError extends GenericError {}

describe("Failure", () => {
  test("wraps an Error: value, type and message", () => {
    const e = new RangeError("too far");
    const f = new Failure(e);
    expect(f.value).toBe(e);
    expect(f.type).toBe(RangeError);
    expect(f.getErrorMessage()).toBe("too far");
    expect(f.getTypeName()).toBe("RangeError");
  });

  test("wraps any thrown value, with the stack where it was wrapped", () => {
    function wrapHere(): Failure {
      return new Failure("just a string");
    }
    const f = wrapHere();
    expect(f.value).toBe("just a string");
    expect(f.type).toBe(String);
    expect(f.getErrorMessage()).toBe("just a string");
    const tb = f.getTraceback();
    expect(tb.split("\n")[0]).toBe("String: just a string");
    expect(tb).toMatch(/wrapHere/);
  });

  test("wraps null and undefined", () => {
    expect(new Failure(null).type).toBeUndefined();
    expect(new Failure(undefined).getErrorMessage()).toBe("undefined");
    expect(new Failure(null).check(Error)).toBeNull();
  });

  test("the traceback of an Error is its own stack", () => {
    function thrower(): never {
      throw new GenericError("deep");
    }
    let f: Failure | null = null;
    try {
      thrower();
    } catch (e) {
      f = new Failure(e);
    }
    const tb = (f as Failure).getTraceback();
    expect(tb.startsWith("GenericError: deep")).toBe(true);
    expect(tb).toMatch(/thrower/);
    expect((f as Failure).getBriefTraceback()).toBe("GenericError: deep");
  });

  test("a Failure of a Failure copies it; Failure.from returns a Failure as is", () => {
    const f = new Failure(new Error("x"));
    const g = new Failure(f);
    expect(g.value).toBe(f.value);
    expect(g.type).toBe(Error);
    expect(Failure.from(f)).toBe(f);
    expect(Failure.from(new Error("y"))).toBeInstanceOf(Failure);
  });

  test("check returns the first matching type, or null", () => {
    const f = new Failure(new SubError("s"));
    expect(f.check(RangeError)).toBeNull();
    expect(f.check(RangeError, GenericError, SubError)).toBe(GenericError);
    expect(f.check(Error)).toBe(Error);
  });

  test("check accepts class names along the prototype chain", () => {
    const f = new Failure(new SubError("s"));
    expect(f.parents).toEqual(["SubError", "GenericError", "Error"]);
    expect(f.check("GenericError")).toBe("GenericError");
    expect(f.check("TypeError")).toBeNull();
  });

  test("trap returns the matching type", () => {
    const f = new Failure(new SubError("s"));
    expect(f.trap(TypeError, SubError)).toBe(SubError);
  });

  test("trap rethrows the original value when nothing matches", () => {
    const e = new SubError("s");
    const f = new Failure(e);
    let thrown: unknown = null;
    try {
      f.trap(TypeError);
    } catch (x) {
      thrown = x;
    }
    expect(thrown).toBe(e);
  });

  test("a connection reason as transports pass it: check, trap, getErrorMessage, value and type of a typed error", () => {
    const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: 104, syscall: "read" });
    const reason = new Failure(new ConnectionAborted("aborted", { cause }));
    expect(reason.type).toBe(ConnectionAborted);
    expect(reason.value).toBeInstanceOf(ConnectionAborted);
    expect((reason.value as ConnectionLost).code).toBe("ECONNRESET");
    expect((reason.value as ConnectionLost).errno).toBe(104);
    expect(reason.check(ConnectionDone)).toBeNull();
    expect(reason.check(ConnectionDone, ConnectionLost)).toBe(ConnectionLost);
    expect(reason.check("ConnectionLost")).toBe("ConnectionLost");
    expect(reason.trap(ConnectionLost)).toBe(ConnectionLost);
    expect(() => reason.trap(ConnectionDone)).toThrow(reason.value as Error);
    expect(reason.getErrorMessage()).toBe("aborted");
    expect(reason.getTypeName()).toBe("ConnectionAborted");
    expect(String(reason)).toBe("[Failure instance: ConnectionAborted: aborted]");
  });

  test("raiseException throws the original value", () => {
    const f = new Failure(42);
    expect(() => f.raiseException()).toThrow();
    try {
      f.raiseException();
    } catch (x) {
      expect(x).toBe(42);
    }
  });

  test("throwExceptionIntoGenerator throws the value at the generator's yield", () => {
    const seen: unknown[] = [];
    function* g(): Generator<number, string, unknown> {
      try {
        yield 1;
      } catch (e) {
        seen.push(e);
        return "caught";
      }
      return "not caught";
    }
    const it = g();
    it.next();
    const e = new GenericError("in");
    const r = new Failure(e).throwExceptionIntoGenerator(it);
    expect(r).toEqual({ value: "caught", done: true });
    expect(seen).toEqual([e]);
  });

  test("check with something that is not a class is a TypeError", () => {
    expect(() => new Failure(new Error()).check(5 as unknown as string)).toThrow(TypeError);
  });

  test("toString names the type and message", () => {
    expect(String(new Failure(new TypeError("bad")))).toBe("[Failure instance: TypeError: bad]");
  });

  test("an object with a message gives that message", () => {
    expect(new Failure({ message: "m" }).getErrorMessage()).toBe("m");
  });
});
