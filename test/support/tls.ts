/**
 * TLS test material made at test time with the `openssl` command: a CA, leaf certificates
 * it signs (valid, expired, for another host name, a client's), a self-signed one; plus
 * peers (`openssl s_server` / `s_client`) and a small driver that pumps a native
 * TlsSession over its fd.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { native, AGAIN, TLS_ERROR, type TlsSession } from "../../lib/native";
import { CertificateOptions } from "../../lib/net";
import { peerEnv } from "./peers";

/** A key and certificate as PEM text, and the files they were written to. */
export interface Identity {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

/** Everything makeCertificates produced. */
export interface Certificates {
  dir: string;
  ca: Identity;
  /** localhost + 127.0.0.1, signed by the CA. */
  leaf: Identity;
  /** other.example, signed by the CA (SNI). */
  other: Identity;
  /** localhost, signed by the CA, valid only in January 2020. */
  expired: Identity;
  /** localhost, self-signed. */
  selfSigned: Identity;
  /** CN=test client, signed by the CA. */
  client: Identity;
  /** Removes the directory. */
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: peerEnv() });
}

function identity(dir: string, name: string): Identity {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  return { keyFile, certFile, key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8") };
}

/** Generates the test PKI (EC P-256 keys: fast) in a new temporary directory. */
export function makeCertificates(): Certificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-tls-"));
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(dir, ["req", "-x509", ...newKey, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=fdreactor test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const sign = (name: string, cn: string, san: string | null, dates?: [string, string]): void => {
    openssl(dir, ["req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(ext, `basicConstraints=CA:FALSE\n${san ? `subjectAltName=${san}\n` : ""}`);
    if (!dates) {
      openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30",
        "-extfile", ext, "-out", `${name}.pem`]);
      return;
    }
    // `openssl ca` is the one command that sets arbitrary validity dates.
    fs.mkdirSync(path.join(dir, "issued"), { recursive: true });
    fs.writeFileSync(path.join(dir, "index.txt"), "");
    fs.writeFileSync(path.join(dir, "serial"), "1000\n");
    fs.writeFileSync(path.join(dir, "ca.cnf"), [
      "[ca]", "default_ca = test", "[test]", `dir = ${dir}`, "database = $dir/index.txt", "new_certs_dir = $dir/issued",
      "serial = $dir/serial", "default_md = sha256", "policy = any", "unique_subject = no", "[any]", "commonName = supplied", ""].join("\n"));
    openssl(dir, ["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", `${name}.csr`, "-out", `${name}.pem`,
      "-notext", "-startdate", dates[0], "-enddate", dates[1], "-extfile", ext]);
  };
  sign("leaf", "localhost", "DNS:localhost,IP:127.0.0.1");
  sign("other", "other.example", "DNS:other.example");
  sign("client", "test client", null);
  sign("expired", "localhost", "DNS:localhost,IP:127.0.0.1", ["20200101000000Z", "20200201000000Z"]);
  openssl(dir, ["req", "-x509", ...newKey, "-keyout", "self.key", "-out", "self.pem", "-days", "30", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
  return {
    dir,
    ca: identity(dir, "ca"),
    leaf: identity(dir, "leaf"),
    other: identity(dir, "other"),
    expired: identity(dir, "expired"),
    selfSigned: identity(dir, "self"),
    client: identity(dir, "client"),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A suite's PKI and a server context presenting its leaf certificate. */
export interface SuitePki {
  certs: Certificates;
  server: CertificateOptions;
}

/**
 * Makes the certificates in the calling suite's beforeAll and removes them in its afterAll;
 * read the fields inside tests (they are set once beforeAll has run).
 */
export function suitePki(): SuitePki {
  const pki = {} as SuitePki;
  beforeAll(() => {
    pki.certs = makeCertificates();
    pki.server = new CertificateOptions({ privateKey: pki.certs.leaf.key, certificate: pki.certs.leaf.cert });
  });
  afterAll(() => pki.certs.remove());
  return pki;
}

/** Checks after each test of the calling suite that no native TLS session outlives it (the count before the test comes back). */
export function expectNoTlsSessionLeaks(): void {
  let before = 0;
  beforeEach(() => {
    before = native.tlsSessionCount();
  });
  afterEach(() => {
    expect(native.tlsSessionCount()).toBe(before);
  });
}

/** A running `openssl` peer with its output collected. */
export interface Peer {
  proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves when the output matches `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process ended. */
  exited(): Promise<number | null>;
  kill(): void;
}

/** Spawns `openssl <args>` (killed by `kill()`; every test kills what it started). */
export function spawnOpenssl(args: string[], cwd: string): Peer {
  const proc = spawn("openssl", args, { cwd, stdio: ["pipe", "pipe", "pipe"], env: peerEnv() });
  let out = "";
  const waiters: Array<() => void> = [];
  const onData = (b: Buffer): void => {
    out += b.toString("latin1");
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const peer: Peer = {
    proc,
    output: () => out,
    waitFor(re, ms = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), ms);
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    exited: () => exit,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
  return peer;
}

/** `openssl s_server` on 127.0.0.1 (a free port it picks); resolves once it accepts, with the port. */
export async function startServer(certs: Certificates, extra: string[], id: Identity = certs.leaf): Promise<{ peer: Peer; port: number }> {
  const peer = spawnOpenssl(["s_server", "-accept", "127.0.0.1:0", "-cert", id.certFile, "-key", id.keyFile, ...extra], certs.dir);
  const m = await peer.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/, 20000); // a loaded machine starts processes slowly
  return { peer, port: Number(m[1]) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Pumps one session by hand (tests only: the reactor batches for real): reads with
 * tlsReadBatch, collects plaintext, flushes while TLS_WANT_WRITE.
 */
export class Pump {
  readonly received: Buffer[] = [];
  status = 0;
  /** The first negative result (-errno or TLS_ERROR), or 0. */
  failure = 0;
  private readonly slab = Buffer.alloc(64 * 1024);
  private readonly ids = new Int32Array(1);
  private readonly out = new Int32Array(4);

  constructor(readonly session: TlsSession, readonly fd: number) {
    this.ids[0] = session.id;
  }

  /** All plaintext received so far. */
  text(): string {
    return Buffer.concat(this.received).toString("latin1");
  }

  /** One step: read + decrypt (+ send what the engine produced). */
  step(): void {
    if (this.failure !== 0) return;
    for (;;) {
      native.tlsReadBatch(this.ids, 1, this.slab, 0, 16 * 1024, this.out);
      const r = this.out[2];
      this.status = this.out[3];
      if (r > 0) this.received.push(Buffer.from(this.slab.subarray(0, r)));
      if (r < 0 && r !== AGAIN) {
        this.failure = r;
        return;
      }
      if ((this.status & 16) === 0) break; // TLS_BUFFERED: go again
    }
    if (this.status & 2) {
      const f = this.session.flush();
      if (f < 0) this.failure = f;
      else this.status = f;
    }
  }

  /** Steps until `done()` (or a failure), at most `ms`; returns whether done() became true. */
  async until(done: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      this.step();
      if (done()) return true;
      if (this.failure !== 0) return done();
      await sleep(2);
    }
    return false;
  }

  /** Encrypts and sends `data` (retrying while the engine takes only part of it). */
  async write(data: Buffer, ms = 5000): Promise<void> {
    const out = new Int32Array(2);
    let rest = data;
    const end = Date.now() + ms;
    while (rest.length > 0 && Date.now() < end) {
      native.tlsWriteBatch(this.ids, 1, Int32Array.of(1), [rest], out);
      if (out[0] < 0) throw new Error(`tlsWriteBatch failed: ${out[0]} ${JSON.stringify(this.session.error())}`);
      rest = rest.subarray(out[0]);
      if (rest.length > 0) {
        this.step();
        await sleep(2);
      }
    }
    while (this.session.flush() & 2 && Date.now() < end) await sleep(2);
  }

  /** The error of a TLS_ERROR failure. */
  error(): ReturnType<TlsSession["error"]> {
    return this.failure === TLS_ERROR ? this.session.error() : null;
  }
}

/** Connects a non-blocking TCP socket to 127.0.0.1:port (resolves once connected). */
export async function connectTcp(port: number): Promise<number> {
  const fd = native.socket("IPv4", "tcp");
  if (!native.connect(fd, "127.0.0.1", port)) {
    for (let i = 0; i < 500; i++) {
      await sleep(2);
      try {
        native.getpeername(fd);
        break;
      } catch {
        const err = native.socketError(fd);
        if (err !== 0) {
          native.close(fd);
          throw new Error(`connect failed: errno ${err}`);
        }
      }
    }
  }
  return fd;
}

/** A listening socket on 127.0.0.1 with the port it got. */
export function listenTcp(): { fd: number; port: number } {
  const fd = native.socket("IPv4", "tcp");
  native.bind(fd, "127.0.0.1", 0);
  native.listen(fd, 16);
  const addr = native.getsockname(fd);
  return { fd, port: addr.family === "unix" ? 0 : addr.port };
}

/** Accepts one connection (waits up to `ms`). */
export async function acceptOne(listenFd: number, ms = 5000): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const got = native.accept(listenFd, 1);
    if (got.length > 0) return got[0].fd;
    await sleep(2);
  }
  throw new Error("nothing connected");
}
