/**
 * One hosts file, two paths: lib/net's resolver of last resort (what connectTCP uses when
 * the reactor has no resolver) and lib/names' Resolver read the same file with the same
 * parser, so a name gets the same answer either way — scoped addresses skipped, trailing
 * dots and case ignored, duplicates counted once, IPv4 first.
 */
import { DNSLookupError } from "../../lib/error";
import { Resolver } from "../../lib/names";
import { connectTCP, listenTCP, resolveFromHosts, resolveHost, resolveHostAll, setHostsPath, type IReactorFDSet } from "../../lib/net";
import { Factory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { Recorder, RecordingClientFactory, portOf, runReactor, type TestReactor } from "../net/helpers";
import { tempDir } from "./helpers";

expectNoFdLeaks();

const tmp = tempDir();
const hostsPath = tmp.file(
  "hosts",
  [
    "# read by both paths",
    "fe80::1%lo   agree.test      # a zone index: skipped (connect carries no scope)",
    "::1          agree.test",
    "127.0.0.1    agree.test AGREE.TEST",
    "127.0.0.1    agree.test      # listed again: counted once",
    "127.0.0.1    dotted.test.    # a trailing dot names the same host",
    "fe80::2%lo   scoped-only.test",
    "",
  ].join("\n"),
);
const noConf = tmp.file("resolv.conf", "");
let restore: string;
beforeAll(() => {
  restore = setHostsPath(hostsPath);
});
afterAll(() => {
  setHostsPath(restore);
  tmp.cleanup();
});

/** A reactor with no resolver of its own: lib/net's hosts-file path answers. */
const bare = {} as IReactorFDSet;

/** A Resolver on `reactor` that reads the same hosts file (its names never reach the server). */
function resolverOn(reactor: TestReactor): Resolver {
  return new Resolver(reactor, { hostsPath, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: 9 }], timeout: 1, attempts: 1 } });
}

const NAMES = ["agree.test", "Agree.Test", "agree.test.", "dotted.test", "DOTTED.test."];

test("both paths give the same addresses and the same first address for every name", async () => {
  const viaResolver = await runReactor<{ all: string[][]; one: string[] }>("integrated", (reactor, finish, fail) => {
    const r = resolverOn(reactor);
    Promise.all([Promise.all(NAMES.map((n) => r.getAllHostsByName(n))), Promise.all(NAMES.map((n) => r.getHostByName(n)))]).then(
      ([all, one]) => finish({ all, one }),
      fail,
    );
  });
  const viaNet = { all: NAMES.map((n) => resolveHostAll(bare, n) as string[]), one: NAMES.map((n) => resolveHost(bare, n) as string) };
  expect(viaNet).toEqual(viaResolver);
  expect(viaNet.all).toEqual([
    ["127.0.0.1", "::1"],
    ["127.0.0.1", "::1"],
    ["127.0.0.1", "::1"],
    ["127.0.0.1"],
    ["127.0.0.1"],
  ]);
});

test("a name with only a scoped address is not in the hosts file for either path", async () => {
  expect(() => resolveFromHosts("scoped-only.test")).toThrow(DNSLookupError);
  const fromResolver = await runReactor<string[]>("integrated", (reactor, finish) => finish(resolverOn(reactor).hosts!.lookup("scoped-only.test")));
  expect(fromResolver).toEqual([]);
});

/** Connects to `name` on a local listener; resolves with the peer host the client saw. */
function connectByName(reactor: TestReactor, name: string, finish: (peer: string) => void, fail: (e: unknown) => void): void {
  const port = listenTCP(reactor, 0, Factory.forProtocol(Recorder), { interface: "127.0.0.1" });
  const factory = new RecordingClientFactory();
  factory.onFailed = fail;
  const connector = connectTCP(reactor, name, portOf(port.getHost()), factory);
  const check = (): void => {
    const p = factory.built[0] as Recorder | undefined;
    if (p?.events.includes("made")) {
      const peer = p.transport!.getPeer();
      finish(peer.type === "UNIX" ? peer.name : `${peer.host}`);
      connector.disconnect();
    } else reactor.callLater(0.01, check);
  };
  check();
}

test("connectTCP reaches a trailing-dot hosts entry with and without the resolver installed", async () => {
  const without = await runReactor<string>("integrated", (reactor, finish, fail) => {
    // As before lib/names is loaded: no resolve hooks, so connectTCP reads the hosts file itself.
    Object.assign(reactor, { resolve: undefined, resolveAll: undefined });
    connectByName(reactor, "Dotted.Test", finish, fail);
  });
  const withResolver = await runReactor<string>("integrated", (reactor, finish, fail) => {
    reactor.installResolver(resolverOn(reactor));
    connectByName(reactor, "Dotted.Test", finish, fail);
  });
  expect([without, withResolver]).toEqual(["127.0.0.1", "127.0.0.1"]);
});
