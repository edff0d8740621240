/**
 * examples/titles: each of the three styles (callbacks, inlineCallbacks, await) prints the
 * local page's title 30 times in sequence and 30 times concurrently, with both timings.
 */
import { titles as awaitTitles } from "../../examples/titles/await";
import { titles as callbackTitles } from "../../examples/titles/callbacks";
import { titles as inlineTitles } from "../../examples/titles/inline";
import { COUNT, servePage } from "../../examples/titles/page";
import type { IReactorFDSet } from "../../lib/net";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { makeCertificates, type Certificates } from "../support/tls";
import { withReactor } from "./helpers";

expectNoFdLeaks();

type Titles = (r: IReactorFDSet, url: string, print: (line: string) => void, options?: { trustRoot?: string }) => PromiseLike<void>;

const TITLE = "fdreactor: Twisted's reactor for Node.js";

const STYLES = [
  ["callbacks", callbackTitles as Titles],
  ["inlineCallbacks", inlineTitles as Titles],
  ["await", awaitTitles as Titles],
] as const;

test.each(STYLES)("the %s example prints 30 sequential and 30 concurrent titles with timings", async (_style, titles) => {
  await withReactor(async (r) => {
    const { url, port } = servePage(r);
    const lines: string[] = [];
    await titles(r, url, (l) => lines.push(l));
    await port.stopListening();
    expectTitles(lines);
  });
});

describeWithPeer("openssl")("over https", () => {
  let pki: Certificates;
  beforeAll(() => {
    pki = makeCertificates();
  });
  afterAll(() => pki.remove());

  test.each(STYLES)("the %s example fetches the same titles from an https:// URL (the page over listenSSL, a test CA)", async (_style, titles) => {
    await withReactor(async (r) => {
      const { url, port } = servePage(r, { privateKey: pki.leaf.key, certificate: pki.leaf.cert });
      expect(url).toMatch(/^https:\/\/localhost:\d+\/$/);
      const lines: string[] = [];
      await titles(r, url, (l) => lines.push(l), { trustRoot: pki.ca.cert });
      await port.stopListening();
      expectTitles(lines);
    });
  });
});

/** The example's output: 30 titles in order, then 30 as they fired, each phase timed. */
function expectTitles(lines: string[]): void {
  const seq = lines.slice(0, COUNT + 2);
  expect(seq[0]).toBe("sequential:");
  expect(seq.slice(1, COUNT + 1)).toEqual(Array.from({ length: COUNT }, (_, i) => `  ${i + 1}: ${TITLE}`));
  expect(seq[COUNT + 1]).toMatch(/^sequential: 30 pages in \d+\.\d ms$/);
  const conc = lines.slice(COUNT + 2);
  expect(conc[0]).toBe("concurrent:");
  const fired = conc.slice(1, COUNT + 1);
  expect(fired.map((l) => l.replace(/#\d+/, "#n"))).toEqual(Array(COUNT).fill(`  #n fired: ${TITLE}`));
  expect(new Set(fired.map((l) => /#(\d+)/.exec(l)![1])).size).toBe(COUNT);
  expect(conc[COUNT + 1]).toMatch(/^concurrent: 30 pages in \d+\.\d ms$/);
  expect(lines.length).toBe(2 * COUNT + 4);
}
