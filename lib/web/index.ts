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
export * from "./client";
export * from "./getpage";
