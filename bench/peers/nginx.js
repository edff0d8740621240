"use strict";
/**
 * nginx peer (Debian `nginx-light`): writes a config for one port into
 * bench/out/nginx-<port>/ — one worker, access log off, `return 200 "Hello, World!"`
 * as text/plain, keep-alive without a request cap — and names the binary.
 */
const fs = require("node:fs");
const path = require("node:path");
const { OUT_DIR } = require("../lib/build");

/** The nginx binary Debian installs (or the one on PATH). */
function nginxBinary() {
  for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) if (fs.existsSync(p)) return p;
  return null;
}

/**
 * The config text for `port`, with every file nginx writes kept under `dir`. Options (the
 * C10K harness uses them): `workers` processes (default 1), `workerConnections` each
 * (default 8192), and with more than one worker each gets its own SO_REUSEPORT listener.
 * `staticRoot` (bench/static) serves that directory with `sendfile on` and index.html
 * instead of the hello-world answer; `openFileCache` adds `open_file_cache max=64` (its
 * other settings nginx's defaults: revalidated after 60 s). `tls` ({ cert, key, suite,
 * group }, bench/tls) listens with ssl, TLS 1.3 only, that suite and group.
 */
function nginxConfig(port, dir, { workers = 1, workerConnections = 8192, staticRoot = null, openFileCache = false, tls = null } = {}) {
  return `# written by bench/peers/nginx.js for one benchmark server
daemon off;
master_process on;
worker_processes ${workers};
${workerConnections > 8192 ? `worker_rlimit_nofile ${workerConnections + 64};\n` : ""}pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections ${workerConnections};
  use epoll;
}
http {
  access_log off;
  server_tokens off;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port}${tls ? " ssl" : ""} backlog=4096${workers > 1 ? " reuseport" : ""};
${tls ? `    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve ${tls.group};
    ssl_conf_command Ciphersuites ${tls.suite};
` : ""}    default_type text/plain;
${staticRoot === null ? `    location / {
      return 200 "Hello, World!";
    }` : `    sendfile on;
    types { text/html html; }
    root ${staticRoot};
    index index.html;${openFileCache ? "\n    open_file_cache max=64 inactive=60s;" : ""}`}
  }
}
`;
}

/** Writes the config for `port` (nginxConfig's options too); returns { dir, conf } for the spec's argument template. */
function prepareNginx({ port, workers, workerConnections, staticRoot, openFileCache, tls }) {
  const dir = path.join(OUT_DIR, `nginx-${port}`);
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, "nginx.conf");
  fs.writeFileSync(conf, nginxConfig(port, dir, { workers, workerConnections, staticRoot, openFileCache, tls }));
  return { dir, conf };
}

/** Removes what prepareNginx wrote (after nginx has exited). */
function cleanupNginx({ dir }) {
  if (dir && dir.startsWith(OUT_DIR)) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { nginxBinary, nginxConfig, prepareNginx, cleanupNginx };
