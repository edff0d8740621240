/**
 * The resource tree of the server (Twisted's twisted.web.resource): a `Resource` has
 * children found by path segment (`putChild`, `getChild`) and renders a request with
 * `render_GET`, `render_POST`, ... A render method returns the body (string or Buffer),
 * or `NOT_DONE_YET` after arranging to `write`/`finish` the request later.
 */
import { reasonPhrase } from "./http";
import type { Request } from "./request";

/** Returned by a render method that will finish the request later (Twisted's server.NOT_DONE_YET). */
export const NOT_DONE_YET: unique symbol = Symbol("NOT_DONE_YET");

/** What a render method returns. */
export type RenderResult = string | Uint8Array | typeof NOT_DONE_YET;

/** Something the Site can route to and render (Twisted's IResource). */
export interface IResource {
  /** A leaf consumes the rest of the path itself (no getChild). */
  readonly isLeaf: boolean;
  /** The child for path segment `name` (a registered child, else getChild). */
  getChildWithDefault(name: string, request: Request): IResource;
  /** Renders the request: the body, or NOT_DONE_YET. */
  render(request: Request): RenderResult;
}

/** A request handler function: the simple alternative to a Resource tree. */
export type RequestHandler = (request: Request) => RenderResult | void;

/** A node of the resource tree (Twisted's Resource). */
export class Resource implements IResource {
  /** A leaf renders every path below it. */
  isLeaf = false;
  /** Children by path segment. */
  readonly children = new Map<string, IResource>();

  /** Registers `child` under path segment `name` ("" is the child for a trailing slash). */
  putChild(name: string, child: IResource): void {
    if (typeof name !== "string" || name.includes("/")) throw new TypeError(`putChild: name must be one path segment, received ${JSON.stringify(name)}`);
    if (child === null || typeof child !== "object" || typeof child.render !== "function") throw new TypeError("putChild: child must be a resource");
    this.children.set(name, child);
  }

  /** The registered child `name`, else getChild(name). */
  getChildWithDefault(name: string, request: Request): IResource {
    return this.children.get(name) ?? this.getChild(name, request);
  }

  /** Override for dynamic children; the default answers 404. */
  getChild(name: string, request: Request): IResource {
    void name;
    void request;
    return NO_RESOURCE;
  }

  /** Calls `render_<METHOD>` (HEAD falls back to render_GET); 405 with Allow when there is none. */
  render(request: Request): RenderResult {
    const self = this as unknown as Record<string, unknown>;
    let m = self[renderName(request.method)];
    if (typeof m !== "function" && request.method === "HEAD") m = self.render_GET;
    if (typeof m !== "function") {
      const allowed = allowedMethods(this);
      request.setResponseCode(405);
      request.setHeader("Allow", allowed.join(", "));
      request.setHeader("Content-Type", "text/plain; charset=utf-8");
      return `${reasonPhrase(405)}: ${request.method} (allowed: ${allowed.join(", ")})\n`;
    }
    return (m as (r: Request) => RenderResult).call(this, request);
  }
}

const RENDER_NAMES = new Map<string, string>();

/** "render_GET" for "GET", cached (bounded) so that routing allocates nothing; GET (the parser's own string) without a Map lookup. */
function renderName(method: string): string {
  if (method === "GET") return "render_GET";
  let n = RENDER_NAMES.get(method);
  if (n === undefined) {
    n = `render_${method}`;
    if (RENDER_NAMES.size < 64) RENDER_NAMES.set(method, n);
  }
  return n;
}

function allowedMethods(r: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = r; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k.startsWith("render_")) names.add(k.slice(7));
  }
  if (names.has("GET")) names.add("HEAD");
  return [...names].sort();
}

/** A leaf that answers every request with one status and a short text (Twisted's ErrorPage). */
export class ErrorPage extends Resource {
  override isLeaf = true;
  /** A page answering `code` with "<code> <brief>: <detail>". */
  constructor(
    /** The status code it answers with. */
    readonly code: number,
    /** The short text after the code (usually the reason phrase). */
    readonly brief: string,
    /** The longer explanation after the brief ("" for none). */
    readonly detail: string = "",
  ) {
    super();
  }
  /** Sets the status and answers with the text. */
  override render(request: Request): RenderResult {
    request.setResponseCode(this.code);
    request.setHeader("Content-Type", "text/plain; charset=utf-8");
    return `${this.code} ${this.brief}${this.detail ? `: ${this.detail}` : ""}\n`;
  }
}

/** 404 for anything (Twisted's NoResource). */
export class NoResource extends ErrorPage {
  /** A 404 page with `detail` as its explanation. */
  constructor(detail = "No such resource.") {
    super(404, reasonPhrase(404), detail);
  }
}

const NO_RESOURCE = new NoResource();

/** A leaf that always answers with the same body and content type (Twisted's static.Data). */
export class Data extends Resource {
  override isLeaf = true;
  private readonly body: Buffer;
  /** A leaf serving `body` (a string is UTF-8 encoded; bytes are copied). */
  constructor(
    body: string | Uint8Array,
    /** The Content-Type of every answer. */
    readonly contentType: string,
  ) {
    super();
    this.body = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  }
  /** The body. */
  render_GET(request: Request): RenderResult {
    request.setHeader("Content-Type", this.contentType);
    return this.body;
  }
}

/** A leaf that hands every request to a function (the simple handler API). */
export class FunctionResource implements IResource {
  readonly isLeaf = true;
  /** A leaf calling `handler` for every request. */
  constructor(
    /** The function answering each request. */
    readonly handler: RequestHandler,
  ) {
    if (typeof handler !== "function") throw new TypeError("handler must be a function (request) => body | NOT_DONE_YET | void");
  }
  /** Never called for a leaf; returns itself. */
  getChildWithDefault(): IResource {
    return this;
  }
  /** Calls the handler; `undefined` means the handler finishes the request itself. */
  render(request: Request): RenderResult {
    const r = this.handler(request);
    return r === undefined ? NOT_DONE_YET : r;
  }
}
