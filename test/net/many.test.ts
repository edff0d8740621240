/**
 * 2,000 connections open at the same time on one reactor, each exchanging a message, then
 * all closed cleanly: every protocol sees exactly one connectionLost(ConnectionDone) and
 * no fd is left behind (the file's fd check).
 */
import { listenTCP, connectTCP } from "../../lib/net";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

const N = 2000;

describe.each(MODES)("many connections (%s mode)", (mode) => {
  test(`${N} concurrent connections are served, then closed cleanly with no fd left`, async () => {
    const out = await runReactor<{ peak: number; serverDone: number; clientDone: number; echoed: number }>(
      mode,
      (reactor, finish, fail) => {
        let open = 0;
        let peak = 0;
        let serverDone = 0;
        let clientDone = 0;
        let echoed = 0;
        const clients: Recorder[] = [];
        const sf = new ServerFactory();
        sf.buildProtocol = () => {
          const p = new Recorder();
          p.onMade = () => {
            open++;
            peak = Math.max(peak, open);
          };
          p.onData = (d) => p.transport!.write(d);
          p.onLost = (reason) => {
            open--;
            if (p.events.join() !== `made,data:${p.received[0]?.toString()},lost:ConnectionDone`) fail(new Error(`server saw ${p.events.join()} (${reason.getErrorMessage()})`));
            if (++serverDone === N && clientDone === N) end();
          };
          return p;
        };
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1", backlog: N });
        const end = (): void => {
          port.stopListening();
          finish({ peak, serverDone, clientDone, echoed });
        };
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          const i = clients.length;
          clients.push(p);
          p.onMade = () => p.transport!.write(`hello ${i}`);
          p.onData = () => {
            if (p.bytes().toString() !== `hello ${i}`) return;
            // Close only once all N are open and have been answered: they coexist.
            if (++echoed === N) {
              for (const c of clients) c.transport!.loseConnection();
            }
          };
          return p;
        });
        cf.onLost = (reason) => {
          if (reason.type?.name !== "ConnectionDone") fail(reason.value);
          if (++clientDone === N && serverDone === N) end();
        };
        cf.onFailed = (reason) => fail(reason.value);
        for (let i = 0; i < N; i++) connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
      },
      60,
    );
    // peak: all N server ends were open at once (no client closed before every echo came back).
    expect(out).toEqual({ peak: N, serverDone: N, clientDone: N, echoed: N });
  });
});
