/**
 * Why a name lookup failed. The resolver always fails with lib/error's DNSLookupError
 * (the message names the host); its `cause` is one of these, saying what went wrong.
 */
import { FdReactorError } from "../error";

/** What a DNSQueryError reports: a response code, an empty answer, or a resolver-side failure. */
export type DNSFailureReason =
  | "NXDOMAIN"
  | "NODATA"
  | "SERVFAIL"
  | "REFUSED"
  | "NOTIMP"
  | "FORMERR"
  | "TIMEOUT"
  | "CNAME_LOOP"
  | "CONNECT"
  | "BAD_NAME";

/** A query for `name`/`type` failed for `reason` (NXDOMAIN, SERVFAIL, TIMEOUT, ...). */
export class DNSQueryError extends FdReactorError {
  /** The failure in one word (the response code, or TIMEOUT, NODATA, CNAME_LOOP, ...). */
  readonly reason: DNSFailureReason;
  /** The name queried when it failed (after search-list expansion and CNAMEs). */
  readonly queryName: string;
  /** The record type queried ("A", "AAAA"). */
  readonly type: string;

  /** A failure of the `type` query for `name` because of `reason`; `detail` adds context. */
  constructor(reason: DNSFailureReason, name: string, type: string, detail?: string, options?: { cause?: unknown }) {
    super(`${reason}${detail !== undefined ? ` (${detail})` : ""} for ${type} ${name}`, options);
    this.reason = reason;
    this.queryName = name;
    this.type = type;
  }
}
