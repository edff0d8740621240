/**
 * Failure: a thrown value together with where it was thrown (Twisted's
 * twisted.python.failure.Failure). Deferreds carry a Failure on their errback path;
 * JavaScript can throw anything, so `value` is any value and `type` its constructor.
 */

/** A constructor a Failure can be checked against, or a class name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FailureType = (abstract new (...args: any[]) => unknown) | ((...args: any[]) => unknown) | string;

/** The constructor of any value (String for a thrown string, undefined for null/undefined). */
function constructorOf(value: unknown): Function | undefined {
  if (value === null || value === undefined) return undefined;
  const c = (Object(value) as { constructor?: unknown }).constructor;
  return typeof c === "function" ? c : undefined;
}

/** A value thrown somewhere, with its stack, handed down a Deferred's errback chain. */
export class Failure {
  /** The thrown value itself (usually an Error; JavaScript allows anything). */
  readonly value: unknown;
  /** The constructor of `value` (Error subclass, String, ...), undefined for null/undefined. */
  readonly type: Function | undefined;
  /** Stack captured when a non-Error was wrapped (an Error carries its own); "" otherwise. */
  private readonly capturedStack: string;
  /**
   * Set when a Promise made from a Deferred (`then`, `await`, `asPromise`) was rejected
   * with this Failure's value: the Promise now owns the error, so the Deferred does not
   * also report it as unhandled.
   */
  observed = false;

  /**
   * Wraps `value`. A Failure given a Failure copies it; an Error keeps its own stack;
   * any other thrown value gets the stack of this construction.
   */
  constructor(value: unknown) {
    if (value instanceof Failure) {
      this.value = value.value;
      this.type = value.type;
      this.capturedStack = value.capturedStack;
      return;
    }
    this.value = value;
    this.type = constructorOf(value);
    if (value instanceof Error) {
      this.capturedStack = "";
    } else {
      const holder: { stack?: string } = {};
      Error.captureStackTrace(holder, Failure);
      this.capturedStack = holder.stack ?? "";
    }
  }

  /** `value` itself when it is already a Failure, else a new Failure wrapping it. */
  static from(value: unknown): Failure {
    return value instanceof Failure ? value : new Failure(value);
  }

  /** Names of the classes `value` is an instance of, most derived first ("TypeError", "Error", ...). */
  get parents(): string[] {
    const names: string[] = [];
    if (this.value === null || this.value === undefined) return names;
    let p: unknown = Object.getPrototypeOf(Object(this.value));
    for (let i = 0; p !== null && i < 64; i++) {
      const c = (p as { constructor?: { name?: unknown } }).constructor;
      if (c && typeof c.name === "string" && c.name !== "Object") names.push(c.name);
      p = Object.getPrototypeOf(p);
    }
    return names;
  }

  /**
   * The first of `types` that `value` is an instance of (a class, or a class name
   * matched against `parents`), or null when none matches.
   */
  check(...types: FailureType[]): FailureType | null {
    for (const t of types) {
      if (typeof t === "string") {
        if (this.parents.includes(t)) return t;
      } else if (typeof t === "function") {
        if (this.value !== null && this.value !== undefined && Object(this.value) instanceof (t as Function)) return t;
      } else {
        throw new TypeError("check: each type must be a class or a class name");
      }
    }
    return null;
  }

  /**
   * Like `check`, but throws `value` again when nothing matches, so that an errback
   * written `f.trap(ConnectionDone)` passes every other failure down the chain.
   */
  trap(...types: FailureType[]): FailureType {
    const matched = this.check(...types);
    if (matched === null) this.raiseException();
    return matched as FailureType;
  }

  /** Throws `value` (the original thrown value, not the Failure). */
  raiseException(): never {
    throw this.value;
  }

  /** Throws `value` into generator `g` at its current `yield`; returns what `g.throw` returns. */
  throwExceptionIntoGenerator<T, R, N>(g: Generator<T, R, N>): IteratorResult<T, R> {
    return g.throw(this.value);
  }

  /** The message of `value` (its `message` for an Error, else its string form). */
  getErrorMessage(): string {
    const v = this.value;
    if (v instanceof Error) return v.message;
    if (v !== null && typeof v === "object" && typeof (v as { message?: unknown }).message === "string") {
      return (v as { message: string }).message;
    }
    try {
      return String(v);
    } catch {
      return Object.prototype.toString.call(v);
    }
  }

  /** The name of `type` ("TypeError", "String", "undefined"). */
  getTypeName(): string {
    const v = this.value;
    if (v instanceof Error && typeof v.name === "string") return v.name;
    return this.type?.name || String(v);
  }

  /** A full traceback: the Error's own stack, or type, message and the stack captured at wrapping. */
  getTraceback(): string {
    const v = this.value;
    if (v instanceof Error && typeof v.stack === "string") return v.stack;
    const head = `${this.getTypeName()}: ${this.getErrorMessage()}`;
    const nl = this.capturedStack.indexOf("\n");
    return nl >= 0 ? head + this.capturedStack.slice(nl) : head;
  }

  /** The first line of the traceback only: "TypeName: message". */
  getBriefTraceback(): string {
    return `${this.getTypeName()}: ${this.getErrorMessage()}`;
  }

  /**
   * Drops references to live frames: V8 keeps an Error's call sites (functions and
   * receivers, such as the Deferred that was running) until `stack` is first read, so
   * reading it once turns them into a string. A Failure kept for later must be cleaned,
   * or whatever its frames reference stays alive.
   */
  cleanFailure(): void {
    const v = this.value;
    if (v instanceof Error) void v.stack;
  }

  /** "[Failure instance: TypeName: message]", as Twisted prints a Failure. */
  toString(): string {
    return `[Failure instance: ${this.getBriefTraceback()}]`;
  }
}
