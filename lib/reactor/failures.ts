/**
 * What the reactor makes of a descriptor that fails: a returned or thrown value becomes
 * the Error it is dropped with, and log lines name it by class and fd.
 */
import { types } from "node:util";
import type { IFileDescriptor } from "./interfaces";

/** Is `e` an Error, from this realm or another (the addon's errors under jest's vm contexts)? */
export function isError(e: unknown): e is Error {
  return e instanceof Error || types.isNativeError(e);
}

/** `e` itself when it is an Error, else an Error that names it. */
export function asError(e: unknown): Error {
  return isError(e) ? e : new Error(`non-Error thrown: ${String(e)}`);
}

/** "Class(fd N)" for log lines; a fileno() that throws is reported as -1. */
export function describe(d: IFileDescriptor): string {
  let fd = -1;
  try {
    fd = d.fileno();
  } catch {
    /* a broken fileno is reported as -1 */
  }
  return `${d?.constructor?.name ?? "descriptor"}(fd ${fd})`;
}
