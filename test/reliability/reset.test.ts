/**
 * A peer that resets (RST) the connection while the server writes to it and while the
 * server reads from it: the server's protocol sees connectionLost(ConnectionLost) carrying
 * ECONNRESET (or EPIPE), nothing escapes to the reactor, the port keeps serving and no fd
 * is left behind. The peer is a raw native socket that closes with unread bytes in its
 * receive queue, which makes the kernel send RST instead of FIN (support.ts).
 */
import type { Failure } from "../../lib/defer";
import { ConnectionLost } from "../../lib/error";
import { listenTCP } from "../../lib/net";
import { Protocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, runReactor } from "../net/helpers";
import { firstMismatch, pattern, pollUntil, RawPeer } from "./support";

expectNoFdLeaks();

const RESET_CODES = ["ECONNRESET", "EPIPE"];

/** Writes `total` pattern bytes on connect (then closes when `closeAfter`), records what it reads and how it ended. */
class Streamer extends Protocol {
  received: Buffer[] = [];
  reason: Failure | null = null;
  constructor(
    private readonly total: number,
    private readonly closeAfter: boolean,
    private readonly onLost: (p: Streamer) => void,
  ) {
    super();
  }
  override connectionMade(): void {
    const chunk = 256 * 1024;
    for (let off = 0; off < this.total; off += chunk) this.transport!.write(pattern(off, Math.min(chunk, this.total - off)));
    if (this.closeAfter) this.transport!.loseConnection();
  }
  override dataReceived(data: Buffer): void {
    this.received.push(data);
  }
  override connectionLost(reason: Failure): void {
    this.reason = reason;
    this.onLost(this);
  }
}

describe.each(MODES)("peer reset (%s mode)", (mode) => {
  test("RST while the server writes 16 MiB: ConnectionLost(ECONNRESET|EPIPE), the bytes read were exact, the port serves the next peer", async () => {
    const out = await runReactor<{ reason: Failure | null; read: Buffer; second: Buffer; secondEof: boolean }>(mode, (reactor, finish, fail) => {
      const sizes = [16 * 1024 * 1024, 1000];
      const lost: Streamer[] = [];
      const sf = new ServerFactory();
      let built = 0;
      sf.buildProtocol = () => {
        const n = built++;
        return new Streamer(sizes[n], n === 1, (p) => lost.push(p));
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const first = new RawPeer(portOf(port.getHost()));
      let read: Buffer = Buffer.alloc(0);
      pollUntil(
        reactor,
        () => {
          if (!first.connected()) return false;
          first.readAvailable(256 * 1024 - first.received);
          return first.received >= 256 * 1024;
        },
        (e) => {
          if (e) return fail(e);
          read = first.bytes();
          // The server's next megabytes are queued in our receive buffer, unread: RST.
          first.close();
          pollUntil(
            reactor,
            () => lost.length === 1,
            (e2) => {
              if (e2) return fail(e2);
              const second = new RawPeer(portOf(port.getHost()));
              pollUntil(
                reactor,
                () => second.connected() && (second.readAvailable(), second.eof || second.error !== null),
                (e3) => {
                  second.close();
                  if (e3) return fail(e3);
                  finish({ reason: lost[0].reason, read, second: second.bytes(), secondEof: second.eof });
                },
              );
            },
          );
        },
      );
    });
    expect(out.reason?.value).toBeInstanceOf(ConnectionLost);
    expect(RESET_CODES).toContain((out.reason?.value as ConnectionLost).code);
    expect(out.read.length).toBe(256 * 1024);
    expect(firstMismatch(out.read, 0)).toBe(-1);
    expect(out.secondEof).toBe(true);
    expect(out.second.equals(pattern(0, 1000))).toBe(true);
  });

  test("RST while the server reads: ConnectionLost(ECONNRESET), what it read is an exact prefix of what was sent", async () => {
    const sent = 1024 * 1024;
    const out = await runReactor<{ reason: Failure | null; got: Buffer }>(mode, (reactor, finish, fail) => {
      let server: Streamer | null = null;
      const sf = new ServerFactory();
      // 64 KiB to the peer, which never reads them: its close then resets the connection.
      sf.buildProtocol = () => (server = new Streamer(64 * 1024, false, (p) => finish({ reason: p.reason, got: Buffer.concat(p.received) })));
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const peer = new RawPeer(portOf(port.getHost()));
      const data = pattern(0, sent);
      let off = 0;
      pollUntil(
        reactor,
        () => {
          if (!peer.connected()) return false;
          // 16 KiB per poll; reset in the middle of the stream, once the server has read some.
          const got = server === null ? 0 : server.received.reduce((s, b) => s + b.length, 0);
          if (got > 0) return true;
          off += peer.writeSome(data.subarray(off, off + 16 * 1024));
          return false;
        },
        (e) => {
          peer.close();
          if (e) fail(e);
        },
        4000,
        0.001,
      );
    });
    expect(out.reason?.value).toBeInstanceOf(ConnectionLost);
    expect(RESET_CODES).toContain((out.reason?.value as ConnectionLost).code);
    expect(out.got.length).toBeGreaterThan(0);
    expect(out.got.length).toBeLessThan(sent);
    expect(firstMismatch(out.got, 0)).toBe(-1);
  });

  test("50 peers each reset mid-stream: 50 ConnectionLost, no exception reaches the reactor, no fd left", async () => {
    const peers = 50;
    const out = await runReactor<{ reasons: string[] }>(mode, (reactor, finish, fail) => {
      const reasons: string[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () =>
        new Streamer(1024 * 1024, false, (p) => {
          reasons.push(`${p.reason!.type?.name}:${(p.reason!.value as ConnectionLost).code}`);
          if (reasons.length === peers) finish({ reasons });
        });
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const open: RawPeer[] = [];
      for (let i = 0; i < peers; i++) open.push(new RawPeer(portOf(port.getHost())));
      pollUntil(
        reactor,
        () => {
          let ready = 0;
          for (const p of open) {
            if (p.fd < 0) {
              ready++;
              continue;
            }
            if (!p.connected()) continue;
            p.readAvailable(4096 - p.received);
            if (p.received >= 4096) {
              if (firstMismatch(p.bytes(), 0) !== -1) throw new Error("corrupt bytes before the reset");
              p.close();
              ready++;
            }
          }
          return ready === peers;
        },
        (e) => {
          for (const p of open) p.close();
          if (e) fail(e);
        },
      );
    });
    expect(out.reasons).toHaveLength(peers);
    for (const r of out.reasons) expect(["ConnectionLost:ECONNRESET", "ConnectionLost:EPIPE"]).toContain(r);
  });
});
