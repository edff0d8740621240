"use strict";
/**
 * Node `http` / `https` peer: hello world with the 13-byte body.
 *   node node_http.js http PORT
 *   node node_http.js https PORT CERT KEY SUITE GROUP     (TLS 1.3 only, that suite and group)
 * Node adds Date, Connection and Keep-Alive headers of its own. Prints "READY <port>".
 */
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const { BODY } = require("./http_response");

const [mode, portArg, certFile, keyFile, suite, group] = process.argv.slice(2);
const answer = (req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 13 });
  res.end(BODY);
};
const server =
  mode === "https"
    ? https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), minVersion: "TLSv1.3", ciphers: suite, ecdhCurve: group }, answer)
    : http.createServer(answer);
server.keepAliveTimeout = 60000; // a quiet connection between warm-up and measure stays up
server.listen({ port: Number(portArg) || 0, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
