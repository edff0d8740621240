/**
 * UDP ports on real loopback sockets: round trips with addresses, connected ports and
 * refusals, limits, errors, and closing.
 */
import { fstatSync } from "node:fs";
import { Failure } from "../../lib/defer";
import { CannotListenError, ConnectError } from "../../lib/error";
import { setLogObservers } from "../../lib/log";
import { native } from "../../lib/native";
import type { Address } from "../../lib/net/interfaces";
import { listenUDP, MessageLengthError, UDPAlreadyConnectedError, UDPPort } from "../../lib/net/udp";
import { ConnectedDatagramProtocol } from "../../lib/protocols/datagram";
import { configTable } from "../reactor/helpers";
import { expectNoFdLeaks, listFds } from "../support/fds";
import { testIf } from "../support/peers";
import { closedUDPPort, DatagramRecorder, hasIPv6Loopback, runUDP } from "./udp-support";

expectNoFdLeaks();

/** Whether `fd` is open (fstat; not a listing of /proc/self/fd, whose own fd would take the number just freed). */
function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function portOf(a: Address): number {
  if (a.type === "UNIX") throw new Error("not an IP address");
  return a.port;
}

describe.each(configTable())("UDP round trip (%s)", (_label, config) => {
  test("datagrams reach the server with the client's address and the echo comes back from the server's", async () => {
    const out = await runUDP<{ server: string[]; client: string[]; clientPort: number; serverPort: number }>((reactor, finish) => {
      const server = new DatagramRecorder();
      server.onDatagram = (data, addr) => server.transport?.write(data, addr);
      const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
      const client = new DatagramRecorder();
      const cp = listenUDP(reactor, 0, client, { interface: "127.0.0.1" });
      const to = { host: "127.0.0.1", port: portOf(sp.getHost()) };
      client.onDatagram = () => {
        if (client.datagrams.length < 3) return;
        const result = { server: server.events.slice(), client: client.events.slice(), clientPort: portOf(cp.getHost()), serverPort: portOf(sp.getHost()) };
        sp.stopListening();
        cp.stopListening();
        finish(result);
      };
      expect(cp.write("one", to)).toBe(3);
      expect(cp.write(Buffer.from("two"), ["127.0.0.1", to.port])).toBe(3);
      expect(cp.write(new Uint8Array([0x33]), to)).toBe(1);
    }, { backend: config.backend, mode: config.mode });
    const c = `127.0.0.1:${out.clientPort}`;
    const s = `127.0.0.1:${out.serverPort}`;
    expect(out.server).toEqual(["start", `dgram:one@${c}`, `dgram:two@${c}`, `dgram:3@${c}`]);
    expect(out.client).toEqual(["start", `dgram:one@${s}`, `dgram:two@${s}`, `dgram:3@${s}`]);
  });

  test("a connected port's write to a closed port makes connectionRefused run once", async () => {
    const closed = closedUDPPort();
    const out = await runUDP<{ events: string[]; peer: Address | null }>((reactor, finish) => {
      const p = new DatagramRecorder();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      port.connect("127.0.0.1", closed);
      p.onRefused = () => {
        const r = { events: p.events.slice(), peer: port.getPeer() };
        port.stopListening();
        finish(r);
      };
      expect(port.write("anyone there?")).toBe(13);
    }, { backend: config.backend, mode: config.mode });
    expect(out.events).toEqual(["start", "refused"]);
    expect(out.peer).toEqual({ type: "UDP", host: "127.0.0.1", port: closed, family: "IPv4" });
  });
});

describe("UDP ports", () => {
  test("getHost names the bound address; the protocol is started, and stopped (transport null) by stopListening", async () => {
    const out = await runUDP<{ host: Address; events: string[]; transportAfter: unknown; fired: boolean; fdOpen: boolean; connected: boolean }>((reactor, finish) => {
      const p = new DatagramRecorder();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      const host = port.getHost();
      const fd = port.fileno();
      expect(p.transport).toBe(port);
      let fired = false;
      port.stopListening().addCallback(() => {
        fired = true;
      });
      finish({ host, events: p.events, transportAfter: p.transport, fired, fdOpen: isOpen(fd), connected: port.connected });
    });
    expect(out.host).toEqual({ type: "UDP", host: "127.0.0.1", port: expect.any(Number), family: "IPv4" });
    expect(portOf(out.host)).toBeGreaterThan(0);
    expect(out.events).toEqual(["start", "stop"]);
    expect(out.transportAfter).toBeNull();
    expect(out.fired).toBe(true);
    expect(out.fdOpen).toBe(false);
    expect(out.connected).toBe(false);
  });

  test("a connected port hears only its peer and writes to it without an address", async () => {
    const out = await runUDP<string[]>((reactor, finish) => {
      const peer = new DatagramRecorder();
      const peerPort = listenUDP(reactor, 0, peer, { interface: "127.0.0.1" });
      const stranger = new DatagramRecorder();
      const strangerPort = listenUDP(reactor, 0, stranger, { interface: "127.0.0.1" });
      const p = new DatagramRecorder();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      port.connect("127.0.0.1", portOf(peerPort.getHost()));
      const me = { host: "127.0.0.1", port: portOf(port.getHost()) };
      peer.onDatagram = () => {
        // The stranger's datagram was sent first: had it been delivered, it would be first.
        strangerPort.write("from stranger", me);
        peerPort.write("from peer", me);
      };
      p.onDatagram = () => {
        const events = p.events.slice();
        for (const x of [peerPort, strangerPort, port]) x.stopListening();
        finish(events);
      };
      port.write("hello");
    });
    expect(out).toEqual(["start", expect.stringMatching(/^dgram:from peer@127\.0\.0\.1:\d+$/)]);
  });

  test("stopListening inside datagramReceived delivers nothing more, though datagrams were queued", async () => {
    const logged: string[] = [];
    const restore = setLogObservers([(level, message) => logged.push(`${level}:${message}`)]);
    try {
      const out = await runUDP<string[]>((reactor, finish) => {
        const p = new DatagramRecorder();
        const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
        const to = { host: "127.0.0.1", port: portOf(port.getHost()) };
        p.onDatagram = () => {
          port.stopListening();
          reactor.callLater(0.05, () => finish(p.events.map((e) => e.replace(/@.*/, ""))));
        };
        for (const d of ["a", "b", "c"]) port.write(d, to);
      });
      expect(out).toEqual(["start", "dgram:a", "stop"]);
      expect(logged.filter((l) => !l.startsWith("debug:"))).toEqual([]);
    } finally {
      restore();
    }
  });

  test("a port still listening when the reactor shuts down is closed and its protocol stopped", async () => {
    const p = new DatagramRecorder();
    let port: UDPPort | null = null;
    let fd = -1;
    await runUDP<void>((reactor, finish) => {
      port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      fd = port.fileno();
      finish();
    });
    expect(p.events).toEqual(["start", "stop"]);
    expect((port as UDPPort | null)?.connected).toBe(false);
    expect(isOpen(fd)).toBe(false);
  });

  test("wrong destinations throw TypeErrors naming addr, and reconnecting throws UDPAlreadyConnectedError", async () => {
    await runUDP<void>((reactor, finish) => {
      const port = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
      expect(() => port.write("x")).toThrow(new TypeError("addr is required on a port that is not connected"));
      expect(() => port.write("x", { host: "localhost", port: 9 })).toThrow(
        new TypeError("addr host must be an IPv4 or IPv6 address literal (write does not resolve names), received localhost"),
      );
      expect(() => port.write("x", { host: "127.0.0.1", port: 70000 })).toThrow(new RangeError("addr port must be between 0 and 65535, received 70000"));
      port.connect("127.0.0.1", 9);
      expect(() => port.write("x", ["127.0.0.1", 10])).toThrow(new TypeError("addr must be the connected peer 127.0.0.1:9 or omitted, received 127.0.0.1:10"));
      expect(() => port.connect("127.0.0.1", 10)).toThrow(UDPAlreadyConnectedError);
      port.stopListening();
      finish();
    });
  });

  test("a datagram larger than UDP allows throws MessageLengthError carrying EMSGSIZE", async () => {
    const err = await runUDP<unknown>((reactor, finish) => {
      const port = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
      try {
        port.write(Buffer.alloc(70000), { host: "127.0.0.1", port: 9 });
        finish(null);
      } catch (e) {
        finish(e);
      } finally {
        port.stopListening();
      }
    });
    expect(err).toBeInstanceOf(MessageLengthError);
    expect((err as MessageLengthError).code).toBe("EMSGSIZE");
    expect((err as MessageLengthError).message).toBe("message too long: 70000 bytes");
  });

  /** Runs `p` on a port with maxPacketSize 4, sends it a 10-byte datagram then `next`; its events once `next` arrived. */
  function cutThenNext(p: DatagramRecorder, next: string): Promise<string[]> {
    return runUDP<string[]>((reactor, finish) => {
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1", maxPacketSize: 4 });
      const to = { host: "127.0.0.1", port: portOf(port.getHost()) };
      p.onDatagram = () => {
        port.stopListening();
        finish(p.events.slice());
      };
      port.write("0123456789", to);
      port.write(next, to);
    });
  }

  test("a datagram longer than maxPacketSize is reported cut (datagramTruncated with its size), never handed to datagramReceived", async () => {
    class Cut extends DatagramRecorder {
      override datagramTruncated(data: Buffer, addr: Address, size: number): void {
        this.events.push(`cut:${data.toString("latin1")}/${size}@${addr.type === "UDP" ? addr.port : "?"}`);
      }
    }
    const out = await cutThenNext(new Cut(), "abcd");
    expect(out).toEqual(["start", expect.stringMatching(/^cut:0123\/10@\d+$/), expect.stringMatching(/^dgram:abcd@127\.0\.0\.1:\d+$/), "stop"]);
  });

  test("by default a cut datagram is dropped with a warning naming its size", async () => {
    const logged: string[] = [];
    const restore = setLogObservers([(level, message) => logged.push(`${level}:${message}`)]);
    try {
      const out = await cutThenNext(new DatagramRecorder(), "ok");
      expect(out).toEqual(["start", expect.stringMatching(/^dgram:ok@/), "stop"]);
      expect(logged.filter((l) => l.startsWith("warn:"))).toEqual([expect.stringMatching(/^warn:DatagramRecorder: dropped a 10-byte datagram from 127\.0\.0\.1:\d+, cut to 4 bytes \(maxPacketSize\)$/)]);
    } finally {
      restore();
    }
  });

  test("every datagram's bytes stay valid while later ones arrive (more than one receive slab)", async () => {
    const count = 40;
    const out = await runUDP<Buffer[]>((reactor, finish) => {
      const p = new DatagramRecorder();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1", maxPacketSize: 5000 });
      const to = { host: "127.0.0.1", port: portOf(port.getHost()) };
      p.onDatagram = () => {
        if (p.datagrams.length === count) {
          port.stopListening();
          finish(p.datagrams.map((d) => d.data));
        }
      };
      // One at a time: loopback does not drop, but a burst could overflow the receive buffer.
      let sent = 0;
      const sendNext = (): void => {
        port.write(Buffer.alloc(3000, sent % 251), to);
        sent++;
        if (sent < count) reactor.callLater(0, sendNext);
      };
      sendNext();
    });
    expect(out.length).toBe(count);
    out.forEach((d, i) => expect(d.equals(Buffer.alloc(3000, i % 251))).toBe(true));
  });

  test("an exception in datagramReceived is logged and the port keeps receiving", async () => {
    const logged: string[] = [];
    const restore = setLogObservers([(level, message, error) => logged.push(`${level}:${message}:${(error as Error).message}`)]);
    try {
      const out = await runUDP<string[]>((reactor, finish) => {
        class Fragile extends DatagramRecorder {
          override datagramReceived(data: Buffer, addr: Address): void {
            super.datagramReceived(data, addr);
            if (data.toString() === "boom") throw new Error("kaboom");
          }
        }
        const p = new Fragile();
        const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
        const to = { host: "127.0.0.1", port: portOf(port.getHost()) };
        p.onDatagram = (data) => {
          if (data.toString() === "after") {
            const events = p.events.map((e) => e.replace(/@.*/, ""));
            port.stopListening();
            finish(events);
          }
        };
        port.write("boom", to);
        port.write("after", to);
      });
      expect(out).toEqual(["start", "dgram:boom", "dgram:after"]);
      expect(logged).toEqual(["error:Unhandled error in datagramReceived of Fragile:kaboom"]);
    } finally {
      restore();
    }
  });

  test("binding a port already in use throws CannotListenError carrying EADDRINUSE", async () => {
    const err = await runUDP<unknown>((reactor, finish) => {
      const first = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
      const taken = portOf(first.getHost());
      try {
        listenUDP(reactor, taken, new DatagramRecorder(), { interface: "127.0.0.1" });
        finish(null);
      } catch (e) {
        finish(e);
      } finally {
        first.stopListening();
      }
    });
    expect(err).toBeInstanceOf(CannotListenError);
    expect((err as CannotListenError).code).toBe("EADDRINUSE");
    expect((err as CannotListenError).message).toMatch(/^Couldn't listen on UDP port 127\.0\.0\.1:\d+: EADDRINUSE\.$/);
  });

  test("wrong arguments to listenUDP throw naming the argument", () => {
    const fake = {} as never;
    expect(() => new UDPPort(fake, -1, new DatagramRecorder())).toThrow(new RangeError("port must be between 0 and 65535, received -1"));
    expect(() => new UDPPort(fake, 0, {} as never)).toThrow(TypeError);
    expect(() => new UDPPort(fake, 0, new DatagramRecorder(), { interface: "localhost" })).toThrow(
      new TypeError('interface must be an IPv4 or IPv6 address literal, received "localhost"'),
    );
    expect(() => new UDPPort(fake, 0, new DatagramRecorder(), { maxPacketSize: 0 })).toThrow(new RangeError("maxPacketSize must be between 1 and 65536, received 0"));
  });

  test("SO_BROADCAST can be allowed and forbidden", async () => {
    const out = await runUDP<boolean[]>((reactor, finish) => {
      const port = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
      const seen = [port.getBroadcastAllowed()];
      port.setBroadcastAllowed(true);
      seen.push(port.getBroadcastAllowed());
      port.setBroadcastAllowed(false);
      seen.push(port.getBroadcastAllowed());
      port.stopListening();
      finish(seen);
    });
    expect(out).toEqual([false, true, false]);
  });

  test("ConnectedDatagramProtocol hears connectionFailed when the kernel refuses the connect", async () => {
    const out = await runUDP<Failure | null>((reactor, finish) => {
      class Client extends ConnectedDatagramProtocol {
        failed: Failure | null = null;
        override connectionFailed(reason: Failure): void {
          this.failed = reason;
        }
      }
      const p = new Client();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      // An IPv4 socket cannot connect to an IPv6 peer.
      port.connect("::1", 9);
      port.stopListening();
      finish(p.failed);
    });
    expect(out).toBeInstanceOf(Failure);
    expect((out!.value as Error).constructor.name).toBe("ConnectError");
    expect(out!.check(ConnectError)).toBe(ConnectError);
    expect(out!.getErrorMessage()).toMatch(/^Couldn't connect UDP port 127\.0\.0\.1:0 to \[::1\]:9: E[A-Z]+\.$/);
  });

  testIf(hasIPv6Loopback(), "::1 is not available on this machine")("IPv6: a round trip on ::1 with IPv6 addresses", async () => {
    const out = await runUDP<{ addr: Address; data: string; port: number }>((reactor, finish) => {
      const server = new DatagramRecorder();
      const sp = listenUDP(reactor, 0, server, { interface: "::1" });
      const client = new DatagramRecorder();
      const cp = listenUDP(reactor, 0, client, { interface: "::1" });
      server.onDatagram = (data, addr) => {
        const r = { addr, data: data.toString(), port: portOf(cp.getHost()) };
        sp.stopListening();
        cp.stopListening();
        finish(r);
      };
      cp.write("over six", { host: "::1", port: portOf(sp.getHost()) });
    });
    expect(out.data).toBe("over six");
    expect(out.addr).toEqual({ type: "UDP", host: "::1", port: out.port, family: "IPv6" });
  });
});

test("native UDP sockets used by the helpers are closed (sanity of closedUDPPort)", () => {
  const before = listFds().length;
  closedUDPPort();
  expect(listFds().length).toBe(before);
  expect(typeof native.errno.ECONNREFUSED).toBe("number");
});
