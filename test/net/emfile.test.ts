/**
 * Accept under fd exhaustion: with RLIMIT_NOFILE lowered so that accept fails with EMFILE,
 * the port stops accepting for a moment (no busy loop), logs once, and once fds are
 * available again it accepts every pending connection.
 */
import { listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { setLogObservers } from "../../lib/log";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, portOf, Recorder, runReactor } from "./helpers";

expectNoFdLeaks();

const CLIENTS = 5;

describe.each(MODES)("EMFILE on accept (%s mode)", (mode) => {
  test("the port backs off, logs once, and accepts every pending connection when fds return", async () => {
    const logged: string[] = [];
    const restoreLog = setLogObservers([(level, message) => logged.push(`${level}: ${message}`)]);
    const limits = native.getNofileLimit();
    const clients: number[] = [];
    try {
      const accepted = await runReactor<number>(mode, (reactor, finish) => {
        const made: Recorder[] = [];
        const sf = new ServerFactory();
        sf.buildProtocol = () => {
          const p = new Recorder();
          p.onMade = () => {
            made.push(p);
            if (made.length === CLIENTS) {
              for (const m of made) m.transport!.loseConnection();
              port.stopListening();
              finish(made.length);
            }
          };
          return p;
        };
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        // Connections wait in the kernel's accept queue.
        for (let i = 0; i < CLIENTS; i++) {
          const fd = native.socket("IPv4", "tcp");
          clients.push(fd);
          native.connect(fd, "127.0.0.1", portOf(port.getHost()));
        }
        // No fd number is free below the new soft limit: accept gets EMFILE.
        const lowestFree = firstFreeFd();
        native.setNofileLimit(lowestFree);
        // Give fds back before the port's back-off ends (it is scheduled later, so it runs later).
        reactor.callLater(0.02, () => native.setNofileLimit(limits.soft));
      });
      expect(accepted).toBe(CLIENTS);
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

/** The lowest fd number not in use (the kernel always hands out the lowest). */
function firstFreeFd(): number {
  const [a, b] = native.pipe();
  native.close(a);
  native.close(b);
  return Math.min(a, b);
}
