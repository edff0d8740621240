/**
 * The seed's example in the inlineCallbacks style: `const body = yield getPage(url)`.
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/inline.js [URL]
 */
import { Failure, gatherResults, inlineCallbacks } from "../../lib/defer";
import { reactor } from "../../lib/reactor";
import { getPage } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

const main = inlineCallbacks(function* (url: string) {
  console.log("sequential:");
  let start = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const body: Buffer = yield getPage(url);
    console.log(`  ${i + 1}: ${titleOf(body)}`);
  }
  console.log(`sequential: ${COUNT} pages in ${since(start)} ms`);

  console.log("concurrent:");
  start = performance.now();
  const pages = [];
  for (let i = 0; i < COUNT; i++) {
    pages.push(getPage(url).addCallback((body: Buffer) => console.log(`  #${i + 1} fired: ${titleOf(body)}`)));
  }
  yield gatherResults(pages);
  console.log(`concurrent: ${COUNT} pages in ${since(start)} ms`);
});

reactor.callWhenRunning(() => {
  main(pageURL(reactor))
    .addErrback((f: Failure) => {
      console.error(`failed: ${f.getErrorMessage()}`);
      process.exitCode = 1;
    })
    .addBoth(() => reactor.stop());
});
void reactor.run();
