/**
 * Constants of HTTP shared by the server and the client: reason phrases, the
 * once-per-second Date header, chunked framing, query-string parsing.
 */

/** Reason phrases of the status codes (RFC 9110 §15). */
export const RESPONSES: Readonly<Record<number, string>> = {
  100: "Continue", 101: "Switching Protocols",
  200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content", 206: "Partial Content",
  300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
  408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
  414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
  422: "Unprocessable Content", 426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason phrase of `code` ("Unknown Status" when none is known). */
export function reasonPhrase(code: number): string {
  return RESPONSES[code] ?? "Unknown Status";
}

/** The last chunk of a chunked body, with no trailer fields (RFC 9112 §7.1). */
export const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");

/** Writes `data` (not empty: an empty chunk is the last one) to `t` as one chunk of a chunked body. */
export function writeChunk(t: { writeSequence(data: ReadonlyArray<Uint8Array | string>): void }, data: Uint8Array): void {
  t.writeSequence([`${data.length.toString(16)}\r\n`, data, "\r\n"]);
}

let dateSecond = -1;
let dateLine = "";

/**
 * "Date: <IMF-fixdate>\r\n" for now (or for `nowMs`, a clock reading the caller already
 * has): formatted at most once per second, so a response costs a compare, not a formatting.
 */
export function currentDateLine(nowMs = 0): string {
  const s = Math.floor((nowMs > 0 ? nowMs : Date.now()) / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateLine = `Date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/** Parses a query string into name → values (Twisted's request.args), "+" as space, %XX decoded. */
export function parseQuery(qs: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  if (qs === "") return out;
  for (const part of qs.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = unescapeForm(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? "" : unescapeForm(part.slice(eq + 1));
    (out[k] ??= []).push(v);
  }
  return out;
}

function unescapeForm(s: string): string {
  const t = s.replace(/\+/g, " ");
  try {
    return decodeURIComponent(t);
  } catch {
    return t;
  }
}
