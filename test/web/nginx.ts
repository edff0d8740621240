/**
 * Debian's nginx-light as a real peer for the client tests: started as this test's own
 * child process (master_process off: one process, killed by its PID), on a free
 * 127.0.0.1 port, with its config, document root and temp paths in a temp directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** A running nginx. */
export interface Nginx {
  port: number;
  dir: string;
  /** Files served from the document root, by name. */
  files: Record<string, Buffer>;
  stop(): Promise<void>;
}

/** Where nginx lives, or null when not installed (apt-get install -y nginx-light). */
export function nginxBinary(): string | null {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (fs.existsSync(p)) return p;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

function waitForPort(port: number, child: ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) return reject(new Error(`nginx exited with ${child.exitCode}`));
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > until) reject(new Error("nginx did not start listening"));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/**
 * Starts nginx with the test site: static files, gzip (chunked), redirects, $connection
 * headers; over TLS with `tls` (PEM files of the key and certificate).
 */
export async function startNginx(tls?: { keyFile: string; certFile: string }): Promise<Nginx> {
  const bin = nginxBinary();
  if (bin === null) throw new Error("nginx is not installed: apt-get install -y nginx-light");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-nginx-"));
  const www = path.join(dir, "www");
  fs.mkdirSync(path.join(www, "gz"), { recursive: true });
  const files: Record<string, Buffer> = {
    "static.txt": Buffer.from("static file from nginx\n"),
    "gz/big.txt": Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i} of a text that gzip compresses into chunks\n`).join("")),
  };
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(www, name), data);
  let port = 0;
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    port = await freePort();
    const conf = `
worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  keepalive_requests 1000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${port}${tls ? " ssl" : ""};
${tls ? `    ssl_certificate ${tls.certFile};\n    ssl_certificate_key ${tls.keyFile};\n` : ""}    root ${www};
    add_header X-Conn $connection always;
    add_header X-Conn-Requests $connection_requests always;
    location /gz/ { gzip on; gzip_min_length 1; gzip_types text/plain; gzip_comp_level 1; add_header X-Conn $connection always; }
    location = /r301 { return 301 /static.txt; }
    location = /r302 { return 302 ${tls ? "https" : "http"}://127.0.0.1:${port}/static.txt; }
    location = /r303 { return 303 /method; }
    location = /r307 { return 307 /method; }
    location = /r308 { return 308 /method; }
    location = /loop { return 302 /loop; }
    location = /method { return 200 "$request_method $content_length\\n"; }
  }
}
`;
    fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
    const child = spawn(bin, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log")], { stdio: ["ignore", "ignore", "pipe"] });
    try {
      await waitForPort(port, child, 5000);
    } catch (e) {
      lastError = e;
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      continue;
    }
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    return {
      port,
      dir,
      files,
      async stop(): Promise<void> {
        if (child.exitCode === null && child.pid !== undefined) {
          process.kill(child.pid, "SIGTERM");
          const t = setTimeout(() => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 3000);
          await exited;
          clearTimeout(t);
        }
        child.stderr?.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`could not start nginx: ${String(lastError)}`);
}
