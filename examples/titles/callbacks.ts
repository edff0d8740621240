/**
 * The seed's example in Twisted's callback style: getPage(url).addCallback(...).
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/callbacks.js [URL]   (any http:// or https:// URL)
 */
import { Deferred, Failure, gatherResults } from "../../lib/defer";
import type { IReactorFDSet } from "../../lib/net";
import { reactor } from "../../lib/reactor";
import { getPage, type GetPageOptions } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

/** Fetches `url` COUNT times in sequence, then COUNT times at once, printing titles and timings; `options` go to every getPage (an https trustRoot). */
export function titles(r: IReactorFDSet, url: string, print: (line: string) => void = console.log, options: GetPageOptions = {}): Deferred<void> {
  const done = new Deferred<void>();

  function sequential(i: number, start: number): void {
    if (i === COUNT) {
      print(`sequential: ${COUNT} pages in ${since(start)} ms`);
      concurrent();
      return;
    }
    getPage(url, { ...options, reactor: r })
      .addCallback((body: Buffer) => {
        print(`  ${i + 1}: ${titleOf(body)}`);
        sequential(i + 1, start);
      })
      .addErrback((f: Failure) => done.errback(f));
  }

  function concurrent(): void {
    print("concurrent:");
    const start = performance.now();
    const pages = [];
    for (let i = 0; i < COUNT; i++) {
      pages.push(getPage(url, { ...options, reactor: r }).addCallback((body: Buffer) => print(`  #${i + 1} fired: ${titleOf(body)}`)));
    }
    gatherResults(pages).addCallbacks(
      () => {
        print(`concurrent: ${COUNT} pages in ${since(start)} ms`);
        done.callback(undefined);
      },
      (f: Failure) => done.errback(f),
    );
  }

  print("sequential:");
  sequential(0, performance.now());
  return done;
}

if (require.main === module) {
  reactor.callWhenRunning(() => {
    titles(reactor, pageURL(reactor))
      .addErrback((f: Failure) => {
        console.error(`failed: ${f.getErrorMessage()}`);
        process.exitCode = 1;
      })
      .addBoth(() => reactor.stop());
  });
  void reactor.run();
}
