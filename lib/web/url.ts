/**
 * URLs the client can request: parsed with the WHATWG URL parser (Node's own), restricted
 * to http: and https:, with errors that name the URL.
 */
import { InvalidURLError, SchemeNotSupported } from "./errors";

/** The parts of a URL the client needs (Twisted's client.URI). */
export interface ParsedURL {
  /** The URL, normalised. */
  readonly href: string;
  /** "http" or "https". */
  readonly scheme: "http" | "https";
  /** Host name or address literal (IPv6 without brackets). */
  readonly host: string;
  /** Port (80 by default, 443 for https). */
  readonly port: number;
  /** Path and query: the request-target ("/a?b=1"). */
  readonly path: string;
  /** The Host header value ("example.com", "example.com:8080", "[::1]:8080"). */
  readonly hostHeader: string;
}

/** Parses `url` (resolved against `base` when given); InvalidURLError / SchemeNotSupported naming it. */
export function parseURL(url: string, base?: string): ParsedURL {
  if (typeof url !== "string") throw new TypeError(`url must be a string, received ${typeof url}`);
  let u: URL;
  try {
    u = base === undefined ? new URL(url) : new URL(url, base);
  } catch (e) {
    throw new InvalidURLError(url, "not an absolute URL", { cause: e });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new SchemeNotSupported(url, `scheme ${u.protocol.replace(/:$/, "")} is not supported (only http and https)`);
  }
  const scheme = u.protocol === "https:" ? "https" : "http";
  if (u.hostname === "") throw new InvalidURLError(url, "no host");
  if (u.username !== "" || u.password !== "") throw new InvalidURLError(url, "credentials in URLs are not supported");
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  // WHATWG leaves u.port empty when it is the scheme's default.
  const port = u.port === "" ? (scheme === "https" ? 443 : 80) : Number(u.port);
  return {
    href: u.href,
    scheme,
    host,
    port,
    path: (u.pathname === "" ? "/" : u.pathname) + u.search,
    hostHeader: u.port === "" ? u.hostname : `${u.hostname}:${u.port}`,
  };
}
