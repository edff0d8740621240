/**
 * Connections that fail: a peer that resets while we write, a connect that times out
 * against a listener whose backlog is full, and a protocol callback that throws while
 * connecting.
 */
import { Failure } from "../../lib/defer";
import { ConnectionLost, TCPTimedOutError } from "../../lib/error";
import { listenTCP, connectTCP } from "../../lib/net";
import type { IHalfCloseableProtocol } from "../../lib/net/interfaces";
import { setLogObservers } from "../../lib/log";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

/** Half-close aware, so that a FIN from the peer cannot end the connection cleanly: only the write can fail it. */
class Writer extends Recorder implements IHalfCloseableProtocol {
  readConnectionLost(): void {
    this.events.push("readLost");
  }
}

describe.each(MODES)("failures (%s mode)", (mode) => {
  test("a peer that aborts while we write 64 MiB: connectionLost(ConnectionLost) with ECONNRESET or EPIPE", async () => {
    const out = await runReactor<{ reason: Failure; server: Recorder }>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      let server: Recorder;
      sf.buildProtocol = () => {
        server = new Recorder();
        // Abort on the first bytes, with more unread in the kernel: the kernel answers with RST.
        server.dataReceived = () => server.transport!.abortConnection();
        return server;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Writer();
        p.onMade = () => {
          for (let i = 0; i < 64; i++) p.transport!.write(Buffer.alloc(1024 * 1024, i));
        };
        p.onLost = (reason) => {
          port.stopListening();
          finish({ reason, server });
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.reason).toBeInstanceOf(Failure);
    expect(out.reason.value).toBeInstanceOf(ConnectionLost);
    const lost = out.reason.value as ConnectionLost;
    expect(["ECONNRESET", "EPIPE"]).toContain(lost.code);
    expect(lost.errno).toBe(native.errno[lost.code!]);
    expect(out.server.events[out.server.events.length - 1]).toBe("lost:ConnectionAborted");
  });

  test("a connect to a listener with a full backlog times out with TCPTimedOutError", async () => {
    // listen(0) admits exactly one unaccepted connection; SYNs beyond it are dropped, so a
    // further connect neither succeeds nor fails until our timeout fires.
    const listener = native.socket("IPv4", "tcp");
    native.bind(listener, "127.0.0.1", 0);
    native.listen(listener, 0);
    const port = (native.getsockname(listener) as { port: number }).port;
    const filler = native.socket("IPv4", "tcp");
    native.connect(filler, "127.0.0.1", port);
    try {
      const f = await runReactor<RecordingClientFactory>(mode, (reactor, finish) => {
        const cf = new RecordingClientFactory();
        cf.onFailed = () => finish(cf);
        connectTCP(reactor, "127.0.0.1", port, cf, { timeout: 0.2 });
      });
      expect(f.events).toEqual(["started", "failed:TCPTimedOutError"]);
      expect(f.failReason!.value).toBeInstanceOf(TCPTimedOutError);
      expect(f.failReason!.getErrorMessage()).toContain(`127.0.0.1:${port}`);
    } finally {
      native.close(filler);
      native.close(listener);
    }
  });

  test("a connection that succeeds in time cancels its timeout", async () => {
    const out = await runReactor<{ events: string[]; pendingAtConnect: number; pendingBefore: number }>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Recorder();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const pendingBefore = reactor.getDelayedCalls().length;
      let pendingAtConnect = -1;
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          // The 30 s timeout was scheduled with the attempt and is gone now that it succeeded.
          pendingAtConnect = reactor.getDelayedCalls().length;
          p.transport!.loseConnection();
        };
        return p;
      });
      cf.onLost = () => {
        port.stopListening();
        finish({ events: cf.events, pendingAtConnect, pendingBefore });
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf, { timeout: 30 });
    });
    expect(out.events).toEqual(["started", "lost:ConnectionDone"]);
    expect(out.pendingAtConnect).toBe(out.pendingBefore);
  });

  test("a protocol whose connectionMade throws is disconnected with the error as cause", async () => {
    const logged: string[] = [];
    const restore = setLogObservers([(level, message) => logged.push(`${level}: ${message}`)]);
    const out = await runReactor<{ reason: Failure; events: string[] }>(mode, (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Recorder();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => {
          throw new RangeError("bad start");
        };
        return p;
      });
      cf.onLost = (reason) => {
        port.stopListening();
        finish({ reason, events: cf.events });
      };
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    }).finally(restore);
    expect(out.events).toEqual(["started", "lost:ConnectionLost"]);
    expect(logged.filter((l) => !l.startsWith("debug"))).toEqual(["error: Recorder.makeConnection threw: closing its connection"]);
    expect((out.reason.value as Error & { cause: unknown }).cause).toBeInstanceOf(RangeError);
  });
});
