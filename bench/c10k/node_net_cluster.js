"use strict";
/**
 * Node `net` in several processes, the way a Node user grows past one process (and past
 * the 20,000 fds one process may hold here): the `cluster` module, its default
 * round-robin scheduling (the primary accepts and hands each connection to a worker).
 *
 *   node node_net_cluster.js echo|http PORT WORKERS
 *   node node_net_cluster.js static PORT WORKERS DIR
 *
 * Each worker runs the server of bench/peers/node_net.js (its createServer: echo writes every
 * chunk back; http counts "\r\n\r\n" and answers each with the C reference's exact bytes),
 * or for static the Node http + fs.createReadStream server of bench/peers/node_http_static.js
 * on the files of DIR. The primary
 * prints "READY <port>" once every worker listens, and on SIGTERM ends its workers.
 */
const cluster = require("node:cluster");
const path = require("node:path");
const peers = path.join(__dirname, "..", "peers");

const [mode, portArg, workersArg, dir] = process.argv.slice(2);
const workers = Number(workersArg);
if (!["echo", "http", "static"].includes(mode) || (mode === "static") !== Boolean(dir) || !(Number(portArg) > 0) || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write("usage: node node_net_cluster.js echo|http PORT WORKERS | static PORT WORKERS DIR\n");
  process.exit(2);
}

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let stopping = false;
  let listening = 0;
  cluster.on("listening", () => {
    if (++listening === workers) process.stdout.write(`READY ${portArg}\n`);
  });
  cluster.on("exit", (w, code, signal) => {
    if (!stopping) process.stderr.write(`worker ${w.process.pid} exited (code ${code}, signal ${signal})\n`);
  });
  process.on("SIGTERM", () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill("SIGKILL");
    process.exit(0);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const server = mode === "static" ? require(path.join(peers, "node_http_static.js")).createServer(dir) : require(path.join(peers, "node_net.js")).createServer(mode);
  server.listen({ port: Number(portArg), host: "127.0.0.1", backlog: 4096 });
}
