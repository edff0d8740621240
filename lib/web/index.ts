/**
 * lib/web: HTTP/1.1 server (Site, Resource, Request), client (Agent, HTTPConnectionPool,
 * readBody, getPage) and the incremental parser they share.
 */
export * from "./errors";
export * from "./headers";
export * from "./http";
export * from "./parser";
export * from "./url";
export * from "./resource";
export * from "./request";
export * from "./server";
export { BytesBodyProducer, HTTP11ClientProtocol, Response, type IBodyProducer, type IBodyProtocol } from "./client-protocol";
export * from "./pool";
export * from "./agent";
export * from "./getpage";
export * from "./tls-policy";
export { File, type FileOptions } from "./static";
