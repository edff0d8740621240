"use strict";
/**
 * fdreactor's HTTPS server for bench/tls: `node fdreactor_server.js https PORT CERT KEY`.
 * The hello-world Site of bench/http (bench/lib/fdreactor_server.js helloSite) over
 * listenSSL, TLS 1.3 only, with the bench certificate (the load generators offer one
 * suite). Environment: FDREACTOR_BACKEND, FDREACTOR_MODE as for bench/http. Prints
 * "READY <port>"; exits on SIGTERM. Needs the compiled library (`npx tsc -p tsconfig.json`).
 */
const fs = require("node:fs");
const { dist, helloSite, serve } = require("../lib/fdreactor_server");

const [mode, portArg, certFile, keyFile] = process.argv.slice(2);
if (mode !== "https" || !certFile || !keyFile) {
  process.stderr.write("usage: node fdreactor_server.js https PORT CERT KEY\n");
  process.exit(2);
}

const { listenSSL, CertificateOptions } = dist("net/index.js");
const identity = new CertificateOptions({ privateKey: fs.readFileSync(keyFile), certificate: fs.readFileSync(certFile), minimumVersion: "TLSv1.3" });
serve((reactor) => listenSSL(reactor, Number(portArg) || 0, helloSite(reactor, 120), identity, { interface: "127.0.0.1", backlog: 4096 }));
