/**
 * fdreactor: Twisted's reactor for Node.js on the kernel's own event loop.
 * One import for everything: the reactor, Deferreds, transports, protocols and the web layer.
 */
export * from "./error";
export * from "./log";
export { native, isSyscallError, READABLE, WRITABLE, ERROR, HANGUP, EDGE, ONESHOT, EVENT_STRIDE, AGAIN } from "./native";
export type { Backend, SockAddr, SockOpt, Poller, FdWatcher, NativeAddon, SyscallError } from "./native";
export * from "./defer";
export * from "./reactor";
// Both lib/defer (Clock's calls) and lib/reactor define a DelayedCall; the reactor's is the
// one users get from callLater.
export { DelayedCall } from "./reactor";
export * from "./net";
export * from "./protocols";
export * from "./web";
