/**
 * lib/protocols: Twisted's protocol API (Protocol, Factory, ClientFactory, ...) on top of
 * the transports of lib/net.
 */
export * from "./protocol";
export * from "./client";
