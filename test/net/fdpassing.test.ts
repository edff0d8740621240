/**
 * Passing descriptors over Unix stream connections (Twisted's IUNIXTransport
 * .sendFileDescriptor and IFileDescriptorReceiver): within one process in both run modes,
 * and between processes with a real Twisted on the other end, in both directions. The
 * order is Twisted's: a descriptor reaches the protocol before the byte written after it.
 * Every pipe passed is checked for EOF at the end: no copy of its write end survived anywhere.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionLost } from "../../lib/error";
import { adoptStreamPort, connectTCP, connectUNIX, listenTCP, listenUNIX, type IFileDescriptorReceiver, type IUNIXTransport } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { compileLib } from "../reactor/fixtures/compile";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { runTwistedPeer, type PeerExit } from "../support/twisted";
import { MODES, Recorder, RecordingClientFactory, echoFactory, runReactor, type TestReactor } from "./helpers";

expectNoFdLeaks();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-fds-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
let counter = 0;
const freshPath = (): string => path.join(dir, `s${counter++}.sock`);

/** A Recorder that also takes descriptors ("fd" events, in order with the data). */
class FdRecorder extends Recorder implements IFileDescriptorReceiver {
  fds: number[] = [];
  onFd: ((fd: number) => void) | null = null;
  fileDescriptorReceived(fd: number): void {
    this.events.push("fd");
    this.fds.push(fd);
    this.onFd?.(fd);
  }
}

function factoryOf(make: () => Recorder): ServerFactory {
  const f = new ServerFactory();
  f.buildProtocol = () => make();
  return f;
}

/**
 * Serves FdRecorders on a fresh Unix path (`server` sets each up, with a `stop` that ends
 * listening) and connects a Recorder whose connectionMade runs `onMade` with its transport.
 */
function serveAndConnect(reactor: TestReactor, server: (p: FdRecorder, stop: () => void) => void, onMade: (t: IUNIXTransport) => void): void {
  const name = freshPath();
  const port = listenUNIX(
    reactor,
    name,
    factoryOf(() => {
      const p = new FdRecorder();
      server(p, () => port.stopListening());
      return p;
    }),
  );
  connectUNIX(
    reactor,
    name,
    new RecordingClientFactory(() => {
      const c = new Recorder();
      c.onMade = () => onMade(c.transport as unknown as IUNIXTransport);
      return c;
    }),
  );
}

/** Everything in pipe `r` until EOF (the pipe must have ended). */
function drain(r: number): string {
  const buf = Buffer.alloc(256);
  let s = "";
  for (;;) {
    const n = native.read(r, buf, 0, buf.length);
    if (n <= 0) {
      expect(n).toBe(0); // EOF, not AGAIN: no write end is left open anywhere
      return s;
    }
    s += buf.subarray(0, n).toString();
  }
}

/** The index of the first data event holding `ch`. */
function dataIndex(events: string[], ch: string): number {
  return events.findIndex((e) => e.startsWith("data:") && e.includes(ch));
}

describe.each(MODES)("fd passing over Unix connections (%s mode)", (mode) => {
  test("descriptors reach fileDescriptorReceived before the byte written after them; the sender's own copy may close at once", async () => {
    const before = openFds();
    const pipes = [native.pipe(), native.pipe()];
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      const name = freshPath();
      const port = listenUNIX(
        reactor,
        name,
        factoryOf(() => {
          const p = new FdRecorder();
          p.onFd = (fd) => {
            native.write(fd, Buffer.from(`server:${p.fds.length}`), 0, 8);
            native.close(fd);
          };
          p.onData = () => {
            if (p.bytes().toString().endsWith("END")) {
              port.stopListening();
              p.transport!.loseConnection();
              finish(p.events);
            }
          };
          return p;
        }),
      );
      const cf = new RecordingClientFactory(() => {
        const c = new Recorder();
        c.onMade = () => {
          const t = c.transport as unknown as { sendFileDescriptor(fd: number): void; write(d: string): void };
          t.write("a");
          t.sendFileDescriptor(pipes[0][1]);
          t.sendFileDescriptor(pipes[1][1]);
          native.close(pipes[0][1]); // the transport sends its own duplicates
          native.close(pipes[1][1]);
          t.write("bEND");
        };
        return c;
      });
      connectUNIX(reactor, name, cf);
    });
    expect(events.filter((e) => e === "fd")).toHaveLength(2);
    expect(events.lastIndexOf("fd")).toBeLessThan(dataIndex(events, "b"));
    expect(events.filter((e) => e.startsWith("data:")).map((e) => e.slice(5)).join("")).toBe("abEND");
    expect(drain(pipes[0][0])).toBe("server:1");
    expect(drain(pipes[1][0])).toBe("server:2");
    for (const [r] of pipes) native.close(r);
    expect(openFds()).toBe(before);
  });

  test("both directions on one connection; a protocol without fileDescriptorReceived gets none and the kernel drops them", async () => {
    const toClient = native.pipe();
    const toPlain = native.pipe();
    const out = await runReactor<{ client: string[] }>(mode, (reactor, finish) => {
      const name = freshPath();
      // Server 1 passes a pipe to its client, which writes into it: the server-to-client direction.
      const port = listenUNIX(
        reactor,
        name,
        factoryOf(() => {
          const p = new FdRecorder();
          p.onMade = () => {
            (p.transport as unknown as { sendFileDescriptor(fd: number): void }).sendFileDescriptor(toClient[1]);
            p.transport!.write("S");
          };
          return p;
        }),
      );
      const cf = new RecordingClientFactory(() => {
        const c = new FdRecorder();
        c.onFd = (fd) => {
          native.write(fd, Buffer.from("client"), 0, 6);
          native.close(fd);
        };
        c.onData = () => {
          port.stopListening();
          c.transport!.loseConnection();
        };
        return c;
      });
      // Server 2 is a plain Recorder: the descriptor its client sends (client to server) is never installed.
      const plainName = freshPath();
      const plainPort = listenUNIX(
        reactor,
        plainName,
        factoryOf(() => {
          const p = new Recorder();
          p.onData = () => {
            if (p.bytes().toString() === "pEND") {
              plainPort.stopListening();
              p.transport!.loseConnection();
            }
          };
          return p;
        }),
      );
      const plainCf = new RecordingClientFactory(() => {
        const c = new Recorder();
        c.onMade = () => {
          (c.transport as unknown as { sendFileDescriptor(fd: number): void }).sendFileDescriptor(toPlain[1]);
          c.transport!.write("pEND");
        };
        return c;
      });
      let lost = 0;
      cf.onLost = plainCf.onLost = () => {
        if (++lost === 2) finish({ client: (cf.built[0] as FdRecorder).events });
      };
      connectUNIX(reactor, name, cf);
      connectUNIX(reactor, plainName, plainCf);
    });
    expect(out.client.slice(0, 3)).toEqual(["made", "fd", "data:S"]);
    native.close(toClient[1]);
    native.close(toPlain[1]);
    expect(drain(toClient[0])).toBe("client");
    expect(drain(toPlain[0])).toBe(""); // EOF: the copy sent to the plain protocol was dropped, not leaked
    native.close(toClient[0]);
    native.close(toPlain[0]);
  });

  test("a fileDescriptorReceived that throws loses its connection and the descriptor is closed", async () => {
    const [r, w] = native.pipe();
    const reason = await runReactor<unknown>(mode, (reactor, finish) => {
      serveAndConnect(
        reactor,
        (p, stop) => {
          p.onFd = () => {
            throw new Error("no thanks");
          };
          p.onLost = (why) => {
            stop();
            finish(why.value);
          };
        },
        (t) => {
          t.sendFileDescriptor(w);
          t.write("x");
        },
      );
    });
    expect(reason).toBeInstanceOf(ConnectionLost);
    expect(String((reason as Error).message)).toMatch(/fileDescriptorReceived threw: no thanks/);
    native.close(w);
    expect(drain(r)).toBe("");
    native.close(r);
  });

  test("a descriptor with no byte written after it is closed unsent when the connection closes", async () => {
    const [r, w] = native.pipe();
    const events = await runReactor<string[]>(mode, (reactor, finish) => {
      serveAndConnect(
        reactor,
        (p, stop) => {
          p.onLost = () => {
            stop();
            finish(p.events);
          };
        },
        (t) => {
          t.write("only");
          t.sendFileDescriptor(w);
          t.loseConnection();
        },
      );
    });
    expect(events).toEqual(["made", "data:only", "lost:ConnectionDone"]);
    native.close(w);
    expect(drain(r)).toBe("");
    native.close(r);
  });

  test("misuse throws typed errors naming the argument", async () => {
    await runReactor<void>(mode, (reactor, finish) => {
      const port = listenTCP(reactor, 0, echoFactory(), { interface: "127.0.0.1" });
      const { port: n } = port.getHost() as { port: number };
      const cf = new RecordingClientFactory(() => {
        const c = new Recorder();
        c.onMade = () => {
          const t = c.transport as unknown as { sendFileDescriptor(fd: unknown): void };
          expect(() => t.sendFileDescriptor(0)).toThrow(/only a Unix socket/);
          expect(() => t.sendFileDescriptor(-1)).toThrow(TypeError);
          expect(() => t.sendFileDescriptor("3")).toThrow(/fd must be/);
          port.stopListening();
          c.transport!.loseConnection();
        };
        return c;
      });
      cf.onLost = () => finish();
      connectTCP(reactor, "127.0.0.1", n, cf);
    });
    await runReactor<void>(mode, (reactor, finish) => {
      const name = freshPath();
      const port = listenUNIX(reactor, name, echoFactory());
      const cf = new RecordingClientFactory(() => {
        const c = new Recorder();
        c.onMade = () => {
          const [r, w] = native.pipe();
          native.close(r);
          native.close(w);
          expect(() => (c.transport as unknown as { sendFileDescriptor(fd: number): void }).sendFileDescriptor(w)).toThrow(expect.objectContaining({ code: "EBADF" }));
          // More descriptors than one message carries, with no byte between them.
          const t = c.transport as unknown as IUNIXTransport;
          const [r2, w2] = native.pipe();
          for (let i = 0; i < native.MAX_PASSED_FDS; i++) t.sendFileDescriptor(w2);
          expect(() => t.sendFileDescriptor(w2)).toThrow(/at most 253 descriptors can ride on one byte/);
          native.close(r2);
          native.close(w2);
          port.stopListening();
          c.transport!.loseConnection();
        };
        return c;
      });
      cf.onLost = () => finish();
      connectUNIX(reactor, name, cf);
    });
  });
});

describe("fd passing between two fdreactor processes", () => {
  test("the parent passes two pipes the child writes into; the child passes a listening socket the parent adopts and serves", async () => {
    const compiled = compileLib();
    const name = freshPath();
    const pipes = [native.pipe(), native.pipe()];
    let child: ReturnType<typeof spawn> | null = null;
    let stderr = "";
    const out = await runReactor<{ echo: string; events: string[] }>("integrated", (reactor, finish) => {
      const port = listenUNIX(
        reactor,
        name,
        factoryOf(() => {
          const p = new FdRecorder();
          p.onMade = () => {
            const t = p.transport as unknown as IUNIXTransport;
            t.sendFileDescriptor(pipes[0][1]);
            t.sendFileDescriptor(pipes[1][1]);
            t.write("G");
          };
          p.onFd = (fd) => {
            const adopted = adoptStreamPort(reactor, fd, "IPv4", echoFactory());
            native.close(fd);
            const cf = new RecordingClientFactory(() => {
              const c = new Recorder();
              c.onMade = () => c.transport!.write("ping");
              c.onData = () => {
                if (c.bytes().length < 4) return;
                c.transport!.loseConnection();
                adopted.stopListening();
                port.stopListening();
                p.transport!.loseConnection();
                finish({ echo: c.bytes().toString(), events: p.events });
              };
              return c;
            });
            connectTCP(reactor, "127.0.0.1", (adopted.getHost() as { port: number }).port, cf);
          };
          return p;
        }),
      );
      child = spawn(process.execPath, [path.join(__dirname, "fixtures", "fd-child.js"), compiled, name], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    });
    const code = await new Promise<number | null>((resolve) => (child!.exitCode !== null ? resolve(child!.exitCode) : child!.on("exit", resolve)));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(out.echo).toBe("ping");
    expect(out.events.slice(0, 3)).toEqual(["made", "fd", "data:L"]);
    for (const [, w] of pipes) native.close(w);
    expect(drain(pipes[0][0])).toBe("child:1");
    expect(drain(pipes[1][0])).toBe("child:2");
    for (const [r] of pipes) native.close(r);
  });
});

const TWISTED = path.join(__dirname, "fixtures", "twisted_fds.py");

/** Runs the Twisted fd peer; resolves once it exits; `onLine` sees each stdout line. */
function twistedPeer(role: "receive" | "send", where: string, onLine: (line: string) => void): Promise<PeerExit> {
  return runTwistedPeer(TWISTED, [role, where], onLine);
}

describeWithPeer("python3-twisted")("fd passing with a real Twisted in another process", () => {
  test("fdreactor passes two pipes to Twisted's IFileDescriptorReceiver, which sees them before the byte after them", async () => {
    const pipes = [native.pipe(), native.pipe()];
    const name = freshPath();
    let peer: Promise<PeerExit> | null = null;
    await runReactor<void>("integrated", (reactor, finish) => {
      const port = listenUNIX(
        reactor,
        name,
        factoryOf(() => {
          const p = new Recorder();
          p.onMade = () => {
            const t = p.transport as unknown as { sendFileDescriptor(fd: number): void };
            p.transport!.write("a");
            t.sendFileDescriptor(pipes[0][1]);
            t.sendFileDescriptor(pipes[1][1]);
            p.transport!.write("bEND");
          };
          p.onLost = () => {
            port.stopListening();
            finish();
          };
          return p;
        }),
      );
      peer = twistedPeer("receive", name, () => undefined);
    });
    const exit = await peer!;
    expect(exit.stderr).toBe("");
    const line = exit.lines.find((l) => l.startsWith("EVENTS "));
    expect(line).toBeDefined();
    const events = JSON.parse(line!.slice(7)) as string[];
    expect(events.filter((e) => e === "fd")).toHaveLength(2);
    expect(events.lastIndexOf("fd")).toBeLessThan(dataIndex(events, "b"));
    expect(events.filter((e) => e.startsWith("data:")).map((e) => e.slice(5)).join("")).toBe("abEND");
    for (const [, w] of pipes) native.close(w);
    expect(drain(pipes[0][0])).toBe("twisted:1");
    expect(drain(pipes[1][0])).toBe("twisted:2");
    for (const [r] of pipes) native.close(r);
  });

  test("Twisted passes a listening TCP socket; fdreactor adopts it and serves a connection on it", async () => {
    const name = freshPath();
    let peer: Promise<PeerExit> | null = null;
    const out = await runReactor<{ echo: string; events: string[] }>("integrated", (reactor, finish) => {
      let adopted: ReturnType<typeof adoptStreamPort> | null = null;
      let receiver: FdRecorder | null = null;
      const port = listenUNIX(
        reactor,
        name,
        factoryOf(() => {
          const p = new FdRecorder();
          receiver = p;
          p.onFd = (fd) => {
            adopted = adoptStreamPort(reactor, fd, "IPv4", echoFactory());
            native.close(fd); // the port serves its own duplicate
          };
          return p;
        }),
      );
      peer = twistedPeer("send", name, (line) => {
        const m = /^SENT (\d+)$/.exec(line);
        if (m === null) return;
        expect((adopted!.getHost() as { port: number }).port).toBe(Number(m[1]));
        const cf = new RecordingClientFactory(() => {
          const c = new Recorder();
          c.onMade = () => c.transport!.write("ping");
          c.onData = () => {
            if (c.bytes().length < 4) return;
            c.transport!.loseConnection();
            adopted!.stopListening();
            port.stopListening();
            receiver!.transport!.loseConnection();
            finish({ echo: c.bytes().toString(), events: receiver!.events });
          };
          return c;
        });
        connectTCP(reactor, "127.0.0.1", Number(m[1]), cf);
      });
    });
    expect(out.echo).toBe("ping");
    expect(out.events.slice(0, 3)).toEqual(["made", "fd", "data:L"]);
    const exit = await peer!;
    expect(exit.stderr).toBe("");
  });
});
