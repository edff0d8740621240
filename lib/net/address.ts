/**
 * Addresses as protocols see them (Twisted's IPv4Address / IPv6Address / UNIXAddress),
 * made from the native layer's socket addresses.
 */
import { isIP } from "node:net";
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

/** "host:port" with IPv6 hosts bracketed, for messages. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
