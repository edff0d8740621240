"use strict";
/**
 * Node `http` peer: hello world with the 13-byte body. `node node_http.js http PORT`
 * Node adds Date, Connection and Keep-Alive headers of its own. Prints "READY <port>".
 */
const http = require("node:http");
const { BODY } = require("./http_response");

const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 13 });
  res.end(BODY);
});
server.keepAliveTimeout = 60000; // a quiet connection between warm-up and measure stays up
server.listen({ port: Number(process.argv[3]) || 0, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
