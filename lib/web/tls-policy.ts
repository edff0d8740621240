/**
 * How the Agent speaks TLS to an https:// origin (Twisted's IPolicyForHTTPS and
 * BrowserLikePolicyForHTTPS): for each host and port, the client settings connectSSL
 * takes. The default verifies like a browser — the chain against the trust root (the
 * system's store unless given) and the certificate's names against the URL's host.
 */
import { invalidArgType } from "../error";
import { optionsForClientTLS, type ITLSContextFactory, type TrustRoot } from "../net";

/** Chooses the TLS settings of a connection to an https:// origin (Twisted's IPolicyForHTTPS). */
export interface IPolicyForHTTPS {
  /** The client settings for a connection to `host` (as in the URL) on `port`. */
  creatorForNetloc(host: string, port: number): ITLSContextFactory;
}

/** Options of BrowserLikePolicyForHTTPS. */
export interface BrowserLikePolicyOptions {
  /** Whom to trust: "system" (default) or PEM CA certificates. */
  trustRoot?: TrustRoot;
}

/** Hosts whose settings are kept (their contexts carry the TLS sessions later connections resume). */
const MAX_HOSTS = 256;

/**
 * Verifies every server like a browser (Twisted's BrowserLikePolicyForHTTPS):
 * `optionsForClientTLS(host, { trustRoot })`. The settings of the most recent hosts are
 * kept, so a second connection to a host resumes the first one's TLS session.
 */
export class BrowserLikePolicyForHTTPS implements IPolicyForHTTPS {
  private readonly trustRoot: TrustRoot | undefined;
  private readonly byHost = new Map<string, ITLSContextFactory>();

  /** A policy trusting `options.trustRoot` (default: the system's store). */
  constructor(options: BrowserLikePolicyOptions = {}) {
    if (options === null || typeof options !== "object") throw invalidArgType(`The "options" argument must be an object, received ${options === null ? "null" : typeof options}`);
    this.trustRoot = options.trustRoot;
    // Built once here, so a bad trustRoot throws at construction, not at the first request.
    if (this.trustRoot !== undefined) optionsForClientTLS("localhost", { trustRoot: this.trustRoot });
  }

  /** optionsForClientTLS for `host`, made once per host. */
  creatorForNetloc(host: string, port: number): ITLSContextFactory {
    void port;
    let f = this.byHost.get(host);
    if (f !== undefined) {
      this.byHost.delete(host); // most recent last
    } else {
      f = optionsForClientTLS(host, this.trustRoot === undefined ? {} : { trustRoot: this.trustRoot });
      if (this.byHost.size >= MAX_HOSTS) this.byHost.delete(this.byHost.keys().next().value as string);
    }
    this.byHost.set(host, f);
    return f;
  }
}

let shared: BrowserLikePolicyForHTTPS | null = null;

/** The policy of Agents and getPage calls given none: one BrowserLikePolicyForHTTPS on the system's store, shared, so its sessions are too. */
export function defaultTLSPolicy(): IPolicyForHTTPS {
  return (shared ??= new BrowserLikePolicyForHTTPS());
}
