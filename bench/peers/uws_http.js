"use strict";
/**
 * uWebSockets.js peer (npm `@trufflesuite/uws-js-unofficial`, its prebuilt native binary).
 * `node uws_http.js http PORT` — hello world with the 13-byte body; uWS adds Date and
 * "uWebSockets" headers of its own. `node uws_http.js https PORT CERT KEY` serves the same
 * over TLS with `SSLApp` (uWS sets no TLS 1.3 suite: the load generator offers only one).
 * `node uws_http.js static PORT DIR` serves the files directly under DIR: uWS has no file
 * sending of its own, so they are read into memory at start (what its users do for a small
 * static set) and each answer is one `end(bytes)`. Prints "READY <port>". Refuses to run on the package's pure-JS fallback, which would not
 * be uWebSockets at all.
 */
const path = require("node:path");
const fs = require("node:fs");

const pkgDir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
const binary = path.join(pkgDir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
if (!fs.existsSync(binary)) {
  process.stderr.write(`no uWebSockets.js binary for this platform/Node ABI: ${binary}\n`);
  process.exit(3);
}
const uws = require(binary);
const { BODY } = require("./http_response");

const [mode, portArg, certFile, keyFile] = process.argv.slice(2);
const port = Number(portArg) || 0;
const app = mode === "https" ? uws.SSLApp({ cert_file_name: certFile, key_file_name: keyFile }) : uws.App();
if (mode === "static") {
  const dir = certFile;
  const files = new Map(fs.readdirSync(dir).map((n) => [`/${n}`, fs.readFileSync(path.join(dir, n))]));
  app.get("/*", (res, req) => {
    const body = files.get(req.getUrl());
    if (body === undefined) res.writeStatus("404 Not Found").end();
    else res.writeHeader("Content-Type", "application/octet-stream").end(body);
  });
} else {
  app.any("/*", (res) => {
    res.writeHeader("Content-Type", "text/plain").end(BODY);
  });
}
app
  .listen("127.0.0.1", port, (token) => {
    if (!token) {
      process.stderr.write(`uWS could not listen on ${port}\n`);
      process.exit(1);
    }
    process.stdout.write(`READY ${uws.us_socket_local_port(token)}\n`);
  });
process.on("SIGTERM", () => process.exit(0));
