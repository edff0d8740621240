"use strict";
/**
 * The one certificate and the one cipher every TLS server of bench/tls uses: an EC P-256
 * key with a self-signed certificate for localhost / 127.0.0.1 (made once with the
 * `openssl` command into bench/out/tls/), TLS 1.3 only, TLS_AES_128_GCM_SHA256 over
 * X25519. The load generators offer only that suite and group, so a server that was not
 * configured for it still cannot pick another; the harness checks what was negotiated.
 */
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { OUT_DIR } = require("../lib/build");

/** The TLS 1.3 cipher suite every server and client is held to. */
const SUITE = "TLS_AES_128_GCM_SHA256";
/** The key-exchange group. */
const GROUP = "X25519";
const DIR = path.join(OUT_DIR, "tls");

/** Whether the `openssl` command runs. */
function haveOpenssl() {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * { key, cert, conf, dir }: the key and certificate files (made if missing) and an
 * OpenSSL config that holds OpenSSL-based clients (wrk) to TLS 1.3, SUITE and GROUP.
 */
function benchCertificate() {
  const key = path.join(DIR, "key.pem");
  const cert = path.join(DIR, "cert.pem");
  const conf = path.join(DIR, "client.cnf");
  if (!fs.existsSync(cert) || !fs.existsSync(key)) {
    fs.mkdirSync(DIR, { recursive: true });
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
      "-days", "3650", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
  }
  fs.writeFileSync(conf, `# written by bench/tls/certs.js: what wrk's OpenSSL may offer
openssl_conf = bench_conf
[bench_conf]
ssl_conf = bench_ssl
[bench_ssl]
system_default = bench_client
[bench_client]
MinProtocol = TLSv1.3
Ciphersuites = ${SUITE}
Groups = ${GROUP}
`);
  return { key, cert, conf, dir: DIR };
}

module.exports = { SUITE, GROUP, benchCertificate, haveOpenssl };
