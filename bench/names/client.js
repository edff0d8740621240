// One bench client process: N lookups against a DNS server on 127.0.0.1, each of a name of
// its own (so that no resolver can share one query between lookups), C in flight at once, after a warm-up; prints one JSON line with the lookups done, the
// wall time and this process's CPU time (user+sys) over the measured part.
// Usage: node bench/names/client.js <fdreactor|node> <port> <N> <C> [warm-up lookups, 500]
"use strict";
const [peer, portText, nText, cText, warmText] = process.argv.slice(2);
const port = Number(portText);
const N = Number(nText);
const C = Number(cText);
const WARMUP = Number(warmText ?? 500);
let serial = 0;
/** A name no lookup has asked for before (the server answers every name under bench.test). */
const nextName = () => `q${serial++}.bench.test`;

/** Runs `total` lookups with `C` in flight through `lookup()` (a promise of addresses); resolves when done. */
function drive(lookup, total) {
  return new Promise((resolve, reject) => {
    if (total === 0) return resolve(); // a warm-up of 0 lookups
    let started = 0;
    let done = 0;
    const next = () => {
      if (started >= total) return;
      started++;
      lookup().then(
        (addrs) => {
          if (addrs[0] !== "127.0.0.9") return reject(new Error(`wrong answer ${addrs}`));
          done++;
          if (done === total) resolve();
          else next();
        },
        reject,
      );
    };
    for (let i = 0; i < C && i < total; i++) next();
  });
}

async function measure(lookup) {
  await drive(lookup, WARMUP);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await drive(lookup, N);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { peer, lookups: N, wallMs, cpuUs: cpu.user + cpu.system };
}

async function main() {
  let result;
  if (peer === "fdreactor") {
    const { Reactor } = require("../../dist/lib/reactor");
    require("../../dist/lib/net");
    const { Resolver } = require("../../dist/lib/names");
    const reactor = new Reactor();
    const running = reactor.run();
    const r = new Resolver(reactor, {
      hostsPath: null,
      resolvConfPath: "/nonexistent",
      cacheSize: 0,
      config: { nameservers: [{ host: "127.0.0.1", port }], timeout: 2, attempts: 2 },
    });
    result = await measure(() => r.lookupAddress(nextName()));
    reactor.stop();
    await running;
  } else if (peer === "node") {
    const { Resolver } = require("node:dns").promises;
    const r = new Resolver({ timeout: 2000, tries: 2 });
    r.setServers([`127.0.0.1:${port}`]);
    result = await measure(() => r.resolve4(nextName()));
  } else {
    throw new Error(`unknown peer ${peer}`);
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
