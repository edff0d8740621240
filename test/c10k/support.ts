/** What the C10K harness tests share: a load generator run against a server the test made. */
import * as net from "node:net";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Load } = require("../../bench/c10k/load");

/** The merged result of one measured closed loop (bench/c10k/results.js mergeResults). */
export interface Measured {
  count: number;
  errors: Record<string, number>;
}

/**
 * Listens with `server` on 127.0.0.1, runs a load generator (`options` on top of a small
 * closed-loop setup) for `ms` of measuring, and resolves with what it measured; the load
 * processes and the server are stopped on every path.
 */
export async function measureAgainst(server: net.Server, options: Record<string, unknown>, ms: number): Promise<Measured> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const load = new Load({ port, size: 64, rate: 1000, perProcess: 18000, cpu: null, deadlineS: 30, ...options });
  try {
    load.start();
    await load.waitFor("connected", 15000);
    load.tell("run");
    load.tell("measure");
    await new Promise((r) => setTimeout(r, ms));
    return await load.collect();
  } finally {
    await load.stop();
    await new Promise((r) => server.close(r));
  }
}
