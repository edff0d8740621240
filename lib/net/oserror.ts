/**
 * From errno numbers (what the batch calls report as -errno) to the typed errors of
 * lib/error.ts, each carrying a Node-shaped cause (`code`, `errno`, `syscall`).
 */
import { ConnectError, ConnectionLost, ConnectionRefusedError, TCPTimedOutError } from "../error";
import { isSyscallError, native, type SyscallError } from "../native";

let names: Map<number, string> | null = null;

/** The errno name ("ECONNRESET") of number `errno`, or "E<number>" when unknown. */
export function errnoName(errno: number): string {
  if (names === null) {
    names = new Map();
    for (const [name, n] of Object.entries(native.errno)) if (!names.has(n)) names.set(n, name);
  }
  return names.get(errno) ?? `E${errno}`;
}

/** A Node-shaped system error for `errno` failing in `syscall` (the cause our typed errors carry). */
export function syscallError(errno: number, syscall: string): SyscallError {
  const code = errnoName(errno);
  const e = new Error(`${syscall} ${code}`) as SyscallError;
  e.code = code;
  e.errno = errno;
  e.syscall = syscall;
  return e;
}

/** The ConnectionLost for a read/write failure with `cause` (a SyscallError). */
export function connectionLostFrom(cause: SyscallError): ConnectionLost {
  return new ConnectionLost(`Connection to the other side was lost in a non-clean fashion: ${cause.syscall} ${cause.code}.`, { cause });
}

/** The typed error of a failed connect (Twisted's error.getConnectError). */
export function connectErrorFrom(cause: SyscallError, destination: string): Error {
  switch (cause.code) {
    case "ECONNREFUSED":
    case "ENOENT": // a Unix socket path with nothing behind it
      return new ConnectionRefusedError(`Connection was refused by other side: ${destination}: ${cause.code}.`, { cause });
    case "ETIMEDOUT":
      return new TCPTimedOutError(`TCP connection timed out: ${destination}: ${cause.code}.`, { cause });
    default:
      return new ConnectError(`An error occurred while connecting: ${destination}: ${cause.code}.`, { cause });
  }
}

/** Is `e` a failed syscall (optionally with this `code`)? lib/native's isSyscallError (checks the shape, so it works across realms). */
export const isOSError = isSyscallError;
