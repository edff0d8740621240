/**
 * Datagram protocols (Twisted's AbstractDatagramProtocol, DatagramProtocol and
 * ConnectedDatagramProtocol): what a UDP port drives. Subclass and override
 * `datagramReceived(data, addr)`; send with `this.transport.write(data, addr)`.
 */
import type { Failure } from "../defer/failure";
import { log } from "../log";
import type { Address, IDatagramProtocol } from "../net/interfaces";
import type { IUDPTransport } from "../net/udp";

/**
 * The base of datagram protocols: the transport and the start/stop bookkeeping of the
 * ports using the protocol (`startProtocol` before the first, `stopProtocol` after the last).
 */
export class AbstractDatagramProtocol implements IDatagramProtocol {
  /** The port serving this protocol (set by makeConnection, null after the last doStop). */
  transport: IUDPTransport | null = null;
  /** How many ports currently use this protocol. */
  numPorts = 0;
  /** Log "Starting protocol"/"Stopping protocol" (at debug level) when true. */
  noisy = true;

  /** Called by the port once bound: sets `transport`, then doStart. */
  makeConnection(transport: unknown): void {
    if (this.transport !== null && this.transport !== transport) {
      throw new TypeError(`${this.constructor.name}.makeConnection: the protocol already has a transport`);
    }
    this.transport = transport as IUDPTransport;
    this.doStart();
  }

  /** Counts a port starting to use the protocol; the first one runs startProtocol. */
  doStart(): void {
    if (this.numPorts === 0) {
      if (this.noisy) log("debug", `Starting protocol ${this.logPrefix()}`);
      this.startProtocol();
    }
    this.numPorts++;
  }

  /** Counts a port stopping; after the last one `transport` is null and stopProtocol runs. */
  doStop(): void {
    if (this.numPorts === 0) return; // stopped more often than started: nothing to undo
    this.numPorts--;
    this.transport = null;
    if (this.numPorts === 0) {
      if (this.noisy) log("debug", `Stopping protocol ${this.logPrefix()}`);
      this.stopProtocol();
    }
  }

  /** Override to set up (join groups, connect, send a first datagram): the transport is set. */
  startProtocol(): void {}

  /** Override to tear down: the port has stopped listening. */
  stopProtocol(): void {}

  /** One datagram from `addr`; `data` belongs to the protocol. Override it. */
  datagramReceived(data: Buffer, addr: Address): void {
    void data;
    void addr;
  }

  /**
   * A datagram longer than the port's maxPacketSize arrived: `data` holds its first
   * maxPacketSize bytes, `size` how long it was on the wire (where the kernel tells; else
   * the bytes kept). It is not passed to datagramReceived. Override to use it; by default
   * it is dropped with a warning.
   */
  datagramTruncated(data: Buffer, addr: Address, size: number): void {
    const from = addr.type === "UNIX" ? addr.name : `${addr.host}:${addr.port}`;
    log("warn", `${this.logPrefix()}: dropped a ${size}-byte datagram from ${from}, cut to ${data.length} bytes (maxPacketSize)`);
  }

  /**
   * A connected port's peer refused an earlier datagram (ICMP port unreachable). Override
   * to react; the port keeps listening.
   */
  connectionRefused(): void {}

  /** A short name for log lines about this protocol (its class name). */
  logPrefix(): string {
    return this.constructor.name;
  }
}

/** The protocol class to subclass for UDP (Twisted's DatagramProtocol). */
export class DatagramProtocol extends AbstractDatagramProtocol {}

/**
 * A datagram protocol for a port connected to one peer (`transport.connect(host, port)`,
 * typically in startProtocol): `connectionFailed` hears when that connect fails.
 */
export class ConnectedDatagramProtocol extends DatagramProtocol {
  /** The port could not be connected to its peer; `reason` is a Failure wrapping a ConnectError. */
  connectionFailed(reason: Failure): void {
    void reason;
  }
}
