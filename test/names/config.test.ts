/**
 * The files and tables behind the resolver: hosts-file parsing, resolv.conf parsing with
 * glibc's defaults and caps, an edited resolv.conf taking effect, and the cache's bounds.
 */
import * as fs from "node:fs";
import { DNSCache, DNSQueryError, HostsFile, ResolvConfFile, defaultConfig, parseHosts, parseNameServer, parseResolvConf } from "../../lib/names";
import { expectNoFdLeaks } from "../support/fds";
import { ManualClock, tempDir } from "./helpers";

expectNoFdLeaks();

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("hosts file", () => {
  test("parseHosts maps each lower-cased name to its addresses in file order, skipping comments and bad lines", () => {
    const table = parseHosts("127.0.0.1 localhost Local.Domain.\n# 1.2.3.4 commented\nnot-an-ip name\n::1 localhost ip6-localhost\n\n10.0.0.1\tlocalhost # again\nfe80::1%eth0 scoped\n127.0.0.1 localhost\n");
    expect([...table.entries()]).toEqual([
      ["localhost", ["127.0.0.1", "::1", "10.0.0.1"]],
      ["local.domain", ["127.0.0.1"]],
      ["ip6-localhost", ["::1"]],
    ]);
  });

  test("HostsFile splits families and answers [] when the file does not exist", () => {
    const path = tmp.file("hosts", "127.0.0.2 both.test\n::2 both.test\n");
    const h = new HostsFile(path);
    expect([h.lookupIPv4("both.test"), h.lookupIPv6("BOTH.test."), h.lookup("none.test")]).toEqual([["127.0.0.2"], ["::2"], []]);
    fs.unlinkSync(path);
    expect(h.lookup("both.test")).toEqual([]);
    expect(new HostsFile(`${tmp.dir}/missing`).lookup("both.test")).toEqual([]);
  });
});

describe("file checks", () => {
  test("with a clock, an edit is seen only once checkInterval has passed since the last check", () => {
    const clock = new ManualClock();
    const hostsPath = tmp.file("hosts-throttled", "127.0.0.2 t.test\n");
    const confPath = tmp.file("resolv-throttled", "nameserver 10.0.0.1\n");
    const hosts = new HostsFile(hostsPath, clock, 1);
    const conf = new ResolvConfFile(confPath, clock, 1);
    const seen = [hosts.lookup("t.test"), conf.current().nameservers[0].host];
    fs.writeFileSync(hostsPath, "127.0.0.3 t.test\n");
    fs.writeFileSync(confPath, "nameserver 10.0.0.2\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(hostsPath, later, later);
    fs.utimesSync(confPath, later, later);
    clock.now += 0.5;
    seen.push(hosts.lookup("t.test"), conf.current().nameservers[0].host);
    clock.now += 0.5;
    seen.push(hosts.lookup("t.test"), conf.current().nameservers[0].host);
    expect(seen).toEqual([["127.0.0.2"], "10.0.0.1", ["127.0.0.2"], "10.0.0.1", ["127.0.0.3"], "10.0.0.2"]);
  });

  test("a negative checkInterval throws RangeError naming it", () => {
    expect(() => new HostsFile("/etc/hosts", null, -1)).toThrow(/checkInterval/);
    expect(() => new ResolvConfFile("/etc/resolv.conf", null, -1)).toThrow(/checkInterval/);
  });
});

describe("resolv.conf", () => {
  test("without settings: 127.0.0.1:53, ndots 1, timeout 5, attempts 2, no rotate, no search", () => {
    expect(parseResolvConf("")).toEqual(defaultConfig());
    expect(defaultConfig()).toEqual({ nameservers: [{ host: "127.0.0.1", port: 53 }], search: [], ndots: 1, timeout: 5, attempts: 2, rotate: false });
  });

  test("nameservers (at most 3), search, and options with glibc's caps", () => {
    const c = parseResolvConf(
      [
        "; comment",
        "nameserver 10.0.0.1",
        "nameserver ::1  # trailing comment",
        "nameserver bogus",
        "nameserver [127.0.0.1]:5353",
        "nameserver 10.0.0.4",
        "domain ignored.test",
        "search A.test b.test.",
        "options ndots:20 timeout:99 attempts:9 rotate edns0",
      ].join("\n"),
    );
    expect(c).toEqual({
      nameservers: [
        { host: "10.0.0.1", port: 53 },
        { host: "::1", port: 53 },
        { host: "127.0.0.1", port: 5353 },
      ],
      search: ["a.test", "b.test"],
      ndots: 15,
      timeout: 30,
      attempts: 5,
      rotate: true,
    });
  });

  test("the last of domain and search wins", () => {
    expect(parseResolvConf("search one.test two.test\ndomain three.test\n").search).toEqual(["three.test"]);
    expect(parseResolvConf("domain three.test\nsearch one.test\n").search).toEqual(["one.test"]);
  });

  test("parseNameServer takes an address or [address]:port, nothing else", () => {
    expect([parseNameServer("::1"), parseNameServer("[::1]:54"), parseNameServer("host.test"), parseNameServer("[1.2.3.4]:0"), parseNameServer("[1.2.3.4]:70000")]).toEqual([
      { host: "::1", port: 53 },
      { host: "::1", port: 54 },
      null,
      null,
      null,
    ]);
  });

  test("an edited resolv.conf takes effect (its mtime changed); a removed one gives the defaults", () => {
    const path = tmp.file("resolv.conf", "nameserver 10.0.0.1\n");
    const f = new ResolvConfFile(path);
    expect(f.current().nameservers).toEqual([{ host: "10.0.0.1", port: 53 }]);
    fs.writeFileSync(path, "nameserver 10.0.0.2\noptions timeout:1\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path, later, later);
    expect([f.current().nameservers, f.current().timeout]).toEqual([[{ host: "10.0.0.2", port: 53 }], 1]);
    fs.unlinkSync(path);
    expect(f.current()).toEqual(defaultConfig());
  });
});

describe("cache", () => {
  test("entries expire at their TTL, a TTL of 0 is not kept, and the oldest entry goes when full", () => {
    const clock = new ManualClock();
    const c = new DNSCache(clock, 2);
    c.put("one.test", "A", { addresses: ["127.0.0.1"] }, 10);
    c.put("zero.test", "A", { addresses: ["127.0.0.2"] }, 0);
    expect([c.get("ONE.test", "A"), c.get("one.test", "AAAA"), c.get("zero.test", "A"), c.size]).toEqual([{ addresses: ["127.0.0.1"] }, undefined, undefined, 1]);
    const failure = new DNSQueryError("NXDOMAIN", "two.test", "A");
    c.put("two.test", "A", { failure }, 5);
    c.put("three.test", "A", { addresses: ["127.0.0.3"] }, 5);
    expect([c.get("one.test", "A"), c.get("two.test", "A"), c.size]).toEqual([undefined, { failure }, 2]);
    clock.now += 5;
    expect([c.get("two.test", "A"), c.get("three.test", "A"), c.size]).toEqual([undefined, undefined, 0]);
  });

  test("wrong arguments throw naming them", () => {
    expect(() => new DNSCache(null as unknown as ManualClock)).toThrow(/clock/);
    expect(() => new DNSCache(new ManualClock(), -1)).toThrow(RangeError);
  });
});
