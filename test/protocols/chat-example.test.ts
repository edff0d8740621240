/**
 * The LineReceiver chat server of examples/chat-server, driven by two real TCP clients on
 * one reactor: names (including a taken one), relaying, /who, /quit and the leave notice.
 */
import { ChatFactory } from "../../examples/chat-server/server";
import { connectTCP, listenTCP, type TCPPort } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { LineReceiver } from "../../lib/protocols/basic";
import { ClientFactory } from "../../lib/protocols/protocol";
import { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

/** A chat user: records every line and answers the ones listed in `replies`. */
class User extends LineReceiver {
  lines: string[] = [];
  constructor(private readonly replies: (line: string, self: User) => void) {
    super();
  }
  override lineReceived(line: Buffer): void {
    const s = line.toString();
    this.lines.push(s);
    this.replies(s, this);
  }
}

function clientFactory(user: User): ClientFactory {
  const f = new ClientFactory();
  f.buildProtocol = (addr: Address) => {
    void addr;
    return user;
  };
  return f;
}

test("two users chat: a taken name is refused, lines are relayed, /who lists both, /quit is announced", async () => {
  const reactor = new Reactor();
  let port: TCPPort | null = null;
  let target = 0;
  let done = false;
  const room = new ChatFactory();

  const bob = new User((line, self) => {
    if (line === "What's your name?") self.sendLine("alice");
    else if (line === "alice is taken. What's your name?") self.sendLine("bob");
    else if (line.startsWith("Welcome, bob!")) self.sendLine("hi all");
    else if (line === "alice: hello bob") self.sendLine("/quit");
  });
  const alice = new User((line, self) => {
    if (line === "What's your name?") self.sendLine("alice");
    else if (line.startsWith("Welcome, alice!")) connectTCP(reactor, "127.0.0.1", target, clientFactory(bob));
    else if (line === "bob: hi all") self.sendLine("/who");
    else if (line === "Here: alice, bob") self.sendLine("hello bob");
    else if (line === "* bob has left") {
      done = true;
      self.transport?.loseConnection();
      port?.stopListening();
      reactor.callLater(0, () => reactor.stop());
    }
  });

  const guard = reactor.callLater(15, () => reactor.stop());
  reactor.callWhenRunning(() => {
    port = listenTCP(reactor, 0, room, { interface: "127.0.0.1" });
    const host = port.getHost();
    target = host.type === "UNIX" ? 0 : host.port;
    connectTCP(reactor, "127.0.0.1", target, clientFactory(alice));
  });
  await reactor.run();
  if (guard.active()) guard.cancel();

  expect(done).toBe(true);
  expect(alice.lines).toEqual([
    "What's your name?",
    "Welcome, alice! (/who lists who is here, /quit leaves)",
    "* bob has joined",
    "bob: hi all",
    "Here: alice, bob",
    "* bob has left",
  ]);
  expect(bob.lines).toEqual([
    "What's your name?",
    "alice is taken. What's your name?",
    "Welcome, bob! (/who lists who is here, /quit leaves)",
    "alice: hello bob",
  ]);
  expect([...room.members.keys()]).toEqual([]);
});
