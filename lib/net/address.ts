/**
 * Addresses as protocols see them (Twisted's IPv4Address / IPv6Address / UNIXAddress),
 * made from the native layer's socket addresses.
 */
import { isIP } from "node:net";
import { badPort } from "../error";
import type { SockAddr } from "../native";
import type { Address } from "./interfaces";

/** The Address of a TCP socket address (`type` "TCP"), or a UNIX address. */
export function tcpAddress(a: SockAddr): Address {
  if (a.family === "unix") return { type: "UNIX", name: a.path };
  // The family as a literal: the addon's string is a new one per socket (24 bytes each).
  return { type: "TCP", host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
}

/** The Address of a Unix socket address (an unnamed socket has name ""). */
export function unixAddress(a: SockAddr): Address {
  return { type: "UNIX", name: a.family === "unix" ? a.path : "" };
}

/** "IPv4" or "IPv6" for an address literal, or null when `host` is not one. */
export function literalFamily(host: string): "IPv4" | "IPv6" | null {
  const v = isIP(host);
  return v === 4 ? "IPv4" : v === 6 ? "IPv6" : null;
}

/** `port` checked as a port number 0..65535; otherwise a RangeError ERR_SOCKET_BAD_PORT naming `name` (as Node's net). */
export function checkPort(port: unknown, name: string): number {
  if (typeof port !== "number" || !Number.isInteger(port)) throw badPort(`${name} must be an integer, received ${String(port)}`);
  if (port < 0 || port > 65535) throw badPort(`${name} must be between 0 and 65535, received ${port}`);
  return port;
}

/** The `interface` option of a listening port ("" or absent = "0.0.0.0") and its family; TypeError otherwise. */
export function checkInterface(iface: unknown): { address: string; family: "IPv4" | "IPv6" } {
  const given = iface ?? "";
  if (typeof given !== "string") throw new TypeError("interface must be an address literal string");
  const address = given === "" ? "0.0.0.0" : given;
  const family = literalFamily(address);
  if (family === null) throw new TypeError(`interface must be an IPv4 or IPv6 address literal, received "${given}"`);
  return { address, family };
}

/** "host:port" with IPv6 hosts bracketed, for messages. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
