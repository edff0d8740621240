/**
 * The resolver connectors use before the DNS layer installs reactor.resolve: address
 * literals as they are, names from the hosts file (IPv4 first), "localhost" always.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DNSLookupError } from "../../lib/error";
import { hostsFileAddresses, resolveFromHosts, resolveHost, setHostsPath, type IReactorFDSet } from "../../lib/net";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

let dir: string;
let n = 0;
let restorePath: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-hosts-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => setHostsPath(restorePath));

/** Points the resolver at a new hosts file holding `text`. */
function hosts(text: string | null): string {
  const p = path.join(dir, `hosts${n++}`);
  if (text !== null) fs.writeFileSync(p, text);
  restorePath = setHostsPath(p);
  return p;
}

test("address literals resolve to themselves without reading the hosts file", () => {
  hosts(null);
  expect(resolveFromHosts("127.0.0.1")).toBe("127.0.0.1");
  expect(resolveFromHosts("::1")).toBe("::1");
});

test("a name gets its first IPv4 address from the hosts file, comments and case ignored", () => {
  hosts("# comment line\n::1 db.test\n10.0.0.7 other.test  # db.test here is a comment\n127.0.0.5  alias DB.Test\n127.0.0.6 db.test\n");
  expect(resolveFromHosts("db.test")).toBe("127.0.0.5");
  expect(hostsFileAddresses("DB.TEST")).toEqual(["::1", "127.0.0.5", "127.0.0.6"]);
});

test("a name with only IPv6 addresses gets the first of them", () => {
  hosts("::1 six.test\nfe80::1 six.test\n");
  expect(resolveFromHosts("six.test")).toBe("::1");
});

test("localhost resolves to 127.0.0.1 even without a hosts file", () => {
  hosts(null);
  expect(resolveFromHosts("localhost")).toBe("127.0.0.1");
});

test("an unknown name is a DNSLookupError naming it; an empty one a TypeError", () => {
  hosts("127.0.0.1 localhost\n");
  expect(() => resolveFromHosts("nowhere.test")).toThrow(DNSLookupError);
  expect(() => resolveFromHosts("nowhere.test")).toThrow(/nowhere\.test/);
  expect(() => resolveFromHosts("")).toThrow(TypeError);
});

test("resolveHost prefers the reactor's own resolver for names, never for literals", async () => {
  hosts("127.0.0.9 mine.test\n");
  const asked: string[] = [];
  const reactor = {
    resolve: (name: string) => {
      asked.push(name);
      return Promise.resolve("127.0.0.42");
    },
  } as unknown as IReactorFDSet;
  expect(resolveHost(reactor, "127.0.0.1")).toBe("127.0.0.1");
  await expect(resolveHost(reactor, "mine.test")).resolves.toBe("127.0.0.42");
  expect(asked).toEqual(["mine.test"]);
  expect(resolveHost({} as IReactorFDSet, "mine.test")).toBe("127.0.0.9");
});
