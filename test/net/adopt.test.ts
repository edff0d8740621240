/**
 * IReactorSocket: sockets made elsewhere (here with the native layer, as socket activation
 * or a parent would) adopted as a listening port, a connection or a datagram port. The
 * reactor serves a duplicate: the caller's fd stays the caller's.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { adoptDatagramPort, adoptStreamConnection, adoptStreamPort, listenTCP, listenUDP, type Address } from "../../lib/net";
import { native } from "../../lib/native";
import { DatagramProtocol, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, echoFactory, runReactor, type TestReactor } from "./helpers";
import { connectTCP, connectUNIX } from "../../lib/net";
import { spawn } from "node:child_process";
import { listenFds } from "../../examples/socket-activation/server";

expectNoFdLeaks();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-adopt-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A listening socket made natively, as a service manager would hand it over. */
function nativeListener(family: "IPv4" | "IPv6" | "unix", where: string): number {
  const fd = native.socket(family, "tcp");
  if (family === "unix") native.bindUnix(fd, where);
  else native.bind(fd, where, 0);
  native.listen(fd, 16);
  return fd;
}

/** Connects a client to `addr`, sends "ping", finishes with the echo once the server closes or after the echo. */
function ping(reactor: TestReactor, addr: Address, done: (echo: string) => void): void {
  const cf = new RecordingClientFactory(() => {
    const p = new Recorder();
    p.onMade = () => p.transport!.write("ping");
    p.onData = () => p.transport!.loseConnection();
    return p;
  });
  cf.onLost = () => done((cf.built[0] as Recorder).received.map((b) => b.toString()).join(""));
  if (addr.type === "UNIX") connectUNIX(reactor, addr.name, cf);
  else connectTCP(reactor, addr.host, addr.port, cf);
}

const FAMILIES: ["IPv4" | "IPv6" | "unix", () => string][] = [
  ["IPv4", () => "127.0.0.1"],
  ["IPv6", () => "::1"],
  ["unix", () => path.join(dir, `l${Math.random().toString(36).slice(2)}.sock`)],
];

describe.each(MODES)("adopted sockets (%s)", (mode) => {
  test.each(FAMILIES)("adoptStreamPort serves a natively made %s listener; the caller's fd is its own; no fd is left", async (family, where) => {
    const before = openFds();
    const callerFd = nativeListener(family, where());
    const result = await runReactor<{ echoes: string[]; host: Address; fdOfPort: number }>(mode, (reactor, finish) => {
      const port = reactor.adoptStreamPort(callerFd, family, echoFactory());
      const host = port.getHost();
      const fdOfPort = port.fileno();
      const echoes: string[] = [];
      ping(reactor, host, (e1) => {
        echoes.push(e1);
        // The caller closes its own fd: the port keeps serving through its duplicate.
        native.close(callerFd);
        ping(reactor, host, (e2) => {
          echoes.push(e2);
          void port.stopListening();
          finish({ echoes, host, fdOfPort });
        });
      });
    });
    expect(result.echoes).toEqual(["ping", "ping"]);
    expect(result.fdOfPort).not.toBe(callerFd);
    if (family === "unix") expect(result.host.type).toBe("UNIX");
    else expect(result.host).toMatchObject({ type: "TCP", family });
    expect(openFds()).toBe(before);
  });

  test("the caller's fd survives the port: after stopListening it still listens, and it has become non-blocking", async () => {
    const callerFd = nativeListener("IPv4", "127.0.0.1");
    try {
      const port0 = native.getsockname(callerFd) as { port: number };
      await runReactor<void>(mode, (reactor, finish) => {
        const port = reactor.adoptStreamPort(callerFd, "IPv4", echoFactory());
        void port.stopListening();
        // Still the caller's: a reactor listener made on it anew accepts.
        const again = reactor.adoptStreamPort(callerFd, "IPv4", echoFactory());
        ping(reactor, { type: "TCP", host: "127.0.0.1", port: port0.port, family: "IPv4" }, (echo) => {
          expect(echo).toBe("ping");
          void again.stopListening();
          finish();
        });
      });
      expect(native.accept(callerFd, 1)).toEqual([]); // non-blocking: nothing pending returns at once
    } finally {
      native.close(callerFd);
    }
  });

  test("adoptStreamConnection serves a connected TCP socket and a Unix socketpair end", async () => {
    const before = openFds();
    const got = await runReactor<string[]>(mode, (reactor, finish) => {
      const out: string[] = [];
      // TCP: a native client connects to a reactor port; once accepted, the client fd is adopted.
      const server = new ServerFactory();
      server.buildProtocol = () => {
        const p = new Recorder();
        p.onMade = () => {
          const conn = adoptStreamConnection(reactor, clientFd, "IPv4", clientFactory);
          native.close(clientFd);
          out.push(`peer ${(conn!.getPeer() as { port: number }).port === serverPort}`);
          p.transport!.write("hello");
        };
        p.onData = (d) => {
          out.push(`server got ${d.toString()}`);
          p.transport!.loseConnection();
        };
        return p;
      };
      const clientFactory = new ServerFactory();
      clientFactory.buildProtocol = (addr: Address) => {
        out.push(`built for ${addr.type}`);
        const p = new Recorder();
        p.onData = (d) => p.transport!.write(`echo ${d.toString()}`);
        p.onLost = () => {
          // Unix: one end of a socketpair adopted, the other written and read natively.
          const [a, b] = native.socketpair("stream");
          const u = new ServerFactory();
          u.buildProtocol = (peer: Address) => {
            const q = new Recorder();
            q.onMade = () => q.transport!.write(`unix peer "${(peer as { name: string }).name}"`);
            q.onLost = () => {
              native.close(b);
              finish(out);
            };
            return q;
          };
          reactor.adoptStreamConnection(a, "unix", u);
          native.close(a);
          const buf = Buffer.alloc(64);
          const poll = (): void => {
            const n = native.read(b, buf, 0, buf.length);
            if (n > 0) {
              out.push(buf.subarray(0, n).toString());
              native.shutdown(b, 1);
            } else reactor.callLater(0.005, poll);
          };
          poll();
        };
        return p;
      };
      const port = listenTCP(reactor, 0, server, { interface: "127.0.0.1" });
      const serverPort = (port.getHost() as { port: number }).port;
      const clientFd = native.socket("IPv4", "tcp");
      native.connect(clientFd, "127.0.0.1", serverPort);
    });
    expect(got).toEqual(["built for TCP", "peer true", "server got echo hello", 'unix peer ""']);
    expect(openFds()).toBe(before);
  });

  test.each([["IPv4", "127.0.0.1"], ["IPv6", "::1"]] as const)("adoptDatagramPort serves a natively bound %s UDP socket", async (family, host) => {
    const before = openFds();
    const callerFd = native.socket(family, "udp");
    native.bind(callerFd, host, 0);
    const port0 = (native.getsockname(callerFd) as { port: number }).port;
    const got = await runReactor<string[]>(mode, (reactor, finish) => {
      const out: string[] = [];
      const echo = new DatagramProtocol();
      echo.datagramReceived = (data, addr) => echo.transport!.write(Buffer.concat([Buffer.from("echo "), data]), addr as never);
      const adopted = reactor.adoptDatagramPort(callerFd, family, echo);
      native.close(callerFd);
      out.push(`host port same: ${(adopted.getHost() as { port: number }).port === port0}`);
      const client = new DatagramProtocol();
      client.datagramReceived = (data) => {
        out.push(data.toString());
        void adopted.stopListening();
        void clientPort.stopListening();
        finish(out);
      };
      const clientPort = listenUDP(reactor, 0, client, { interface: host });
      client.transport!.write("ding", { host, port: port0 } as never);
    });
    expect(got).toEqual(["host port same: true", "echo ding"]);
    expect(openFds()).toBe(before);
  });
});

describe("adopting what is not the right socket", () => {
  test("bad fds and families throw TypeErrors naming the argument; nothing is left open", async () => {
    const before = openFds();
    await runReactor<void>("integrated", (reactor, finish) => {
      const f = echoFactory();
      const listener = nativeListener("IPv4", "127.0.0.1");
      const unconnected = native.socket("IPv4", "tcp");
      const udp = native.socket("IPv4", "udp");
      const [r, w] = native.pipe();
      const errs: [string, string][] = [];
      const grab = (g: () => unknown): void => {
        try {
          g();
          errs.push(["none", ""]);
        } catch (e) {
          errs.push([(e as { code: string }).code, (e as Error).message]);
        }
      };
      grab(() => reactor.adoptStreamPort(-1, "IPv4", f));
      grab(() => reactor.adoptStreamPort(1.5, "IPv4", f));
      grab(() => reactor.adoptStreamPort(listener, "AF_INET" as never, f));
      grab(() => reactor.adoptStreamPort(99999, "IPv4", f));
      grab(() => reactor.adoptStreamPort(r, "IPv4", f));
      grab(() => reactor.adoptStreamPort(listener, "IPv6", f));
      grab(() => reactor.adoptStreamPort(unconnected, "IPv4", f));
      grab(() => reactor.adoptStreamPort(udp, "IPv4", f));
      grab(() => reactor.adoptStreamConnection(listener, "IPv4", f));
      grab(() => reactor.adoptDatagramPort(udp, "unix" as never, new DatagramProtocol()));
      grab(() => reactor.adoptDatagramPort(listener, "IPv4", new DatagramProtocol()));
      grab(() => reactor.adoptStreamPort(listener, "IPv4", {} as never));
      for (const fd of [listener, unconnected, udp, r, w]) native.close(fd);
      expect(errs).toEqual([
        ["ERR_INVALID_ARG_TYPE", "fd must be a non-negative integer file descriptor, received -1"],
        ["ERR_INVALID_ARG_TYPE", "fd must be a non-negative integer file descriptor, received 1.5"],
        ["ERR_INVALID_ARG_VALUE", 'family must be one of "IPv4", "IPv6", "unix", received AF_INET'],
        ["ERR_INVALID_ARG_VALUE", "fd 99999 is not an open socket (EBADF)"],
        ["ERR_INVALID_ARG_VALUE", `fd ${r} is not an open socket (ENOTSOCK)`],
        ["ERR_INVALID_ARG_VALUE", `family is "IPv6" but fd ${listener} is a IPv4 socket`],
        ["ERR_INVALID_ARG_VALUE", `fd ${unconnected} is not a listening socket`],
        ["ERR_INVALID_ARG_VALUE", `fd ${udp} is a dgram socket, not a stream socket`],
        ["ERR_INVALID_ARG_VALUE", `fd ${listener} is a listening socket`],
        ["ERR_INVALID_ARG_VALUE", 'family must be one of "IPv4", "IPv6", received unix'],
        ["ERR_INVALID_ARG_VALUE", `fd ${listener} is a stream socket, not a dgram socket`],
        ["ERR_INVALID_ARG_TYPE", "factory must be a protocol factory (with buildProtocol, doStart, doStop)"],
      ]);
      finish();
    });
    expect(openFds()).toBe(before);
  });

  test("the module functions check the same", () => {
    expect(() => adoptStreamPort(null as never, -3, "IPv4", echoFactory())).toThrow(/fd must be/);
    expect(() => adoptStreamConnection(null as never, 0, "IPv4", null as never)).toThrow(/factory/);
    expect(() => adoptDatagramPort(null as never, 0, "IPv4", new DatagramProtocol(), 0)).toThrow(/maxPacketSize/);
  });
});

describe("examples/socket-activation", () => {
  test("listenFds follows LISTEN_FDS and LISTEN_PID", () => {
    expect(listenFds({}, 10)).toEqual([]);
    expect(listenFds({ LISTEN_FDS: "2", LISTEN_PID: "10" }, 10)).toEqual([3, 4]);
    expect(listenFds({ LISTEN_FDS: "2", LISTEN_PID: "11" }, 10)).toEqual([]);
    expect(listenFds({ LISTEN_FDS: "1" }, 10)).toEqual([3]);
    expect(() => listenFds({ LISTEN_FDS: "x" }, 10)).toThrow(/LISTEN_FDS/);
  });

  test("a child started with a listening socket as fd 3 and LISTEN_FDS=1 echoes on it, and exits 0 on SIGTERM", async () => {
    const script = path.join(__dirname, "..", "..", "dist", "examples", "socket-activation", "server.js");
    if (!fs.existsSync(script)) throw new Error(`${script} is missing: npm test builds it (pretest), or npx tsc -p tsconfig.json`);
    const before = openFds();
    const listener = nativeListener("IPv4", "127.0.0.1");
    const port = (native.getsockname(listener) as { port: number }).port;
    // LISTEN_PID=$$ then exec: the pid systemd would name is the server's own.
    const child = spawn("/bin/sh", ["-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${script}"`], { stdio: ["ignore", "pipe", "pipe", listener] });
    native.close(listener);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 200 && !stdout.includes("\n"); i++) await new Promise((r) => setTimeout(r, 25));
    expect(stdout).toBe(`echo on 127.0.0.1:${port}\n`);
    const echo = await runReactor<string>("integrated", (reactor, finish) => ping(reactor, { type: "TCP", host: "127.0.0.1", port, family: "IPv4" }, finish));
    expect(echo).toBe("ping");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toBe("[fdreactor] info: Received SIGTERM, shutting down.\n");
    expect(openFds()).toBe(before);
  }, 20000);
});
