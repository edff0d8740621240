/**
 * Unix stream sockets: filesystem paths (stale socket files, live ones, mode, cleanup)
 * and Linux abstract names.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CannotListenError, ConnectionRefusedError } from "../../lib/error";
import { connectUNIX, listenUNIX, type UNIXPort } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, echoFactory, runReactor, type TestReactor } from "./helpers";

expectNoFdLeaks();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-unix-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function freshPath(): string {
  return path.join(dir, `s${counter++}.sock`);
}

/** Connects to `name`, sends "ping", and finishes with the echo and both ends' addresses. */
function pingPong(reactor: TestReactor, port: UNIXPort, name: string, finish: (v: { echo: string; host: Address; peer: Address; events: string[] }) => void): void {
  let host: Address;
  let peer: Address;
  const cf = new RecordingClientFactory(() => {
    const p = new Recorder();
    p.onMade = () => {
      host = p.transport!.getHost();
      peer = p.transport!.getPeer();
      p.transport!.write("ping");
    };
    p.onData = () => p.transport!.loseConnection();
    return p;
  });
  cf.onLost = () => {
    const p = cf.built[0] as Recorder;
    port.stopListening();
    finish({ echo: p.bytes().toString(), host, peer, events: cf.events });
  };
  connectUNIX(reactor, name, cf);
}

describe.each(MODES)("Unix sockets (%s mode)", (mode) => {
  test("listenUNIX/connectUNIX on a path exchange bytes; the socket file is removed on stopListening", async () => {
    const name = freshPath();
    const out = await runReactor<{ echo: string; host: Address; peer: Address; events: string[] }>(mode, (reactor, finish) => {
      const port = listenUNIX(reactor, name, echoFactory());
      expect(fs.lstatSync(name).isSocket()).toBe(true);
      expect(port.getHost()).toEqual({ type: "UNIX", name });
      pingPong(reactor, port, name, finish);
    });
    expect(out.echo).toBe("ping");
    expect(out.peer).toEqual({ type: "UNIX", name });
    expect(out.host).toEqual({ type: "UNIX", name: "" });
    expect(out.events).toEqual(["started", "lost:ConnectionDone"]);
    expect(fs.existsSync(name)).toBe(false);
  });

  test("an abstract name (leading NUL) works and leaves no file", async () => {
    const name = `\0fdreactor-test-${process.pid}-${counter++}`;
    const out = await runReactor<{ echo: string; host: Address; peer: Address; events: string[] }>(mode, (reactor, finish) => {
      const port = listenUNIX(reactor, name, echoFactory());
      pingPong(reactor, port, name, finish);
    });
    expect(out.echo).toBe("ping");
    expect(out.peer).toEqual({ type: "UNIX", name });
  });

  test("a stale socket file (nobody listening) is replaced", async () => {
    const name = freshPath();
    const fd = native.socket("unix", "tcp");
    native.bindUnix(fd, name);
    native.close(fd);
    expect(fs.lstatSync(name).isSocket()).toBe(true);
    const out = await runReactor<{ echo: string; host: Address; peer: Address; events: string[] }>(mode, (reactor, finish) => {
      const port = listenUNIX(reactor, name, echoFactory());
      pingPong(reactor, port, name, finish);
    });
    expect(out.echo).toBe("ping");
  });

  test("a socket somebody listens on, or a file that is not a socket, is left alone: CannotListenError", async () => {
    const live = freshPath();
    const plain = freshPath();
    fs.writeFileSync(plain, "keep me");
    const errs = await runReactor<unknown[]>(mode, (reactor, finish) => {
      const port = listenUNIX(reactor, live, echoFactory());
      const errs: unknown[] = [];
      for (const name of [live, plain]) {
        try {
          listenUNIX(reactor, name, echoFactory());
          errs.push(null);
        } catch (e) {
          errs.push(e);
        }
      }
      port.stopListening();
      finish(errs);
    });
    for (const e of errs) {
      expect(e).toBeInstanceOf(CannotListenError);
      expect(e).toMatchObject({ code: "EADDRINUSE" });
    }
    expect(fs.readFileSync(plain, "utf8")).toBe("keep me");
    expect(fs.existsSync(live)).toBe(false);
  });

  test("the mode option sets the socket file's permissions", async () => {
    const name = freshPath();
    const mode_ = await runReactor<number>(mode, (reactor, finish) => {
      const port = listenUNIX(reactor, name, echoFactory(), { mode: 0o600 });
      const m = fs.statSync(name).mode & 0o777;
      port.stopListening();
      finish(m);
    });
    expect(mode_).toBe(0o600);
  });

  test("connecting to a path with nothing behind it fails with ConnectionRefusedError", async () => {
    const f = await runReactor<RecordingClientFactory>(mode, (reactor, finish) => {
      const cf = new RecordingClientFactory();
      cf.onFailed = () => finish(cf);
      connectUNIX(reactor, freshPath(), cf);
    });
    expect(f.events).toEqual(["started", "failed:ConnectionRefusedError"]);
    expect(f.failReason!.value).toBeInstanceOf(ConnectionRefusedError);
    expect(f.failReason!.value).toMatchObject({ code: "ENOENT" });
  });

  test("getDestination is the path; an empty path is a TypeError", async () => {
    const out = await runReactor<{ dest: Address; err: unknown }>(mode, (reactor, finish) => {
      const c = connectUNIX(reactor, "/nonexistent/x.sock", new RecordingClientFactory());
      const dest = c.getDestination();
      c.stopConnecting();
      let err: unknown = null;
      try {
        listenUNIX(reactor, "", echoFactory());
      } catch (e) {
        err = e;
      }
      finish({ dest, err });
    });
    expect(out.dest).toEqual({ type: "UNIX", name: "/nonexistent/x.sock" });
    expect(out.err).toBeInstanceOf(TypeError);
    expect((out.err as Error).message).toContain("path");
  });
});
