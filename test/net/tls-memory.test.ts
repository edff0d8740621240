/**
 * Idle memory after a burst of TLS handshakes (docs/tls.md, "How it works"): half a second
 * after handshakes complete the reactor calls `native.tlsReleaseFreedMemory` (glibc's
 * malloc_trim) once for the whole burst, and that call gives back to the kernel the pages
 * the handshakes' released record buffers left resident under the idle connections. The
 * resident set is read from /proc/self/statm right before and right after the reactor's
 * call (nothing else runs in between, so the difference is the trim's alone), against a
 * baseline trim made before the burst.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { optionsForClientTLS, listenSSL, connectSSL } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { suitePki } from "../support/tls";
import { portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

const PAGE = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "latin1" }));
const residentBytes = (): number => Number(fs.readFileSync("/proc/self/statm", "latin1").split(" ")[1]) * PAGE;

/** One reactor-made trim: when, and how many resident bytes it gave back. */
interface Trim {
  at: number;
  released: number;
}

/**
 * glibc's allocator serves this process: under `npm run test:asan` the sanitizer's own
 * allocator does, which malloc_trim knows nothing of.
 */
const glibcHeap = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime) &&
  !/libasan/.test(process.env.LD_PRELOAD ?? "");

/** What the handshakes of one connection leave resident at the least (both ends are in this process; ~30-40 KiB measured). */
const LEFT_PER_CONNECTION = 8 * 1024;
const RELEASE_DELAY_MS = 500;

describeWithPeer("openssl")("TLS idle memory after a burst of handshakes", () => {
  const pki = suitePki();
  expectNoFdLeaks();
  const real = native.tlsReleaseFreedMemory;
  let trims: Trim[] = [];
  /** Whether the reactor's call reaches the real trim (false: the control, a no-op that is only counted). */
  let trimming = true;
  beforeEach(() => {
    trims = [];
    trimming = true;
    // The reactor looks the function up at each call: the wrapper calls the real one.
    native.tlsReleaseFreedMemory = () => {
      const before = residentBytes();
      const r = trimming && real();
      trims.push({ at: Date.now(), released: before - residentBytes() });
      return r;
    };
  });
  afterEach(() => {
    native.tlsReleaseFreedMemory = real;
  });

  /** One burst as seen: when it started, when its last reply came, the reactor's trims by the end of its idle time, and what a trim by hand then gave back. */
  interface Burst {
    start: number;
    lastReply: number;
    trims: Trim[];
    leftover: number;
  }

  /**
   * `bursts` bursts of `n` connectSSL connections at once to one listenSSL port, each
   * connection exchanging one line and then staying open and idle; after each burst 1.5 s
   * of idle (three release delays), then a trim by hand. `trimFor(i)` says whether burst
   * i's reactor trims reach the real call.
   */
  function runBursts(n: number, bursts: number, trimFor: (i: number) => boolean): Promise<Burst[]> {
    real(); // what the process freed before the test is not the bursts'
    return runReactor<Burst[]>("integrated", (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        p.onData = () => p.transport!.write("hi\n");
        return p;
      };
      const port = listenSSL(reactor, 0, sf, pki.server, { interface: "127.0.0.1", backlog: 512 });
      const client = optionsForClientTLS("localhost", { trustRoot: pki.certs.ca.cert });
      const seen: Burst[] = [];
      const round = (): void => {
        trimming = trimFor(seen.length);
        const start = Date.now();
        const counted = trims.length;
        let replies = 0;
        for (let i = 0; i < n; i++) {
          const cf = new RecordingClientFactory(() => {
            const p = new Recorder();
            p.onMade = () => p.transport!.write("hello\n");
            p.onData = () => {
              if (++replies === n) idle(start, Date.now(), counted);
            };
            return p;
          });
          connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
        }
      };
      const idle = (start: number, lastReply: number, counted: number): void => {
        reactor.callLater(1.5, () => {
          const before = residentBytes();
          real();
          seen.push({ start, lastReply, trims: trims.slice(counted), leftover: before - residentBytes() });
          if (seen.length < bursts) round();
          else finish(seen);
        });
      };
      round();
    }, 25); // under jest's 30 s, so a run too slow fails saying so
  }

  test("the trim is scheduled once per burst: a burst within the release delay gets exactly one, and none comes sooner than the delay", async () => {
    // 30 connections: the scheduling needs a burst, not the 150 whose resident pages the
    // next test weighs; 2 x 150 took 26-29 s of jest's 30 under the sanitizer build.
    const bursts = await runBursts(30, 2, () => true);
    for (const b of bursts) {
      // At most one pending per reactor: one per started release delay of the burst (a
      // loaded machine may stretch a burst over more than one).
      expect(b.trims.length).toBeGreaterThanOrEqual(1);
      expect(b.trims.length).toBeLessThanOrEqual(1 + Math.floor((b.lastReply - b.start) / RELEASE_DELAY_MS));
      expect(b.trims[0].at - b.start).toBeGreaterThanOrEqual(RELEASE_DELAY_MS - 10); // timers may round down a little
    }
  });

  const releaseTitle = "the burst's trim gives back what its handshakes left resident; with the trim made a no-op (control) it stays resident through the idle time";
  (glibcHeap ? test : test.skip)(glibcHeap ? releaseTitle : `${releaseTitle} [skipped: the sanitizer's allocator, not glibc's, serves this process]`, async () => {
    const n = 150;
    const [control, trimmed] = await runBursts(n, 2, (i) => i === 1);
    const released = (b: Burst): number => b.trims.reduce((s, t) => s + t.released, 0);
    // Control: the reactor called (a no-op), and 1.5 s later the pages were still resident.
    expect(control.trims.length).toBeGreaterThanOrEqual(1);
    expect(control.leftover).toBeGreaterThanOrEqual(n * LEFT_PER_CONNECTION);
    // The real trim gave them back, and left little for a trim by hand after the idle time.
    expect(released(trimmed)).toBeGreaterThanOrEqual(n * LEFT_PER_CONNECTION);
    expect(trimmed.leftover).toBeLessThanOrEqual(Math.max(released(trimmed), control.leftover) / 4);
  });
});
