/**
 * Slowloris against the HTTP server: connections that say nothing are closed by the idle
 * timeout; connections that drip a request head a few bytes at a time, keeping the idle
 * timer fresh, are answered 408 and closed by the header timeout; a well-behaved client is
 * served normally in the middle of the attack. Short timeouts (0.3 s, 0.4 s) keep it quick.
 */
import { listenTCP } from "../../lib/net";
import { Site } from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, runReactor } from "../net/helpers";
import { pollUntil, RawPeer } from "./support";

expectNoFdLeaks();

const IDLE_PEERS = 20;
const LORIS_PEERS = 20;
/** Drips a slowloris would send if never cut: 400 × 5 ms polls ≈ 2 s of head, 6× the header timeout. */
const MAX_DRIPS = 400;
const BODY_408 = "408 Request Timeout: the request head did not arrive in time\n";
const RESPONSE_408 = `HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${BODY_408.length}\r\nConnection: close\r\n\r\n${BODY_408}`;

describe.each(MODES)("slowloris (%s mode)", (mode) => {
  test("silent peers are cut by idleTimeout, dripping peers get 408 from headerTimeout, a real client is served meanwhile", async () => {
    const out = await runReactor<{ idle: string[]; loris: string[]; drips: number[]; good: string; served: number }>(
      mode,
      (reactor, finish, fail) => {
        let served = 0;
        const site = new Site(
          () => {
            served++;
            return "ok\n";
          },
          { reactor, idleTimeout: 0.4, headerTimeout: 0.3 },
        );
        const port = portOf(listenTCP(reactor, 0, site, { interface: "127.0.0.1" }).getHost());
        const idle: RawPeer[] = [];
        const loris: RawPeer[] = [];
        for (let i = 0; i < IDLE_PEERS; i++) idle.push(new RawPeer(port));
        for (let i = 0; i < LORIS_PEERS; i++) loris.push(new RawPeer(port));
        const drips = new Array<number>(LORIS_PEERS).fill(0);
        const head = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-Slow: ".padEnd(4000, "a"), "latin1");
        let good: RawPeer | null = null;
        let polls = 0;
        pollUntil(
          reactor,
          () => {
            polls++;
            let done = 0;
            for (const p of idle) {
              if (!p.connected()) continue;
              p.readAvailable();
              if (p.eof || p.error !== null) done++;
            }
            for (let i = 0; i < LORIS_PEERS; i++) {
              const p = loris[i];
              if (!p.connected()) continue;
              p.readAvailable();
              if (p.eof || p.error !== null) {
                done++;
                continue;
              }
              // Two bytes per poll, never the end of the head.
              if (drips[i] < MAX_DRIPS && drips[i] * 2 < head.length) {
                if (p.writeSome(head.subarray(drips[i] * 2, drips[i] * 2 + 2)) > 0) drips[i]++;
              }
            }
            // Mid-attack, an honest client.
            if (polls === 20) good = new RawPeer(port);
            if (good !== null && good.connected()) {
              if (good.received === 0 && !(good as unknown as { sent?: boolean }).sent) {
                good.writeSome(Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "latin1"));
                (good as unknown as { sent?: boolean }).sent = true;
              }
              good.readAvailable();
            }
            const goodDone = good !== null && (good.eof || good.error !== null);
            if (drips.some((d) => d >= MAX_DRIPS)) throw new Error("a slowloris peer was never cut");
            return done === IDLE_PEERS + LORIS_PEERS && goodDone;
          },
          (e) => {
            const result = {
              idle: idle.map((p) => `${p.eof ? "eof" : p.error}:${p.bytes().toString("latin1")}`),
              loris: loris.map((p) => `${p.eof ? "eof" : p.error}:${p.bytes().toString("latin1")}`),
              drips,
              good: good === null ? "" : good.bytes().toString("latin1"),
              served,
            };
            for (const p of [...idle, ...loris]) p.close();
            good?.close();
            if (e) fail(e);
            else finish(result);
          },
          MAX_DRIPS + 200,
        );
      },
      30,
    );
    expect(out.idle).toEqual(new Array(IDLE_PEERS).fill("eof:"));
    // The server closes with the peer's later drips unread, so the kernel may follow its FIN
    // with RST: the peer then reads the whole 408 and ECONNRESET instead of EOF (no lingering
    // close in lib/web yet; Linux keeps the bytes already received).
    for (const l of out.loris) expect([`eof:${RESPONSE_408}`, `ECONNRESET:${RESPONSE_408}`]).toContain(l);
    for (const d of out.drips) expect(d).toBeLessThan(MAX_DRIPS);
    expect(out.served).toBe(1);
    expect(out.good).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out.good.endsWith("\r\n\r\nok\n")).toBe(true);
  });
});
