/**
 * The open-file cache of static.File (nginx's open_file_cache idea): the fds of recently
 * served regular files, keyed by the path they were opened at, so a hit costs one stat(2)
 * (native.fileIdentity into one reused array, no fs.Stats) instead of open + the
 * containment check + fstat + close.
 *
 * A hit is revalidated on every use: stat(path) must name the same file (device and inode)
 * unchanged (size, mtime and ctime). A file replaced or renamed over, deleted, modified,
 * chmod-ed or renamed out of the tree (a rename changes ctime), or a path that now resolves
 * through a different symlink, misses, and the entry is closed; the caller then opens the
 * path afresh with every check. stat walks the path with the same permissions open does.
 *
 * Bounded: at most `max` entries, least recently used first out; entries unused for
 * `inactiveMs` are closed at the next lookup. An fd still being sent when its entry leaves
 * is closed once its last send ends (`OpenFile.refs`).
 */
import * as fs from "node:fs";
import { native } from "../native";
import { SharedHead } from "./request";

/** An open regular file, cached or not, shared by the sends that use it. */
export class OpenFile {
  /** Sends of this file not finished yet. */
  refs = 0;
  /** True while the cache holds it (its fd then outlives the sends). */
  cached = false;
  /** Date.now() of its last use from the cache. */
  lastUsed = 0;
  /** The response headers that follow from the file alone, made at its first use (static.ts). */
  headers: FileHeaders | null = null;
  /** The head of its responses, rendered once a second while they stay alike (Request.writeSharedHead). */
  readonly sharedHead = new SharedHead();
  /** fstat of the fd as native.fileIdentity gives it, taken when the cache keeps the file. */
  identity: Float64Array | null = null;

  /** Wraps open `fd`, opened at `path`, whose fstat is `stat`. */
  constructor(
    readonly fd: number,
    public stat: fs.Stats,
    readonly path: string,
  ) {}

  /** Ends one use: the fd is closed once no send and no cache holds it. */
  release(): void {
    if (--this.refs <= 0 && !this.cached) fs.closeSync(this.fd);
  }
}

/** What a File answers for one version of a file, whatever the request: made once per OpenFile. */
export interface FileHeaders {
  etag: string;
  lastModified: string;
  /** The modification time, whole seconds, in ms (what If-Modified-Since compares). */
  modifiedMs: number;
  contentType: string;
  /** The size as the Content-Length of the whole file. */
  sizeText: string;
  /** A 200's header fields for the whole file, [name, value, ...], checked and frozen (Request.adoptHeaders). */
  whole: readonly string[];
}

/** The file type bits of a mode, and a regular file's. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** native.fileIdentity's fields: device, inode, size, mode, mtime s and ns, ctime s and ns. */
const IDENTITY_FIELDS = 8;
const MODE = 3;

/** True when `now` (a stat of the path) still names the regular file `then` describes, unchanged (every field equal). */
function same(now: Float64Array, then: Float64Array): boolean {
  for (let i = 0; i < IDENTITY_FIELDS; i++) if (now[i] !== then[i]) return false;
  return (now[MODE] & S_IFMT) === S_IFREG;
}

/** Recently served files by path (see the file comment). */
export class OpenFileCache {
  private readonly entries = new Map<string, OpenFile>();
  /** Where each lookup's stat lands (one array for every lookup: no fs.Stats per request). */
  private readonly scratch = new Float64Array(IDENTITY_FIELDS);
  /** The entry last in the Map's order (the most recently used), when known; null otherwise. */
  private newest: OpenFile | null = null;
  /** No entry can have expired before this Date.now() (Infinity when the cache is empty). */
  private expireAt = Infinity;

  /** At most `max` files (0: nothing is cached), each closed after `inactiveMs` unused. */
  constructor(
    readonly max: number,
    readonly inactiveMs: number,
  ) {}

  /** Files cached now. */
  get size(): number {
    return this.entries.size;
  }

  /** The cached file at `p` when stat(p) says it is still that file, else null (a stale entry is dropped). */
  lookup(p: string, now: number): OpenFile | null {
    if (now >= this.expireAt) this.expire(now);
    const f = this.entries.get(p);
    if (f === undefined) return null;
    // Any error (ENOENT, EACCES and the like) misses: the fresh open answers with the right status.
    const r = native.fileIdentity(p, this.scratch);
    if (r !== 0 || f.identity === null || !same(this.scratch, f.identity)) {
      this.entries.delete(p);
      if (this.newest === f) this.newest = null;
      this.drop(f);
      return null;
    }
    if (this.newest !== f) {
      // Most recently used last. The file already there (one hot file) is not moved: a
      // delete and set per request grew the Map's table until V8 rebuilt it, garbage
      // that costs page faults at low request rates (docs/web.md, "Static files").
      this.entries.delete(p);
      this.entries.set(p, f);
      this.newest = f;
    }
    f.lastUsed = now;
    return f;
  }

  /** Keeps `f`, just opened at `p` and checked, making room by closing the least recently used. */
  insert(p: string, f: OpenFile, now: number): void {
    if (this.max === 0) return;
    const old = this.entries.get(p);
    if (old !== undefined) {
      this.entries.delete(p);
      if (this.newest === old) this.newest = null;
      this.drop(old);
    }
    const identity = new Float64Array(IDENTITY_FIELDS);
    if (native.fileIdentity(f.fd, identity) !== 0) return; // not kept: its sends still close it
    f.identity = identity;
    while (this.entries.size >= this.max) this.dropOldest();
    f.cached = true;
    f.lastUsed = now;
    this.entries.set(p, f);
    this.newest = f;
    if (now + this.inactiveMs < this.expireAt) this.expireAt = now + this.inactiveMs;
  }

  /** Closes every cached file (those still being sent close when their sends end). */
  clear(): void {
    for (const f of this.entries.values()) this.drop(f);
    this.entries.clear();
    this.newest = null;
    this.expireAt = Infinity;
  }

  /**
   * Closes the entries unused for inactiveMs (the oldest come first in the Map), and notes
   * when the next one can expire: lookups before then skip the walk (no iterator per request).
   */
  private expire(now: number): void {
    this.expireAt = Infinity;
    for (const f of this.entries.values()) {
      if (now - f.lastUsed < this.inactiveMs) {
        this.expireAt = f.lastUsed + this.inactiveMs;
        return;
      }
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const first = this.entries.keys().next();
    if (first.done === true) return;
    const f = this.entries.get(first.value) as OpenFile;
    this.entries.delete(first.value);
    if (this.newest === f) this.newest = null;
    this.drop(f);
  }

  /** Out of the cache: closed now, or by its last send. */
  private drop(f: OpenFile): void {
    f.cached = false;
    if (f.refs <= 0) fs.closeSync(f.fd);
  }
}
