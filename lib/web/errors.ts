/**
 * Typed errors of the HTTP layer (Twisted's twisted.web.error and the _newclient
 * failures). Each names what went wrong (the URL, the status, the limit) and carries its
 * cause where there was one.
 */
import { FdReactorError } from "../error";
import type { Headers } from "./headers";

/** Base of every HTTP-layer error. */
export class WebError extends FdReactorError {}

/**
 * A malformed or unacceptable HTTP message: `status` is the answer a server gives for it
 * (400 malformed, 413 body too large, 431 header section too large, 501 unknown transfer
 * coding, 505 unsupported version).
 */
export class HTTPParseError extends WebError {
  /** The status code a server answers with. */
  readonly status: number;
  /** A parse error a server answers with `status`. */
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** A URL that cannot be requested: malformed, or with no host. The message names it. */
export class InvalidURLError extends WebError {
  /** The URL as given. */
  readonly url: string;
  /** `url` is invalid because of `detail`. */
  constructor(url: string, detail: string, options?: { cause?: unknown }) {
    super(`Invalid URL ${JSON.stringify(url)}: ${detail}`, options);
    this.url = url;
  }
}

/** A URL whose scheme this client does not speak (http: and https: are supported). */
export class SchemeNotSupported extends InvalidURLError {}

/** getPage's answer to a 4xx or 5xx response (Twisted's web.error.Error / PageError). */
export class PageError extends WebError {
  /** The response's status code. */
  readonly status: number;
  /** The response's reason phrase. */
  readonly phrase: string;
  /** The URL requested (after redirects). */
  readonly url: string;
  /** The response body (possibly truncated at maxBodySize). */
  readonly body: Buffer;
  /** The response headers. */
  readonly headers: Headers;
  /** The error for a `status` response from `url`, with its body and headers. */
  constructor(status: number, phrase: string, url: string, body: Buffer, headers: Headers) {
    super(`${status} ${phrase} from ${url}`);
    this.status = status;
    this.phrase = phrase;
    this.url = url;
    this.body = body;
    this.headers = headers;
  }
}

/** A response could not be received: the connection failed or closed mid-response; `cause` says why. */
export class ResponseFailed extends WebError {}

/**
 * A response took longer than its Agent allows: `which` says whether the whole response
 * ("response": responseTimeout) or the wait for the server's next byte ("idle":
 * idleTimeout) ran out, after `seconds`.
 */
export class ResponseTimeout extends ResponseFailed {
  /** "response" (the total) or "idle" (between bytes). */
  readonly which: "response" | "idle";
  /** The timeout that ran out, in seconds. */
  readonly seconds: number;
  /** `what` (method and URL) ran out of its `which` timeout of `seconds`. */
  constructor(which: "response" | "idle", seconds: number, what: string) {
    super(which === "response" ? `${what}: no complete response within ${seconds} s (responseTimeout)` : `${what}: the server sent nothing for ${seconds} s (idleTimeout)`);
    this.which = which;
    this.seconds = seconds;
  }
}

/** A request could not be sent (the connection was lost or the body producer failed). */
export class RequestGenerationFailed extends WebError {}

/** A cached (persistent) connection was closed by the server before a response began. */
export class ResponseNeverReceived extends ResponseFailed {}

/** A body (request or response) was larger than the configured maximum. */
export class BodyTooLargeError extends WebError {
  /** The limit in bytes. */
  readonly limit: number;
  /** `what` (e.g. "response body") went past `limit` bytes. */
  constructor(limit: number, what: string) {
    super(`${what} exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}

/** Too many redirects in a row, or a redirect without a usable Location. */
export class RedirectError extends WebError {
  /** The status of the redirect response. */
  readonly status: number;
  /** The URL that answered with it. */
  readonly url: string;
  /** The redirect `status` from `url` could not be followed, as `message` says. */
  constructor(status: number, url: string, message: string) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

/** A response body was delivered completely (the reason given to a body protocol's connectionLost). */
export class ResponseDone extends WebError {
  /** The end-of-body reason (the message is Twisted's). */
  constructor(message = "Response body fully received.") {
    super(message);
  }
}

/** A close-delimited body ended with the connection: it may be complete or not (as in Twisted). */
export class PotentialDataLoss extends WebError {}
