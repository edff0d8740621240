/**
 * Accept under fd exhaustion: with RLIMIT_NOFILE lowered and every fd number below it taken,
 * so that accept fails with EMFILE (epoll's accept4 and io_uring's multishot accept alike),
 * the port stops accepting for a moment (no busy loop), logs once, keeps serving the
 * connections it has, and once fds are available again accepts every pending connection.
 */
import { connectTCP, listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { setLogObservers } from "../../lib/log";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks, listFds } from "../support/fds";
import type { ReactorOptions } from "../../lib/reactor";
import { describeOnKernel } from "../support/backends";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor, type Mode } from "./helpers";

expectNoFdLeaks();

const CLIENTS = 5;

const TITLE = "the port backs off, logs once, keeps serving its connections, and accepts every pending one when fds return";

describe.each(MODES)("EMFILE on accept (%s mode)", (mode) => {
  test(TITLE, () => backsOffAndRecovers(mode));
});

// io_uring's multishot accept meets EMFILE inside the kernel: the completion carries it and
// ends the request; the port pauses as above and its re-registration arms a new request.
describeOnKernel("io_uring")("EMFILE on the io_uring backend's multishot accept", () => {
  describe.each(MODES)("%s mode", (mode) => {
    test(TITLE, () => backsOffAndRecovers(mode, { backend: "io_uring" }));
  });
});

async function backsOffAndRecovers(mode: Mode, options: ReactorOptions = {}): Promise<void> {
    const limits = native.getNofileLimit();
    const clients: number[] = [];
    const fillers: number[] = []; // duplicates holding every free fd number below the limit
    let onEmfile: (() => void) | null = null;
    const logged: string[] = [];
    const accept4 = jest.spyOn(native, "accept");
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
        // A limit lowered before the port starts: io_uring's accept request reads
        // RLIMIT_NOFILE when it is submitted, not at each accept (a limit lowered later
        // would not stop it). Room for the port, the connections and what Node opens.
        native.setNofileLimit(Math.max(...listFds()) + 32);
        const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
        // An established connection: it must be served while the port is backing off.
        const cf = new RecordingClientFactory(() => {
          const a = new Recorder();
          a.onMade = () => {
            for (let i = 0; i < CLIENTS; i++) clients.push(native.socket("IPv4", "tcp"));
            // Every number below the limit taken: accept gets EMFILE. Filled before the
            // connects: io_uring's multishot accept may run inside each connect's own
            // syscall (the listener's task work), before any wait.
            for (;;) {
              try {
                fillers.push(native.dupFd(0));
              } catch {
                break;
              }
            }
            // More connections wait in the kernel's accept queue.
            for (const fd of clients) native.connect(fd, "127.0.0.1", portOf(port.getHost()));
            onEmfile = () => a.transport!.write("ping");
          };
          a.onData = () => {
            // Served during the back-off; now give the fds back.
            madeAtEcho = made.length;
            for (const fd of fillers.splice(0)) native.close(fd);
            native.setNofileLimit(limits.soft);
            a.transport!.loseConnection();
          };
          return a;
        });
        connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
      }, 20, options);
      expect(out).toEqual({ accepted: CLIENTS + 1, madeAtEcho: 1 });
      // On io_uring the EMFILE came in the multishot accept's completion: accept4 never ran.
      if (options.backend === "io_uring") expect(accept4).not.toHaveBeenCalled();
      else expect(accept4).toHaveBeenCalled();
      const notes = logged.filter((l) => l.includes("EMFILE"));
      expect(notes.length).toBeGreaterThanOrEqual(1);
      expect(notes[0]).toMatch(/^warn: accept on TCP port 127\.0\.0\.1:0: EMFILE; not accepting for 0\.1 s/);
      expect(notes.slice(1).every((l) => l.startsWith("debug"))).toBe(true);
      // Paused, not spinning: the pause doubles from 0.1 s, so a handful of retries at most.
      expect(notes.length).toBeLessThan(10);
    } finally {
      for (const fd of fillers) native.close(fd);
      native.setNofileLimit(limits.soft);
      restoreLog();
      accept4.mockRestore();
      for (const fd of clients) native.close(fd);
    }
}
