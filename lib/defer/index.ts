/**
 * lib/defer: Deferred, Failure, inlineCallbacks and Twisted's task helpers. No I/O and no
 * dependency on the reactor: time comes in through `IReactorTime` (interfaces.ts).
 */
export * from "./interfaces";
export * from "./errors";
export * from "./failure";
export * from "./clock";
export { DelayedCall } from "./timers";
export * from "./deferred";
export * from "./deferredlist";
export * from "./inlinecallbacks";
export * from "./lock";
export * from "./queue";
export * from "./task";
export * from "./cooperator";
