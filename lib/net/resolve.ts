/**
 * The resolver used when the reactor has none of its own (before the DNS layer installs
 * `reactor.resolve`): address literals as they are, and names from the hosts file
 * (/etc/hosts, parsed by ./hosts as lib/names' Resolver parses it), IPv4 first as
 * Twisted's gethostbyname-based resolver does. `localhost` resolves to 127.0.0.1 even
 * without a hosts file. Anything else fails with DNSLookupError.
 */
import { performance } from "node:perf_hooks";
import { DNSLookupError } from "../error";
import { literalFamily } from "./address";
import type { IReactorFDSet } from "./fdset";
import { HostsFile, type FileCheckClock } from "./hosts";

/** Where the hosts-file resolver reads (tests may point it elsewhere). */
export let hostsPath = "/etc/hosts";

/** Changes the hosts file the default resolver reads; returns the previous path. */
export function setHostsPath(path: string): string {
  const previous = hostsPath;
  hostsPath = path;
  return previous;
}

/**
 * The clock of the default resolver's hosts file: monotonic seconds, so that the file is
 * stat'ed at most once a second however many connects ask (the Resolver's default policy).
 */
const monotonic: FileCheckClock = { seconds: () => performance.now() / 1000 };
let hostsFile: HostsFile | null = null;

/** The HostsFile for `path`, kept while the path stays the same. */
function hostsFileAt(path: string): HostsFile {
  if (hostsFile === null || hostsFile.path !== path) hostsFile = new HostsFile(path, monotonic, 1);
  return hostsFile;
}

/** Every address the hosts file gives for `name` (case-insensitive, trailing dot ignored), in file order. */
export function hostsFileAddresses(name: string, path: string = hostsPath): string[] {
  return hostsFileAt(path).lookup(name);
}

/**
 * Resolves `name` without the network: a literal is itself; otherwise the first IPv4
 * address of the hosts file, else its first IPv6 one; "localhost" falls back to
 * 127.0.0.1. Throws DNSLookupError for anything else.
 */
export function resolveFromHosts(name: string): string {
  if (typeof name !== "string" || name === "") throw new TypeError("name must be a non-empty host name");
  if (literalFamily(name) !== null) return name;
  const ordered = hostsFileOrdered(name);
  if (ordered.length > 0) return ordered[0];
  if (name.toLowerCase() === "localhost") return "127.0.0.1";
  throw new DNSLookupError(`DNS lookup failed: address '${name}' not found: no DNS resolver installed, and not in ${hostsPath}.`);
}

/** The hosts file's addresses for `name`, IPv4 ones first, each group in file order. */
function hostsFileOrdered(name: string): string[] {
  return ipv4First(hostsFileAddresses(name));
}

/** A new array of `addresses` with the IPv4 ones first, each group in its given order. */
export function ipv4First(addresses: readonly string[]): string[] {
  const v4 = addresses.filter((a) => literalFamily(a) === "IPv4");
  return v4.length === addresses.length ? v4 : v4.concat(addresses.filter((a) => literalFamily(a) !== "IPv4"));
}

/**
 * The address for `host`: a literal at once (a string), else through `reactor.resolve`
 * when the reactor has one, else from the hosts file (throws DNSLookupError on failure).
 */
export function resolveHost(reactor: IReactorFDSet, host: string): string | PromiseLike<string> {
  if (literalFamily(host) !== null) return host;
  if (typeof reactor.resolve === "function") return reactor.resolve(host);
  return resolveFromHosts(host);
}

/**
 * Every address to try for `host`, in order: a literal alone (an array, at once); else
 * through `reactor.resolveAll`, or `reactor.resolve` (one address), when the reactor has
 * them; else the hosts file's addresses, IPv4 first (throws DNSLookupError on failure).
 */
export function resolveHostAll(reactor: IReactorFDSet, host: string): string[] | PromiseLike<string[]> {
  if (literalFamily(host) !== null) return [host];
  if (typeof reactor.resolveAll === "function") return reactor.resolveAll(host);
  if (typeof reactor.resolve === "function") return reactor.resolve(host).then((a) => [a]);
  const ordered = hostsFileOrdered(host);
  return ordered.length > 0 ? ordered : [resolveFromHosts(host)];
}
