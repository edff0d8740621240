// ES module consumer of the installed package: named imports, the global `reactor` included.
import { createRequire } from "node:module";
import { ClientCreator, Deferred, Factory, Protocol, Reactor, Resource, Site, getDefaultReactor, getPage, reactor } from "fdreactor";

const { smoke } = createRequire(import.meta.url)("./checks.cjs");
// `reactor` is a stand-in that makes the global reactor at first use and forwards to it
// (docs/reactor.md): what it schedules must be on getDefaultReactor()'s queue.
if (!(reactor instanceof Reactor)) throw new Error("the ES module `reactor` is not a Reactor");
const probe = reactor.callLater(60, () => {});
const onGlobal = getDefaultReactor().getDelayedCalls().includes(probe);
probe.cancel();
if (!onGlobal) throw new Error("the ES module `reactor` does not forward to the global Reactor");
await smoke({ ClientCreator, Deferred, Factory, Protocol, Reactor, Resource, Site, getPage }, "ES module");
