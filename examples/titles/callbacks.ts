/**
 * The seed's example in Twisted's callback style: getPage(url).addCallback(...).
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/callbacks.js [URL]
 */
import { Failure, gatherResults } from "../../lib/defer";
import { reactor } from "../../lib/reactor";
import { getPage } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

function sequential(url: string, i: number, start: number): void {
  if (i === COUNT) {
    console.log(`sequential: ${COUNT} pages in ${since(start)} ms`);
    concurrent(url);
    return;
  }
  getPage(url)
    .addCallback((body: Buffer) => {
      console.log(`  ${i + 1}: ${titleOf(body)}`);
      sequential(url, i + 1, start);
    })
    .addErrback(stopWith);
}

function concurrent(url: string): void {
  console.log("concurrent:");
  const start = performance.now();
  const pages = [];
  for (let i = 0; i < COUNT; i++) {
    pages.push(getPage(url).addCallback((body: Buffer) => console.log(`  #${i + 1} fired: ${titleOf(body)}`)));
  }
  gatherResults(pages)
    .addCallback(() => {
      console.log(`concurrent: ${COUNT} pages in ${since(start)} ms`);
      reactor.stop();
    })
    .addErrback(stopWith);
}

function stopWith(f: Failure): void {
  console.error(`failed: ${f.getErrorMessage()}`);
  process.exitCode = 1;
  if (reactor.running) reactor.stop();
}

reactor.callWhenRunning(() => {
  const url = pageURL(reactor);
  console.log("sequential:");
  sequential(url, 0, performance.now());
});
void reactor.run();
