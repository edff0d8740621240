/**
 * What the transport layer needs from a reactor (Twisted's IReactorFDSet + IReactorTime,
 * plus the batch-flush request of lib/reactor/interfaces.ts and the resolver hook).
 * lib/net depends on this shape only, never on the Reactor class: any reactor that has
 * these methods can carry TCP and Unix transports.
 */
import type { IReactorTime } from "../defer/interfaces";
import type { Accepted } from "../native";
import type { IBatchWriter, IReadDescriptor, ITLSBatchDescriptor, IWriteDescriptor } from "../reactor/interfaces";

/** A host name resolver: the address (IPv4 or IPv6 literal) for `name`, as a Deferred or promise. */
export type Resolver = (name: string) => PromiseLike<string>;

/** The reactor services used by ports, connectors and connections. */
export interface IReactorFDSet extends IReactorTime {
  /** The poller backend ("epoll", "kqueue", ...), where the reactor has one; child-exit.ts picks its watch by it. */
  readonly backend?: string;
  /** Starts calling `r.doRead` (or `readResult` for batch readers) while the fd is readable; a no-op when `r` already is a reader. */
  addReader(r: IReadDescriptor): void;
  /** Starts calling `w.doWrite` while the fd is writable; a no-op when `w` already is a writer. */
  addWriter(w: IWriteDescriptor): void;
  /** Stops reading; a descriptor that is not a reader is ignored. */
  removeReader(r: IReadDescriptor): void;
  /** Stops writing; a descriptor that is not a writer is ignored. */
  removeWriter(w: IWriteDescriptor): void;
  /**
   * Flushes `w.pendingBuffers()` at the end of this iteration, batched with other writers;
   * sets `w.flushQueued` until the flush runs (transports read it instead of a flag of their own).
   */
  requestFlush(w: IBatchWriter): void;
  /**
   * Reads TLS reader `r` in the next batch read although its fd did not report READABLE
   * (its session holds plaintext already); the Reactor has it, and TLS transports need it.
   */
  requestRead?(r: ITLSBatchDescriptor): void;
  /**
   * The connections the poller accepted for listening reader fd `fd`, at most `max`, or
   * null when it does not accept for it (io_uring's multishot accept does; the caller then
   * accepts with native.accept). Throws the errno that stopped the accepting (EMFILE...).
   */
  takeAccepted?(fd: number, max: number): Accepted[] | null;
  /**
   * Resolves a host name (the DNS layer installs it; Twisted's IReactorPluggableResolver).
   * When absent, connectors use the hosts-file resolver of lib/net/resolve.ts.
   */
  resolve?: Resolver;
  /**
   * Every address of a host name, in the order to try them (the DNS layer installs it).
   * When present, a TCP connector tries each address in turn until one connects.
   */
  resolveAll?: (name: string) => PromiseLike<string[]>;
  /**
   * Runs `f` in a phase of a system event (the Reactor has it): lib/net uses "during
   * shutdown" to close ports and connections that are not registered at that moment.
   */
  addSystemEventTrigger?(phase: "before" | "during" | "after", eventType: string, f: () => unknown): unknown;
}
