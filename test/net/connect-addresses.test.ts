/**
 * connectTCP with a host name tries each of its addresses in turn: the first that accepts
 * wins, and when all refuse the factory hears the last one's error.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionRefusedError } from "../../lib/error";
import { connectTCP, listenTCP, resolveHostAll, setHostsPath, type IReactorFDSet } from "../../lib/net";
import { Factory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, Recorder, RecordingClientFactory, portOf, runReactor } from "./helpers";

expectNoFdLeaks();

let dir: string;
let restore: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-multi-"));
  const p = path.join(dir, "hosts");
  // multi.test: 127.0.0.2 first (nothing listens there), then 127.0.0.1.
  fs.writeFileSync(p, "::1 multi.test\n127.0.0.2 multi.test\n127.0.0.1 multi.test\n127.0.0.3 dead.test\n127.0.0.2 dead.test\n");
  restore = setHostsPath(p);
});
afterAll(() => {
  setHostsPath(restore);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("resolveHostAll lists a name's hosts-file addresses IPv4 first, in file order", () => {
  expect(resolveHostAll({} as IReactorFDSet, "multi.test")).toEqual(["127.0.0.2", "127.0.0.1", "::1"]);
  expect(resolveHostAll({} as IReactorFDSet, "127.0.0.9")).toEqual(["127.0.0.9"]);
});

test("resolveHostAll prefers the reactor's resolveAll, then its resolve", async () => {
  const all = { resolveAll: () => Promise.resolve(["::1", "127.0.0.1"]) } as unknown as IReactorFDSet;
  await expect(resolveHostAll(all, "x.test")).resolves.toEqual(["::1", "127.0.0.1"]);
  const one = { resolve: () => Promise.resolve("127.0.0.7") } as unknown as IReactorFDSet;
  await expect(resolveHostAll(one, "x.test")).resolves.toEqual(["127.0.0.7"]);
});

describe.each(MODES)("%s mode", (mode) => {
  test("a refused first address is followed by the next one, which connects", async () => {
    const result = await runReactor<{ peer: string; events: string[] }>(mode, (reactor, finish, fail) => {
      const port = listenTCP(reactor, 0, Factory.forProtocol(Recorder), { interface: "127.0.0.1" });
      const factory = new RecordingClientFactory();
      factory.onFailed = fail;
      const connector = connectTCP(reactor, "multi.test", portOf(port.getHost()), factory);
      const check = (): void => {
        const p = factory.built[0] as Recorder | undefined;
        if (p?.events.includes("made")) {
          const peer = p.transport!.getPeer();
          finish({ peer: peer.type === "UNIX" ? peer.name : peer.host, events: [...factory.events] });
          connector.disconnect();
        } else reactor.callLater(0.01, check);
      };
      check();
    });
    expect(result.peer).toBe("127.0.0.1");
    expect(result.events).toEqual(["started"]);
  });

  test("when every address refuses, the factory hears ConnectionRefusedError once", async () => {
    const result = await runReactor<string[]>(mode, (reactor, finish) => {
      // A port nobody listens on: bind one, note its number, close it.
      const probe = listenTCP(reactor, 0, Factory.forProtocol(Recorder), { interface: "127.0.0.1" });
      const n = portOf(probe.getHost());
      void probe.stopListening();
      const factory = new RecordingClientFactory();
      factory.onFailed = (reason) => {
        expect(reason.value).toBeInstanceOf(ConnectionRefusedError);
        reactor.callLater(0.05, () => finish(factory.events));
      };
      connectTCP(reactor, "dead.test", n, factory);
    });
    expect(result).toEqual(["started", "failed:ConnectionRefusedError"]);
  });
});
