/**
 * What the three titles examples share: a local web server with one HTML page (so they
 * run with no internet), the <title> extraction, and a millisecond clock.
 */
import { CertificateOptions, listenSSL, listenTCP, type IReactorFDSet, type TCPPort } from "../../lib/net";
import { Data, Site } from "../../lib/web";

/** The page served (its title is what the examples print). */
export const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>fdreactor: Twisted's reactor for Node.js</title></head>
<body><p>Served by fdreactor's own lib/web Site on 127.0.0.1.</p></body></html>
`;

/** How many pages each phase fetches. */
export const COUNT = 30;

/** Starts the local server (or uses the URL given on the command line); returns the URL to fetch. */
export function pageURL(reactor: IReactorFDSet): string {
  const given = process.argv[2];
  if (given !== undefined) return given;
  const url = servePage(reactor).url;
  console.log(`serving ${url} (a local page: no internet needed)`);
  return url;
}

/**
 * Serves PAGE on 127.0.0.1 (a free port), over TLS with `tls` (a key and certificate for
 * localhost); returns its URL and the listening port.
 */
export function servePage(reactor: IReactorFDSet, tls?: { privateKey: string; certificate: string }): { url: string; port: TCPPort } {
  const site = new Site(new Data(PAGE, "text/html; charset=utf-8"), { reactor });
  const port = tls === undefined ? listenTCP(reactor, 0, site, { interface: "127.0.0.1" }) : listenSSL(reactor, 0, site, new CertificateOptions(tls), { interface: "127.0.0.1" });
  const host = port.getHost();
  const portNumber = host.type === "UNIX" ? 0 : host.port;
  return { url: tls === undefined ? `http://127.0.0.1:${portNumber}/` : `https://localhost:${portNumber}/`, port };
}

/** The text of the page's <title>, or "(no title)". */
export function titleOf(body: Buffer): string {
  const m = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body.toString("utf8"));
  return m === null ? "(no title)" : m[1].trim();
}

/** Milliseconds since `start` (from performance.now()), to one decimal. */
export function since(start: number): string {
  return (performance.now() - start).toFixed(1);
}
