"use strict";
/**
 * Node `http` static-file peer: what a Node user writes without a framework, `fs.stat` then
 * `fs.createReadStream(file).pipe(res)` per request, for the files directly under DIR (a
 * name outside that list is a 404, so no path ever leaves DIR).
 *   node node_http_static.js static PORT DIR
 * Prints "READY <port>". Required as a module it gives createServer(dir), which
 * bench/c10k/node_net_cluster.js runs in each worker for the static workload.
 */
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");

/** The server for the files of `dir`, not yet listening. */
function createServer(dir) {
  const names = new Set(fs.readdirSync(dir));
  const server = http.createServer((req, res) => {
    const name = req.url.startsWith("/") ? req.url.slice(1) : "";
    if (!names.has(name)) {
      res.writeHead(404, { "Content-Length": 0 }).end();
      return;
    }
    const file = path.join(dir, name);
    fs.stat(file, (err, st) => {
      if (err) {
        res.writeHead(404, { "Content-Length": 0 }).end();
        return;
      }
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": st.size, "Last-Modified": st.mtime.toUTCString() });
      fs.createReadStream(file).pipe(res);
    });
  });
  server.keepAliveTimeout = 600000; // idle C10K connections stay open for the whole round
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  return server;
}

if (require.main === module) {
  const [mode, portArg, dir] = process.argv.slice(2);
  if (mode !== "static" || !dir) {
    process.stderr.write("usage: node node_http_static.js static PORT DIR\n");
    process.exit(2);
  }
  const server = createServer(dir);
  server.listen({ port: Number(portArg) || 0, host: "127.0.0.1", backlog: 4096 }, () => process.stdout.write(`READY ${server.address().port}\n`));
  process.on("SIGTERM", () => process.exit(0));
}

module.exports = { createServer };
