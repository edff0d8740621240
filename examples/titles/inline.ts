/**
 * The seed's example in the inlineCallbacks style: `const body = yield getPage(url)`.
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/inline.js [URL]   (any http:// or https:// URL)
 */
import { Failure, gatherResults, inlineCallbacks } from "../../lib/defer";
import type { IReactorFDSet } from "../../lib/net";
import { reactor } from "../../lib/reactor";
import { getPage, type GetPageOptions } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

/** Fetches `url` COUNT times in sequence, then COUNT times at once, printing titles and timings; `options` go to every getPage (an https trustRoot). */
export const titles = inlineCallbacks(function* (r: IReactorFDSet, url: string, print: (line: string) => void = console.log, options: GetPageOptions = {}) {
  print("sequential:");
  let start = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const body: Buffer = yield getPage(url, { ...options, reactor: r });
    print(`  ${i + 1}: ${titleOf(body)}`);
  }
  print(`sequential: ${COUNT} pages in ${since(start)} ms`);

  print("concurrent:");
  start = performance.now();
  const pages = [];
  for (let i = 0; i < COUNT; i++) {
    pages.push(getPage(url, { ...options, reactor: r }).addCallback((body: Buffer) => print(`  #${i + 1} fired: ${titleOf(body)}`)));
  }
  yield gatherResults(pages);
  print(`concurrent: ${COUNT} pages in ${since(start)} ms`);
});

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
