/**
 * The seed's example with async/await (a Deferred is a thenable): `await getPage(url)`.
 * Prints the page's <title> 30 times one request after the other, then 30 times with all
 * requests in flight at once (printed as they fire), with the time each phase took.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/titles/await.js [URL]   (any http:// or https:// URL)
 */
import type { IReactorFDSet } from "../../lib/net";
import { reactor } from "../../lib/reactor";
import { getPage, type GetPageOptions } from "../../lib/web";
import { COUNT, pageURL, since, titleOf } from "./page";

/** Fetches `url` COUNT times in sequence, then COUNT times at once, printing titles and timings; `options` go to every getPage (an https trustRoot). */
export async function titles(r: IReactorFDSet, url: string, print: (line: string) => void = console.log, options: GetPageOptions = {}): Promise<void> {
  print("sequential:");
  let start = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const body = await getPage(url, { ...options, reactor: r });
    print(`  ${i + 1}: ${titleOf(body)}`);
  }
  print(`sequential: ${COUNT} pages in ${since(start)} ms`);

  print("concurrent:");
  start = performance.now();
  await Promise.all(
    Array.from({ length: COUNT }, (_, i) => getPage(url, { ...options, reactor: r }).then((body) => print(`  #${i + 1} fired: ${titleOf(body)}`))),
  );
  print(`concurrent: ${COUNT} pages in ${since(start)} ms`);
}

if (require.main === module) {
  reactor.callWhenRunning(() => {
    titles(reactor, pageURL(reactor))
      .catch((e: unknown) => {
        console.error(`failed: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = 1;
      })
      .finally(() => reactor.stop());
  });
  void reactor.run();
}
