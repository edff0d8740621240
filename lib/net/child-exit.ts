/**
 * How a child's exit reaches the reactor (docs/process.md, docs/platforms.md "Child
 * processes"). Where the kernel gives a pidfd (Linux 5.3+), the exit is an fd event like
 * any other: the pidfd turns readable on every backend (epoll, io_uring, poll, select), the
 * reactor calls `doRead`, and the child is reaped there, in the iteration that saw it. On
 * the kqueue backend the same fd event comes from a kqueue of the child's own holding one
 * EVFILT_PROC/NOTE_EXIT knote (`native.kqueueExitFd`): its fd turns readable at the exit,
 * and the reactor's kqueue watches it as a reader. Elsewhere a
 * SIGCHLD self-pipe (native/process.cc) is the fd event: its handler writes a byte and
 * chains to the handler it replaced (libuv's, for Node's own children), and each wake-up
 * reaps every child still waiting (signals coalesce). Node's `process.on("SIGCHLD")` is not
 * used: it needs Node's loop to turn, which an exclusive-mode reactor lets happen only now
 * and then, and it does not reach the real process object inside jest's sandbox. Only our
 * own pids are ever waited for: Node's child_process children are left to libuv. A child
 * still running when its reactor shuts down is reaped, unheard, once it ends (polled each
 * second), so that it never stays a zombie.
 */
import { log } from "../log";
import { native } from "../native";
import type { IReadDescriptor } from "../reactor/interfaces";
import type { IReactorFDSet } from "./fdset";

/** The ways a child's exit can be noticed; `useChildExitWatch` picks one ("pidfd" is EVFILT_PROC on kqueue). */
export type ChildExitWatchKind = "pidfd" | "sigchld";

/** The mechanism one watch uses: "evfilt_proc" is what "pidfd" means on the kqueue backend. */
export type ChildExitWatchMechanism = ChildExitWatchKind | "evfilt_proc";

/** Who hears that the child was reaped. */
export interface IReapListener {
  /** The child is reaped: its exit code (-1 when a signal ended it) and that signal (0 when it exited). */
  reaped(exitCode: number, signal: number): void;
}

/** One child's exit watch: `poll` reaps it when it has exited, `close` gives up watching. */
export interface ChildExitWatch {
  /** Which mechanism this watch uses. */
  readonly kind: ChildExitWatchMechanism;
  /** Reaps the child if it has exited (telling the listener); true once reaped. */
  poll(): boolean;
  /** Stops watching without reaping (the reactor shut down). */
  close(): void;
}

let preferred: ChildExitWatchKind = "pidfd";

/**
 * Chooses how children spawned from now on are watched: "pidfd" (the default; it falls back
 * to "sigchld" where the kernel has no pidfd) or "sigchld". For tests and platform
 * comparisons: both end in the same callbacks.
 */
export function useChildExitWatch(kind: ChildExitWatchKind): void {
  if (kind !== "pidfd" && kind !== "sigchld") throw new TypeError(`kind must be "pidfd" or "sigchld", received ${String(kind)}`);
  preferred = kind;
}

/** The watch kind the next spawn will try first. */
export function childExitWatchKind(): ChildExitWatchKind {
  return preferred;
}

const status = new Int32Array(2);

/** waitpid(pid, WNOHANG) into `status`; true once reaped. A failing waitpid is logged and counts as reaped. */
function reapStatus(pid: number): boolean {
  try {
    return native.reap(pid, status);
  } catch (e) {
    // ECHILD: somebody else waited for our child. Its status is lost; end the process anyway.
    log("error", `waitpid(${pid}) failed: the exit status of this child is lost`, e);
    status[0] = -1;
    status[1] = 0;
    return true;
  }
}

/** An fd registered as a reader that turns readable once the child exits: a pidfd, or a kqueue with the child's EVFILT_PROC knote. */
class ExitFdWatch implements ChildExitWatch, IReadDescriptor {
  private fd: number;
  private pid: number;

  constructor(
    readonly kind: "pidfd" | "evfilt_proc",
    private readonly reactor: IReactorFDSet,
    fd: number,
    pid: number,
    private readonly listener: IReapListener,
  ) {
    this.fd = fd;
    this.pid = pid;
    reactor.addReader(this);
  }

  fileno(): number {
    return this.fd;
  }

  doRead(): void {
    this.poll();
  }

  poll(): boolean {
    if (this.pid === 0) return true;
    if (!reapStatus(this.pid)) return false;
    const code = status[0];
    const sig = status[1];
    this.pid = 0;
    // Closed before the listener hears: its callbacks may spawn and reuse the fd number.
    this.close();
    this.listener.reaped(code, sig);
    return true;
  }

  close(): void {
    if (this.fd < 0) return;
    this.reactor.removeReader(this);
    const fd = this.fd;
    this.fd = -1;
    native.close(fd);
  }

  /**
   * The reactor shut down (or dropped us) with the child still running: nobody will hear of
   * its end, but it is still reaped when it comes (by SIGCHLD), so it never stays a zombie.
   */
  connectionLost(): void {
    this.close();
    if (this.pid !== 0) reapWhenExited(this.pid);
    this.pid = 0;
  }
}

/** Children waiting for a SIGCHLD, of every reactor: whichever reactor drains the self-pipe reaps them all. */
const waiting = new Set<SigchldWatch>();
const drainBuf = Buffer.alloc(64);

/** The SIGCHLD self-pipe's read end as a reader of one reactor (the fd is shared: nobody closes it). */
class SigchldReader implements IReadDescriptor {
  constructor(
    private readonly reactor: IReactorFDSet,
    private readonly fd: number,
  ) {
    reactor.addReader(this);
  }

  fileno(): number {
    return this.fd;
  }

  doRead(): void {
    while (native.read(this.fd, drainBuf, 0, drainBuf.length) === drainBuf.length);
    for (const w of [...waiting]) w.poll();
  }

  /** The reactor shut down: it no longer watches the pipe. */
  connectionLost(): void {
    sigchldReaders.delete(this.reactor);
  }
}

const sigchldReaders = new WeakMap<IReactorFDSet, SigchldReader>();

/** Makes sure the SIGCHLD handler is ours (chained) and `reactor` watches its self-pipe; before a spawn, so no exit is missed. */
function armSigchld(reactor: IReactorFDSet): void {
  const fd = native.sigchldFd();
  if (!sigchldReaders.has(reactor)) sigchldReaders.set(reactor, new SigchldReader(reactor, fd));
}

/** A child reaped when a SIGCHLD arrives. */
class SigchldWatch implements ChildExitWatch {
  readonly kind = "sigchld";

  constructor(
    private readonly pid: number,
    private readonly listener: IReapListener,
  ) {
    waiting.add(this);
  }

  poll(): boolean {
    if (!waiting.has(this)) return true;
    if (!reapStatus(this.pid)) return false;
    const code = status[0];
    const sig = status[1];
    this.close();
    this.listener.reaped(code, sig);
    return true;
  }

  close(): void {
    waiting.delete(this);
  }
}

/** Children whose reactor shut down before they ended: polled each second (an unref'd timer) until reaped. */
const orphans = new Set<number>();
let orphanTimer: NodeJS.Timeout | null = null;

function reapOrphans(): void {
  for (const pid of [...orphans]) if (reapStatus(pid)) orphans.delete(pid);
  if (orphans.size === 0 && orphanTimer !== null) {
    clearInterval(orphanTimer);
    orphanTimer = null;
  }
}

/** Reaps `pid` once it exits, telling nobody (its reactor has shut down). */
function reapWhenExited(pid: number): void {
  orphans.add(pid);
  if (orphanTimer === null) {
    orphanTimer = setInterval(reapOrphans, 1000);
    orphanTimer.unref();
  }
}

/** Readies the watch kind chosen for the next spawn on `reactor` (the SIGCHLD handler must be there before the child is). */
export function prepareChildExitWatch(reactor: IReactorFDSet): void {
  if (preferred === "sigchld") armSigchld(reactor);
}

/**
 * Watches child `pid` (just spawned) for its exit; `listener.reaped` runs once it is reaped.
 * When "pidfd" is chosen: EVFILT_PROC on the kqueue backend, a pidfd where the kernel has
 * one; SIGCHLD otherwise.
 */
export function watchChildExit(reactor: IReactorFDSet, pid: number, listener: IReapListener): ChildExitWatch {
  if (preferred === "pidfd" && reactor.backend === "kqueue") {
    const kq = native.kqueueExitFd(pid);
    if (kq >= 0) return new ExitFdWatch("evfilt_proc", reactor, kq, pid, listener);
    // -1: the child is already gone (ESRCH); the SIGCHLD watch below is polled at once.
  } else if (preferred === "pidfd") {
    const fd = native.pidfdOpen(pid);
    if (fd >= 0) return new ExitFdWatch("pidfd", reactor, fd, pid, listener);
    // No pidfd here: this child and every later one use SIGCHLD.
    preferred = "sigchld";
  }
  armSigchld(reactor);
  // The caller polls once after connectionMade: a child that exited before the handler
  // was there (pidfd fell back just now) sent its SIGCHLD to nobody.
  return new SigchldWatch(pid, listener);
}
