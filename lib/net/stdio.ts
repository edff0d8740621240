/**
 * The process's standard input and output as one transport (Twisted's
 * twisted.internet.stdio.StandardIO): bytes read from stdin go to the protocol's
 * `dataReceived`, `write` goes to stdout, with the write queue, water marks and
 * producers/consumers of every other transport (abstract.ts): the two halves are
 * FileDescriptors of their own.
 *
 * Choices the next reader should not undo:
 * - **Never the caller's fd, never the shell's flags.** fds 0 and 1 stay open and blocking
 *   for Node (`process.stdout`, `console.log`) and for whoever shares them (the parent
 *   shell after we exit). O_NONBLOCK is a flag of the open file description, which a dup
 *   shares; so on Linux a pipe or terminal is reopened through /proc/self/fd/N, which makes
 *   a description of our own, and O_NONBLOCK is set on that one only. Where that cannot
 *   be done (a socket — Node's child_process gives its children socketpairs —, or not
 *   Linux) a duplicate is made non-blocking and the description's flags are put back as
 *   they were when the transport closes, and at process exit if it never did.
 * - **Regular files cannot be polled** (epoll refuses them with EPERM; kqueue and poll call
 *   them always ready), nor can /dev/null and other character devices that are not
 *   terminals. They are read and written without readiness: a read per reactor turn
 *   (callLater 0) until EOF or pauseProducing, and writes through the normal batch flush
 *   (a file takes them whole).
 * - **End of input.** A protocol with `readConnectionLost` (IHalfCloseableProtocol) is told
 *   and may keep writing; any other protocol's transport closes once what it wrote is out
 *   (`loseConnection`), so an echo's last bytes are not lost. `connectionLost` comes once,
 *   when both halves are done: ConnectionDone for a clean end, ConnectionLost with the errno
 *   when a read or write failed (EPIPE: the reader of stdout went away).
 */
import * as fs from "node:fs";
import * as tty from "node:tty";
import { Failure } from "../defer/failure";
import { ConnectionAborted, ConnectionDone, ConnectionLost } from "../error";
import { log } from "../log";
import { native } from "../native";
import { getDefaultReactor } from "../reactor/default";
import type { IDelayedCall } from "../defer/interfaces";
import { FileDescriptor } from "./abstract";
import type { IReactorFDSet } from "./fdset";
import type { IHalfCloseableProtocol, IProtocol, IPullProducer, IPushProducer, ITransport } from "./interfaces";
import { connectionLostFrom, syscallError } from "./oserror";

/** The address of either end of standard I/O (Twisted's PipeAddress): it has none. */
export interface PipeAddress {
  readonly type: "PIPE";
}

/** Options of StandardIO. */
export interface StandardIOOptions {
  /** The fd to read (default 0). It stays open and keeps its flags: the transport reads its own descriptor of it. */
  stdin?: number;
  /** The fd to write (default 1). It stays open and keeps its flags, as stdin. */
  stdout?: number;
  /** The reactor (default: the global one). */
  reactor?: IReactorFDSet;
}

const PIPE: PipeAddress = Object.freeze({ type: "PIPE" });

/** Our own descriptor of a standard fd, and what to undo when closing it. */
interface OwnFd {
  /** The descriptor the transport reads or writes (closed by it). */
  fd: number;
  /** Status flags to put back on the shared description, or null when nothing was changed. */
  restore: number | null;
  /** True when the fd cannot be polled (a regular file...): driven without readiness. */
  continuous: boolean;
  /** True when the fd is a socket (written with sendmsg); a pipe, terminal or file is not. */
  socket: boolean;
}

/** Opens the transport's own descriptor of standard fd `fd` (see the file comment). */
function openOwn(fd: number, name: string, writing: boolean): OwnFd {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    throw new TypeError(`${name} must be an open file descriptor: fd ${fd} is not (${(e as { code?: string }).code ?? String(e)})`);
  }
  if (st.isDirectory()) throw new TypeError(`${name} must not be a directory (fd ${fd})`);
  if (st.isFile() || st.isBlockDevice() || (st.isCharacterDevice() && !tty.isatty(fd))) {
    return { fd: native.dupFd(fd), restore: null, continuous: true, socket: false };
  }
  if (process.platform === "linux" && (st.isFIFO() || st.isCharacterDevice())) {
    const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOCTTY } = fs.constants;
    try {
      // A new open file description of the same pipe or terminal: O_NONBLOCK stays ours.
      return { fd: fs.openSync(`/proc/self/fd/${fd}`, (writing ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY), restore: null, continuous: false, socket: false };
    } catch {
      // No /proc, or a FIFO without a reader (ENXIO): share the description below.
    }
  }
  const own = native.dupFd(fd);
  const socket = st.isSocket();
  const flags = native.getStatusFlags(own);
  if ((flags & native.O_NONBLOCK) !== 0) return { fd: own, restore: null, continuous: false, socket };
  native.setStatusFlags(own, flags | native.O_NONBLOCK);
  return { fd: own, restore: flags, continuous: false, socket };
}

/** Puts back the flags `own` changed, while its fd is still open; failures are logged. */
function restoreFlags(own: OwnFd): void {
  if (own.restore === null) return;
  try {
    native.setStatusFlags(own.fd, own.restore);
  } catch (e) {
    log("warn", `restoring the flags of standard I/O fd ${own.fd} failed`, e);
  }
  own.restore = null;
}

/** Is `p` half-close aware (Twisted's IHalfCloseableProtocol)? */
function isHalfCloseable(p: IProtocol): p is IHalfCloseableProtocol {
  return typeof (p as Partial<IHalfCloseableProtocol>).readConnectionLost === "function";
}

/** One half of StandardIO: a FileDescriptor over our own descriptor, that reports to its owner. */
abstract class StdioHalf extends FileDescriptor {
  /** Pending turn of the readiness-free loop, or null. */
  protected turn: IDelayedCall | null = null;

  constructor(
    reactor: IReactorFDSet,
    protected readonly own: OwnFd,
    protected readonly owner: StandardIO,
  ) {
    super(reactor, own.fd);
    this.connected = true;
    if (!own.socket) this.notSocket = true;
  }

  /** Closes now (dropping what is queued). */
  abortConnection(): void {
    this.lose(new ConnectionAborted("Connection was aborted locally using abortConnection."));
  }

  /** Closes with ConnectionDone. */
  protected closeCleanly(): void {
    this.lose(new ConnectionDone());
  }

  /** The write side of a half is the whole half. */
  protected shutdownWrite(): void {
    this.closeCleanly();
  }

  /** Puts the shared flags back before the fd is closed, then closes as any descriptor. */
  override connectionLost(reason: Failure): void {
    if (this.disconnected) return;
    if (this.turn !== null && this.turn.active()) this.turn.cancel();
    this.turn = null;
    restoreFlags(this.own);
    super.connectionLost(reason);
  }

  /** The reason for a callback of the protocol that threw. */
  protected callbackError(what: string, e: unknown): Error {
    return new ConnectionLost(`${what} threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Standard input: bytes to the owner's protocol. */
class StdinReader extends StdioHalf {
  private polling = false;

  /** Bytes (batch or readiness-free read), EOF or -errno, to the owner. */
  readResult(data: Buffer | null, result: number): Error | void {
    if (result > 0) this.owner.stdinData(data!);
    else if (result === 0) this.lose(new ConnectionDone("standard input ended"));
    else this.lose(connectionLostFrom(syscallError(-result, "read")));
  }

  /** Registers for reading, or (a file) starts the readiness-free loop. */
  override startReading(): void {
    if (!this.own.continuous) {
      super.startReading();
      return;
    }
    if (this.polling || this.disconnected) return;
    this.polling = true;
    this.schedule();
  }

  /** Unregisters, or stops the readiness-free loop. */
  override stopReading(): void {
    if (!this.own.continuous) {
      super.stopReading();
      return;
    }
    this.polling = false;
  }

  private schedule(): void {
    if (this.turn === null || !this.turn.active()) this.turn = this.reactor.callLater(0, () => this.readTurn());
  }

  private readTurn(): void {
    this.turn = null;
    if (!this.polling || this.disconnected) return;
    const why = this.doRead();
    if (why instanceof Error) this.lose(new ConnectionLost(why.message, { cause: why }));
    else if (this.polling && !this.disconnected) this.schedule();
  }

  /** Tells the owner (after the fd is closed). */
  protected closed(reason: Failure): void {
    this.owner.stdinClosed(reason);
  }
}

/** Standard output: the owner's writes. */
class StdoutWriter extends StdioHalf {
  /** Never reads. */
  readResult(): void {}

  /** Waits for WRITABLE, or (a file) asks for the next flush on the next turn. */
  protected override startWriting(): void {
    if (!this.own.continuous) {
      super.startWriting();
      return;
    }
    if (this.disconnected || (this.turn !== null && this.turn.active())) return;
    this.turn = this.reactor.callLater(0, () => {
      this.turn = null;
      if (!this.disconnected) this.doWrite();
    });
  }

  /** Unregisters from WRITABLE (a file has nothing to unregister). */
  protected override stopWriting(): void {
    if (!this.own.continuous) super.stopWriting();
  }

  /** Tells the owner (after the fd is closed). */
  protected closed(reason: Failure): void {
    this.owner.stdoutClosed(reason);
  }
}

/**
 * Standard input and output as a transport for `protocol` (Twisted's StandardIO): calls
 * `protocol.makeConnection(this)` at once; reading starts when the reactor runs. Do not use
 * `process.stdin` beside it (both would read fd 0); `process.stdout` and `console.log`
 * keep working (they write fd 1 itself, in their own order).
 */
export class StandardIO {
  /** The protocol driven. */
  readonly protocol: IProtocol;
  /** True once loseConnection/abortConnection was called or the transport is closing. */
  disconnecting = false;
  /** True once connectionLost was called. */
  disconnected = false;
  private readonly reader: StdinReader;
  private readonly writer: StdoutWriter;
  private readOpen = true;
  private writeOpen = true;
  private readonly atExit: () => void;

  /** Opens its own descriptors of `stdin`/`stdout` (see the file comment) and connects `protocol`. */
  constructor(protocol: IProtocol, options: StandardIOOptions = {}) {
    if (protocol === null || typeof protocol !== "object" || typeof protocol.makeConnection !== "function" || typeof protocol.dataReceived !== "function") {
      throw new TypeError("protocol must be a protocol (with makeConnection, dataReceived, connectionLost)");
    }
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    const stdin = checkFd(options.stdin ?? 0, "stdin");
    const stdout = checkFd(options.stdout ?? 1, "stdout");
    const reactor = options.reactor ?? (getDefaultReactor() as unknown as IReactorFDSet);
    if (reactor === null || typeof reactor !== "object" || typeof reactor.addReader !== "function") throw new TypeError("reactor must be a reactor");
    this.protocol = protocol;
    const out = openOwn(stdout, "stdout", true);
    let inp: OwnFd;
    try {
      inp = openOwn(stdin, "stdin", false);
    } catch (e) {
      restoreFlags(out);
      native.close(out.fd);
      throw e;
    }
    this.writer = new StdoutWriter(reactor, out, this);
    this.reader = new StdinReader(reactor, inp, this);
    // A process that exits with the transport open must not leave the shell non-blocking.
    this.atExit = () => {
      restoreFlags(out);
      restoreFlags(inp);
    };
    if (out.restore !== null || inp.restore !== null) process.on("exit", this.atExit);
    this.reader.startReading();
    try {
      protocol.makeConnection(this as unknown as ITransport);
    } catch (e) {
      log("error", `${protocol.constructor.name}.makeConnection threw: closing standard I/O`, e);
      this.writer.abortConnection();
    }
  }

  /** Queues bytes for stdout (a string as UTF-8); ignored once the write side is closed. */
  write(data: Uint8Array | string): void {
    this.writer.write(data);
  }

  /** Queues several buffers in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void {
    this.writer.writeSequence(data);
  }

  /** Bytes queued for stdout and not yet written. */
  bufferedBytes(): number {
    return this.writer.bufferedBytes();
  }

  /** Stops reading, closes stdout once what was written is out, then connectionLost(ConnectionDone). */
  loseConnection(): void {
    if (this.disconnected || this.disconnecting) return;
    this.disconnecting = true;
    this.reader.stopReading();
    if (this.writeOpen) this.writer.loseConnection();
    else this.reader.connectionLost(new Failure(new ConnectionDone()));
  }

  /** Closes stdout once what was written is out; reading goes on (a half-close). */
  loseWriteConnection(): void {
    if (this.writeOpen) this.writer.loseConnection();
  }

  /** Closes both at once, dropping what is queued: connectionLost(ConnectionAborted). */
  abortConnection(): void {
    if (this.disconnected) return;
    this.disconnecting = true;
    if (this.writeOpen) this.writer.abortConnection();
    else this.reader.abortConnection();
  }

  /** Standard I/O has no address (Twisted's PipeAddress). */
  getPeer(): PipeAddress {
    return PIPE;
  }

  /** Standard I/O has no address (Twisted's PipeAddress). */
  getHost(): PipeAddress {
    return PIPE;
  }

  /** Attaches a producer to stdout (IConsumer): paused above the high water mark, as any transport. */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    this.writer.registerProducer(producer, streaming);
  }

  /** Detaches the producer. */
  unregisterProducer(): void {
    this.writer.unregisterProducer();
  }

  /** Stops reading stdin until resumeProducing (IPushProducer). */
  pauseProducing(): void {
    this.reader.stopReading();
  }

  /** Reads stdin again. */
  resumeProducing(): void {
    if (this.readOpen && !this.disconnecting) this.reader.startReading();
  }

  /** Stops for good: loseConnection. */
  stopProducing(): void {
    this.loseConnection();
  }

  /** The reader's bytes: to the protocol (a throw loses the transport, as on any connection). */
  stdinData(data: Buffer): void {
    if (this.disconnecting || this.disconnected) return;
    try {
      this.protocol.dataReceived(data);
    } catch (e) {
      this.protocolThrew("dataReceived", e);
    }
  }

  /** Standard input is closed (its end, an error, or our own close). */
  stdinClosed(reason: Failure): void {
    this.readOpen = false;
    if (this.disconnected) return;
    if (!this.writeOpen) {
      this.finish(reason);
      return;
    }
    if (!reason.check(ConnectionDone)) {
      this.writer.connectionLost(reason);
      return;
    }
    const p = this.protocol;
    if (this.disconnecting || !isHalfCloseable(p)) {
      this.loseConnection();
      return;
    }
    try {
      p.readConnectionLost();
    } catch (e) {
      this.protocolThrew("readConnectionLost", e);
    }
  }

  /** Standard output is closed (by us, or by an error such as EPIPE). */
  stdoutClosed(reason: Failure): void {
    this.writeOpen = false;
    if (this.disconnected) return;
    if (!this.readOpen) {
      this.finish(reason);
      return;
    }
    const p = this.protocol;
    if (!this.disconnecting && reason.check(ConnectionDone) && isHalfCloseable(p)) {
      // loseWriteConnection: reading goes on.
      if (typeof p.writeConnectionLost === "function") {
        try {
          p.writeConnectionLost();
        } catch (e) {
          this.protocolThrew("writeConnectionLost", e);
        }
      }
      return;
    }
    this.reader.connectionLost(reason);
  }

  private finish(reason: Failure): void {
    this.disconnected = true;
    this.disconnecting = true;
    process.removeListener("exit", this.atExit);
    try {
      this.protocol.connectionLost(reason);
    } catch (e) {
      log("error", `${this.protocol.constructor.name}.connectionLost threw`, e);
    }
  }

  private protocolThrew(what: string, e: unknown): void {
    const name = this.protocol.constructor.name;
    log("error", `${name}.${what} threw: closing standard I/O`, e);
    const reason = new Failure(new ConnectionLost(`${name}.${what} threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    this.disconnecting = true;
    if (this.writeOpen) this.writer.connectionLost(reason);
    else this.reader.connectionLost(reason);
  }
}

function checkFd(fd: unknown, name: string): number {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) throw new TypeError(`${name} must be a file descriptor (an integer >= 0), received ${String(fd)}`);
  return fd;
}
