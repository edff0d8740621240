/**
 * lib/protocols: Twisted's protocol API (Protocol, Factory, ClientFactory, connecting
 * helpers, reconnection, framing protocols, datagram protocols) on top of lib/net.
 */
export * from "./protocol";
export * from "./client";
export * from "./reconnect";
export * from "./basic";
export * from "./datagram";
export * from "./process";
