/**
 * The hosts file (/etc/hosts) as a lookup table: the one parser both name paths use —
 * lib/net's resolver of last resort (connectors before a DNS resolver is installed) and
 * lib/names' Resolver — so a name resolves the same with and without the resolver.
 *
 * Rules: `#` starts a comment; the first field must be an IP literal, and one with a zone
 * index (`fe80::1%eth0`) is skipped, since a connect here carries no scope; names match
 * case-insensitively and a trailing dot is ignored (`host.` is `host`); an address listed
 * twice for a name counts once. Answers keep file order.
 *
 * Caching (one policy for both paths): the table is parsed once and parsed again only when
 * the file's mtime or size changes, and the file is stat'ed at most once per
 * `checkInterval` seconds of its clock (every lookup when it has no clock). Reading it is
 * a small local file read, done synchronously as glibc and Twisted do.
 */
import * as fs from "node:fs";
import { isIP } from "node:net";

/** Where a file watcher reads the time, to stat the file at most once per interval. */
export interface FileCheckClock {
  /** Now, in seconds. */
  seconds(): number;
}

/** Addresses per lower-cased name, in file order; plus the stat that produced them. */
interface HostsTable {
  mtimeMs: number;
  size: number;
  byName: Map<string, string[]>;
}

/** Parses hosts-file text into a table: name (lower case) → addresses in file order. */
export function parseHosts(text: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const hash = raw.indexOf("#");
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === "") continue;
    const fields = line.split(/\s+/);
    let address = fields[0];
    // A zone index ("fe80::1%eth0") is kept out: connect() takes no scope here.
    if (address.includes("%")) continue;
    if (isIP(address) === 0) continue;
    address = address.toLowerCase();
    for (let i = 1; i < fields.length; i++) {
      const name = fields[i].toLowerCase().replace(/\.$/, "");
      if (name === "") continue;
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [address]);
      else if (!list.includes(address)) list.push(address);
    }
  }
  return byName;
}

/** A hosts file, re-read when it changes on disk (Twisted's names.hosts.Resolver). */
export class HostsFile {
  /** The file read. */
  readonly path: string;
  private table: HostsTable | null = null;
  private readonly clock: FileCheckClock | null;
  private readonly checkInterval: number;
  private checkedAt = -Infinity;

  /**
   * The hosts file at `path` (default /etc/hosts), stat'ed at most once per
   * `checkInterval` seconds of `clock` (every lookup without a clock). Nothing is read
   * until the first lookup.
   */
  constructor(path = "/etc/hosts", clock: FileCheckClock | null = null, checkInterval = 1) {
    if (typeof path !== "string" || path === "") throw new TypeError("path must be a non-empty file path");
    if (typeof checkInterval !== "number" || !(checkInterval >= 0)) throw new RangeError(`checkInterval must be a number of seconds >= 0, received ${checkInterval}`);
    this.path = path;
    this.clock = clock;
    this.checkInterval = checkInterval;
  }

  /** Every address for `name` (case-insensitive, trailing dot ignored), in file order; [] when none or no file. */
  lookup(name: string): string[] {
    const table = this.current();
    const key = name.toLowerCase();
    return table.get(key.endsWith(".") ? key.slice(0, -1) : key) ?? [];
  }

  /** The IPv4 addresses for `name`. */
  lookupIPv4(name: string): string[] {
    const all = this.lookup(name);
    return all.length === 0 ? all : all.filter((a) => isIP(a) === 4);
  }

  /** The IPv6 addresses for `name`. */
  lookupIPv6(name: string): string[] {
    const all = this.lookup(name);
    return all.length === 0 ? all : all.filter((a) => isIP(a) === 6);
  }

  /** The table for the file as it is now: parsed again when mtime or size changed, empty without a file. */
  private current(): Map<string, string[]> {
    if (this.clock !== null) {
      const now = this.clock.seconds();
      if (now - this.checkedAt < this.checkInterval) return this.table?.byName ?? EMPTY;
      this.checkedAt = now;
    }
    // throwIfNoEntry: a missing file is a common case, not worth an exception per check.
    const st = fs.statSync(this.path, { throwIfNoEntry: false });
    if (st === undefined) {
      this.table = null;
      return EMPTY;
    }
    const t = this.table;
    if (t !== null && t.mtimeMs === st.mtimeMs && t.size === st.size) return t.byName;
    let text: string;
    try {
      text = fs.readFileSync(this.path, "latin1");
    } catch {
      this.table = null;
      return EMPTY;
    }
    this.table = { mtimeMs: st.mtimeMs, size: st.size, byName: parseHosts(text) };
    return this.table.byName;
  }
}

const EMPTY: Map<string, string[]> = new Map();
