"use strict";
/**
 * The static-file servers of bench/static/run.js, each serving DIR/index.html for GET /:
 *   node servers.js fdreactor DIR PORT   lib/web File (sendfile, open-file cache of 64), from dist/
 *   node servers.js fdreactor-nocache DIR PORT   the same without the open-file cache
 *   node servers.js node-stream DIR PORT Node http: fs.stat + fs.createReadStream per request
 * Print "READY <port>"; exit on SIGTERM. nginx is started by run.js with its own config.
 */
const fs = require("node:fs");
const path = require("node:path");

const [kind, dir, portArg] = process.argv.slice(2);
const port = Number(portArg) || 0;
const ready = (p) => process.stdout.write(`READY ${p}\n`);

if (kind === "fdreactor" || kind === "fdreactor-nocache") {
  const dist = (p) => require(path.join(__dirname, "..", "..", "dist", "lib", p));
  const { Reactor } = dist("reactor/index.js");
  const { listenTCP } = dist("net/index.js");
  const { Site, File } = dist("web/index.js");
  const r = new Reactor();
  r.callWhenRunning(() => ready(listenTCP(r, port, new Site(new File(dir, { maxCachedFiles: kind === "fdreactor" ? 64 : 0 }), { reactor: r }), { interface: "127.0.0.1", backlog: 4096 }).getHost().port));
  process.on("SIGTERM", () => r.stop());
  r.run().then(() => process.exit(0));
} else if (kind === "node-stream") {
  const http = require("node:http");
  const file = path.join(dir, "index.html");
  const server = http.createServer((req, res) => {
    fs.stat(file, (err, st) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": st.size, "Last-Modified": st.mtime.toUTCString() });
      fs.createReadStream(file).pipe(res);
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(port, "127.0.0.1", 4096, () => ready(server.address().port));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  process.stderr.write("usage: node servers.js fdreactor|fdreactor-nocache|node-stream DIR PORT\n");
  process.exit(2);
}
