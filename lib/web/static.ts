/**
 * Static files (Twisted's twisted.web.static.File): a leaf resource serving a directory
 * tree. Bodies go out as file ranges on the transport (`FileDescriptor.writeFile`), that is
 * with sendfile(2), after the response head and under the connection's water marks.
 *
 * Path safety (docs/security.md): the File reads the rest of the request path itself, raw,
 * and decodes each segment once; a segment that is "." or "..", or decodes to something
 * holding "/", "\\" or NUL, is refused (404) before any filesystem call. Every open is then
 * checked: the path of the file actually opened (from /proc/self/fd on Linux, realpath
 * elsewhere) must lie inside the root's real path, so a symlink leading out of the tree is
 * a 404 too. Files are opened O_NONBLOCK (a FIFO in the tree cannot stall the reactor) and
 * anything that is not a regular file or a directory is a 404.
 *
 * Open files are bounded (`maxOpenFiles`, 503 above it) and closed on every path: at once
 * for HEAD, 304, 416 and errors; by the transport once the body is sent or the connection
 * is lost. The filesystem calls (realpath, open, fstat) are synchronous, as nginx's are.
 *
 * With `maxCachedFiles` > 0 (off by default, as nginx's open_file_cache) the fds of files
 * served recently stay open (open-file-cache.ts): a request for one of them costs a stat(2)
 * that revalidates it, not the open and the containment check. `closeCachedFiles()` closes them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { contentType } from "mime-types";
import type { IFileSource } from "../net/abstract";
import { checkField } from "./headers";
import { OpenFile, OpenFileCache, type FileHeaders } from "./open-file-cache";
import { NOT_DONE_YET, type IResource, type RenderResult } from "./resource";
import type { Request } from "./request";

/** Options of a {@link File}. */
export interface FileOptions {
  /** The file served for a directory (Twisted's indexNames); default ["index.html"]. */
  indexNames?: string[];
  /** Files open at once for bodies being sent; above it requests get 503. Default 1024. */
  maxOpenFiles?: number;
  /** Content-Type of files whose extension names none; default "application/octet-stream". */
  defaultType?: string;
  /** Files whose fds stay open between requests, revalidated by a stat each time (open-file-cache.ts); default 0, none. */
  maxCachedFiles?: number;
  /** A cached file unused this long (ms) is closed at the next request; default 60000. */
  cachedFileInactiveMs?: number;
}

/** The transport side File needs: file ranges queued in order with the response bytes. */
interface IFileTransport {
  writeFile(file: IFileSource, offset: number, length: number): void;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** What a request resolved to: an open regular file, or an HTTP status to answer with. */
type Opened = OpenFile | { status: number; location?: string };

/** A leaf resource serving the files under `root` (Twisted's static.File). Directory listings are off: a directory without an index file is 403. */
export class File implements IResource {
  /** It consumes the rest of the path itself. */
  readonly isLeaf = true;
  /** The root's real path (symlinks resolved once, at construction). */
  readonly root: string;
  /** `root` with one trailing separator: what paths below it start with. */
  private readonly below: string;
  /** Files opened for bodies and not closed yet. */
  openFiles = 0;
  private readonly indexNames: string[];
  /** The root's index file paths, joined once (a request for "/" then builds no string). */
  private readonly rootIndexPaths: string[];
  private readonly maxOpenFiles: number;
  private readonly defaultType: string;
  private readonly cache: OpenFileCache;

  /** Serves the tree under `root`, which must be an existing directory. */
  constructor(root: string, options: FileOptions = {}) {
    if (typeof root !== "string" || root === "") throw new TypeError("File: root must be a directory path");
    const real = fs.realpathSync(root);
    if (!fs.statSync(real).isDirectory()) throw new TypeError(`File: root ${root} is not a directory`);
    this.root = real;
    this.below = real.endsWith(path.sep) ? real : real + path.sep;
    const { indexNames = ["index.html"], maxOpenFiles = 1024, defaultType = "application/octet-stream", maxCachedFiles = 0, cachedFileInactiveMs = 60000 } = options;
    if (!Array.isArray(indexNames) || indexNames.some((n) => typeof n !== "string" || !safeSegment(n))) {
      throw new TypeError("File: options.indexNames must be plain file names");
    }
    if (!Number.isInteger(maxOpenFiles) || maxOpenFiles < 1) throw new RangeError("File: options.maxOpenFiles must be an integer >= 1");
    if (typeof defaultType !== "string") throw new TypeError("File: options.defaultType must be a string");
    if (!Number.isInteger(maxCachedFiles) || maxCachedFiles < 0) throw new RangeError("File: options.maxCachedFiles must be an integer >= 0");
    if (typeof cachedFileInactiveMs !== "number" || !(cachedFileInactiveMs > 0)) throw new RangeError("File: options.cachedFileInactiveMs must be a number > 0");
    this.cache = new OpenFileCache(maxCachedFiles, cachedFileInactiveMs);
    this.indexNames = indexNames.slice();
    this.rootIndexPaths = this.indexNames.map((name) => real + path.sep + name);
    this.maxOpenFiles = maxOpenFiles;
    this.defaultType = defaultType;
  }

  /** Files whose fds the open-file cache holds now. */
  get cachedFiles(): number {
    return this.cache.size;
  }

  /** Closes the open-file cache's fds (a file still being sent closes when its send ends); serving goes on. */
  closeCachedFiles(): void {
    this.cache.clear();
  }

  /** A leaf has no children: itself. */
  getChildWithDefault(): IResource {
    return this;
  }

  /** Answers GET and HEAD for the file the rest of the path names (see the file comment). */
  render(request: Request): RenderResult {
    if (request.method !== "GET" && request.method !== "HEAD") {
      request.setHeader("Allow", "GET, HEAD");
      return status(request, 405);
    }
    const segs = this.segments(request);
    if (segs === null) return status(request, 404);
    if (this.openFiles >= this.maxOpenFiles) {
      request.setHeader("Retry-After", "1");
      return status(request, 503);
    }
    const found = this.resolve(segs, request.path.endsWith("/"), request);
    if (!(found instanceof OpenFile)) {
      if (found.location !== undefined) request.setHeader("Location", found.location);
      return status(request, found.status);
    }
    return this.serve(request, found);
  }

  /** The decoded path segments below this resource, or null when one is unsafe. A trailing "/" gives no segment. */
  private segments(request: Request): readonly string[] | null {
    const p = request.path;
    if (!p.startsWith("/")) return null;
    // The "/"-separated segments after the leading "/", the first prepath.length of them
    // skipped; walked in place (no split and slices per request; "/" allocates nothing).
    const skip = request.prepath.length;
    let out: string[] | null = null;
    let pos = 1;
    for (let k = 0; ; k++) {
      const slash = p.indexOf("/", pos);
      const end = slash < 0 ? p.length : slash;
      if (k >= skip) {
        if (end === pos) {
          if (slash < 0) break; // "dir/": the directory itself
          return null; // "a//b": no such path, and no "//host" redirect later
        }
        let s: string;
        try {
          s = decodeURIComponent(p.slice(pos, end));
        } catch {
          return null;
        }
        if (!safeSegment(s)) return null;
        (out ??= []).push(s);
      }
      if (slash < 0) break;
      pos = slash + 1;
    }
    return out ?? NO_SEGMENTS;
  }

  /** Opens what `segs` names (a directory's index file for a directory), checked to lie inside the root. */
  private resolve(segs: readonly string[], trailingSlash: boolean, request: Request): Opened {
    // The segments are checked plain names (safeSegment): joining them needs no normalising.
    const target = segs.length === 0 ? this.root : this.below + segs.join(path.sep);
    const dir = trailingSlash || segs.length === 0;
    // The clock reading of the request's latest read (the Site takes one per read), else now.
    const now = request.channel.now > 0 ? request.channel.now : Date.now();
    const cached = this.cache.max > 0 ? this.cached(target, dir, now) : null;
    if (cached !== null) return cached;
    const opened = this.openInside(target);
    if (!(opened instanceof OpenFile)) return opened;
    if (opened.stat.isFile()) return this.keep(target, opened, now);
    fs.closeSync(opened.fd);
    if (!opened.stat.isDirectory()) return { status: 404 };
    if (!trailingSlash && segs.length > 0) {
      // As Twisted: a directory is addressed with its trailing slash, so relative links work.
      const q = request.uri.indexOf("?");
      return { status: 301, location: `${request.path}/${q < 0 ? "" : request.uri.slice(q)}` };
    }
    for (const name of this.indexNames) {
      const p = target + path.sep + name;
      const index = this.openInside(p);
      if (!(index instanceof OpenFile)) {
        if (index.status === 404) continue;
        return index;
      }
      if (index.stat.isFile()) return this.keep(p, index, now);
      fs.closeSync(index.fd);
    }
    return { status: 403 }; // listings are off
  }

  /**
   * The cached file `target` names (for a directory, its first cached index file), or null.
   * A hit was checked to lie inside the root when it was opened at that very path, and the
   * cache's stat says the path still names that file unchanged.
   */
  private cached(target: string, dir: boolean, now: number): OpenFile | null {
    if (!dir) return this.cache.lookup(target, now);
    if (target === this.root) {
      for (const p of this.rootIndexPaths) {
        const hit = this.cache.lookup(p, now);
        if (hit !== null) return hit;
      }
      return null;
    }
    for (const name of this.indexNames) {
      const hit = this.cache.lookup(target + path.sep + name, now);
      if (hit !== null) return hit;
    }
    return null;
  }

  /** A regular file just opened at `p` and checked: into the cache when it is on. */
  private keep(p: string, f: OpenFile, now: number): OpenFile {
    if (this.cache.max > 0) this.cache.insert(p, f, now);
    return f;
  }

  /** open + fstat, then the opened file's real path must be the root or below it. */
  private openInside(p: string): Opened {
    let fd: number;
    try {
      fd = fs.openSync(p, OPEN_FLAGS);
    } catch (e) {
      return { status: statusForOpenError(e) };
    }
    try {
      if (!this.inside(openedPath(fd, p))) {
        fs.closeSync(fd);
        return { status: 404 };
      }
      return new OpenFile(fd, fs.fstatSync(fd), p);
    } catch (e) {
      fs.closeSync(fd);
      return { status: statusForOpenError(e) };
    }
  }

  private inside(real: string): boolean {
    const root = this.root;
    return real === root || (real.startsWith(root) && (root.endsWith(path.sep) || real.charCodeAt(root.length) === SEP));
  }

  /** ETag, Last-Modified and Content-Type of `file`, made at its first use (a cached file keeps them). */
  private headersOf(file: OpenFile): FileHeaders {
    if (file.headers !== null) return file.headers;
    const st = file.stat;
    const modifiedMs = Math.floor(st.mtimeMs / 1000) * 1000;
    const name = file.path.slice(file.path.lastIndexOf(path.sep) + 1);
    const etag = `"${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"`;
    const lastModified = new Date(modifiedMs).toUTCString();
    const type = contentType(name) || this.defaultType;
    const sizeText = String(st.size);
    // The whole file's 200 (and HEAD) header fields, in the order serve sets them one by one otherwise.
    const whole = ["ETag", etag, "Last-Modified", lastModified, "Accept-Ranges", "bytes", "Content-Type", type, "Content-Length", sizeText];
    for (let i = 0; i < whole.length; i += 2) checkField(whole[i], whole[i + 1]);
    file.headers = { etag, lastModified, modifiedMs, contentType: type, sizeText, whole: Object.freeze(whole) };
    return file.headers;
  }

  /** The response for open regular file `file`: 304, 416, HEAD or the (partial) body. Releases `file` unless the transport took it. */
  private serve(request: Request, file: OpenFile): RenderResult {
    let handed = false;
    file.refs++;
    try {
      const size = file.stat.size;
      const h = this.headersOf(file);
      const etag = h.etag;
      if (notModified(request, etag, h.modifiedMs)) {
        setValidators(request, h);
        request.setResponseCode(304);
        request.finish();
        return NOT_DONE_YET;
      }
      let start = 0;
      let length = size;
      const range = request.method === "GET" && rangeApplies(request, etag, h.modifiedMs) ? parseRange(request.getHeader("range"), size) : null;
      if (range === null) {
        request.adoptHeaders(h.whole); // the whole file: the fields made once for it
      } else {
        setValidators(request, h);
        if (range === UNSATISFIABLE) {
          request.setHeader("Content-Range", `bytes */${size}`);
          return status(request, 416);
        }
        start = range[0];
        length = range[1] - range[0] + 1;
        request.setResponseCode(206);
        request.setHeader("Content-Range", `bytes ${start}-${range[1]}/${size}`);
        request.setHeader("Content-Type", h.contentType);
        request.setHeader("Content-Length", length);
      }
      const t = request.transport as unknown as IFileTransport | null;
      if (request.method === "HEAD" || length === 0 || t === null || request.lost) {
        request.finish();
        return NOT_DONE_YET;
      }
      if (typeof t.writeFile !== "function") throw new TypeError("File: the connection's transport cannot send files (no writeFile)");
      request.writeSharedHead(file.sharedHead); // the head, in the transport's queue before the range
      handed = true;
      t.writeFile(this.source(file), start, length);
      request.sentLength += length;
      request.finish();
      return NOT_DONE_YET;
    } finally {
      if (!handed) file.release();
    }
  }

  /** `file` as the transport's IFileSource, holding serve's use of it: closing it (once) releases that and the slot. */
  private source(file: OpenFile): IFileSource {
    this.openFiles++;
    return new FileSend(this, file);
  }
}

/** One send of an OpenFile, as the transport's IFileSource (a class: no closures per response). */
class FileSend implements IFileSource {
  readonly fd: number;
  private open = true;

  constructor(
    private readonly owner: File,
    private readonly file: OpenFile,
  ) {
    this.fd = file.fd;
  }

  /** The send is over: releases its use of the file and its slot (once). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.owner.openFiles--;
    this.file.release();
  }
}

const SEP = path.sep.charCodeAt(0);
/** segments() of a path naming the File itself (never changed). */
const NO_SEGMENTS: readonly string[] = Object.freeze([]);
/** parseRange's answer for a range that lies wholly past the end. */
const UNSATISFIABLE: [number, number] = [-1, -1];

/** A path segment that can only name an entry of its directory. */
function safeSegment(s: string): boolean {
  return s !== "" && s !== "." && s !== ".." && !s.includes("/") && !s.includes("\\") && !s.includes("\0");
}

/** The real path of open `fd` (Linux: what /proc says was opened; elsewhere realpath of `p`, checked before use). */
function openedPath(fd: number, p: string): string {
  if (process.platform === "linux") return fs.readlinkSync(`/proc/self/fd/${fd}`);
  return fs.realpathSync(p);
}

function statusForOpenError(e: unknown): number {
  switch ((e as { code?: string }).code) {
    case "ENOENT":
    case "ENOTDIR":
    case "ELOOP":
    case "ENAMETOOLONG":
      return 404;
    case "EACCES":
    case "EPERM":
      return 403;
    case "EMFILE":
    case "ENFILE":
      return 503;
    default:
      return 500;
  }
}

/** ETag, Last-Modified and Accept-Ranges: what every answer about a file carries. */
function setValidators(request: Request, h: FileHeaders): void {
  request.setHeader("ETag", h.etag);
  request.setHeader("Last-Modified", h.lastModified);
  request.setHeader("Accept-Ranges", "bytes");
}

/** Finishes `request` with `code` and a short text body. */
function status(request: Request, code: number): RenderResult {
  request.setResponseCode(code);
  request.setHeader("Content-Type", "text/plain; charset=utf-8");
  return `${code}\n`;
}

/** If-None-Match (which wins when present) or If-Modified-Since says the client's copy is current. */
function notModified(request: Request, etag: string, modifiedMs: number): boolean {
  const inm = request.getHeader("if-none-match");
  if (inm !== undefined) return inm.trim() === "*" || inm.split(",").some((t) => stripWeak(t.trim()) === etag);
  const ims = request.getHeader("if-modified-since");
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && modifiedMs <= since;
}

/** If-Range: the Range applies only while the client's validator still names this version. */
function rangeApplies(request: Request, etag: string, modifiedMs: number): boolean {
  const ir = request.getHeader("if-range");
  if (ir === undefined) return true;
  const v = ir.trim();
  if (v.startsWith('"')) return v === etag;
  const d = Date.parse(v);
  return !Number.isNaN(d) && d === modifiedMs;
}

function stripWeak(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/**
 * A single byte range of a `size`-byte file as [first, last] (inclusive), UNSATISFIABLE,
 * or null to serve the whole file (no Range, another unit, a malformed or multi-range
 * header: RFC 9110 lets a server ignore those).
 */
export function parseRange(header: string | undefined, size: number): [number, number] | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (m === null || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return [Math.max(0, size - suffix), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === "" ? Infinity : Number(m[2]);
  if (!Number.isSafeInteger(first) || last < first) return null;
  if (first >= size) return UNSATISFIABLE;
  return [first, Math.min(last, size - 1)];
}
