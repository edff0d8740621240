/**
 * /etc/resolv.conf as a ResolverConfig (resolv.conf(5)): `nameserver` (at most 3, as
 * glibc), `search` / `domain` (the last one wins), and `options ndots:n timeout:n
 * attempts:n rotate`, with glibc's defaults and caps. A nameserver may also be written
 * `[address]:port` (an extension for tests and local servers; glibc knows port 53 only).
 * The file is parsed again when its mtime changes, so an edited resolv.conf takes effect
 * (stat'ed at most once per `checkInterval` seconds when given a clock).
 */
import * as fs from "node:fs";
import { isIP } from "node:net";
import type { FileCheckClock } from "../net/hosts";

/** A DNS server to ask: an IP literal and a port. */
export interface NameServer {
  host: string;
  port: number;
}

/** How the resolver asks (resolv.conf's settings). */
export interface ResolverConfig {
  /** Servers in the order to ask them. */
  nameservers: NameServer[];
  /** Domains appended to names with fewer than `ndots` dots (and tried after the name itself otherwise). */
  search: string[];
  /** Dots a name needs to be tried as-is first (default 1, at most 15). */
  ndots: number;
  /** Seconds to wait for one server's answer to one query (default 5, at most 30). */
  timeout: number;
  /** Rounds over all servers before giving up (default 2, at most 5). */
  attempts: number;
  /** Start each query at the next server in turn (round robin) instead of the first. */
  rotate: boolean;
}

/** glibc's MAXNS: later nameserver lines are ignored. */
export const MAX_NAMESERVERS = 3;

/** The settings without a resolv.conf: the local server on port 53, glibc's defaults. */
export function defaultConfig(): ResolverConfig {
  return { nameservers: [{ host: "127.0.0.1", port: 53 }], search: [], ndots: 1, timeout: 5, attempts: 2, rotate: false };
}

/** Parses resolv.conf text; lines it does not understand are ignored (as the C library does). */
export function parseResolvConf(text: string): ResolverConfig {
  const config = defaultConfig();
  const servers: NameServer[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*/, "").trim();
    if (line === "") continue;
    const [keyword, ...args] = line.split(/\s+/);
    switch (keyword) {
      case "nameserver": {
        const ns = args.length > 0 ? parseNameServer(args[0]) : null;
        if (ns !== null && servers.length < MAX_NAMESERVERS) servers.push(ns);
        break;
      }
      case "domain":
        if (args.length > 0) config.search = [searchDomain(args[0])];
        break;
      case "search":
        config.search = args.map(searchDomain).filter((d) => d !== "");
        break;
      case "options":
        for (const opt of args) applyOption(config, opt);
        break;
      default:
        break;
    }
  }
  if (servers.length > 0) config.nameservers = servers;
  return config;
}

/** "127.0.0.1", "::1" or "[::1]:5353" as a NameServer; null when it is not an address. */
export function parseNameServer(text: string): NameServer | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const host = m !== null ? m[1] : text;
  const port = m !== null ? Number(m[2]) : 53;
  if (isIP(host) === 0 || port < 1 || port > 65535) return null;
  return { host, port };
}

function applyOption(config: ResolverConfig, opt: string): void {
  if (opt === "rotate") {
    config.rotate = true;
    return;
  }
  const m = /^(ndots|timeout|attempts):(\d+)$/.exec(opt);
  if (m === null) return;
  const n = Number(m[2]);
  if (m[1] === "ndots") config.ndots = Math.min(n, 15);
  else if (m[1] === "timeout") config.timeout = Math.min(Math.max(n, 1), 30);
  else config.attempts = Math.min(Math.max(n, 1), 5);
}

/** A search domain as names are built from it: without its trailing dot, in lower case ("" for the root). */
export function searchDomain(d: string): string {
  return d.replace(/\.$/, "").toLowerCase();
}

/** Checks an injected configuration; throws TypeError/RangeError naming the bad field. */
export function checkConfig(c: ResolverConfig): ResolverConfig {
  if (!Array.isArray(c.nameservers) || c.nameservers.length === 0) throw new TypeError("config.nameservers must be a non-empty array of { host, port }");
  for (const ns of c.nameservers) {
    if (ns === null || typeof ns !== "object" || typeof ns.host !== "string" || isIP(ns.host) === 0) {
      throw new TypeError(`config.nameservers entries must have an IP literal host, received ${JSON.stringify(ns)}`);
    }
    if (!Number.isInteger(ns.port) || ns.port < 1 || ns.port > 65535) throw new RangeError(`config.nameservers port must be 1..65535, received ${ns.port}`);
  }
  if (!Array.isArray(c.search) || c.search.some((d) => typeof d !== "string")) throw new TypeError("config.search must be an array of domain names");
  if (!Number.isInteger(c.ndots) || c.ndots < 0) throw new RangeError(`config.ndots must be an integer >= 0, received ${c.ndots}`);
  if (typeof c.timeout !== "number" || !(c.timeout > 0)) throw new RangeError(`config.timeout must be a number of seconds > 0, received ${c.timeout}`);
  if (!Number.isInteger(c.attempts) || c.attempts < 1) throw new RangeError(`config.attempts must be an integer >= 1, received ${c.attempts}`);
  if (typeof c.rotate !== "boolean") throw new TypeError("config.rotate must be a boolean");
  return c;
}

/** resolv.conf at a path, parsed again when its mtime changes; defaults when it is missing. */
export class ResolvConfFile {
  /** The file read. */
  readonly path: string;
  private mtimeMs = -1;
  private config: ResolverConfig = defaultConfig();
  private readonly clock: FileCheckClock | null;
  private readonly checkInterval: number;
  private checkedAt = -Infinity;

  /** The file at `path` (default /etc/resolv.conf), stat'ed at most once per `checkInterval` seconds of `clock` (always without one). */
  constructor(path = "/etc/resolv.conf", clock: FileCheckClock | null = null, checkInterval = 1) {
    if (typeof path !== "string" || path === "") throw new TypeError("path must be a non-empty file path");
    if (typeof checkInterval !== "number" || !(checkInterval >= 0)) throw new RangeError(`checkInterval must be a number of seconds >= 0, received ${checkInterval}`);
    this.path = path;
    this.clock = clock;
    this.checkInterval = checkInterval;
  }

  /** The settings as the file says now (`now`: the clock's time, when the caller has just read it). */
  current(now?: number): ResolverConfig {
    if (this.clock !== null) {
      if (now === undefined) now = this.clock.seconds();
      if (now - this.checkedAt < this.checkInterval) return this.config;
      this.checkedAt = now;
    }
    const st = fs.statSync(this.path, { throwIfNoEntry: false });
    if (st === undefined) {
      if (this.mtimeMs !== -1) this.config = defaultConfig();
      this.mtimeMs = -1;
      return this.config;
    }
    if (st.mtimeMs !== this.mtimeMs) {
      try {
        this.config = parseResolvConf(fs.readFileSync(this.path, "latin1"));
      } catch {
        this.config = defaultConfig();
      }
      this.mtimeMs = st.mtimeMs;
    }
    return this.config;
  }
}
