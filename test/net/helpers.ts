/**
 * Shared pieces of the lib/net tests: run a reactor (in either run mode) until a test says
 * it is finished, and a protocol that records what happens to it.
 */
import type { Failure } from "../../lib/defer";
import type { IReactorFDSet } from "../../lib/net";
import type { Address, IHalfCloseableProtocol } from "../../lib/net/interfaces";
import { ClientFactory, Protocol, ServerFactory } from "../../lib/protocols";
import { Reactor, type ReactorOptions } from "../../lib/reactor";

/** The reactor's run modes. */
export type Mode = "integrated" | "exclusive";
/** Both run modes, for describe.each. */
export const MODES: Mode[] = ["integrated", "exclusive"];

/** A reactor as the tests use it. */
export type TestReactor = IReactorFDSet & Reactor;

/**
 * Makes a reactor in `mode`, runs `body(reactor, finish, fail)` once it runs, and resolves
 * with what `finish` is given (rejects with what `fail` is given) after the reactor has
 * stopped (its shutdown closes whatever the test left open). A guard fails the run after
 * `limitSeconds` so that a broken test ends instead of hanging. `options` go to the Reactor
 * (a backend, say); `mode` wins over theirs.
 */
export async function runReactor<T>(
  mode: Mode,
  body: (reactor: TestReactor, finish: (v: T) => void, fail: (e: unknown) => void) => void,
  limitSeconds = 20,
  options: ReactorOptions = {},
): Promise<T> {
  const r = new Reactor({ ...options, mode }) as TestReactor;
  let over = false;
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } = { ok: false, error: new Error("the reactor stopped before the test finished") };
  const end = (o: typeof outcome): void => {
    if (over) return;
    over = true;
    outcome = o;
    if (guard.active()) guard.cancel();
    r.stop();
  };
  const guard = r.callLater(limitSeconds, () => end({ ok: false, error: new Error(`test did not finish within ${limitSeconds} s`) }));
  r.callWhenRunning(() => {
    try {
      body(
        r,
        (value) => end({ ok: true, value }),
        (error) => end({ ok: false, error }),
      );
    } catch (error) {
      end({ ok: false, error });
    }
  });
  await r.run();
  const o = outcome as { ok: true; value: T } | { ok: false; error: unknown };
  if (!o.ok) throw o.error;
  return o.value;
}

/** Records a protocol's life as strings: "made", "data:<utf8>", "lost:<ErrorClass>". */
export class Recorder extends Protocol {
  /** What happened, in order. */
  events: string[] = [];
  /** Every byte received. */
  received: Buffer[] = [];
  /** The reason given to connectionLost (a Failure; `reason.value` is the error). */
  reason: Failure | null = null;
  /** Called from connectionLost (tests set it). */
  onLost: ((reason: Failure) => void) | null = null;
  /** Called from dataReceived (tests set it). */
  onData: ((data: Buffer) => void) | null = null;
  /** Called from connectionMade (tests set it). */
  onMade: (() => void) | null = null;

  override connectionMade(): void {
    this.events.push("made");
    this.onMade?.();
  }

  override dataReceived(data: Buffer): void {
    this.events.push(`data:${data.toString("latin1")}`);
    this.received.push(data);
    this.onData?.(data);
  }

  override connectionLost(reason: Failure): void {
    this.events.push(`lost:${reason.type?.name}`);
    this.reason = reason;
    this.onLost?.(reason);
  }

  /** All bytes received so far as one Buffer. */
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

/** A Recorder that also records the half-close callbacks (IHalfCloseableProtocol). */
export class HalfRecorder extends Recorder implements IHalfCloseableProtocol {
  /** Called from readConnectionLost (tests set it). */
  onReadLost: (() => void) | null = null;
  readConnectionLost(): void {
    this.events.push("readLost");
    this.onReadLost?.();
  }
  writeConnectionLost(): void {
    this.events.push("writeLost");
  }
}

/** A client factory that hands each attempt's outcome to callbacks. */
export class RecordingClientFactory extends ClientFactory {
  /** What happened, in order: "started", "failed:<Error>", "lost:<Error>". */
  events: string[] = [];
  failReason: Failure | null = null;
  lostReason: Failure | null = null;
  onFailed: ((reason: Failure) => void) | null = null;
  onLost: ((reason: Failure) => void) | null = null;
  built: Protocol[] = [];

  constructor(private readonly make: () => Protocol = () => new Recorder()) {
    super();
  }

  override buildProtocol(addr: Address): Protocol {
    void addr;
    const p = this.make();
    p.factory = this;
    this.built.push(p);
    return p;
  }

  override startedConnecting(): void {
    this.events.push("started");
  }

  override clientConnectionFailed(connector: unknown, reason: Failure): void {
    this.events.push(`failed:${reason.type?.name}`);
    this.failReason = reason;
    this.onFailed?.(reason);
  }

  override clientConnectionLost(connector: unknown, reason: Failure): void {
    this.events.push(`lost:${reason.type?.name}`);
    this.lostReason = reason;
    this.onLost?.(reason);
  }
}

/** The port number of a TCP address. */
export function portOf(a: Address): number {
  if (a.type === "UNIX") throw new TypeError("not a TCP address");
  return a.port;
}

/** A server factory whose Recorder protocols write back every byte they receive. */
export function echoFactory(): ServerFactory {
  const f = new ServerFactory();
  f.buildProtocol = () => {
    const p = new Recorder();
    p.onData = (d) => p.transport!.write(d);
    return p;
  };
  return f;
}
