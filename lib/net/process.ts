/**
 * Child processes (Twisted's IReactorProcess.spawnProcess and process.Process;
 * docs/process.md). The child is started natively (native/process.cc: posix_spawn, or fork
 * + exec where posix_spawn cannot do what was asked); each pipe of `childFDs` is a
 * non-blocking fd on the reactor like any socket: the child's output pipes are batch
 * readers (`ProcessReader`), its input pipes are writers with the write queue, water marks
 * and producers of every transport (`ProcessWriter`). The exit is watched by child-exit.ts.
 *
 * The protocol hears what Twisted's does, in its order: `makeConnection` (connectionMade)
 * once the child runs; `childDataReceived` (outReceived / errReceived) as output arrives;
 * `childConnectionLost(fd)` once per pipe as each closes; `processExited` when the child is
 * reaped; `processEnded` last, once the child is reaped AND every pipe is closed, so all
 * its output has been delivered by then.
 *
 * A program that cannot be started (missing, not executable, a `path` that does not exist)
 * is not an exception: spawnProcess returns a transport whose `pid` is null, and in a later
 * iteration the protocol hears processExited and processEnded with a ProcessSpawnError
 * naming it (no connectionMade: no process ever ran). Failures of the parent's own resources
 * (EMFILE making the pipes, EAGAIN from fork) throw from spawnProcess, as in Twisted, with
 * every fd made for that spawn closed again.
 */
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";
import * as nodePath from "node:path";
import { Failure } from "../defer/failure";
import { ConnectionDone, ConnectionLost, ProcessDone, ProcessExitedAlready, ProcessSpawnError, ProcessTerminated, invalidArgType, outOfRange } from "../error";
import { log } from "../log";
import { isSyscallError, native } from "../native";
import { FileDescriptor } from "./abstract";
import { prepareChildExitWatch, watchChildExit, type ChildExitWatch, type IReapListener } from "./child-exit";
import type { IReactorFDSet } from "./fdset";
import type { IProcessProtocol, IProcessTransport, IPullProducer, IPushProducer } from "./interfaces";
import { connectionLostFrom, syscallError } from "./oserror";

/** What the child gets at one fd: "r" a pipe the parent reads, "w" a pipe the parent writes, or a parent fd passed as is. */
export type ChildFD = "r" | "w" | number;

/** Options of spawnProcess (Twisted's keyword arguments). */
export interface SpawnProcessOptions {
  /**
   * The child's environment. As in Twisted the default is an empty one ({}); null passes
   * this process's `process.env`.
   */
  env?: Record<string, string | undefined> | null;
  /** The child's working directory (default: ours). */
  path?: string | null;
  /** Run the child as this user id (needs the privilege to). */
  uid?: number | null;
  /** Run the child as this group id (its only group); needs the privilege to. */
  gid?: number | null;
  /** The child's fds: default `{ 0: "w", 1: "r", 2: "r" }`. Every fd not named is closed in the child. */
  childFDs?: Record<number, ChildFD>;
}

const DEFAULT_CHILD_FDS: Record<number, ChildFD> = { 0: "w", 1: "r", 2: "r" };
const MAX_CHILD_FD = 1023;

/** One pipe to the child: it tells its Process when it closes. */
abstract class ProcessPipe extends FileDescriptor {
  constructor(
    reactor: IReactorFDSet,
    fd: number,
    protected readonly proc: Process,
    readonly childFD: number,
  ) {
    super(reactor, fd);
    this.connected = true;
  }

  protected closeCleanly(): void {
    this.lose(new ConnectionDone());
  }

  protected shutdownWrite(): void {
    this.closeCleanly();
  }

  protected closed(reason: Failure): void {
    this.proc.childConnectionLost(this.childFD, reason);
  }

  protected callbackError(what: string, e: unknown): Error {
    return new ConnectionLost(`${what} threw`, { cause: e });
  }
}

/** The child's output pipe `childFD`: bytes go to `childDataReceived`, EOF closes it. */
class ProcessReader extends ProcessPipe {
  readResult(data: Buffer | null, result: number): Error | void {
    if (result > 0) {
      if (!this.disconnecting) this.proc.childDataReceived(this.childFD, data as Buffer);
    } else if (result === 0) {
      this.closeCleanly();
    } else {
      this.lose(connectionLostFrom(syscallError(-result, "read")));
    }
  }

  abortConnection(): void {
    this.closeCleanly();
  }
}

/**
 * The child's input pipe `childFD`: the write queue of every transport. It is also a
 * reader (not batched): the write end of a pipe turns readable only when the child has
 * closed the other end (the kernel reports an error there), so a read event means "lost".
 */
class ProcessWriter extends ProcessPipe {
  override doRead(): Error | void {
    return new ConnectionLost("The child closed its end of the pipe.");
  }

  readResult(): Error | void {
    return this.doRead();
  }

  abortConnection(): void {
    this.lose(new ConnectionLost("The pipe to the child was aborted."));
  }
}
// Both ends are pipe2's: written with one writev each flush, never a sendmsg first.
ProcessPipe.prototype.notSocket = true;
// A plain reader: its read events are the child closing the pipe, not bytes to batch-read.
Object.defineProperty(ProcessWriter.prototype, "batchRead", { value: false, writable: false, enumerable: false, configurable: false });

type Pipe = ProcessReader | ProcessWriter;

/** A running (or finished) child process: the IProcessTransport its protocol talks to (Twisted's process.Process). */
export class Process implements IProcessTransport, IReapListener {
  /** The child's pid; null once reaped, or when the program could not be started. */
  pid: number | null = null;
  /** The raw wait status once reaped (Linux encoding), else null. */
  status: number | null = null;
  /** The program as resolved (an absolute or relative path). */
  readonly executable: string;
  /** The argument vector the child got (argv[0] included). */
  readonly args: readonly string[];

  private readonly reactor: IReactorFDSet;
  private proto: IProcessProtocol | null;
  private readonly pipes = new Map<number, Pipe>();
  private watch: ChildExitWatch | null = null;
  private exited = false;
  private reason: Error | null = null;

  /** Starts the child (see spawnProcess); throws on a bad argument or when the parent's own resources fail. */
  constructor(reactor: IReactorFDSet, protocol: IProcessProtocol, executable: string, args: readonly string[], options: SpawnProcessOptions = {}) {
    checkProtocol(protocol);
    if (typeof executable !== "string" || executable === "" || executable.includes("\0")) {
      throw invalidArgType(`executable must be a non-empty string without NUL bytes, received ${describe(executable)}`);
    }
    if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) throw invalidArgType("args must be an array of strings");
    if (options === null || typeof options !== "object") throw invalidArgType("options must be an object");
    const envp = environment(options.env === undefined ? {} : options.env);
    const cwd = optionalString(options.path, "path");
    const uid = optionalId(options.uid, "uid");
    const gid = optionalId(options.gid, "gid");
    const childFDs = checkChildFDs(options.childFDs ?? DEFAULT_CHILD_FDS);
    this.reactor = reactor;
    this.proto = protocol;
    this.executable = executable;
    this.args = [...args];
    this.start(resolveExecutable(executable, options.env), envp, cwd, uid, gid, childFDs);
  }

  private start(file: string | null, envp: string[], cwd: string | null, uid: number, gid: number, childFDs: Array<[number, ChildFD]>): void {
    if (file === null) {
      this.failToStart(syscallError(native.errno.ENOENT, "execvp"));
      return;
    }
    // Both ends of every pipe; on any failure each one made is closed again.
    const made: number[] = [];
    const fdMap = new Int32Array(childFDs.length * 2);
    const ours: Array<[number, number, "r" | "w"]> = [];
    let pid: number;
    try {
      childFDs.forEach(([childFD, spec], i) => {
        let childEnd: number;
        if (spec === "r" || spec === "w") {
          const [parentEnd, end] = native.childPipe(spec === "r");
          made.push(parentEnd, end);
          childEnd = end;
          ours.push([childFD, parentEnd, spec]);
        } else {
          childEnd = spec;
        }
        fdMap[i * 2] = childFD;
        fdMap[i * 2 + 1] = childEnd;
      });
      prepareChildExitWatch(this.reactor);
      pid = native.spawn(file, this.args as string[], envp, cwd, uid, gid, fdMap);
    } catch (e) {
      for (const fd of made) native.close(fd);
      if (isChildStepFailure(e)) {
        this.failToStart(e);
        return;
      }
      throw e;
    }
    // The child has its ends now; ours are the other ends.
    for (let i = 0; i < fdMap.length; i += 2) if (made.includes(fdMap[i + 1])) native.close(fdMap[i + 1]);
    this.pid = pid;
    for (const [childFD, fd, spec] of ours) {
      this.pipes.set(childFD, spec === "r" ? new ProcessReader(this.reactor, fd, this, childFD) : new ProcessWriter(this.reactor, fd, this, childFD));
    }
    this.watch = watchChildExit(this.reactor, pid, this);
    for (const p of this.pipes.values()) p.startReading();
    try {
      (this.proto as IProcessProtocol).makeConnection(this);
    } catch (e) {
      log("error", "makeConnection of a process protocol threw", e);
    }
    if (this.watch.kind === "sigchld") this.watch.poll();
  }

  /** The program could not be started: processExited and processEnded with the reason, in a later iteration. */
  private failToStart(cause: unknown): void {
    this.exited = true;
    this.reason = new ProcessSpawnError(this.executable, cause);
    this.status = (this.reason as ProcessSpawnError).status;
    this.reactor.callLater(0, () => {
      this.callProcessExited();
      this.maybeCallProcessEnded();
    });
  }

  // -- what the pipes and the exit watch report ---------------------------------------------

  /** A pipe read bytes from the child's fd `childFD`. */
  childDataReceived(childFD: number, data: Buffer): void {
    const proto = this.proto;
    if (proto === null) return;
    try {
      proto.childDataReceived(childFD, data);
    } catch (e) {
      log("error", `childDataReceived(${childFD}) of a process protocol threw: closing that pipe`, e);
      this.closeChildFD(childFD);
    }
  }

  /** The pipe of the child's fd `childFD` closed (its fd is closed already). */
  childConnectionLost(childFD: number, reason: Failure): void {
    void reason;
    this.pipes.delete(childFD);
    const proto = this.proto;
    if (proto !== null) {
      try {
        proto.childConnectionLost(childFD);
      } catch (e) {
        log("error", `childConnectionLost(${childFD}) of a process protocol threw`, e);
      }
    }
    this.maybeCallProcessEnded();
  }

  /** The child was reaped (IReapListener). */
  reaped(exitCode: number, signal: number): void {
    this.exited = true;
    this.watch = null;
    this.pid = null;
    this.reason = exitCode === 0 ? new ProcessDone(0) : exitCode > 0 ? new ProcessTerminated(exitCode, null) : new ProcessTerminated(null, signal);
    this.status = exitCode >= 0 ? exitCode << 8 : signal;
    this.callProcessExited();
    this.maybeCallProcessEnded();
  }

  private callProcessExited(): void {
    const proto = this.proto;
    if (proto === null) return;
    try {
      proto.processExited(new Failure(this.reason));
    } catch (e) {
      log("error", "processExited of a process protocol threw", e);
    }
  }

  /** processEnded once the child is reaped and every pipe is closed (Twisted's maybeCallProcessEnded). */
  private maybeCallProcessEnded(): void {
    if (this.pipes.size > 0) return;
    if (!this.exited) {
      // Every pipe is closed: the child has likely exited already; look before waiting.
      this.watch?.poll();
      return;
    }
    const proto = this.proto;
    if (proto === null) return;
    this.proto = null;
    try {
      proto.processEnded(new Failure(this.reason));
    } catch (e) {
      log("error", "processEnded of a process protocol threw", e);
    }
  }

  // -- IProcessTransport ------------------------------------------------------------------------

  /** Writes to the child's fd `childFD` (a "w" pipe); ignored once that pipe is closed. */
  writeToChild(childFD: number, data: Uint8Array | string): void {
    const p = this.pipes.get(childFD);
    if (p instanceof ProcessWriter) p.write(data);
    else if (p !== undefined) throw new TypeError(`writeToChild: the child's fd ${childFD} is a pipe the child writes, not one it reads`);
  }

  /** Writes to the child's stdin. */
  write(data: Uint8Array | string): void {
    this.writeToChild(0, data);
  }

  /** Writes several buffers to the child's stdin, in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void {
    const p = this.pipes.get(0);
    if (p instanceof ProcessWriter) p.writeSequence(data);
  }

  /** Closes the pipe of the child's fd `childFD` (a write pipe once its queue is flushed); unknown fds are ignored. */
  closeChildFD(childFD: number): void {
    this.pipes.get(childFD)?.loseConnection();
  }

  /** closeChildFD(0). */
  closeStdin(): void {
    this.closeChildFD(0);
  }

  /** closeChildFD(1). */
  closeStdout(): void {
    this.closeChildFD(1);
  }

  /** closeChildFD(2). */
  closeStderr(): void {
    this.closeChildFD(2);
  }

  /** Closes every pipe, stdin after its queue is flushed (Twisted's loseConnection); the child is not signalled. */
  loseConnection(): void {
    this.closeStdin();
    this.closeStderr();
    this.closeStdout();
    for (const fd of [...this.pipes.keys()]) this.closeChildFD(fd);
  }

  /**
   * Sends `signal` ("TERM", "KILL", "INT", "HUP", "SIGUSR1", ... or a number) to the child.
   * Throws ProcessExitedAlready once it has been reaped (or never started); a bad signal
   * name is a TypeError naming it.
   */
  signalProcess(signal: string | number): void {
    const num = signalNumber(signal);
    if (this.pid === null) throw new ProcessExitedAlready();
    try {
      process.kill(this.pid, num);
    } catch (e) {
      if (isSyscallError(e, "ESRCH")) throw new ProcessExitedAlready();
      throw e;
    }
  }

  /** Stops reading the child's output until resumeProducing. */
  pauseProducing(): void {
    for (const p of this.pipes.values()) if (p instanceof ProcessReader) p.pauseProducing();
  }

  /** Reads the child's output again. */
  resumeProducing(): void {
    for (const p of this.pipes.values()) if (p instanceof ProcessReader) p.resumeProducing();
  }

  /** Closes every pipe (loseConnection). */
  stopProducing(): void {
    this.loseConnection();
  }

  /** Attaches a producer to the child's stdin (flow control as for any transport). */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    const p = this.pipes.get(0);
    if (p instanceof ProcessWriter) p.registerProducer(producer, streaming);
    else producer.stopProducing();
  }

  /** Detaches the stdin producer. */
  unregisterProducer(): void {
    this.pipes.get(0)?.unregisterProducer();
  }
}

/**
 * Starts `executable` with `args` (args[0] is the child's argv[0], as in Twisted) and
 * drives `protocol` with it (Twisted's IReactorProcess.spawnProcess). An executable
 * without a "/" is searched in the PATH of `options.env` (of this process when that has
 * none). Returns the transport.
 */
export function spawnProcess(reactor: IReactorFDSet, protocol: IProcessProtocol, executable: string, args: readonly string[] = [], options?: SpawnProcessOptions): Process {
  return new Process(reactor, protocol, executable, args, options);
}

// -- argument checks and conversions ----------------------------------------------------------

function describe(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : v === null ? "null" : typeof v;
}

function checkProtocol(p: unknown): void {
  const q = p as Partial<IProcessProtocol> | null;
  if (q === null || typeof q !== "object" || typeof q.makeConnection !== "function" || typeof q.processEnded !== "function") {
    throw invalidArgType("processProtocol must be a ProcessProtocol (makeConnection, childDataReceived, ..., processEnded)");
  }
}

function optionalString(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v === "" || v.includes("\0")) throw invalidArgType(`${name} must be a non-empty string or null, received ${describe(v)}`);
  return v;
}

function optionalId(v: unknown, name: string): number {
  if (v === undefined || v === null) return -1;
  if (typeof v !== "number") throw invalidArgType(`${name} must be a number or null, received ${describe(v)}`);
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw outOfRange(`${name} must be an integer >= 0, received ${v}`);
  return v;
}

function environment(env: Record<string, string | undefined> | null): string[] {
  const src = env === null ? process.env : env;
  if (typeof src !== "object") throw invalidArgType(`env must be an object or null, received ${describe(env)}`);
  const out: string[] = [];
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    if (typeof v !== "string" || k === "" || k.includes("=") || k.includes("\0") || v.includes("\0")) {
      throw invalidArgType(`env: ${JSON.stringify(k)} must map a name without "=" to a string without NUL bytes`);
    }
    out.push(`${k}=${v}`);
  }
  return out;
}

function checkChildFDs(spec: unknown): Array<[number, ChildFD]> {
  if (spec === null || typeof spec !== "object") throw invalidArgType("childFDs must be an object of child fd → \"r\" | \"w\" | parent fd");
  const out: Array<[number, ChildFD]> = [];
  for (const [key, v] of Object.entries(spec as Record<string, unknown>)) {
    const fd = Number(key);
    if (!Number.isInteger(fd) || fd < 0 || fd > MAX_CHILD_FD) throw outOfRange(`childFDs: ${JSON.stringify(key)} is not a child fd number 0..${MAX_CHILD_FD}`);
    if (v === "r" || v === "w") out.push([fd, v]);
    else if (typeof v === "number" && Number.isInteger(v) && v >= 0) out.push([fd, v]);
    else throw invalidArgType(`childFDs[${fd}] must be "r", "w" or a parent fd number, received ${describe(v)}`);
  }
  return out;
}

/** `executable` itself when it holds a "/", else the first executable file of that name on PATH (or null). */
function resolveExecutable(executable: string, env: Record<string, string | undefined> | null | undefined): string | null {
  if (executable.includes("/")) return executable;
  const path = (env ?? undefined)?.PATH ?? process.env.PATH ?? "/usr/bin:/bin";
  for (const dir of path.split(":")) {
    const candidate = nodePath.join(dir === "" ? "." : dir, executable);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Did the spawn fail in a step of the child (exec, chdir, setuid), not in the parent's resources? */
function isChildStepFailure(e: unknown): boolean {
  if (!isSyscallError(e)) return false;
  if (e.syscall === "posix_spawn") return !PARENT_ERRORS.has(e.code);
  return e.syscall !== "fork" && e.syscall !== "pipe" && e.syscall !== "fcntl" && e.syscall !== "pipe2";
}

// posix_spawn's own failures (no child could be made); anything else came from the child's steps.
const PARENT_ERRORS = new Set(["EAGAIN", "ENOMEM", "EMFILE", "ENFILE", "ENOSYS"]);

/** The number of signal `signal` ("TERM", "SIGTERM", 15); a TypeError naming it otherwise. */
function signalNumber(signal: unknown): number {
  if (typeof signal === "number" && Number.isInteger(signal) && signal >= 0 && signal < 65) return signal;
  if (typeof signal === "string") {
    const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
    const n = osConstants.signals[name];
    if (typeof n === "number") return n;
  }
  throw invalidArgType(`signal must be a signal name ("TERM", "KILL", "SIGUSR1"...) or number, received ${describe(signal)}`);
}
