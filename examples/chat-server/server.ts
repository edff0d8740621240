/**
 * A line-based chat server on LineReceiver (the classic Twisted example).
 *
 *   npx tsc -p tsconfig.json && node dist/examples/chat-server/server.js [port] [interface]
 *   then, in other terminals: nc 127.0.0.1 8123   (or telnet)
 *
 * Each client first sends its name, then every line it sends goes to everyone else as
 * "<name>: <line>". "/who" lists who is here, "/quit" leaves. Lines longer than 1 KiB close
 * that client's connection (LineReceiver.MAX_LENGTH).
 */
import type { Failure } from "../../lib/defer";
import { listenTCP } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { LineReceiver } from "../../lib/protocols/basic";
import { ServerFactory } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";

/** One chat client's connection: asks for a name, then relays lines. */
export class ChatProtocol extends LineReceiver {
  override MAX_LENGTH = 1024;
  /** The client's name, once given. */
  name: string | null = null;

  /** The protocol of one client of `room` (the factory that keeps the named members). */
  constructor(private readonly room: ChatFactory) {
    super();
  }

  /** Greets the new client. */
  override connectionMade(): void {
    this.sendLine("What's your name?");
  }

  /** The first line is the name; after it, lines are messages or commands. */
  override lineReceived(line: Buffer): void {
    const text = line.toString("utf8").trim();
    if (this.name === null) this.chooseName(text);
    else if (text === "/quit") this.transport?.loseConnection();
    else if (text === "/who") this.sendLine(`Here: ${[...this.room.members.keys()].sort().join(", ")}`);
    else if (text !== "") this.room.broadcast(`${this.name}: ${text}`, this);
  }

  private chooseName(name: string): void {
    if (!/^[\w-]{1,32}$/.test(name)) {
      this.sendLine("Names are 1 to 32 letters, digits, '_' or '-'. What's your name?");
    } else if (this.room.members.has(name)) {
      this.sendLine(`${name} is taken. What's your name?`);
    } else {
      this.name = name;
      this.room.members.set(name, this);
      this.sendLine(`Welcome, ${name}! (/who lists who is here, /quit leaves)`);
      this.room.broadcast(`* ${name} has joined`, this);
    }
  }

  /** An over-long line: say why, then close (LineReceiver's default closes silently). */
  override lineLengthExceeded(line: Buffer): void {
    this.sendLine(`Line too long (${line.length} bytes, at most ${this.MAX_LENGTH}): goodbye.`);
    super.lineLengthExceeded(line);
  }

  /** The client left: tell the others. */
  override connectionLost(reason: Failure): void {
    void reason;
    if (this.name !== null && this.room.members.get(this.name) === this) {
      this.room.members.delete(this.name);
      this.room.broadcast(`* ${this.name} has left`, this);
    }
  }
}

/** The chat room: who is connected, under which name. */
export class ChatFactory extends ServerFactory {
  /** Named members by name. */
  readonly members = new Map<string, ChatProtocol>();

  /** A ChatProtocol bound to this room. */
  override buildProtocol(addr: Address): ChatProtocol {
    void addr;
    const p = new ChatProtocol(this);
    p.factory = this;
    return p;
  }

  /** Sends `line` to every named member but `from`. */
  broadcast(line: string, from: ChatProtocol | null): void {
    for (const member of this.members.values()) if (member !== from) member.sendLine(line);
  }
}

/** Runs the server until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8123);
  const iface = process.argv[3] ?? "127.0.0.1";
  const reactor = new Reactor({ installSignalHandlers: true });
  reactor.callWhenRunning(() => {
    const p = listenTCP(reactor, port, new ChatFactory(), { interface: iface });
    const host = p.getHost();
    process.stdout.write(`chat server on ${host.type === "UNIX" ? host.name : `${host.host}:${host.port}`} (${reactor.backend})\n`);
  });
  await reactor.run();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
