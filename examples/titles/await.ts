/**
 * The seed's example with async/await (a Deferred is a thenable): `await getPage(url)`.
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/await.js [URL]
 */
import { reactor } from "../../lib/reactor";
import { getPage } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

async function main(url: string): Promise<void> {
  console.log("sequential:");
  let start = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const body = await getPage(url);
    console.log(`  ${i + 1}: ${titleOf(body)}`);
  }
  console.log(`sequential: ${COUNT} pages in ${since(start)} ms`);

  console.log("concurrent:");
  start = performance.now();
  await Promise.all(
    Array.from({ length: COUNT }, (_, i) => getPage(url).then((body) => console.log(`  #${i + 1} fired: ${titleOf(body)}`))),
  );
  console.log(`concurrent: ${COUNT} pages in ${since(start)} ms`);
}

reactor.callWhenRunning(() => {
  main(pageURL(reactor))
    .catch((e: unknown) => {
      console.error(`failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    })
    .finally(() => reactor.stop());
});
void reactor.run();
