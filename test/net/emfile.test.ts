/**
 * Accept under fd exhaustion: with RLIMIT_NOFILE lowered so that accept fails with EMFILE,
 * the port stops accepting for a moment (no busy loop), logs once, keeps serving the
 * connections it has, and once fds are available again accepts every pending connection.
 */
import { connectTCP, listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { setLogObservers } from "../../lib/log";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

expectNoFdLeaks();

const CLIENTS = 5;

describe.each(MODES)("EMFILE on accept (%s mode)", (mode) => {
  test("the port backs off, logs once, keeps serving its connections, and accepts every pending one when fds return", async () => {
    const limits = native.getNofileLimit();
    const clients: number[] = [];
    let onEmfile: (() => void) | null = null;
    const logged: string[] = [];
    const restoreLog = setLogObservers([
      (level, message) => {
        logged.push(`${level}: ${message}`);
        if (message.includes("EMFILE") && onEmfile !== null) {
          const f = onEmfile;
          onEmfile = null;
          f();
        }
      },
    ]);
    try {
      const out = await runReactor<{ accepted: number; madeAtEcho: number }>(mode, (reactor, finish) => {
        const made: Recorder[] = [];
        let madeAtEcho = -1;
        const sf = new ServerFactory();
        sf.buildProtocol = () => {
          const p = new Recorder();
          p.onData = (d) => p.transport!.write(d);
          p.onMade = () => {
            made.push(p);
            if (made.length === CLIENTS + 1) {
              for (const m of made) m.transport!.loseConnection();
              port.stopListening();
              finish({ accepted: made.length, madeAtEcho });
            }
          };
          return p;
        };
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        // An established connection: it must be served while the port is backing off.
        const cf = new RecordingClientFactory(() => {
          const a = new Recorder();
          a.onMade = () => {
            // More connections wait in the kernel's accept queue...
            for (let i = 0; i < CLIENTS; i++) {
              const fd = native.socket("IPv4", "tcp");
              clients.push(fd);
              native.connect(fd, "127.0.0.1", portOf(port.getHost()));
            }
            // ...and no new fd is allowed (0-2 are always open): accept gets EMFILE. A limit
            // just above the open fds would not do: an fd closed meanwhile frees a number.
            native.setNofileLimit(3);
            onEmfile = () => a.transport!.write("ping");
          };
          a.onData = () => {
            // Served during the back-off; now give the fds back.
            madeAtEcho = made.length;
            native.setNofileLimit(limits.soft);
            a.transport!.loseConnection();
          };
          return a;
        });
        connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
      });
      expect(out).toEqual({ accepted: CLIENTS + 1, madeAtEcho: 1 });
      const notes = logged.filter((l) => l.includes("EMFILE"));
      expect(notes.length).toBeGreaterThanOrEqual(1);
      expect(notes[0]).toMatch(/^warn: accept on TCP port 127\.0\.0\.1:0: EMFILE; not accepting for 0\.1 s/);
      expect(notes.slice(1).every((l) => l.startsWith("debug"))).toBe(true);
    } finally {
      native.setNofileLimit(limits.soft);
      restoreLog();
      for (const fd of clients) native.close(fd);
    }
  });
});
