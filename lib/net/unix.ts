/**
 * Unix stream sockets (Twisted's IReactorUNIX): `listenUNIX` and `connectUNIX`.
 *
 * A name starting with "\0" lives in Linux's abstract namespace (no file, gone with the
 * socket). A filesystem path that already exists is handled as a stale socket when it is a
 * socket nobody listens on (a connect is refused): it is removed and the port binds; a
 * socket somebody does listen on, or any other kind of file, is left alone and listening
 * fails with CannotListenError (EADDRINUSE). The port removes its own socket file when it
 * stops listening.
 */
import * as fs from "node:fs";
import { native } from "../native";
import { unixAddress } from "./address";
import { Connector, DEFAULT_CONNECT_TIMEOUT } from "./connector";
import type { IReactorFDSet } from "./fdset";
import type { Address, IClientFactory, IProtocolFactory } from "./interfaces";
import { Port } from "./port";
import { isOSError, syscallError } from "./oserror";
import { DEFAULT_BACKLOG } from "./tcp";

/** Options of listenUNIX. */
export interface ListenUNIXOptions {
  /** listen(2) backlog (default 511). */
  backlog?: number;
  /** File mode of the socket file (e.g. 0o660); default: as created under the umask. */
  mode?: number;
}

/** Options of connectUNIX. */
export interface ConnectUNIXOptions {
  /** Seconds before the attempt fails with TCPTimedOutError (default 30; 0 = never). */
  timeout?: number;
}

/** Is `name` in Linux's abstract namespace? */
export function isAbstractName(name: string): boolean {
  return name.length > 0 && name.charCodeAt(0) === 0;
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "") throw new TypeError(`${what} must be a non-empty socket path or "\\0"-prefixed abstract name`);
  return name;
}

/**
 * Removes `path` when it is a socket file nobody listens on; throws EADDRINUSE when
 * something listens there or when it is not a socket.
 */
export function clearStaleSocket(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw Object.assign(syscallError(native.errno.EADDRINUSE, "bind"), { message: `bind EADDRINUSE: ${path} exists and is not a socket` });
  const probe = native.socket("unix", "tcp");
  let live: boolean;
  try {
    native.connectUnix(probe, path);
    live = true;
  } catch (e) {
    // EAGAIN: a full backlog, so somebody is listening. Refused: a leftover file.
    live = !(isOSError(e, "ECONNREFUSED") || isOSError(e, "ENOENT"));
  } finally {
    native.close(probe);
  }
  if (live) throw Object.assign(syscallError(native.errno.EADDRINUSE, "bind"), { message: `bind EADDRINUSE: a server is listening on ${path}` });
  fs.unlinkSync(path);
}

/** A listening Unix socket (Twisted's unix.Port). */
export class UNIXPort extends Port {
  /** The path or abstract name. */
  readonly path: string;
  /** The file mode applied to the socket file, or null. */
  readonly mode: number | null;
  private ownsFile = false;

  /** Checks the arguments; startListening binds. */
  constructor(reactor: IReactorFDSet, path: string, factory: IProtocolFactory, options: ListenUNIXOptions = {}) {
    super(reactor, factory, options.backlog ?? DEFAULT_BACKLOG);
    this.path = checkName(path, "path");
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw new RangeError(`mode must be a file mode between 0 and 0o7777, received ${options.mode}`);
    }
    this.mode = options.mode ?? null;
  }

  /** Clears a stale socket file, then makes and binds the socket (and applies `mode`). */
  protected bindSocket(): number {
    const abstract = isAbstractName(this.path);
    if (!abstract) clearStaleSocket(this.path);
    const fd = native.socket("unix", "tcp");
    try {
      native.bindUnix(fd, this.path);
      if (!abstract) {
        this.ownsFile = true;
        if (this.mode !== null) fs.chmodSync(this.path, this.mode);
      }
    } catch (e) {
      native.close(fd);
      this.removeFile();
      throw e;
    }
    return fd;
  }

  /** "Unix socket <path>". */
  protected describe(): string {
    return `Unix socket ${JSON.stringify(this.path)}`;
  }

  /** Unix socket addresses become UNIX Addresses. */
  protected readonly addressOf = unixAddress;

  /** The path or abstract name listened on. */
  getHost(): Address {
    return { type: "UNIX", name: this.path };
  }

  /** Removes the socket file this port made. */
  protected override afterClose(): void {
    this.removeFile();
  }

  private removeFile(): void {
    if (!this.ownsFile) return;
    this.ownsFile = false;
    try {
      fs.unlinkSync(this.path);
    } catch {
      /* already gone: nothing to clean */
    }
  }
}

/** Connects a client factory to a Unix socket (Twisted's unix.Connector). */
export class UNIXConnector extends Connector {
  /** The path or abstract name connected to. */
  readonly path: string;
  /** Unix socket addresses become UNIX Addresses. */
  readonly addressOf = unixAddress;

  /** Checks the arguments; connect() starts an attempt. */
  constructor(reactor: IReactorFDSet, path: string, factory: IClientFactory, options: ConnectUNIXOptions = {}) {
    super(reactor, factory, options.timeout ?? DEFAULT_CONNECT_TIMEOUT);
    this.path = checkName(path, "path");
  }

  /** The path or abstract name. */
  getDestination(): Address {
    return { type: "UNIX", name: this.path };
  }

  /** The path, for messages. */
  describe(): string {
    return JSON.stringify(this.path);
  }

  /** A path needs no resolving. */
  resolveDestination(): string[] {
    return [this.path];
  }

  /** An AF_UNIX stream socket. */
  openSocket(): number {
    return native.socket("unix", "tcp");
  }

  /** Starts the connect (a Unix connect usually completes at once). */
  startConnect(fd: number, target: string): boolean {
    return native.connectUnix(fd, target);
  }
}

/** Listens on a Unix socket path or abstract name; throws CannotListenError. */
export function listenUNIX(reactor: IReactorFDSet, path: string, factory: IProtocolFactory, options?: ListenUNIXOptions): UNIXPort {
  const p = new UNIXPort(reactor, path, factory, options);
  p.startListening();
  return p;
}

/** Connects to a Unix socket path or abstract name; returns the connector (already connecting). */
export function connectUNIX(reactor: IReactorFDSet, path: string, factory: IClientFactory, options?: ConnectUNIXOptions): UNIXConnector {
  const c = new UNIXConnector(reactor, path, factory, options);
  c.connect();
  return c;
}
