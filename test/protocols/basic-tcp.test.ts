/**
 * The framers over real loopback TCP connections (one reactor, client and server):
 * what the in-memory tests show, with the kernel choosing the read boundaries.
 */
import type { Failure } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import { connectTCP, listenTCP, type TCPPort } from "../../lib/net";
import type { Address, IProtocol } from "../../lib/net/interfaces";
import { Int32StringReceiver, LineReceiver, NetstringReceiver } from "../../lib/protocols/basic";
import { ClientFactory, ServerFactory } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

/**
 * Runs a reactor with a server built by `makeServer` on 127.0.0.1 and one client built by
 * `makeClient` connected to it, until `finish` is called; then stops everything.
 */
async function converse<T>(
  makeServer: (finish: (v: T) => void) => IProtocol,
  makeClient: (finish: (v: T) => void) => IProtocol,
  limitSeconds = 15,
): Promise<T> {
  const reactor = new Reactor();
  let result: { value: T } | null = null;
  let port: TCPPort | null = null;
  const finish = (value: T): void => {
    if (result !== null) return;
    result = { value };
    port?.stopListening();
    reactor.callLater(0, () => reactor.stop());
  };
  const sf = new ServerFactory();
  sf.buildProtocol = (addr: Address) => {
    void addr;
    return makeServer(finish);
  };
  const cf = new ClientFactory();
  cf.buildProtocol = (addr: Address) => {
    void addr;
    return makeClient(finish);
  };
  cf.clientConnectionFailed = (_c, reason) => {
    reason.raiseException();
  };
  const guard = reactor.callLater(limitSeconds, () => reactor.stop());
  reactor.callWhenRunning(() => {
    port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
    const host = port.getHost();
    connectTCP(reactor, "127.0.0.1", host.type === "UNIX" ? 0 : host.port, cf);
  });
  await reactor.run();
  if (guard.active()) guard.cancel();
  if (result === null) throw new Error(`the conversation did not finish within ${limitSeconds} s`);
  return (result as { value: T }).value;
}

test("LineReceiver: lines written in odd pieces arrive whole, and sendLine replies come back in order", async () => {
  const out = await converse<string[]>(
    () =>
      new (class extends LineReceiver {
        override lineReceived(line: Buffer): void {
          this.sendLine(line.toString().toUpperCase());
        }
      })(),
    (finish) =>
      new (class extends LineReceiver {
        got: string[] = [];
        override connectionMade(): void {
          const wire = "alpha\r\nbeta\r\n\r\ngamma and delta\r\n";
          for (let i = 0; i < wire.length; i += 3) this.transport?.write(wire.slice(i, i + 3));
        }
        override lineReceived(line: Buffer): void {
          this.got.push(line.toString());
          if (this.got.length === 4) {
            this.transport?.loseConnection();
            finish(this.got);
          }
        }
      })(),
  );
  expect(out).toEqual(["ALPHA", "BETA", "", "GAMMA AND DELTA"]);
});

test("LineReceiver: a line over MAX_LENGTH closes the connection cleanly after the lines before it", async () => {
  let server: string[] = [];
  const out = await converse<{ server: string[]; clientLost: string }>(
    () =>
      new (class extends LineReceiver {
        override MAX_LENGTH = 10;
        got: string[] = [];
        override lineReceived(line: Buffer): void {
          this.got.push(line.toString());
        }
        override lineLengthExceeded(line: Buffer): void {
          this.got.push(`exceeded:${line.length}`);
          super.lineLengthExceeded(line);
        }
        override connectionLost(): void {
          server = this.got;
        }
      })(),
    (finish) =>
      new (class extends LineReceiver {
        override connectionMade(): void {
          this.transport?.write("short\r\n" + "x".repeat(5000));
        }
        override connectionLost(reason: Failure): void {
          finish({ server, clientLost: reason.getTypeName() });
        }
      })(),
  );
  expect(out.server).toEqual(["short", "exceeded:5000"]);
  expect(out.clientLost).toBe("ConnectionDone");
});
test("LineReceiver: raw mode takes a 1 MiB body announced by a line, then line mode resumes with the bytes after it", async () => {
  const size = 1024 * 1024;
  const out = await converse<{ raw: number; sum: number; lines: string[] }>(
    (finish) =>
      new (class extends LineReceiver {
        remaining = 0;
        raw = 0;
        sum = 0;
        lines: string[] = [];
        override lineReceived(line: Buffer): void {
          const s = line.toString();
          this.lines.push(s);
          if (s.startsWith("BODY ")) {
            this.remaining = Number(s.slice(5));
            this.setRawMode();
          } else if (s === "END") {
            finish({ raw: this.raw, sum: this.sum, lines: this.lines });
          }
        }
        override rawDataReceived(data: Buffer): void {
          const take = Math.min(this.remaining, data.length);
          for (let i = 0; i < take; i++) this.sum = (this.sum + data[i]) % 1_000_000_007;
          this.raw += take;
          this.remaining -= take;
          if (this.remaining === 0) this.setLineMode(data.subarray(take));
        }
      })(),
    () =>
      new (class extends LineReceiver {
        override connectionMade(): void {
          const body = Buffer.alloc(size);
          for (let i = 0; i < size; i++) body[i] = i % 251;
          this.transport?.writeSequence([`BODY ${size}\r\n`, body, "after\r\nEND\r\n"]);
        }
      })(),
  );
  let expectedSum = 0;
  for (let i = 0; i < size; i++) expectedSum = (expectedSum + (i % 251)) % 1_000_000_007;
  expect(out).toEqual({ raw: size, sum: expectedSum, lines: [`BODY ${size}`, "after", "END"] });
});

test("Int32StringReceiver: strings of 0 B to 300 KiB arrive exactly and echo back", async () => {
  const sizes = [0, 1, 1000, 65536, 300 * 1024];
  const make = (i: number) => Buffer.alloc(sizes[i], 97 + i);
  const out = await converse<boolean[]>(
    () =>
      new (class extends Int32StringReceiver {
        override MAX_LENGTH = 1024 * 1024;
        override stringReceived(data: Buffer): void {
          this.sendString(data);
        }
      })(),
    (finish) =>
      new (class extends Int32StringReceiver {
        override MAX_LENGTH = 1024 * 1024;
        got: Buffer[] = [];
        override connectionMade(): void {
          sizes.forEach((_s, i) => this.sendString(make(i)));
        }
        override stringReceived(data: Buffer): void {
          this.got.push(data);
          if (this.got.length === sizes.length) {
            this.transport?.loseConnection();
            finish(this.got.map((g, i) => g.equals(make(i))));
          }
        }
      })(),
  );
  expect(out).toEqual([true, true, true, true, true]);
});

test("NetstringReceiver: malformed input closes the connection, and the server says why", async () => {
  const restore = setLogObservers([]);
  let netstringServer: { got: string[]; error: string | undefined } = { got: [], error: undefined };
  try {
    const out = await converse<{ got: string[]; error: string | undefined; clientLost: string }>(
      () =>
        new (class extends NetstringReceiver {
          got: string[] = [];
          override stringReceived(data: Buffer): void {
            this.got.push(data.toString());
          }
          override connectionLost(): void {
            netstringServer = { got: this.got, error: this.parseError?.message };
          }
        })(),
      (finish) =>
        new (class extends NetstringReceiver {
          override connectionMade(): void {
            this.sendString("ok");
            this.transport?.write("05:abcde,");
          }
          override connectionLost(reason: Failure): void {
            finish({ ...netstringServer, clientLost: reason.getTypeName() });
          }
        })(),
    );
    expect(out).toEqual({
      got: ["ok"],
      error: "netstring does not start with a length: expected decimal digits without leading zeros, then ':' (byte 0x35 at offset 1)",
      clientLost: "ConnectionDone",
    });
  } finally {
    restore();
  }
});
