/**
 * Sockets opened elsewhere (Twisted's IReactorSocket): a listening socket, a connected one
 * or a datagram socket handed to this process — by systemd's socket activation
 * (`LISTEN_FDS`), a parent, or fd passing — served like listenTCP/listenUNIX's ports,
 * their connections and listenUDP's ports.
 *
 * As in Twisted, the reactor does not take the caller's fd: it serves a duplicate
 * (`native.adoptSocket`: F_DUPFD_CLOEXEC, then O_NONBLOCK), closes that duplicate when
 * done, and the caller closes its own fd whenever it likes. O_NONBLOCK belongs to the open
 * file description, so the caller's fd becomes non-blocking too (Twisted's does as well).
 * An adopted Unix port never unlinks its socket file: it did not make it.
 */
import { invalidArgType, invalidArgValue } from "../error";
import { native, isSyscallError, type AdoptedSocket } from "../native";
import { tcpAddress, unixAddress } from "./address";
import { Connection, type AddressOf } from "./connection";
import type { IReactorFDSet } from "./fdset";
import type { Address, IDatagramProtocol, IProtocolFactory } from "./interfaces";
import { Port } from "./port";
import { UDPPort, DEFAULT_MAX_PACKET_SIZE } from "./udp";

/** The families a socket may be adopted as (Twisted's AF_INET, AF_INET6, AF_UNIX). */
export type AdoptFamily = "IPv4" | "IPv6" | "unix";

const FAMILIES: readonly string[] = ["IPv4", "IPv6", "unix"];

/**
 * Duplicates `fd` and checks it is a socket of `family` and `type` (listening or not as
 * `listening` says); throws a TypeError naming the argument at fault, the duplicate closed.
 */
function adopt(fd: unknown, family: unknown, type: "stream" | "dgram", listening: boolean, families = FAMILIES): AdoptedSocket {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) throw invalidArgType(`fd must be a non-negative integer file descriptor, received ${String(fd)}`);
  if (typeof family !== "string" || !families.includes(family)) throw invalidArgValue(`family must be one of ${families.map((f) => `"${f}"`).join(", ")}, received ${String(family)}`);
  let s: AdoptedSocket;
  try {
    s = native.adoptSocket(fd);
  } catch (e) {
    const code = isSyscallError(e) ? e.code : String(e);
    throw invalidArgValue(`fd ${fd} is not an open socket (${code})`, { cause: e });
  }
  let wrong: string | null = null;
  if (s.family !== family) wrong = `family is "${family}" but fd ${fd} is a ${s.family} socket`;
  else if (s.type !== type) wrong = `fd ${fd} is a ${s.type} socket, not a ${type} socket`;
  else if (type === "stream" && s.listening !== listening) wrong = `fd ${fd} is ${s.listening ? "a listening" : "not a listening"} socket`;
  if (wrong !== null) {
    native.close(s.fd);
    throw invalidArgValue(wrong);
  }
  return s;
}

function addressOfFamily(family: AdoptFamily): AddressOf {
  return family === "unix" ? unixAddress : tcpAddress;
}

/** A listening socket adopted from elsewhere (Twisted's tcp.Port/unix.Port `_fromListeningDescriptor`). */
export class AdoptedPort extends Port {
  /** The family given to adoptStreamPort. */
  readonly family: AdoptFamily;
  protected readonly addressOf: AddressOf;
  private readonly dup: number;
  private readonly callerFd: number;
  private host: Address | null = null;

  /** Serves `socket` (a checked duplicate of the caller's `callerFd`) for `factory`. */
  constructor(reactor: IReactorFDSet, socket: AdoptedSocket, callerFd: number, family: AdoptFamily, factory: IProtocolFactory) {
    super(reactor, factory, 0);
    this.family = family;
    this.addressOf = addressOfFamily(family);
    this.dup = socket.fd;
    this.callerFd = callerFd;
  }

  /** The duplicate, already bound. */
  protected bindSocket(): number {
    return this.dup;
  }

  /** It already listens, with the backlog its maker chose. */
  protected override listenSocket(): void {}

  /** "adopted TCP socket (fd 3)". */
  protected describe(): string {
    return `adopted ${this.family === "unix" ? "Unix" : "TCP"} socket (fd ${this.callerFd})`;
  }

  /** The bound address (read while listening; the last one read after the close). */
  getHost(): Address {
    if (this.host === null && this.fd >= 0) this.host = this.addressOf(native.getsockname(this.fd));
    if (this.host === null) throw new Error("getHost: the adopted port is closed");
    return this.host;
  }
}

/**
 * Serves `factory` on the listening stream socket `fd` (Twisted's
 * IReactorSocket.adoptStreamPort). The reactor serves a duplicate; the caller still owns
 * `fd` and closes it. Throws a TypeError (ERR_INVALID_ARG_VALUE) naming `fd` or `family`
 * when `fd` is no socket, or not a listening stream socket of that family.
 */
export function adoptStreamPort(reactor: IReactorFDSet, fd: number, family: AdoptFamily, factory: IProtocolFactory): AdoptedPort {
  if (factory === null || typeof factory !== "object" || typeof factory.buildProtocol !== "function") {
    throw invalidArgType("factory must be a protocol factory (with buildProtocol, doStart, doStop)");
  }
  const s = adopt(fd, family, "stream", true);
  const p = new AdoptedPort(reactor, s, fd, family, factory);
  p.startListening();
  return p;
}

/**
 * Serves the connected stream socket `fd` with a protocol from `factory` (Twisted's
 * IReactorSocket.adoptStreamConnection): `buildProtocol(peer)`, then `makeConnection`. The
 * reactor serves a duplicate; the caller still owns `fd`. Returns the transport, or null
 * when buildProtocol returned null (the duplicate is then closed).
 */
export function adoptStreamConnection(reactor: IReactorFDSet, fd: number, family: AdoptFamily, factory: IProtocolFactory): Connection | null {
  if (factory === null || typeof factory !== "object" || typeof factory.buildProtocol !== "function") {
    throw invalidArgType("factory must be a protocol factory (with buildProtocol)");
  }
  const s = adopt(fd, family, "stream", false);
  const addressOf = addressOfFamily(family);
  let peer: Address;
  let protocol;
  try {
    peer = addressOf(native.getpeername(s.fd));
    protocol = factory.buildProtocol(peer);
  } catch (e) {
    native.close(s.fd);
    throw e;
  }
  if (protocol === null) {
    native.close(s.fd);
    return null;
  }
  const c = new Connection(reactor, s.fd, addressOf, peer);
  c.attach(protocol);
  return c;
}

/** A datagram socket adopted from elsewhere (Twisted's udp.Port `_fromListeningDescriptor`). */
export class AdoptedUDPPort extends UDPPort {
  private dup: number;

  /** Serves `socket` (a checked duplicate) for `protocol`. */
  constructor(reactor: IReactorFDSet, socket: AdoptedSocket, protocol: IDatagramProtocol, maxPacketSize: number) {
    const name = native.getsockname(socket.fd) as { address: string; port: number };
    super(reactor, name.port, protocol, { interface: name.address, maxPacketSize });
    this.dup = socket.fd;
  }

  /** The duplicate, already bound (once: a later start has nothing to adopt). */
  protected override openSocket(): number {
    if (this.dup < 0) throw new Error("an adopted datagram port cannot listen again");
    const fd = this.dup;
    this.dup = -1;
    return fd;
  }
}

/**
 * Serves `protocol` on the datagram socket `fd` (Twisted's IReactorSocket.adoptDatagramPort;
 * IPv4 and IPv6, as Twisted). The reactor serves a duplicate; the caller still owns `fd`.
 */
export function adoptDatagramPort(
  reactor: IReactorFDSet,
  fd: number,
  family: "IPv4" | "IPv6",
  protocol: IDatagramProtocol,
  maxPacketSize = DEFAULT_MAX_PACKET_SIZE,
): AdoptedUDPPort {
  if (protocol === null || typeof protocol !== "object" || typeof protocol.makeConnection !== "function") {
    throw invalidArgType("protocol must be a DatagramProtocol");
  }
  if (!Number.isInteger(maxPacketSize) || maxPacketSize < 1 || maxPacketSize > 65536) {
    throw invalidArgValue(`maxPacketSize must be an integer between 1 and 65536, received ${String(maxPacketSize)}`);
  }
  const s = adopt(fd, family, "dgram", false, ["IPv4", "IPv6"]);
  let p: AdoptedUDPPort;
  try {
    p = new AdoptedUDPPort(reactor, s, protocol, maxPacketSize);
  } catch (e) {
    native.close(s.fd);
    throw e;
  }
  p.startListening();
  return p;
}
