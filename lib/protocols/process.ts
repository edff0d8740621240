/**
 * Twisted's ProcessProtocol (twisted.internet.protocol.ProcessProtocol): what a program
 * that runs a child overrides. The transport (lib/net/process.ts) calls, in this order:
 * makeConnection → connectionMade; childDataReceived (→ outReceived for fd 1, errReceived
 * for fd 2) as output arrives; childConnectionLost once per pipe (→ inConnectionLost,
 * outConnectionLost, errConnectionLost for 0, 1, 2); processExited when the child is
 * reaped; processEnded last, once it is reaped and every pipe is closed.
 */
import type { Failure } from "../defer/failure";
import type { IProcessProtocol, IProcessTransport } from "../net/interfaces";

/** The base class of process protocols: override the callbacks you need. */
export class ProcessProtocol implements IProcessProtocol {
  /** True from makeConnection on. */
  connected = false;
  /** The child's transport, set by makeConnection (null before, and when the program never started). */
  transport: IProcessTransport | null = null;

  /** Called by the transport once the child runs: sets `transport`, then calls connectionMade. */
  makeConnection(transport: IProcessTransport): void {
    this.connected = true;
    this.transport = transport;
    this.connectionMade();
  }

  /** The child runs and `this.transport` is set. */
  connectionMade(): void {}

  /** Output on the child's fd `childFD`: fd 1 goes to outReceived, fd 2 to errReceived, others nowhere. */
  childDataReceived(childFD: number, data: Buffer): void {
    if (childFD === 1) this.outReceived(data);
    else if (childFD === 2) this.errReceived(data);
  }

  /** Bytes from the child's stdout (they belong to the protocol). */
  outReceived(data: Buffer): void {
    void data;
  }

  /** Bytes from the child's stderr (they belong to the protocol). */
  errReceived(data: Buffer): void {
    void data;
  }

  /** A pipe closed: fd 0 goes to inConnectionLost, 1 to outConnectionLost, 2 to errConnectionLost. */
  childConnectionLost(childFD: number): void {
    if (childFD === 0) this.inConnectionLost();
    else if (childFD === 1) this.outConnectionLost();
    else if (childFD === 2) this.errConnectionLost();
  }

  /** The child's stdin is closed. */
  inConnectionLost(): void {}

  /** The child's stdout is closed. */
  outConnectionLost(): void {}

  /** The child's stderr is closed. */
  errConnectionLost(): void {}

  /** The child was reaped (ProcessDone or ProcessTerminated in `reason`); output may still be on its way. */
  processExited(reason: Failure): void {
    void reason;
  }

  /** The last call: the child was reaped and every pipe is closed. `reason` as in processExited. */
  processEnded(reason: Failure): void {
    void reason;
  }
}
