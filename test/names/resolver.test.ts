/**
 * The resolver against a DNS server the test runs on 127.0.0.1 (dns-packet over Node's
 * own sockets): hosts file, search list, CNAME chains, negative answers, cache and TTLs,
 * retries on the next server, TCP after truncation, and the reactor serving other
 * connections while a lookup waits.
 */
import * as fs from "node:fs";
import { DNSLookupError } from "../../lib/error";
import { CHANNELS_PER_SERVER, DNSQueryError, IDLE, MAX_QUERIES, Resolver, installResolver, searchCandidates } from "../../lib/names";
import { CancelledError } from "../../lib/defer";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { FakeDNSServer, a, aaaa, cname, encodeReply, zoneResponder, type Reply, type SeenQuery } from "./fake-server";
import { ManualClock, failureOf, tempDir, withReactor } from "./helpers";

expectNoFdLeaks();

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const noHosts = tmp.file("empty-hosts", "");
const noConf = tmp.file("empty-resolv.conf", "");

let server: FakeDNSServer;
beforeEach(async () => {
  server = await FakeDNSServer.start(
    zoneResponder([
      a("www.example.test", "127.0.0.10"),
      a("www.example.test", "127.0.0.11"),
      aaaa("www.example.test", "::10"),
      a("v4only.test", "127.0.0.12"),
      aaaa("v6only.test", "::12"),
      cname("alias.test", "mid.test"),
      cname("mid.test", "www.example.test"),
      a("host.corp.test", "127.0.0.20"),
      a("host.lab.test", "127.0.0.21"),
      a("a.b.test", "127.0.0.22"),
    ]),
  );
});
afterEach(async () => {
  await server.close();
});

function resolverOn(reactor: Parameters<typeof installResolver>[0], extra: Partial<ConstructorParameters<typeof Resolver>[1]> = {}): Resolver {
  return new Resolver(reactor, {
    hostsPath: noHosts,
    resolvConfPath: noConf,
    ...extra,
    config: { nameservers: [{ host: "127.0.0.1", port: server.port }], timeout: 2, attempts: 1, ...(extra?.config ?? {}) },
  });
}

describe("addresses", () => {
  test("lookupAddress gives every A record and lookupIPV6Address every AAAA record, in answer order", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return [await r.lookupAddress("www.example.test"), await r.lookupIPV6Address("www.example.test")];
    });
    expect(out).toEqual([["127.0.0.10", "127.0.0.11"], ["::10"]]);
    expect(server.queries.map((q) => `${q.type} ${q.name} ${q.via}`)).toEqual(["A www.example.test udp", "AAAA www.example.test udp"]);
  });

  test("getAllHostsByName gives IPv4 addresses then IPv6 ones; getHostByName the first IPv4 one", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return [await r.getAllHostsByName("www.example.test"), await r.getHostByName("www.example.test")];
    });
    expect(out).toEqual([["127.0.0.10", "127.0.0.11", "::10"], "127.0.0.10"]);
  });

  test("getHostByName falls back to AAAA when the name has no A record", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor).getHostByName("v6only.test"));
    expect(out).toBe("::12");
    expect(server.queries.map((q) => q.type)).toEqual(["A", "AAAA"]);
  });

  test("address literals are returned as they are, without a query", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return [await r.getHostByName("127.0.0.3"), await r.lookupIPV6Address("::1"), await r.getAllHostsByName("10.1.2.3")];
    });
    expect(out).toEqual(["127.0.0.3", ["::1"], ["10.1.2.3"]]);
    expect(server.queries).toEqual([]);
  });

  test("queries share at most CHANNELS_PER_SERVER sockets on random ports, with random ids", async () => {
    const open = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { cacheSize: 0 });
      for (let i = 0; i < 6; i++) await r.lookupAddress("v4only.test");
      return r.openSockets;
    });
    expect(server.queries).toHaveLength(6);
    expect(open).toBe(CHANNELS_PER_SERVER);
    const ports = server.queries.map((q) => q.fromPort);
    expect(new Set(ports).size).toBe(CHANNELS_PER_SERVER);
    // The first queries open the sockets; later ones reuse them.
    expect(new Set(ports.slice(0, CHANNELS_PER_SERVER)).size).toBe(CHANNELS_PER_SERVER);
    expect(new Set(server.queries.map((q) => q.id)).size).toBeGreaterThanOrEqual(5);
  });

  test("a socket is retired after MAX_QUERIES queries and a new one on another port takes over; idle sockets close", async () => {
    const total = CHANNELS_PER_SERVER * MAX_QUERIES + 50;
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { cacheSize: 0 });
      let most = 0;
      for (let i = 0; i < total; i += 50) {
        const batch = [];
        for (let j = i; j < Math.min(total, i + 50); j++) batch.push(r.lookupAddress(`n${j}.example.test`).then(() => 0, () => 1));
        most = Math.max(most, r.openSockets);
        await Promise.all(batch);
      }
      const afterwards = r.openSockets;
      await new Promise((res) => setTimeout(res, (IDLE + 0.5) * 1000));
      return { most, afterwards, idle: r.openSockets };
    });
    expect(server.queries).toHaveLength(total);
    const perPort = new Map<number, number>();
    for (const q of server.queries) perPort.set(q.fromPort, (perPort.get(q.fromPort) ?? 0) + 1);
    expect(Math.max(...perPort.values())).toBeLessThanOrEqual(MAX_QUERIES);
    expect(perPort.size).toBeGreaterThan(CHANNELS_PER_SERVER);
    // Ids in flight on one socket never repeat.
    expect(out.most).toBeLessThanOrEqual(2 * CHANNELS_PER_SERVER);
    expect(out.afterwards).toBeGreaterThan(0);
    expect(out.idle).toBe(0);
  }, 20000);
});

describe("hosts file", () => {
  test("names in the hosts file are answered from it, case-insensitively, without a query", async () => {
    const hosts = tmp.file("hosts-1", "# comment\n127.0.0.30  Files.Test files-alias # trailing\n::30 files.test\n");
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { hostsPath: hosts });
      return [await r.lookupAddress("files.test"), await r.lookupIPV6Address("FILES.TEST"), await r.getHostByName("files-alias"), await r.getAllHostsByName("files.test")];
    });
    expect(out).toEqual([["127.0.0.30"], ["::30"], "127.0.0.30", ["127.0.0.30", "::30"]]);
    expect(server.queries).toEqual([]);
  });

  test("an edited hosts file is read again (its mtime changed)", async () => {
    const hosts = tmp.file("hosts-2", "127.0.0.31 edit.test\n");
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { hostsPath: hosts, fileCheckInterval: 0 });
      const before = await r.getHostByName("edit.test");
      fs.writeFileSync(hosts, "127.0.0.32 edit.test\n127.0.0.33 added.test\n");
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(hosts, later, later);
      return [before, await r.getHostByName("edit.test"), await r.getHostByName("added.test")];
    });
    expect(out).toEqual(["127.0.0.31", "127.0.0.32", "127.0.0.33"]);
  });

  test("a name missing from the hosts file goes to DNS", async () => {
    const hosts = tmp.file("hosts-3", "127.0.0.34 other.test\n");
    const out = await withReactor(async (reactor) => resolverOn(reactor, { hostsPath: hosts }).getHostByName("v4only.test"));
    expect(out).toBe("127.0.0.12");
    expect(server.count("v4only.test")).toBe(1);
  });
});

describe("search list and ndots", () => {
  test("a name with fewer dots than ndots is tried with each search domain first, then as it is", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { config: { search: ["lab.test", "corp.test"], ndots: 1 } });
      return r.lookupAddress("host");
    });
    expect(out).toEqual(["127.0.0.21"]);
    expect(server.queries.map((q) => q.name)).toEqual(["host.lab.test"]);
  });

  test("search domains are tried in order until one has the name", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor, { config: { search: ["nowhere.test", "corp.test"], ndots: 1 } }).lookupAddress("host"));
    expect(out).toEqual(["127.0.0.20"]);
    expect(server.queries.map((q) => q.name)).toEqual(["host.nowhere.test", "host.corp.test"]);
  });

  test("search domains given with a trailing dot or in capitals are used as resolv.conf's parser would leave them", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { config: { search: ["Nowhere.Test.", "CORP.test."], ndots: 1 } });
      return { search: r.config().search, addresses: await r.lookupAddress("host") };
    });
    expect(out).toEqual({ search: ["nowhere.test", "corp.test"], addresses: ["127.0.0.20"] });
    expect(server.queries.map((q) => q.name)).toEqual(["host.nowhere.test", "host.corp.test"]);
  });

  test("a name with at least ndots dots is tried as it is first", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor, { config: { search: ["corp.test"], ndots: 2 } }).lookupAddress("a.b.test"));
    expect(out).toEqual(["127.0.0.22"]);
    expect(server.queries.map((q) => q.name)).toEqual(["a.b.test"]);
  });

  test("with ndots 3 a two-dot name goes through the search list before itself", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor, { config: { search: ["corp.test"], ndots: 3 } }).lookupAddress("a.b.test"));
    expect(out).toEqual(["127.0.0.22"]);
    expect(server.queries.map((q) => q.name)).toEqual(["a.b.test.corp.test", "a.b.test"]);
  });

  test("a name ending with a dot is absolute: no search domain is appended", async () => {
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor, { config: { search: ["corp.test"] } }).lookupAddress("host.")));
    expect(err).toBeInstanceOf(DNSLookupError);
    expect(server.queries.map((q) => q.name)).toEqual(["host"]);
  });

  test("searchCandidates follows the C library's order", () => {
    expect(searchCandidates("x", { search: ["a.test", "b.test"], ndots: 1 })).toEqual(["x.a.test", "x.b.test", "x"]);
    expect(searchCandidates("x.y", { search: ["a.test"], ndots: 1 })).toEqual(["x.y", "x.y.a.test"]);
    expect(searchCandidates("x.y.", { search: ["a.test"], ndots: 1 })).toEqual(["x.y"]);
    expect(searchCandidates("x", { search: [], ndots: 0 })).toEqual(["x"]);
  });
});

describe("CNAME chains", () => {
  test("a chain inside one answer is followed to the addresses", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor).lookupAddress("alias.test"));
    expect(out).toEqual(["127.0.0.10", "127.0.0.11"]);
    expect(server.queries.map((q) => q.name)).toEqual(["alias.test"]);
  });

  test("a chain that leaves the answer is continued by asking for its last name", async () => {
    server.respond = (q) => {
      if (q.name === "start.test") return { answers: [cname("start.test", "next.test"), cname("next.test", "far.test")] };
      if (q.name === "far.test") return { answers: [a("far.test", "127.0.0.40")] };
      return { rcode: "NXDOMAIN" };
    };
    const out = await withReactor(async (reactor) => resolverOn(reactor).lookupAddress("start.test"));
    expect(out).toEqual(["127.0.0.40"]);
    expect(server.queries.map((q) => q.name)).toEqual(["start.test", "far.test"]);
  });

  test("a CNAME loop fails with CNAME_LOOP instead of asking forever", async () => {
    server.respond = (q) => ({ answers: [cname(q.name, q.name === "loop1.test" ? "loop2.test" : "loop1.test")] });
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor).lookupAddress("loop1.test")));
    expect(err).toBeInstanceOf(DNSLookupError);
    expect((err.cause as DNSQueryError).reason).toBe("CNAME_LOOP");
    expect(server.queries.map((q) => q.name)).toEqual(["loop1.test", "loop2.test"]);
  });

  test("a chain longer than maxCNAMEHops across queries fails with CNAME_LOOP", async () => {
    server.respond = (q) => {
      const n = Number(/^c(\d+)\.test$/.exec(q.name)?.[1] ?? "0");
      return { answers: [cname(q.name, `c${n + 1}.test`)] };
    };
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor, { maxCNAMEHops: 5 }).lookupAddress("c0.test")));
    expect((err.cause as DNSQueryError).reason).toBe("CNAME_LOOP");
    expect(err.message).toContain("c0.test");
    // Five links followed (c0 → ... → c5); c5's own CNAME would be the sixth.
    expect(server.queries.map((q) => q.name)).toEqual(["c0.test", "c1.test", "c2.test", "c3.test", "c4.test", "c5.test"]);
  });

  test("records in the answer that are not on the chain are ignored", async () => {
    server.respond = (q) => ({ answers: [a("intruder.test", "6.6.6.6"), cname(q.name, "real.test"), a("real.test", "127.0.0.41")] });
    const out = await withReactor(async (reactor) => resolverOn(reactor).lookupAddress("asked.test"));
    expect(out).toEqual(["127.0.0.41"]);
  });
});

describe("negative answers", () => {
  test("NXDOMAIN fails with a DNSLookupError naming the host, caused by NXDOMAIN", async () => {
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor).getHostByName("missing.test")));
    expect(err).toBeInstanceOf(DNSLookupError);
    expect(err.message).toContain("'missing.test'");
    expect(err.message).toContain("NXDOMAIN");
    expect(err.cause).toBeInstanceOf(DNSQueryError);
    expect((err.cause as DNSQueryError).reason).toBe("NXDOMAIN");
  });

  test("NXDOMAIN is cached for the SOA's negative TTL, then asked again", async () => {
    const clock = new ManualClock();
    const counts = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { clock });
      const seen: number[] = [];
      await failureOf(r.lookupAddress("missing.test"));
      seen.push(server.count("missing.test"));
      clock.now += 59;
      const again = await failureOf(r.lookupAddress("missing.test"));
      expect((again.cause as DNSQueryError).reason).toBe("NXDOMAIN");
      seen.push(server.count("missing.test"));
      clock.now += 1;
      await failureOf(r.lookupAddress("missing.test"));
      seen.push(server.count("missing.test"));
      return seen;
    });
    expect(counts).toEqual([1, 1, 2]);
  });

  test("an empty answer (NODATA) fails with NODATA and is cached too", async () => {
    const clock = new ManualClock();
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { clock });
      const e1 = await failureOf(r.lookupIPV6Address("v4only.test"));
      const e2 = await failureOf(r.lookupIPV6Address("v4only.test"));
      return [(e1.cause as DNSQueryError).reason, (e2.cause as DNSQueryError).reason, server.count("v4only.test")];
    });
    expect(out).toEqual(["NODATA", "NODATA", 1]);
  });

  test("SERVFAIL from the only server fails with SERVFAIL and is not cached", async () => {
    server.respond = () => ({ rcode: "SERVFAIL" });
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      const e1 = await failureOf(r.lookupAddress("broken.test"));
      const e2 = await failureOf(r.lookupAddress("broken.test"));
      return [e1 instanceof DNSLookupError, (e1.cause as DNSQueryError).reason, (e2.cause as DNSQueryError).reason, server.count("broken.test")];
    });
    expect(out).toEqual([true, "SERVFAIL", "SERVFAIL", 2]);
  });
});

describe("cache", () => {
  test("an answer is served from the cache until its smallest TTL runs out", async () => {
    server.respond = (q) => ({ answers: [cname(q.name, "ttl-target.test", 100), a("ttl-target.test", "127.0.0.50", 30)] });
    const clock = new ManualClock();
    const counts = await withReactor(async (reactor) => {
      const r = resolverOn(reactor, { clock });
      const seen: number[] = [];
      expect(await r.lookupAddress("ttl.test")).toEqual(["127.0.0.50"]);
      seen.push(server.queries.length);
      clock.now += 29;
      expect(await r.lookupAddress("TTL.test")).toEqual(["127.0.0.50"]);
      seen.push(server.queries.length);
      clock.now += 1;
      expect(await r.lookupAddress("ttl.test")).toEqual(["127.0.0.50"]);
      seen.push(server.queries.length);
      return seen;
    });
    expect(counts).toEqual([1, 1, 2]);
  });

  test("a TTL of 0 is not cached", async () => {
    server.respond = (q) => ({ answers: [a(q.name, "127.0.0.51", 0)] });
    await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      await r.lookupAddress("zero.test");
      await r.lookupAddress("zero.test");
    });
    expect(server.count("zero.test")).toBe(2);
  });

  test("concurrent lookups of one name share one query", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return Promise.all([r.lookupAddress("v4only.test"), r.lookupAddress("v4only.test"), r.lookupAddress("V4ONLY.test")]);
    });
    expect(out).toEqual([["127.0.0.12"], ["127.0.0.12"], ["127.0.0.12"]]);
    expect(server.count("v4only.test")).toBe(1);
  });
});

describe("servers, timeouts and retries", () => {
  test("a server that does not answer times out and the next server is asked", async () => {
    const silent = await FakeDNSServer.start(() => null);
    try {
      const out = await withReactor(async (reactor) =>
        new Resolver(reactor, {
          hostsPath: noHosts,
          resolvConfPath: noConf,
          config: { nameservers: [{ host: "127.0.0.1", port: silent.port }, { host: "127.0.0.1", port: server.port }], timeout: 0.3, attempts: 1 },
        }).lookupAddress("v4only.test"),
      );
      expect(out).toEqual(["127.0.0.12"]);
      expect(silent.queries.map((q) => q.name)).toEqual(["v4only.test"]);
      expect(server.queries.map((q) => q.name)).toEqual(["v4only.test"]);
    } finally {
      await silent.close();
    }
  });

  test("when no server answers, every server is asked `attempts` times and the failure is TIMEOUT", async () => {
    const s1 = await FakeDNSServer.start(() => null);
    const s2 = await FakeDNSServer.start(() => null);
    try {
      const err = await withReactor(async (reactor) =>
        failureOf(
          new Resolver(reactor, {
            hostsPath: noHosts,
            resolvConfPath: noConf,
            config: { nameservers: [{ host: "127.0.0.1", port: s1.port }, { host: "127.0.0.1", port: s2.port }], timeout: 0.2, attempts: 2 },
          }).getHostByName("quiet.test"),
        ),
      );
      expect(err).toBeInstanceOf(DNSLookupError);
      expect(err.message).toContain("'quiet.test'");
      expect((err.cause as DNSQueryError).reason).toBe("TIMEOUT");
      expect(err.message).toContain(`127.0.0.1:${s1.port}, 127.0.0.1:${s2.port}`);
      expect([s1.queries.length, s2.queries.length]).toEqual([2, 2]);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  test("SERVFAIL from one server moves on to the next", async () => {
    const failing = await FakeDNSServer.start(() => ({ rcode: "SERVFAIL" }));
    try {
      const out = await withReactor(async (reactor) =>
        new Resolver(reactor, {
          hostsPath: noHosts,
          resolvConfPath: noConf,
          config: { nameservers: [{ host: "127.0.0.1", port: failing.port }, { host: "127.0.0.1", port: server.port }], timeout: 2, attempts: 1 },
        }).lookupAddress("v4only.test"),
      );
      expect(out).toEqual(["127.0.0.12"]);
      expect(failing.queries.length).toBe(1);
    } finally {
      await failing.close();
    }
  });

  test("a closed server port (ICMP refusal) moves on to the next server without waiting for the timeout", async () => {
    const closed = await FakeDNSServer.start(() => null);
    const closedPort = closed.port;
    await closed.close();
    const out = await withReactor(async (reactor) => {
      const started = reactor.seconds();
      const addresses = await new Resolver(reactor, {
        hostsPath: noHosts,
        resolvConfPath: noConf,
        config: { nameservers: [{ host: "127.0.0.1", port: closedPort }, { host: "127.0.0.1", port: server.port }], timeout: 30, attempts: 1 },
      }).lookupAddress("v4only.test");
      return { addresses, waitedLessThanTimeout: reactor.seconds() - started < 30 };
    });
    expect(out).toEqual({ addresses: ["127.0.0.12"], waitedLessThanTimeout: true });
  });

  test("rotate starts each query at the next server in turn", async () => {
    const other = await FakeDNSServer.start(zoneResponder([a("v4only.test", "127.0.0.12"), a("www.example.test", "127.0.0.10")]));
    try {
      await withReactor(async (reactor) => {
        const r = new Resolver(reactor, {
          hostsPath: noHosts,
          resolvConfPath: noConf,
          cacheSize: 0,
          config: { nameservers: [{ host: "127.0.0.1", port: server.port }, { host: "127.0.0.1", port: other.port }], rotate: true, timeout: 2, attempts: 1 },
        });
        for (let i = 0; i < 4; i++) await r.lookupAddress("v4only.test");
      });
      expect([server.queries.length, other.queries.length]).toEqual([2, 2]);
    } finally {
      await other.close();
    }
  });

  test("a truncated UDP answer is asked again over TCP, and the TCP answer is used", async () => {
    const many = Array.from({ length: 40 }, (_, i) => a("big.test", `127.0.1.${i + 1}`));
    server.respond = (q) => (q.via === "udp" ? { answers: many.slice(0, 2), truncated: true } : { answers: many });
    const out = await withReactor(async (reactor) => resolverOn(reactor).lookupAddress("big.test"));
    expect(out).toEqual(many.map((r) => (r as { data: string }).data));
    expect(server.queries.map((q) => `${q.name} ${q.via}`)).toEqual(["big.test udp", "big.test tcp"]);
  });

  test("a TCP server that closes without answering counts as a failed try", async () => {
    const noTcp = await FakeDNSServer.start(() => ({ truncated: true }), { tcp: false });
    try {
      const err = await withReactor(async (reactor) =>
        failureOf(
          new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: noTcp.port }], timeout: 2, attempts: 1 } }).lookupAddress(
            "cut.test",
          ),
        ),
      );
      expect(err).toBeInstanceOf(DNSLookupError);
      expect((err.cause as DNSQueryError).reason).toBe("CONNECT");
    } finally {
      await noTcp.close();
    }
  });
});

describe("cancellation", () => {
  test("cancelling the only lookup waiting for a query fails it with CancelledError, ignores its late answer, and the idle socket closes", async () => {
    let late: (() => void) | null = null;
    const slow = await FakeDNSServer.start(() => null);
    slow.beforeReply = (q, rinfo) => {
      late = () => slow.sendRaw(encodeReply(q, { answers: [a(q.name, "127.0.0.99")] }), rinfo);
    };
    try {
      const out = await withReactor(async (reactor) => {
        const r = new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: slow.port }], timeout: 10, attempts: 1 } });
        const before = openFds();
        const d = r.lookupAddress("wait.test");
        for (let i = 0; i < 100 && slow.queries.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
        const during = openFds() - before;
        d.cancel();
        const err = await failureOf(d);
        (late as (() => void) | null)?.();
        await new Promise((res) => setTimeout(res, (IDLE + 0.5) * 1000));
        return { during, after: openFds() - before, err, open: r.openSockets };
      });
      expect([out.during, out.after, out.open]).toEqual([1, 0, 0]);
      expect(out.err).toBeInstanceOf(CancelledError);
    } finally {
      await slow.close();
    }
  });

  test("cancelling one of two lookups sharing a query leaves the other one's answer coming", async () => {
    const slowAnswer: { send: (() => void) | null } = { send: null };
    server.respond = (q, s) => {
      slowAnswer.send = () => s.sendRaw(encodeReply(q, { answers: [a(q.name, "127.0.0.90")] }), lastRinfo!);
      return null;
    };
    let lastRinfo: Parameters<NonNullable<FakeDNSServer["beforeReply"]>>[1] | null = null;
    server.beforeReply = (_q, rinfo) => {
      lastRinfo = rinfo;
    };
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      const first = r.lookupAddress("shared.test");
      const second = r.lookupAddress("shared.test");
      for (let i = 0; i < 100 && slowAnswer.send === null; i++) await new Promise((res) => setTimeout(res, 10));
      first.cancel();
      slowAnswer.send!();
      return [(await failureOf(first)).constructor.name, await second];
    });
    expect(out).toEqual(["CancelledError", ["127.0.0.90"]]);
    expect(server.count("shared.test")).toBe(1);
  });
});

describe("the reactor while a lookup waits", () => {
  test("a TCP echo connection is served while a lookup waits for a silent server", async () => {
    const { Factory, Protocol, ClientFactory } = await import("../../lib/protocols");
    const silent = await FakeDNSServer.start(() => null);
    try {
      const out = await withReactor(async (reactor) => {
        class Echo extends Protocol {
          override dataReceived(data: Buffer): void {
            this.transport!.write(data);
          }
        }
        const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
        const addr = port.getHost();
        // A long timeout: the lookup must still be waiting when the echo is done, however slow the machine.
        const r = new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: silent.port }], timeout: 30, attempts: 1 } });
        let lookupSettled = false;
        const pending = r.lookupAddress("slow.test");
        const lookup = failureOf(pending).then((e) => {
          lookupSettled = true;
          return e;
        });
        const echoed = await new Promise<{ replies: string[]; settledDuringEcho: boolean }>((resolve) => {
          const replies: string[] = [];
          class Pinger extends Protocol {
            override connectionMade(): void {
              this.transport!.write("ping 0");
            }
            override dataReceived(data: Buffer): void {
              replies.push(data.toString());
              if (replies.length < 20) this.transport!.write(`ping ${replies.length}`);
              else {
                const settled = lookupSettled;
                this.transport!.loseConnection();
                resolve({ replies, settledDuringEcho: settled });
              }
            }
          }
          const f = new ClientFactory();
          f.protocol = Pinger;
          reactor.connectTCP("127.0.0.1", addr.type === "TCP" ? addr.port : 0, f);
        });
        pending.cancel();
        const err = await lookup;
        await port.stopListening();
        return { echoed, error: err.constructor.name, queries: silent.queries.length };
      });
      expect(out.echoed.settledDuringEcho).toBe(false);
      expect(out.echoed.replies).toEqual(Array.from({ length: 20 }, (_, i) => `ping ${i}`));
      expect([out.error, out.queries]).toEqual(["CancelledError", 1]);
    } finally {
      await silent.close();
    }
  });
});

describe("arguments", () => {
  test("a name that is not a string throws TypeError naming the argument", async () => {
    await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      expect(() => r.lookupAddress(42 as unknown as string)).toThrow(TypeError);
      expect(() => r.getHostByName("")).toThrow(/name/);
    });
  });

  test("a name with an over-long label fails with BAD_NAME without a query", async () => {
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor).lookupAddress(`${"x".repeat(64)}.test`)));
    expect((err.cause as DNSQueryError).reason).toBe("BAD_NAME");
    expect(server.queries).toEqual([]);
  });

  test("empty labels and over-long names fail with BAD_NAME saying which, without a query", async () => {
    const cases: [string, RegExp][] = [
      ["a..test", /each label must have 1 to 63 characters/],
      [".test", /each label must have 1 to 63 characters/],
      ["a.test..", /each label must have 1 to 63 characters/],
      [".", /a name must have 1 to 253 characters/],
      [`${"x.".repeat(127)}t`, /a name must have 1 to 253 characters/],
      [`${"1.".repeat(127)}1`, /a name must have 1 to 253 characters/],
    ];
    await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      for (const [name, message] of cases) {
        const err = await failureOf(r.lookupAddress(name));
        expect([name, (err.cause as DNSQueryError).reason]).toEqual([name, "BAD_NAME"]);
        expect((err.cause as DNSQueryError).message).toMatch(message);
      }
    });
    expect(server.queries).toEqual([]);
  });

  test("an injected config with no nameservers throws TypeError naming the field", async () => {
    await withReactor(async (reactor) => {
      expect(() => new Resolver(reactor, { resolvConfPath: noConf, config: { nameservers: [] } })).toThrow(/config\.nameservers/);
      expect(() => new Resolver(reactor, { resolvConfPath: noConf, config: { timeout: 0 } })).toThrow(RangeError);
    });
  });
});

export type { Reply, SeenQuery };
