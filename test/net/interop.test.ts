/**
 * Interop with a real Twisted (Debian python3-twisted under /usr/bin/python3, see
 * fixtures/twisted_peer.py): a Twisted client against fdreactor servers and fdreactor
 * clients against Twisted servers, with a line protocol and with bulk data (half-closed,
 * echoed back, checked byte by byte), in both directions.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { Failure } from "../../lib/defer";
import { ConnectionDone } from "../../lib/error";
import { connectTCP, listenTCP } from "../../lib/net";
import type { Address, IHalfCloseableProtocol, ITCPTransport } from "../../lib/net/interfaces";
import { LineReceiver, Protocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { MODES, portOf, RecordingClientFactory, runReactor, type TestReactor } from "./helpers";

expectNoFdLeaks();

const PYTHON = "/usr/bin/python3";
const PEER = path.join(__dirname, "fixtures", "twisted_peer.py");
const LINES = 1000;
const BULK = 4 * 1024 * 1024;

function pattern(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

/** A running Twisted peer: its stdout lines as they come, and its exit. */
interface Peer {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `re`. */
  waitFor(re: RegExp): Promise<string>;
  /** Resolves with the exit code once the process and its pipes are closed. */
  closed: Promise<number | null>;
}

/** Peers still running when their test ended (a test that failed on its guard): ended after it. */
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
});

function startPeer(args: string[]): Peer {
  const child = spawn(PYTHON, [PEER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.on("exit", () => running.delete(child));
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.re.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (stderr += chunk));
  const closed = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      if (code !== 0 && stderr) lines.push(`stderr: ${stderr.trim()}`);
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    closed,
    waitFor: (re) => {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

/** fdreactor's line server: answers "fdreactor:<line>", closes on QUIT. */
class FdLineServer extends LineReceiver {
  override lineReceived(line: Buffer): void {
    if (line.toString() === "QUIT") this.transport!.loseConnection();
    else this.sendLine(Buffer.concat([Buffer.from("fdreactor:"), line]));
  }
}

/** fdreactor's bulk server: echoes with flow control, closes after the peer's half-close. */
class FdBulkServer extends Protocol implements IHalfCloseableProtocol {
  override connectionMade(): void {
    const t = this.transport as ITCPTransport;
    t.registerProducer(t, true);
  }
  override dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
  readConnectionLost(): void {
    this.transport!.unregisterProducer();
    this.transport!.loseConnection();
  }
}

/** Serves `factory` on a fresh port, runs the Twisted client with `args`, returns its output. */
async function twistedClientAgainst(mode: (typeof MODES)[number], make: () => Protocol, args: (port: number) => string[]): Promise<{ code: number | null; lines: string[] }> {
  return runReactor(
    mode,
    (reactor: TestReactor, finish) => {
      const f = new ServerFactory();
      f.buildProtocol = (addr: Address) => {
        void addr;
        return make();
      };
      const port = listenTCP(reactor, 0, f, { interface: "127.0.0.1" });
      const peer = startPeer(args(portOf(port.getHost())));
      void peer.closed.then((code) => {
        port.stopListening();
        finish({ code, lines: peer.lines });
      });
    },
    25,
  );
}

describeWithPeer("python3-twisted").each(MODES)("interop with Twisted (%s mode)", (mode) => {
  test("a Twisted LineReceiver client talks to an fdreactor LineReceiver server", async () => {
    const out = await twistedClientAgainst(mode, () => new FdLineServer(), (port) => ["client", "lines", String(port), String(LINES)]);
    expect(out.lines).toEqual([`OK client lines ${LINES}`]);
    expect(out.code).toBe(0);
  });

  test("a Twisted client's 4 MiB are echoed by an fdreactor server, exact bytes, after a half-close", async () => {
    const out = await twistedClientAgainst(mode, () => new FdBulkServer(), (port) => ["client", "bulk", String(port), String(BULK)]);
    expect(out.lines).toEqual([`OK client bulk ${BULK}`]);
    expect(out.code).toBe(0);
  });

  test("an fdreactor LineReceiver client talks to a Twisted LineReceiver server", async () => {
    const peer = startPeer(["server", "lines"]);
    const ready = await peer.waitFor(/^READY \d+$/);
    const out = await runReactor<{ answers: string[]; reason: Failure }>(mode, (reactor, finish) => {
      const answers: string[] = [];
      class Client extends LineReceiver {
        override connectionMade(): void {
          for (let i = 0; i < LINES; i++) this.sendLine(`line ${i}`);
        }
        override lineReceived(line: Buffer): void {
          answers.push(line.toString());
          if (answers.length === LINES) this.sendLine("QUIT");
        }
        override connectionLost(reason: Failure): void {
          finish({ answers, reason });
        }
      }
      connectTCP(reactor, "127.0.0.1", Number(ready.split(" ")[1]), new RecordingClientFactory(() => new Client()));
    }, 25);
    const code = await peer.closed;
    expect(out.answers).toEqual(Array.from({ length: LINES }, (_, i) => `twisted:line ${i}`));
    expect(out.reason.value).toBeInstanceOf(ConnectionDone);
    expect(peer.lines).toEqual([ready, "OK server lines"]);
    expect(code).toBe(0);
  });

  test("an fdreactor client's 4 MiB are echoed by a Twisted server, exact bytes, after a half-close", async () => {
    const peer = startPeer(["server", "bulk"]);
    const ready = await peer.waitFor(/^READY \d+$/);
    const out = await runReactor<{ received: number; ok: boolean; reason: unknown }>(mode, (reactor, finish) => {
      let received = 0;
      let ok = true;
      class Client extends Protocol implements IHalfCloseableProtocol {
        override connectionMade(): void {
          for (let off = 0; off < BULK; off += 65536) this.transport!.write(pattern(off, Math.min(65536, BULK - off)));
          (this.transport as ITCPTransport).loseWriteConnection();
        }
        override dataReceived(data: Buffer): void {
          if (ok && !data.equals(pattern(received, data.length))) ok = false;
          received += data.length;
        }
        readConnectionLost(): void {}
        override connectionLost(reason: Failure): void {
          finish({ received, ok, reason: reason.value });
        }
      }
      connectTCP(reactor, "127.0.0.1", Number(ready.split(" ")[1]), new RecordingClientFactory(() => new Client()));
    }, 25);
    const code = await peer.closed;
    expect(out).toEqual({ received: BULK, ok: true, reason: expect.any(ConnectionDone) });
    expect(peer.lines).toEqual([ready, `OK server bulk ${BULK}`]);
    expect(code).toBe(0);
  });
});
