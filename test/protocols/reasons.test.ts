/**
 * Reasons are Failures, as in Twisted: a protocol and a client factory written the way
 * Twisted code is written — `reason.check(...)`, `reason.trap(...)`,
 * `reason.getErrorMessage()`, `reason.value` inside connectionLost and
 * clientConnectionFailed — run unchanged on real sockets: a refused connect, a clean close
 * (ConnectionDone) and a reset (ConnectionLost with its errno).
 */
import { Failure } from "../../lib/defer";
import { ConnectError, ConnectionDone, ConnectionLost, ConnectionRefusedError, type FdReactorError } from "../../lib/error";
import { connectTCP, listenTCP } from "../../lib/net";
import { native } from "../../lib/native";
import { ClientFactory, Factory, Protocol } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { closedPort } from "../support/loopback";
import { MODES, portOf, runReactor, type TestReactor } from "../net/helpers";

expectNoFdLeaks();

/** What a ported connectionLost / clientConnectionFailed saw, as plain data. */
interface Seen {
  isFailure: boolean;
  checked: string;
  trapped: string;
  trapOther: string;
  message: string;
  valueMessage: string;
  code?: string;
  errno?: number;
}

/**
 * Reads `reason` the way Twisted code does: which of the types it is (check), trap of the
 * expected type (returns it) and of an unrelated one (rethrows the original error).
 */
function readReason(reason: Failure, expected: typeof ConnectionDone | typeof ConnectionLost | typeof ConnectionRefusedError): Seen {
  let trapOther = "did not throw";
  try {
    reason.trap(RangeError);
  } catch (e) {
    trapOther = e === reason.value ? "rethrew the original error" : `threw something else: ${String(e)}`;
  }
  const value = reason.value as FdReactorError & { errno?: number };
  const checked = reason.check(ConnectionDone, ConnectionLost, ConnectionRefusedError);
  let trapped: string;
  try {
    trapped = (reason.trap(expected) as { name: string }).name;
  } catch (e) {
    trapped = `rethrew ${String(e)}`;
  }
  return {
    isFailure: reason instanceof Failure,
    checked: typeof checked === "function" ? checked.name : String(checked),
    trapped,
    trapOther,
    message: reason.getErrorMessage(),
    valueMessage: value.message,
    code: value.code,
    errno: value.errno,
  };
}

/** A server protocol that, once the client has spoken, says "bye" and closes cleanly, or resets the connection. */
function serverFactory(how: "close" | "reset"): Factory {
  return Factory.forProtocol(
    class extends Protocol {
      override dataReceived(): void {
        if (how === "close") {
          this.transport!.write("bye");
          this.transport!.loseConnection();
        } else {
          // abortConnection closes with SO_LINGER 0: the client gets RST, not FIN.
          this.transport!.abortConnection();
        }
      }
    },
  );
}

/**
 * Runs a client whose connectionLost and factory callbacks are written as in Twisted
 * against a server that closes (`how`); resolves with what both callbacks saw.
 */
function portedClient(mode: (typeof MODES)[number], how: "close" | "reset", expected: typeof ConnectionDone | typeof ConnectionLost): Promise<{ protocol: Seen; factory: Seen; same: boolean }> {
  return runReactor(mode, (reactor: TestReactor, finish) => {
    const port = listenTCP(reactor, 0, serverFactory(how), { interface: "127.0.0.1" });
    let protocolReason: Failure | null = null;
    let protocolSeen: Seen | null = null;
    class Client extends Protocol {
      override connectionMade(): void {
        this.transport!.write("hello");
      }
      override connectionLost(reason: Failure): void {
        protocolReason = reason;
        protocolSeen = readReason(reason, expected);
      }
    }
    class ClientF extends ClientFactory {
      override protocol = Client;
      override clientConnectionLost(_connector: unknown, reason: Failure): void {
        void port.stopListening();
        finish({ protocol: protocolSeen!, factory: readReason(reason, expected), same: reason === protocolReason });
      }
    }
    connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), new ClientF());
  });
}

describe.each(MODES)("ported Twisted code reading its reasons (%s mode)", (mode) => {
  test("a refused connect: clientConnectionFailed gets a Failure of ConnectionRefusedError with ECONNREFUSED", async () => {
    const target = closedPort();
    const seen = await runReactor<Seen>(mode, (reactor, finish) => {
      class ClientF extends ClientFactory {
        override clientConnectionFailed(_connector: unknown, reason: Failure): void {
          finish(readReason(reason, ConnectionRefusedError));
        }
      }
      connectTCP(reactor, "127.0.0.1", target, new ClientF());
    });
    expect(seen).toEqual({
      isFailure: true,
      checked: "ConnectionRefusedError",
      trapped: "ConnectionRefusedError",
      trapOther: "rethrew the original error",
      message: seen.valueMessage,
      valueMessage: expect.stringContaining(`127.0.0.1:${target}`),
      code: "ECONNREFUSED",
      errno: native.errno.ECONNREFUSED,
    });
  });

  test("a refused connect is a ConnectError too, as in Twisted: reason.check(ConnectError) catches it", async () => {
    const target = closedPort();
    const seen = await runReactor<{ checked: unknown; trapped: unknown }>(mode, (reactor, finish) => {
      class ClientF extends ClientFactory {
        override clientConnectionFailed(_connector: unknown, reason: Failure): void {
          finish({ checked: reason.check(ConnectError), trapped: reason.trap(ConnectError) });
        }
      }
      connectTCP(reactor, "127.0.0.1", target, new ClientF());
    });
    expect(seen).toEqual({ checked: ConnectError, trapped: ConnectError });
  });

  test("a clean close: connectionLost and clientConnectionLost get one Failure of ConnectionDone", async () => {
    const out = await portedClient(mode, "close", ConnectionDone);
    expect(out.same).toBe(true);
    expect(out.protocol).toEqual(out.factory);
    expect(out.protocol).toEqual({
      isFailure: true,
      checked: "ConnectionDone",
      trapped: "ConnectionDone",
      trapOther: "rethrew the original error",
      message: "Connection was closed cleanly.",
      valueMessage: "Connection was closed cleanly.",
      code: undefined,
      errno: undefined,
    });
  });

  test("a reset: connectionLost gets a Failure of ConnectionLost carrying ECONNRESET and its errno", async () => {
    const out = await portedClient(mode, "reset", ConnectionLost);
    expect(out.same).toBe(true);
    expect(out.protocol).toEqual(out.factory);
    expect(out.protocol).toEqual({
      isFailure: true,
      checked: "ConnectionLost",
      trapped: "ConnectionLost",
      trapOther: "rethrew the original error",
      message: out.protocol.valueMessage,
      valueMessage: expect.stringContaining("ECONNRESET"),
      code: "ECONNRESET",
      errno: native.errno.ECONNRESET,
    });
  });
});
