/**
 * fdreactor: Twisted's reactor for Node.js on the kernel's own event loop.
 * One import for everything: the reactor, Deferreds, transports, protocols and the web layer.
 */
export * from "./error";
export * from "./log";
export { native, isSyscallError, kernelRefusal, READABLE, WRITABLE, ERROR, HANGUP, EDGE, ONESHOT, ACCEPT, RECV, EVENT_STRIDE, AGAIN } from "./native";
export { TLS_HANDSHAKE_DONE, TLS_WANT_WRITE, TLS_PEER_CLOSED, TLS_EOF, TLS_BUFFERED, TLS_ERROR } from "./native";
export type { Backend, SockAddr, SockOpt, Poller, FdWatcher, NativeAddon, SyscallError } from "./native";
export type { TlsContext, TlsContextOptions, TlsSession, TlsErrorInfo, PeerCertificate } from "./native";
export * from "./defer";
export * from "./reactor";
export * from "./net";
export * from "./protocols";
export * from "./web";
// lib/names as a namespace (its Resolver class would clash with lib/net's Resolver type),
// plus the one call most programs need.
export * as names from "./names";
export { installResolver } from "./names";
