"use strict";
/**
 * The static-file servers of bench/static/run.js, each serving DIR/index.html for GET /:
 *   node servers.js fdreactor DIR PORT   lib/web File (sendfile, open-file cache of 64), from dist/
 *   node servers.js fdreactor-nocache DIR PORT   the same without the open-file cache
 *   node servers.js node-stream DIR PORT Node http: fs.stat + fs.createReadStream per request
 * Print "READY <port>"; exit on SIGTERM. nginx is started by run.js with its own config.
 * A 4th argument "probe" (bench/static/alloc.js) makes the fdreactor servers answer each
 * line on stdin with "HEAP <json>": the V8 heap's used bytes summed over its spaces, and
 * the count of garbage collections so far (by kind), so the caller can tell the bytes a
 * run of requests allocated. A 5th argument names another build's dist/ directory (A/B).
 * FDREACTOR_MODE ("integrated", "exclusive") and FDREACTOR_BACKEND pick the reactor's.
 */
const fs = require("node:fs");
const path = require("node:path");

const [kind, dir, portArg, probe, distArg] = process.argv.slice(2);
const port = Number(portArg) || 0;
const ready = (p) => process.stdout.write(`READY ${p}\n`);

if (kind === "fdreactor" || kind === "fdreactor-nocache") {
  const distDir = distArg ? path.resolve(distArg) : path.join(__dirname, "..", "..", "dist");
  const dist = (p) => require(path.join(distDir, "lib", p));
  const { Reactor } = dist("reactor/index.js");
  const { listenTCP } = dist("net/index.js");
  const { Site, File } = dist("web/index.js");
  // FDREACTOR_MODE / FDREACTOR_BACKEND as in the C10K harness's server (default: integrated, the best backend).
  const r = new Reactor({ mode: process.env.FDREACTOR_MODE || undefined, backend: process.env.FDREACTOR_BACKEND || undefined });
  r.callWhenRunning(() => ready(listenTCP(r, port, new Site(new File(dir, { maxCachedFiles: kind === "fdreactor" ? 64 : 0 }), { reactor: r }), { interface: "127.0.0.1", backlog: 4096 }).getHost().port));
  process.on("SIGTERM", () => r.stop());
  if (probe === "probe") answerHeapQueries();
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

/** "probe": each stdin line is answered with the heap's used bytes and the GCs so far. */
function answerHeapQueries() {
  const v8 = require("node:v8");
  const { PerformanceObserver, constants } = require("node:perf_hooks");
  const gcs = { minor: 0, major: 0, other: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = e.detail ? e.detail.kind : e.kind;
      if (k === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
      else if (k === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
      else gcs.other++;
    }
  }).observe({ entryTypes: ["gc"] });
  let pending = "";
  process.stdin.setEncoding("utf8").on("data", (d) => {
    pending += d;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      pending = pending.slice(nl + 1);
      let used = 0;
      for (const s of v8.getHeapSpaceStatistics()) used += s.space_used_size;
      process.stdout.write(`HEAP ${JSON.stringify({ used, ...gcs })}\n`);
    }
  });
}
