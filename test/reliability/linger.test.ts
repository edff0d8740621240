/**
 * The textbook reset: a peer that closes with SO_LINGER {on, 0}, which makes the kernel
 * send RST at once (the native API has no SO_LINGER, so the peer is a small Python process,
 * fixtures/linger-peer.py). Mid-write: the server is streaming 16 MiB when the peer, having
 * read 1 MiB, resets. Mid-read: the peer sends 1 MiB and resets while the server reads.
 * The server's protocol sees ConnectionLost(ECONNRESET|EPIPE), the bytes on both sides are
 * exact, and nothing else is disturbed.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import type { Failure } from "../../lib/defer";
import { ConnectionLost } from "../../lib/error";
import { listenTCP } from "../../lib/net";
import type { IHalfCloseableProtocol } from "../../lib/net/interfaces";
import { Protocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, runReactor } from "../net/helpers";
import { firstMismatch, pattern } from "./support";

expectNoFdLeaks();

const PEER = path.join(__dirname, "fixtures", "linger-peer.py");
const MiB = 1024 * 1024;

/** Streams `total` pattern bytes on connect; records what it reads and how it ended. */
class Server extends Protocol implements IHalfCloseableProtocol {
  received: Buffer[] = [];
  reason: Failure | null = null;
  constructor(
    private readonly total: number,
    private readonly lost: () => void,
  ) {
    super();
  }
  override connectionMade(): void {
    for (let off = 0; off < this.total; off += MiB) this.transport!.write(pattern(off, Math.min(MiB, this.total - off)));
  }
  override dataReceived(data: Buffer): void {
    this.received.push(data);
  }
  readConnectionLost(): void {
    /* an RST, not a FIN, must end it */
  }
  override connectionLost(reason: Failure): void {
    this.reason = reason;
    this.lost();
  }
}

describe.each(MODES)("SO_LINGER {1, 0} reset from a peer process (%s mode)", (mode) => {
  test.each([
    ["mid-write: the peer reads 1 MiB of a 16 MiB stream, then resets", 16 * MiB, "read"],
    ["mid-read: the peer sends 1 MiB, then resets", 0, "write"],
  ] as const)("%s", async (_name, total, what) => {
    const out = await runReactor<{ server: Server; peerLine: string; peerStatus: number | null }>(mode, (reactor, finish, fail) => {
      let server: Server | null = null;
      let peerLine = "";
      let peerStatus: number | null | undefined;
      let lost = false;
      const settle = (): void => {
        if (lost && peerStatus !== undefined) finish({ server: server!, peerLine, peerStatus });
      };
      const sf = new ServerFactory();
      sf.buildProtocol = () =>
        (server = new Server(total, () => {
          lost = true;
          settle();
        }));
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      // The child is watched through Node's loop; in exclusive mode the reactor blocks it,
      // so the peer's outcome is also polled from the reactor's clock.
      const child = spawn("python3", [PEER, String(portOf(port.getHost())), String(MiB), what], { stdio: ["ignore", "pipe", "inherit"] });
      child.stdout.setEncoding("utf8").on("data", (s: string) => (peerLine += s));
      child.on("exit", (code) => {
        peerStatus = code;
        settle();
      });
      child.on("error", fail);
      const poll = (): void => {
        if (peerStatus === undefined) reactor.callLater(0.01, poll);
        else settle();
      };
      poll();
    }, 30);
    expect(out.peerStatus).toBe(0);
    const [count, digest] = out.peerLine.trim().split(" ");
    expect(Number(count)).toBe(MiB);
    expect(digest).toBe(createHash("sha256").update(pattern(0, MiB)).digest("hex"));
    expect(out.server.reason?.value).toBeInstanceOf(ConnectionLost);
    expect(["ECONNRESET", "EPIPE"]).toContain((out.server.reason?.value as ConnectionLost).code);
    const got = Buffer.concat(out.server.received);
    if (what === "write") {
      // Everything sent before the RST may or may not have been read; what was read is exact.
      expect(got.length).toBeLessThanOrEqual(MiB);
      expect(firstMismatch(got, 0)).toBe(-1);
    } else {
      expect(got.length).toBe(0);
    }
  });
});
