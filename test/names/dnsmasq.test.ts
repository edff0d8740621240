/**
 * The resolver, and connectTCP through it, against Debian's dnsmasq as a real DNS server:
 * hosts entries, --address wildcards, CNAMEs, search domains, NXDOMAIN, truncation → TCP,
 * a dead server before it, resolv.conf read from a file, and DNSLookupError reaching
 * clientConnectionFailed.
 */
import * as dgram from "node:dgram";
import * as dnsPacket from "dns-packet";
import type { Failure } from "../../lib/defer";
import { DNSLookupError } from "../../lib/error";
import { DNSQueryError, Resolver, installResolver, uninstallResolver } from "../../lib/names";
import type { IProtocol } from "../../lib/net/interfaces";
import { ClientFactory, Factory, Protocol } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { startDnsmasq, warmUpSpawn, type Dnsmasq } from "./dnsmasq";
import { FakeDNSServer } from "./fake-server";
import { failureOf, tempDir, withReactor } from "./helpers";


const tmp = tempDir();
const noHosts = tmp.file("hosts", "");
const noConf = tmp.file("resolv.conf", "");
const BIG = Array.from({ length: 60 }, (_, i) => `127.0.2.${i + 1}`);
let dns: Dnsmasq;

// Hook order matters (jest runs beforeAll and afterAll hooks in declaration order): the
// one-time fd Node opens at its first spawn is opened before the fd count starts, and
// dnsmasq (with its stderr pipe) is started after it starts and stopped before it ends.
beforeAll(warmUpSpawn);
afterAll(async () => {
  await dns?.stop();
  tmp.cleanup();
});
expectNoFdLeaks();
beforeAll(async () => {
  const added = tmp.file("dnsmasq-hosts", ["127.0.0.70 hosted.test", "::70 hosted.test", ...BIG.map((addr) => `${addr} big.test`), ""].join("\n"));
  dns = await startDnsmasq(
    [
      `--addn-hosts=${added}`,
      "--local=/test/",
      "--address=/x.test/127.0.0.5",
      "--host-record=target.test,127.0.0.7,::7",
      "--cname=alias.test,target.test",
      "--cname=alias2.test,alias.test",
      "--host-record=www.corp.test,127.0.0.8",
      "--host-record=echo.test,127.0.0.1",
      "--local-ttl=30",
    ],
    `${tmp.dir}/dnsmasq.pid`,
  );
}, 20000);

function resolverOn(reactor: Parameters<typeof installResolver>[0], config: Record<string, unknown> = {}): Resolver {
  return new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: dns.port }], timeout: 2, attempts: 1, ...config } });
}

describeWithPeer("dnsmasq-base")("resolver against dnsmasq", () => {
  test("a name from dnsmasq's hosts file: A and AAAA", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return [await r.lookupAddress("hosted.test"), await r.lookupIPV6Address("hosted.test"), await r.getAllHostsByName("hosted.test")];
    });
    expect(out).toEqual([["127.0.0.70"], ["::70"], ["127.0.0.70", "::70"]]);
  });

  test("an --address wildcard answers any name under the domain", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor).getHostByName("deep.sub.x.test"));
    expect(out).toBe("127.0.0.5");
  });

  test("a chain of two CNAMEs ends at the target's addresses", async () => {
    const out = await withReactor(async (reactor) => {
      const r = resolverOn(reactor);
      return [await r.lookupAddress("alias2.test"), await r.lookupIPV6Address("alias2.test")];
    });
    expect(out).toEqual([["127.0.0.7"], ["::7"]]);
  });

  test("a short name is found through the search list", async () => {
    const out = await withReactor(async (reactor) => resolverOn(reactor, { search: ["nope.test", "corp.test"], ndots: 1 }).getHostByName("www"));
    expect(out).toBe("127.0.0.8");
  });

  test("an unknown name in a local domain fails with NXDOMAIN naming the host", async () => {
    const err = await withReactor(async (reactor) => failureOf(resolverOn(reactor).getHostByName("unknown.test")));
    expect(err).toBeInstanceOf(DNSLookupError);
    expect(err.message).toContain("'unknown.test'");
    expect((err.cause as DNSQueryError).reason).toBe("NXDOMAIN");
  });

  test("an answer too big for UDP comes truncated and is fetched again over TCP", async () => {
    // dnsmasq itself sets TC on the UDP answer (60 A records do not fit in 512 bytes)...
    const udp = dgram.createSocket("udp4");
    const viaUDP = await new Promise<dnsPacket.DecodedPacket>((resolve) => {
      udp.once("message", (m) => resolve(dnsPacket.decode(m)));
      udp.send(dnsPacket.encode({ type: "query", id: 9, questions: [{ name: "big.test", type: "A", class: "IN" }] }), dns.port, "127.0.0.1");
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    expect([viaUDP.flag_tc, (viaUDP.answers ?? []).length < BIG.length]).toEqual([true, true]);
    // ...and the resolver gets every record, which only the TCP answer holds.
    const out = await withReactor(async (reactor) => resolverOn(reactor).lookupAddress("big.test"));
    expect([...out].sort()).toEqual([...BIG].sort());
  });

  test("a dead first server times out and dnsmasq, second, answers", async () => {
    const dead = await FakeDNSServer.start(() => null);
    try {
      const out = await withReactor(async (reactor) =>
        resolverOn(reactor, { nameservers: [{ host: "127.0.0.1", port: dead.port }, { host: "127.0.0.1", port: dns.port }], timeout: 0.3 }).getHostByName("hosted.test"),
      );
      expect(out).toBe("127.0.0.70");
      expect(dead.queries.map((q) => q.name)).toEqual(["hosted.test"]);
    } finally {
      await dead.close();
    }
  });

  test("nameserver, search and options are read from a resolv.conf file", async () => {
    const conf = tmp.file("resolv.conf.dnsmasq", `# test\nnameserver [127.0.0.1]:${dns.port}\nsearch corp.test\noptions ndots:1 timeout:2 attempts:1\n`);
    const out = await withReactor(async (reactor) => {
      const r = new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: conf });
      return { address: await r.getHostByName("www"), config: r.config() };
    });
    expect(out.address).toBe("127.0.0.8");
    expect(out.config).toEqual({ nameservers: [{ host: "127.0.0.1", port: dns.port }], search: ["corp.test"], ndots: 1, timeout: 2, attempts: 1, rotate: false });
  });
});

describeWithPeer("dnsmasq-base")("connectTCP through the installed resolver", () => {
  test("connectTCP(name, port) resolves the name with dnsmasq, connects and exchanges bytes", async () => {
    const out = await withReactor(async (reactor) => {
      installResolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: dns.port }], timeout: 2, attempts: 1 } });
      class Echo extends Protocol {
        override dataReceived(data: Buffer): void {
          this.transport!.write(data);
        }
      }
      const port = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
      const where = port.getHost();
      const result = await new Promise<{ reply: string; peer: string; resolvedFirst: string }>((resolve) => {
        class Hello extends Protocol {
          override connectionMade(): void {
            this.transport!.write("hello over DNS");
          }
          override dataReceived(data: Buffer): void {
            const peer = this.transport!.getPeer();
            this.transport!.loseConnection();
            resolve({ reply: data.toString(), peer: peer.type === "TCP" ? peer.host : "?", resolvedFirst: "" });
          }
        }
        const f = new ClientFactory();
        f.protocol = Hello;
        reactor.connectTCP("echo.test", where.type === "TCP" ? where.port : 0, f);
      });
      result.resolvedFirst = await reactor.resolve!("echo.test");
      await port.stopListening();
      uninstallResolver(reactor);
      // The installed resolver is gone (the reactor would make a default one on its next lookup).
      return { ...result, hookGone: reactor.nameResolver === undefined && !Object.prototype.hasOwnProperty.call(reactor, "resolve") };
    });
    expect(out).toEqual({ reply: "hello over DNS", peer: "127.0.0.1", resolvedFirst: "127.0.0.1", hookGone: true });
  });

  test("a name dnsmasq does not know reaches clientConnectionFailed as a DNSLookupError naming the host", async () => {
    const out = await withReactor(async (reactor) => {
      reactor.installResolver({ hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: dns.port }], timeout: 2, attempts: 1 } });
      const events: string[] = [];
      const reason = await new Promise<Failure>((resolve) => {
        class Never extends Protocol {}
        class Recorder extends ClientFactory {
          override buildProtocol(): IProtocol {
            events.push("built");
            return new Never();
          }
          override startedConnecting(): void {
            events.push("started");
          }
          override clientConnectionFailed(_c: unknown, r: Failure): void {
            events.push("failed");
            resolve(r);
          }
        }
        reactor.connectTCP("missing.test", 9, new Recorder());
      });
      return { events, reason };
    });
    expect(out.events).toEqual(["started", "failed"]);
    expect(out.reason.value).toBeInstanceOf(DNSLookupError);
    expect(out.reason.getErrorMessage()).toContain("missing.test");
    expect(out.reason.getErrorMessage()).toContain("NXDOMAIN");
  });
});
