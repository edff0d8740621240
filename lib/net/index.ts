/**
 * lib/net: TCP and Unix stream transports, listening ports and connectors (UDP in udp.ts).
 * Importing lib/net/install adds listenTCP/connectTCP/listenUNIX/connectUNIX to Reactor.
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
export * from "./resolve";
export { errnoName } from "./oserror";
