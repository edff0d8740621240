/**
 * An echo client: sends each message, prints what comes back, and disconnects once every
 * byte has been echoed (a ClientFactory reports a failed or lost connection).
 *
 *   npx tsc -p tsconfig.json && node dist/examples/echo-client/client.js [host] [port] [message...]
 */
import type { Failure } from "../../lib/defer";
import "../../lib/net"; // installs reactor.connectTCP
import { ClientFactory, Protocol } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";

/** Sends the factory's messages and waits for all of their bytes to come back. */
export class EchoClient extends Protocol {
  private expected = 0;
  private received: Buffer[] = [];

  /** Sends every message. */
  override connectionMade(): void {
    const messages = (this.factory as EchoClientFactory).messages;
    for (const m of messages) {
      const b = Buffer.from(m);
      this.expected += b.length;
      this.transport!.write(b);
    }
  }

  /** Collects the echo; disconnects once it is complete. */
  override dataReceived(data: Buffer): void {
    this.received.push(data);
    this.expected -= data.length;
    if (this.expected <= 0) {
      (this.factory as EchoClientFactory).echoed(Buffer.concat(this.received).toString());
      this.transport!.loseConnection();
    }
  }
}

/** Connects one EchoClient and reports how it ended through `done(reason | null)`. */
export class EchoClientFactory extends ClientFactory {
  override protocol = EchoClient;
  /** What came back. */
  echo = "";

  /**
   * A factory sending `messages`; `done(reason | null, echo)` hears how the connection
   * ended: null when every byte came back, else the Failure the factory was given.
   */
  constructor(
    readonly messages: string[],
    private readonly done: (reason: Failure | null, echo: string) => void,
  ) {
    super();
  }

  /** Called by the protocol with the complete echo. */
  echoed(text: string): void {
    this.echo = text;
  }

  /** Could not connect. */
  override clientConnectionFailed(connector: unknown, reason: Failure): void {
    void connector;
    this.done(reason, "");
  }

  /** The connection ended: fine when everything came back. */
  override clientConnectionLost(connector: unknown, reason: Failure): void {
    void connector;
    const complete = Buffer.byteLength(this.echo) === this.messages.reduce((n, m) => n + Buffer.byteLength(m), 0);
    this.done(complete ? null : reason, this.echo);
  }
}

/** Connects, prints the echo, stops. */
async function main(): Promise<void> {
  const host = process.argv[2] ?? "127.0.0.1";
  const port = Number(process.argv[3] ?? 8000);
  const messages = process.argv.length > 4 ? process.argv.slice(4).map((m) => `${m}\n`) : ["hello, echo\n"];
  const reactor = new Reactor({ installSignalHandlers: true });
  reactor.callWhenRunning(() => {
    reactor.connectTCP(host, port, new EchoClientFactory(messages, (reason, echo) => {
      if (reason) {
        process.stderr.write(`echo failed: ${reason.getErrorMessage()}\n`);
        process.exitCode = 1;
      } else {
        process.stdout.write(echo);
      }
      reactor.stop();
    }), { timeout: 10 });
  });
  await reactor.run();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
