/**
 * TCP over IPv6 on ::1. The machine's ::1 is detected first; when it is absent the test
 * says so on the console and checks only that listening there fails cleanly.
 */
import { CannotListenError } from "../../lib/error";
import { listenTCP, connectTCP } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { hasIPv6Loopback } from "../support/loopback";
import { testIf } from "../support/peers";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

const HAVE_V6 = hasIPv6Loopback();
if (!HAVE_V6) console.log("NOTE: ::1 is not available on this machine: the IPv6 exchange tests are skipped, only the failure to listen is checked");

describe.each(MODES)("IPv6 (%s mode)", (mode) => {
  testIf(HAVE_V6, "::1 is not available on this machine")("a server on ::1 and a client exchange bytes; addresses are IPv6", async () => {
    const out = await runReactor<{ echo: string; host: Address; peer: Address; serverPeer: Address }>(mode, (reactor, finish) => {
      let serverPeer: Address;
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        p.onMade = () => (serverPeer = p.transport!.getPeer());
        p.onData = (d) => p.transport!.write(d);
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "::1" });
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("six");
        p.onData = () => {
          const res = { echo: p.bytes().toString(), host: port.getHost(), peer: p.transport!.getPeer(), serverPeer };
          p.transport!.loseConnection();
          port.stopListening();
          finish(res);
        };
        return p;
      });
      connectTCP(reactor, "::1", portOf(port.getHost()), cf);
    });
    expect(out.echo).toBe("six");
    expect(out.host).toMatchObject({ type: "TCP", host: "::1", family: "IPv6" });
    expect(out.peer).toEqual(out.host);
    expect(out.serverPeer).toMatchObject({ type: "TCP", host: "::1", family: "IPv6" });
  });

  testIf(!HAVE_V6, "::1 is available here: this case is for machines without it")("without ::1, listening there fails with CannotListenError", async () => {
    const err = await runReactor<unknown>(mode, (reactor, finish) => {
      try {
        listenTCP(reactor, 0, new ServerFactory(), { interface: "::1" }).stopListening();
        finish(null);
      } catch (e) {
        finish(e);
      }
    });
    expect(err).toBeInstanceOf(CannotListenError);
  });

  test("this machine's ::1 detection agrees with the kernel's list of addresses", () => {
    const fs = require("node:fs") as typeof import("node:fs");
    let listed = false;
    try {
      listed = /^0{31}1 /m.test(fs.readFileSync("/proc/net/if_inet6", "utf8"));
    } catch {
      listed = false;
    }
    expect(HAVE_V6).toBe(listed);
  });
});
