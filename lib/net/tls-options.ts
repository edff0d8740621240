/**
 * What `listenSSL`, `connectSSL` and `startTLS` take to know how to speak TLS (Twisted's
 * `twisted.internet.ssl`): `CertificateOptions`, one identity and its policy, usable on
 * either side, with per-host-name identities for SNI; and `optionsForClientTLS`, the
 * client settings that verify the server's chain and name, by default against the system's
 * trust store. Both are `ITLSContextFactory`s: they build the native contexts
 * (lib/native.ts `TlsContext`, one OpenSSL `SSL_CTX`) once, at construction or on first
 * use, and every connection made with the same object shares them — which is also what
 * lets a later connection to the same server resume an earlier one's session.
 *
 * Arguments are checked here with errors that name them; what only OpenSSL can judge (a
 * key that does not match its certificate, a cipher list that selects nothing) is judged
 * by the native constructor, whose TypeError names the option too.
 */
import { invalidArgType, invalidArgValue } from "../error";
import { native, type TlsContext, type TlsContextOptions } from "../native";

/** PEM text: a string or the bytes of one. */
export type PEM = string | Buffer;

/** A TLS protocol version that can be asked for as a minimum or maximum. */
export type TLSVersion = "TLSv1.2" | "TLSv1.3";

/** Whom to trust: "system" (the platform's CA bundle), or CA certificates as PEM (one text may hold several). */
export type TrustRoot = "system" | PEM | PEM[];

/** Options of `new CertificateOptions(...)` (Twisted's CertificateOptions). */
export interface CertificateOptionsInit {
  /** PEM private key of this side (required with `certificate`; a server needs both). */
  privateKey?: PEM;
  /** PEM certificate of this side; further certificates in the same text are sent as its chain. */
  certificate?: PEM;
  /** Intermediate certificates sent after `certificate`. */
  extraCertChain?: PEM[];
  /** Whom to trust when verifying the peer (default: the system's store when `verify` is on). */
  trustRoot?: TrustRoot;
  /** Verify the peer's certificate: a server then asks clients for one; default false (Twisted's). */
  verify?: boolean;
  /** Server with `verify`: refuse clients that send no certificate (default true, as Twisted). */
  requireCertificate?: boolean;
  /** Oldest protocol accepted (default "TLSv1.2"). */
  minimumVersion?: TLSVersion;
  /** Newest protocol offered (default: the newest the library has). */
  maximumVersion?: TLSVersion;
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults). */
  cipherList?: string;
  /** ALPN protocol names in order of preference ("h2", "http/1.1"); on a server its order wins. */
  acceptableProtocols?: string[];
  /** SNI (server): clients that ask for one of these host names get that identity ("*.example.com" matches one label). */
  serverNames?: Record<string, CertificateOptions>;
  /**
   * Server: hand each connection's record layer to the kernel after a TLS 1.3 handshake
   * (Linux kernel TLS), falling back to the userspace engine where the kernel does not
   * offer it; default false (docs/tls.md, "Kernel TLS"). No effect on a client.
   */
  kernelTls?: boolean;
}

/** The client side of one connection, as a context factory makes it. */
export interface ClientTLSSettings {
  /** The native client context (shared by every connection of the factory). */
  readonly context: TlsContext;
  /** The host name sent as SNI and checked against the certificate (an IP address is only checked), or null. */
  readonly serverName: string | null;
  /** Connections with the same key on the same context resume each other's TLS session. */
  readonly sessionKey: string;
}

/**
 * What listenSSL, connectSSL and startTLS take (Twisted's IOpenSSLContextFactory and
 * IOpenSSLClientConnectionCreator in one): the native context of each side.
 */
export interface ITLSContextFactory {
  /** The server context (listenSSL, or startTLS on the accepting side); throws when this factory cannot serve. */
  serverContext(): TlsContext;
  /** The client side of a connection to `host` (as given to connectSSL) on `port`. */
  clientConnection(host: string, port: number): ClientTLSSettings;
  /** Server: hand connections' record layer to the kernel after the handshake where it offers it (docs/tls.md, "Kernel TLS"). */
  readonly kernelTls?: boolean;
}

/** The client certificate of `optionsForClientTLS`. */
export interface ClientCertificate {
  /** PEM private key. */
  privateKey: PEM;
  /** PEM certificate (and its chain after it). */
  certificate: PEM;
}

/** Options of `optionsForClientTLS` (Twisted's). */
export interface ClientTLSOptionsInit {
  /** Whom to trust (default "system"). */
  trustRoot?: TrustRoot;
  /** Our certificate, for servers that ask for one. */
  clientCertificate?: ClientCertificate;
  /** ALPN protocol names in order of preference. */
  acceptableProtocols?: string[];
  /** Oldest protocol accepted (default "TLSv1.2"). */
  minimumVersion?: TLSVersion;
  /** Newest protocol offered (default: the newest the library has). */
  maximumVersion?: TLSVersion;
}

/**
 * One TLS identity and its policy (Twisted's CertificateOptions): with `privateKey` and
 * `certificate` it serves (listenSSL) or is a client certificate (connectSSL); `verify`
 * checks the peer against `trustRoot`. A client made from it does not check the server's
 * host name — use `optionsForClientTLS` for that.
 */
export class CertificateOptions implements ITLSContextFactory {
  private readonly init: Readonly<CertificateOptionsInit>;
  private server: TlsContext | null = null;
  private client: TlsContext | null = null;
  private readonly names = new Map<string, CertificateOptions>();

  /** Checks the options; a server identity is built at once, so a key that does not match its certificate throws here. */
  constructor(options: CertificateOptionsInit = {}) {
    if (options === null || typeof options !== "object") throw invalidArgType(`The "options" argument must be an object, received ${describe(options)}`);
    checkKnown(options, CERTIFICATE_OPTIONS, "CertificateOptions");
    checkPem(options.privateKey, "privateKey");
    checkPem(options.certificate, "certificate");
    checkPemList(options.extraCertChain, "extraCertChain");
    checkTrustRoot(options.trustRoot);
    checkBoolean(options.verify, "verify");
    checkBoolean(options.requireCertificate, "requireCertificate");
    checkBoolean(options.kernelTls, "kernelTls");
    checkVersion(options.minimumVersion, "minimumVersion");
    checkVersion(options.maximumVersion, "maximumVersion");
    if (options.cipherList !== undefined && (typeof options.cipherList !== "string" || options.cipherList === "")) {
      throw invalidArgType(`The "cipherList" option must be a non-empty OpenSSL cipher string, received ${describe(options.cipherList)}`);
    }
    checkProtocols(options.acceptableProtocols);
    if ((options.privateKey === undefined) !== (options.certificate === undefined)) {
      const missing = options.privateKey === undefined ? "privateKey" : "certificate";
      throw invalidArgValue(`The "${missing}" option is required with the other half of the identity (privateKey and certificate)`);
    }
    if (options.requireCertificate === true && options.verify !== true) {
      throw invalidArgValue(`The "requireCertificate" option needs verify: true (a certificate nobody checks proves nothing)`);
    }
    this.init = { ...options };
    if (options.privateKey !== undefined) this.server = new native.TlsContext(this.nativeOptions(true));
    const names = options.serverNames;
    if (names !== undefined) {
      if (names === null || typeof names !== "object" || Array.isArray(names)) {
        throw invalidArgType(`The "serverNames" option must be an object of host name → CertificateOptions, received ${describe(names)}`);
      }
      for (const host of Object.keys(names)) this.addServerName(host, names[host]);
    }
  }

  /** Was kernel TLS asked for (the `kernelTls` option)? */
  get kernelTls(): boolean {
    return this.init.kernelTls === true;
  }

  /** SNI: clients asking for `hostname` ("*.example.com" matches one label) get `options`' identity. */
  addServerName(hostname: string, options: CertificateOptions): void {
    if (typeof hostname !== "string" || hostname === "" || /[\s/]/.test(hostname)) {
      throw invalidArgValue(`The "hostname" argument must be a host name, received ${describe(hostname)}`);
    }
    if (!(options instanceof CertificateOptions)) throw invalidArgType(`serverNames["${hostname}"] must be a CertificateOptions, received ${describe(options)}`);
    const other = options.server;
    if (other === null) throw invalidArgValue(`serverNames["${hostname}"] has no privateKey and certificate to serve with`);
    this.names.set(hostname.toLowerCase(), options);
    if (this.server !== null) this.server.addServerName(hostname, other);
  }

  /** The server context; throws when no privateKey and certificate were given. */
  serverContext(): TlsContext {
    if (this.server === null) {
      throw invalidArgValue(`This CertificateOptions has no privateKey and certificate, so it cannot serve TLS (listenSSL, startTLS on a server)`);
    }
    return this.server;
  }

  /** A client context with this identity (if any) as client certificate; the host is sent as SNI. */
  clientConnection(host: string, port: number): ClientTLSSettings {
    if (this.client === null) this.client = new native.TlsContext(this.nativeOptions(false));
    return { context: this.client, serverName: host, sessionKey: `${host}:${port}` };
  }

  /** The SNI identities added (host name in lower case → options). */
  serverNames(): ReadonlyMap<string, CertificateOptions> {
    return this.names;
  }

  private nativeOptions(server: boolean): TlsContextOptions {
    const o = this.init;
    const verify = o.verify === true;
    return {
      server,
      privateKey: o.privateKey,
      certificate: o.certificate,
      extraCertChain: o.extraCertChain,
      trustRoot: verify ? trustList(o.trustRoot) : undefined,
      verify,
      requireCertificate: server && verify ? o.requireCertificate !== false : undefined,
      minimumVersion: o.minimumVersion,
      maximumVersion: o.maximumVersion,
      cipherList: o.cipherList,
      acceptableProtocols: o.acceptableProtocols,
      kernelTls: server && o.kernelTls === true ? true : undefined,
    };
  }
}

/** Client settings that verify the server: what `optionsForClientTLS` returns. */
export class ClientTLSOptions implements ITLSContextFactory {
  /** The name the server's certificate must carry (also sent as SNI unless it is an IP address). */
  readonly hostname: string;
  private readonly context: TlsContext;

  /** Use optionsForClientTLS. */
  constructor(hostname: string, options: ClientTLSOptionsInit = {}) {
    if (typeof hostname !== "string" || hostname === "" || /[\s/]/.test(hostname)) {
      throw invalidArgValue(`The "hostname" argument must be a host name or IP address, received ${describe(hostname)}`);
    }
    if (options === null || typeof options !== "object") throw invalidArgType(`The "options" argument must be an object, received ${describe(options)}`);
    checkKnown(options, CLIENT_OPTIONS, "optionsForClientTLS");
    checkTrustRoot(options.trustRoot);
    checkProtocols(options.acceptableProtocols);
    checkVersion(options.minimumVersion, "minimumVersion");
    checkVersion(options.maximumVersion, "maximumVersion");
    const cc = options.clientCertificate;
    if (cc !== undefined) {
      if (cc === null || typeof cc !== "object") throw invalidArgType(`The "clientCertificate" option must be { privateKey, certificate }, received ${describe(cc)}`);
      checkPem(cc.privateKey, "clientCertificate.privateKey", true);
      checkPem(cc.certificate, "clientCertificate.certificate", true);
    }
    this.hostname = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
    this.context = new native.TlsContext({
      server: false,
      verify: true,
      trustRoot: trustList(options.trustRoot),
      privateKey: cc?.privateKey,
      certificate: cc?.certificate,
      minimumVersion: options.minimumVersion,
      maximumVersion: options.maximumVersion,
      acceptableProtocols: options.acceptableProtocols,
    });
  }

  /** Client settings make no server: always throws. */
  serverContext(): TlsContext {
    throw invalidArgValue(`optionsForClientTLS("${this.hostname}") makes client connections only; a server needs CertificateOptions with privateKey and certificate`);
  }

  /** The verifying client context; the certificate must name `hostname`, whatever address was connected to. */
  clientConnection(_host: string, port: number): ClientTLSSettings {
    return { context: this.context, serverName: this.hostname, sessionKey: `${this.hostname}:${port}` };
  }
}

/**
 * Client settings for a connection to `hostname` (Twisted's optionsForClientTLS): the
 * server's chain is verified against `trustRoot` (the system's store by default) and its
 * certificate must name `hostname`; SNI asks for it. Keep the returned object to make
 * further connections with it: they share one context and resume its TLS sessions.
 */
export function optionsForClientTLS(hostname: string, options?: ClientTLSOptionsInit): ClientTLSOptions {
  return new ClientTLSOptions(hostname, options);
}

/** Is `x` a context factory that listenSSL/connectSSL/startTLS can use? */
export function isTLSContextFactory(x: unknown): x is ITLSContextFactory {
  return x !== null && typeof x === "object" && typeof (x as ITLSContextFactory).serverContext === "function" &&
    typeof (x as ITLSContextFactory).clientConnection === "function";
}

/** Throws unless `x` is a context factory, naming the argument. */
export function checkContextFactory(x: unknown, name = "contextFactory"): ITLSContextFactory {
  if (!isTLSContextFactory(x)) {
    throw invalidArgType(`The "${name}" argument must be a CertificateOptions, optionsForClientTLS(...) or another ITLSContextFactory, received ${describe(x)}`);
  }
  return x;
}

// ---- argument checks --------------------------------------------------------------------

const CERTIFICATE_OPTIONS: ReadonlySet<string> = new Set([
  "privateKey", "certificate", "extraCertChain", "trustRoot", "verify", "requireCertificate",
  "minimumVersion", "maximumVersion", "cipherList", "acceptableProtocols", "serverNames", "kernelTls",
]);
const CLIENT_OPTIONS: ReadonlySet<string> = new Set(["trustRoot", "clientCertificate", "acceptableProtocols", "minimumVersion", "maximumVersion"]);
const VERSIONS: ReadonlySet<unknown> = new Set(["TLSv1.2", "TLSv1.3"]);

function checkKnown(o: object, known: ReadonlySet<string>, what: string): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw invalidArgValue(`${what} has no "${k}" option (it takes ${[...known].join(", ")})`);
  }
}

function isPem(v: unknown): v is PEM {
  return (typeof v === "string" && v.length > 0) || (Buffer.isBuffer(v) && v.length > 0);
}

function checkPem(v: unknown, name: string, required = false): void {
  if (v === undefined && !required) return;
  if (!isPem(v)) throw invalidArgType(`The "${name}" option must be PEM text (a non-empty string or Buffer), received ${describe(v)}`);
}

function checkPemList(v: unknown, name: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every(isPem)) throw invalidArgType(`The "${name}" option must be an Array of PEM texts, received ${describe(v)}`);
}

function checkTrustRoot(v: unknown): void {
  if (v === undefined || v === "system" || isPem(v)) return;
  if (Array.isArray(v) && v.length > 0 && v.every(isPem)) return;
  throw invalidArgType(`The "trustRoot" option must be "system", PEM text or an Array of PEM texts, received ${describe(v)}`);
}

function trustList(v: TrustRoot | undefined): "system" | PEM[] {
  if (v === undefined || v === "system") return "system";
  return Array.isArray(v) ? v : [v];
}

function checkBoolean(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== "boolean") throw invalidArgType(`The "${name}" option must be a boolean, received ${describe(v)}`);
}

function checkVersion(v: unknown, name: string): void {
  if (v !== undefined && !VERSIONS.has(v)) throw invalidArgValue(`The "${name}" option must be "TLSv1.2" or "TLSv1.3", received ${describe(v)}`);
}

function checkProtocols(v: unknown): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || v.length === 0 || !v.every((p) => typeof p === "string" && p.length > 0 && Buffer.byteLength(p) <= 255)) {
    throw invalidArgType(`The "acceptableProtocols" option must be a non-empty Array of protocol names (1 to 255 bytes), received ${describe(v)}`);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (Array.isArray(v)) return `an Array of ${v.length}`;
  if (typeof v === "string") return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === "object") return `an instance of ${(v as object).constructor?.name ?? "Object"}`;
  return `${typeof v} ${String(v)}`;
}
