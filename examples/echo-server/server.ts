/**
 * The classic Twisted echo server: every byte received is written back.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/echo-server/server.js [port] [interface]
 *   then: nc 127.0.0.1 8000
 *
 * The bytes handed to dataReceived are a view into the reactor's read slab; writing them
 * back queues that view (no copy) and the reactor flushes every connection's queue with
 * one writev batch at the end of its iteration.
 */
import "../../lib/net"; // installs reactor.listenTCP
import { Factory, Protocol } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";

/** Writes back whatever it receives. */
export class Echo extends Protocol {
  /** Echoes `data`. */
  override dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
}

/** Runs the server until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8000);
  const iface = process.argv[3] ?? "127.0.0.1";
  const reactor = new Reactor({ installSignalHandlers: true });
  reactor.callWhenRunning(() => {
    try {
      const p = reactor.listenTCP(port, Factory.forProtocol(Echo), { interface: iface });
      const host = p.getHost();
      process.stdout.write(`echo server on ${host.type === "UNIX" ? host.name : `${host.host}:${host.port}`} (${reactor.backend}, ${reactor.mode})\n`);
    } catch (e) {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
      reactor.stop();
    }
  });
  await reactor.run();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
