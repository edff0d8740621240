// ES module consumer of the installed package: named imports, the global `reactor` included.
import { createRequire } from "node:module";
import { ClientCreator, Deferred, Factory, Protocol, Reactor, Resource, Site, getDefaultReactor, getPage, reactor } from "fdreactor";

const { smoke } = createRequire(import.meta.url)("./checks.cjs");
if (!(reactor instanceof Reactor) || reactor !== getDefaultReactor()) throw new Error("the ES module `reactor` is not the global Reactor");
await smoke({ ClientCreator, Deferred, Factory, Protocol, Reactor, Resource, Site, getPage }, "ES module");
