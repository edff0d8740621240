"use strict";
/**
 * Node `net` in several processes, the way a Node user grows past one process (and past
 * the 20,000 fds one process may hold here): the `cluster` module, its default
 * round-robin scheduling (the primary accepts and hands each connection to a worker).
 *
 *   node node_net_cluster.js echo|http PORT WORKERS
 *
 * Each worker runs the server of bench/peers/node_net.js (its createServer: echo writes every
 * chunk back; http counts "\r\n\r\n" and answers each with the C reference's exact bytes). The primary
 * prints "READY <port>" once every worker listens, and on SIGTERM ends its workers.
 */
const cluster = require("node:cluster");
const path = require("node:path");
const { createServer } = require(path.join(__dirname, "..", "peers", "node_net.js"));

const [mode, portArg, workersArg] = process.argv.slice(2);
const workers = Number(workersArg);
if ((mode !== "echo" && mode !== "http") || !(Number(portArg) > 0) || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write("usage: node node_net_cluster.js echo|http PORT WORKERS\n");
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
  createServer(mode).listen({ port: Number(portArg), host: "127.0.0.1", backlog: 4096 });
}
