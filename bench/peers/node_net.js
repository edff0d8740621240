"use strict";
/**
 * Node `net` (libuv) peer. `node node_net.js echo|http PORT`
 * echo: writes every chunk back. http: the raw "count \r\n\r\n and answer" server, the
 * same work as the C reference's http mode. Prints "READY <port>" when listening.
 * Required as a module, it gives that server (createServer), which bench/c10k's cluster
 * peer runs in each worker.
 */
const net = require("node:net");
const { RESPONSE, countRequestEnds } = require("./http_response");

/** The peer's server for `mode` ("echo" or "http"), not yet listening. */
function createServer(mode) {
  return net.createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    if (mode === "echo") {
      socket.on("data", (chunk) => socket.write(chunk));
      return;
    }
    const state = { match: 0 };
    socket.on("data", (chunk) => {
      const n = countRequestEnds(state, chunk);
      for (let i = 0; i < n; i++) socket.write(RESPONSE);
    });
  });
}

if (require.main === module) {
  const [mode, portArg] = process.argv.slice(2);
  if (mode !== "echo" && mode !== "http") {
    process.stderr.write("usage: node node_net.js echo|http PORT\n");
    process.exit(2);
  }
  const server = createServer(mode);
  server.listen({ port: Number(portArg) || 0, host: "127.0.0.1", backlog: 4096 }, () => {
    process.stdout.write(`READY ${server.address().port}\n`);
  });
  process.on("SIGTERM", () => process.exit(0));
}

module.exports = { createServer };
