/**
 * lib/names: a non-blocking DNS stub resolver on the reactor (hosts file, resolv.conf,
 * UDP with TCP fallback, CNAME chains, a TTL cache) and the hook that makes connectTCP use it.
 */
export * from "./errors";
export { HostsFile, parseHosts, type FileCheckClock } from "../net/hosts";
export * from "./resolvconf";
export * from "./cache";
export * from "./query";
export { CHANNELS_PER_SERVER, IDLE, MAX_AGE, MAX_QUERIES } from "./channels";
export * from "./resolver";
export * from "./install";
