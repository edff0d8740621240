/**
 * Loading lib/names makes DNS the default: a Reactor with no resolver of its own gets one
 * (system settings) on its first lookup, and connectTCP goes through it.
 */
import { Reactor } from "../../lib/reactor";
import { Resolver, installResolver, uninstallResolver } from "../../lib/names";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

test("a fresh reactor resolves through a default Resolver made on its first lookup", async () => {
  const reactor = new Reactor();
  expect(reactor.nameResolver).toBeUndefined();
  const address = await reactor.resolve!("localhost");
  expect(["127.0.0.1", "::1"]).toContain(address);
  expect(reactor.nameResolver).toBeInstanceOf(Resolver);
  const first = reactor.nameResolver;
  await reactor.resolveAll!("localhost");
  expect(reactor.nameResolver).toBe(first);
  reactor.close();
});

test("an installed resolver wins over the default; uninstalling brings the default back", async () => {
  const reactor = new Reactor();
  const mine = installResolver(reactor, { config: { nameservers: [{ host: "127.0.0.1", port: 9 }] } });
  expect(reactor.nameResolver).toBe(mine);
  uninstallResolver(reactor);
  expect(reactor.nameResolver).toBeUndefined();
  await reactor.resolve!("localhost");
  expect(reactor.nameResolver).toBeInstanceOf(Resolver);
  expect(reactor.nameResolver).not.toBe(mine);
  reactor.close();
});
