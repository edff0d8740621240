/**
 * Batched datagrams on real loopback sockets: boundaries kept inside a batch, bursts longer
 * than one batch, no receive call wasted on EAGAIN, the sources of many senders, replies
 * gathered into one send, and the order of gathered and immediate writes.
 */
import { native } from "../../lib/native";
import type { Address } from "../../lib/net/interfaces";
import { listenUDP, type UDPPort } from "../../lib/net/udp";
import type { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { DatagramRecorder, hasIPv6Loopback, runUDP } from "./udp-support";

expectNoFdLeaks();

function portOf(a: Address): number {
  if (a.type === "UNIX") throw new Error("not an IP address");
  return a.port;
}

/**
 * A server port (1 MiB receive buffer, so a burst is not dropped) and a client port; once the
 * server has `count` datagrams both stop and `done` gets them. Returns the client port and
 * the server's address.
 */
function burstPorts(
  reactor: Reactor,
  count: number,
  done: (datagrams: Buffer[]) => void,
  maxPacketSize?: number,
): { client: UDPPort; to: { host: string; port: number } } {
  const server = new DatagramRecorder();
  const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1", maxPacketSize });
  native.setsockopt(sp.fileno(), "SO_RCVBUF", 1 << 20);
  const cp = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
  server.onDatagram = () => {
    if (server.datagrams.length < count) return;
    sp.stopListening();
    cp.stopListening();
    done(server.datagrams.map((d) => d.data));
  };
  return { client: cp, to: { host: "127.0.0.1", port: portOf(sp.getHost()) } };
}

/** Counts the native batch calls (the real functions run) and what each returned. */
function countCalls(name: "recvBatch" | "sendBatch"): { results: number[]; restore: () => void } {
  const real = native[name] as (...args: unknown[]) => number;
  const results: number[] = [];
  const spy = jest.spyOn(native, name).mockImplementation(((...args: unknown[]) => {
    const r = real.apply(native, args);
    results.push(r);
    return r;
  }) as never);
  return { results, restore: () => spy.mockRestore() };
}

test("datagrams of many sizes queued together keep their boundaries and bytes in one batch", async () => {
  const sizes = [0, 1, 7, 8, 9, 63, 64, 65, 500, 1472, 4000, 8191, 8192];
  const sent = sizes.map((n, i) => Buffer.alloc(n, 0x41 + i));
  const out = await runUDP<Buffer[]>((reactor, finish) => {
    const server = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
    const cp = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
    server.onDatagram = () => {
      if (server.datagrams.length < sent.length) return;
      sp.stopListening();
      cp.stopListening();
      finish(server.datagrams.map((d) => Buffer.from(d.data)));
    };
    for (const b of sent) cp.write(b, ["127.0.0.1", portOf(sp.getHost())]);
  });
  expect(out.map((b) => b.length)).toEqual(sizes);
  expect(out).toEqual(sent);
});

test("a burst of 300 datagrams is read in batches that grow with the slab to full ones, 256 per readable event, with no call that only meets EAGAIN", async () => {
  const count = 300;
  const calls = countCalls("recvBatch");
  try {
    const out = await runUDP<string[]>((reactor, finish) => {
      const { client: cp, to } = burstPorts(reactor, count, (ds) => finish(ds.map((d) => d.toString())), 64);
      // Sent in one turn of the reactor: all are queued before the first read.
      for (let i = 0; i < count; i++) cp.write(`datagram ${i}`, to);
    });
    expect(out).toEqual(Array.from({ length: count }, (_, i) => `datagram ${i}`));
    const batch = native.DATAGRAM_BATCH;
    expect(batch).toBe(64);
    // The port's first slab has room for 4 datagrams; each batch that fills its slab's
    // room makes the next slab four times larger: 4, 16, then a full 64. That 64-slot slab
    // has 48 slots left (the 16-byte datagrams were packed), which the next batch fills, so
    // the next slab has 256 slots: 64, then 60 reach the 256-datagram bound of one event.
    // The next event reads the last 44, a short batch, after which no call is made just to
    // see EAGAIN.
    expect(calls.results).toEqual([4, 16, 64, 48, 64, 60, 44]);
  } finally {
    calls.restore();
  }
});

test("many senders: each datagram carries its own sender's address, and one sender's Address is the same object every time", async () => {
  const hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];
  const perHost = 5;
  const rounds = 3;
  const out = await runUDP<{ data: string; addr: Address }[]>((reactor, finish) => {
    const server = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, server, { interface: "0.0.0.0" });
    const to = { host: "127.0.0.1", port: portOf(sp.getHost()) };
    const clients: UDPPort[] = [];
    for (const h of hosts) for (let i = 0; i < perHost; i++) clients.push(listenUDP(reactor, 0, new DatagramRecorder(), { interface: h }));
    const total = clients.length * rounds;
    server.onDatagram = () => {
      if (server.datagrams.length < total) return;
      sp.stopListening();
      for (const c of clients) c.stopListening();
      finish(server.datagrams.map((d) => ({ data: d.data.toString(), addr: d.addr })));
    };
    // Interleaved: sender 0, 1, ..., n, then again; all queued before the server reads.
    for (let r = 0; r < rounds; r++) {
      for (const c of clients) {
        const me = c.getHost();
        c.write(`${me.type === "UDP" ? `${me.host}:${me.port}` : "?"}#${r}`, to);
      }
    }
  });
  expect(out).toHaveLength(hosts.length * perHost * rounds);
  const bySender = new Map<string, Address>();
  for (const { data, addr } of out) {
    if (addr.type !== "UDP") throw new Error("not UDP");
    const [from] = data.split("#");
    expect(`${addr.host}:${addr.port}`).toBe(from);
    expect(addr.family).toBe("IPv4");
    const seen = bySender.get(from);
    if (seen !== undefined) expect(addr).toBe(seen);
    else bySender.set(from, addr);
  }
  expect(bySender.size).toBe(hosts.length * perHost);
  expect(new Set([...bySender.keys()].map((k) => k.split(":")[0]))).toEqual(new Set(hosts));
});

(hasIPv6Loopback() ? test : test.skip)("IPv6: senders on ::1 and an IPv4 sender on a dual-stack port get their own addresses", async () => {
  const out = await runUDP<{ data: string; addr: Address }[]>((reactor, finish) => {
    const server = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, server, { interface: "::" });
    const port = portOf(sp.getHost());
    const six = [0, 1, 2].map(() => listenUDP(reactor, 0, new DatagramRecorder(), { interface: "::1" }));
    const four = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
    server.onDatagram = () => {
      if (server.datagrams.length < 8) return;
      sp.stopListening();
      for (const c of [...six, four]) c.stopListening();
      finish(server.datagrams.map((d) => ({ data: d.data.toString(), addr: d.addr })));
    };
    for (let r = 0; r < 2; r++) {
      for (const c of six) c.write(String(portOf(c.getHost())), ["::1", port]);
      four.write(String(portOf(four.getHost())), ["127.0.0.1", port]);
    }
  });
  expect(out).toHaveLength(8);
  for (const { data, addr } of out) {
    if (addr.type !== "UDP") throw new Error("not UDP");
    expect(String(addr.port)).toBe(data);
    expect(addr.family).toBe("IPv6");
    expect(["::1", "::ffff:127.0.0.1"]).toContain(addr.host);
  }
  expect(out.filter((d) => d.addr.type === "UDP" && d.addr.host === "::ffff:127.0.0.1")).toHaveLength(2);
  expect(out[0].addr).toBe(out[4].addr);
});

test("replies written inside datagramReceived leave together in one sendBatch after the batch, in order", async () => {
  const count = 40;
  const calls = countCalls("sendBatch");
  try {
    const out = await runUDP<{ echoes: string[]; returned: number[]; serverCalls: number }>((reactor, finish) => {
      const returned: number[] = [];
      const server = new DatagramRecorder();
      server.onDatagram = (data, addr) => returned.push(server.transport!.write(data, addr));
      const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
      const client = new DatagramRecorder();
      const cp = listenUDP(reactor, 0, client, { interface: "127.0.0.1" });
      const to = { host: "127.0.0.1", port: portOf(sp.getHost()) };
      for (let i = 0; i < count; i++) cp.write(`m${i}`, to);
      const clientCalls = calls.results.length; // the client's own writes, one call each
      client.onDatagram = () => {
        if (client.datagrams.length < count) return;
        sp.stopListening();
        cp.stopListening();
        finish({ echoes: client.datagrams.map((d) => d.data.toString()), returned, serverCalls: calls.results.length - clientCalls });
      };
    });
    expect(out.echoes).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
    expect(out.returned).toEqual(Array.from({ length: count }, (_, i) => `m${i}`.length));
    expect(out.serverCalls).toBe(1);
    expect(calls.results.at(-1)).toBe(count);
  } finally {
    calls.restore();
  }
});

test("writes gathered past the send slab flush it and get a larger one (4 KiB, 16 KiB, 64 KiB): every datagram arrives whole and in order", async () => {
  const count = 40;
  const size = 3000;
  const calls = countCalls("sendBatch");
  try {
    const out = await runUDP<Buffer[]>((reactor, finish) => {
      const { client, to } = burstPorts(reactor, count, (ds) => finish(ds.map((d) => Buffer.from(d))));
      client.writeBatch(
        Array.from({ length: count }, (_, i) => Buffer.alloc(size, i + 1)),
        to,
      );
    });
    expect(out).toEqual(Array.from({ length: count }, (_, i) => Buffer.alloc(size, i + 1)));
    // 4 KiB holds one; 16 KiB five; 64 KiB (the largest) 21; the last 13 leave at the end.
    expect(calls.results).toEqual([1, 5, 21, 13]);
  } finally {
    calls.restore();
  }
});

test("a write too large to gather is sent at once, after the replies gathered before it", async () => {
  const out = await runUDP<number[]>((reactor, finish) => {
    const server = new DatagramRecorder();
    server.onDatagram = (_data, addr) => {
      server.transport!.write("a", addr);
      server.transport!.write(Buffer.alloc(9000, 0x62), addr);
      server.transport!.write("c", addr);
    };
    const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
    const client = new DatagramRecorder();
    const cp = listenUDP(reactor, 0, client, { interface: "127.0.0.1", maxPacketSize: 10000 });
    client.onDatagram = () => {
      if (client.datagrams.length < 3) return;
      sp.stopListening();
      cp.stopListening();
      finish(client.datagrams.map((d) => d.data.length));
    };
    cp.write("go", ["127.0.0.1", portOf(sp.getHost())]);
  });
  expect(out).toEqual([1, 9000, 1]);
});

test("a reply written just before stopListening inside datagramReceived is still sent", async () => {
  const out = await runUDP<string>((reactor, finish) => {
    const server = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
    server.onDatagram = (data, addr) => {
      server.transport!.write(`bye ${data.toString()}`, addr);
      sp.stopListening();
    };
    const client = new DatagramRecorder();
    const cp = listenUDP(reactor, 0, client, { interface: "127.0.0.1" });
    client.onDatagram = (data) => {
      cp.stopListening();
      finish(data.toString());
    };
    cp.write("now", ["127.0.0.1", portOf(sp.getHost())]);
  });
  expect(out).toBe("bye now");
});

test("addressWords parses a literal once into words that addressText turns back into the same text", () => {
  const w = new Int32Array(14);
  native.addressWords("192.168.1.200", 53, w, 0);
  expect(Array.from(w.subarray(0, 7))).toEqual([4, 53, (0xc0a801c8 | 0), 0, 0, 0, 0]);
  expect(native.addressText(w, 0)).toBe("192.168.1.200");
  native.addressWords("2001:db8::ff00:42:8329", 443, w, 7);
  expect(w[7]).toBe(6);
  expect(w[8]).toBe(443);
  expect(native.addressText(w, 7)).toBe("2001:db8::ff00:42:8329");
  // The addon's errors come from Node's main realm (not jest's): compare names, not classes.
  expect(() => native.addressWords("localhost", 1, w, 0)).toThrow(expect.objectContaining({ name: "TypeError", message: expect.stringMatching(/"host" argument must be an IPv4 or IPv6 address literal/) }));
  expect(() => native.addressWords("::1", 1, w, 8)).toThrow(expect.objectContaining({ name: "RangeError", message: expect.stringMatching(/"index"/) }));
});

test("replies inside datagramReceived reach their own peers, whether to the sender just heard or to an earlier one", async () => {
  const out = await runUDP<{ a: string[]; b: string[] }>((reactor, finish) => {
    const server = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, server, { interface: "127.0.0.1" });
    const a = new DatagramRecorder();
    const b = new DatagramRecorder();
    const ap = listenUDP(reactor, 0, a, { interface: "127.0.0.1" });
    const bp = listenUDP(reactor, 0, b, { interface: "127.0.0.1" });
    server.onDatagram = (data, addr) => {
      if (server.datagrams.length < 2) return;
      // Heard a then b: b is the source just heard, a an earlier one.
      const first = server.datagrams[0].addr;
      server.transport!.write(`to ${server.datagrams[0].data.toString()}`, first);
      server.transport!.write(`to ${data.toString()}`, addr);
      server.transport!.write(`again ${server.datagrams[0].data.toString()}`, { host: "127.0.0.1", port: portOf(first) });
    };
    const check = (): void => {
      if (a.datagrams.length < 2 || b.datagrams.length < 1) return;
      for (const p of [sp, ap, bp]) p.stopListening();
      finish({ a: a.datagrams.map((d) => d.data.toString()), b: b.datagrams.map((d) => d.data.toString()) });
    };
    a.onDatagram = check;
    b.onDatagram = check;
    const to = { host: "127.0.0.1", port: portOf(sp.getHost()) };
    ap.write("a", to);
    reactor.callLater(0.05, () => bp.write("b", to));
  });
  expect(out).toEqual({ a: ["to a", "again a"], b: ["to b"] });
});
