/**
 * lib/net: TCP and Unix stream transports, listening ports and connectors, UDP ports.
 * Importing lib/net (this file imports ./install) adds listenTCP, connectTCP, listenUNIX,
 * connectUNIX, listenSSL, connectSSL, listenUDP, listenMulticast and the adopt* methods to Reactor.
 */
export * from "./interfaces";
export * from "./fdset";
export * from "./address";
export * from "./abstract";
export * from "./connection";
export * from "./port";
export * from "./connector";
export * from "./tcp";
export * from "./unix";
export * from "./hosts";
export * from "./resolve";
export * from "./udp";
export * from "./adopt";
export * from "./stdio";
export * from "./unix-datagram";
export * from "./tls-options";
export * from "./process";
export { useChildExitWatch, childExitWatchKind, type ChildExitWatchKind } from "./child-exit";
export * from "./tls";
export { DEFAULT_HANDSHAKE_TIMEOUT } from "./tls-layer";
export type { TLSStart } from "./tls-layer";
export { errnoName } from "./oserror";
import "./install";
