/**
 * Shared pieces of the UDP tests: run a real reactor until the test says it is finished,
 * and a datagram protocol that records what happens to it.
 */
import type { Address } from "../../lib/net/interfaces";
import { DatagramProtocol } from "../../lib/protocols/datagram";
import { Reactor, type ReactorOptions } from "../../lib/reactor";
import { closedPort } from "../support/loopback";

/**
 * Runs a new reactor, calls `body(reactor, finish, fail)` once it runs, stops it when the
 * body finishes or fails, and resolves with what `finish` was given. A guard fails the run
 * after `limitSeconds` so that a broken test ends instead of hanging.
 */
export async function runUDP<T>(
  body: (reactor: Reactor, finish: (v: T) => void, fail: (e: unknown) => void) => void,
  options: ReactorOptions = {},
  limitSeconds = 10,
): Promise<T> {
  const reactor = new Reactor(options);
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
  const end = (o: { ok: true; value: T } | { ok: false; error: unknown }): void => {
    if (outcome !== null) return;
    outcome = o;
    reactor.stop();
  };
  reactor.callLater(limitSeconds, () => end({ ok: false, error: new Error(`test did not finish within ${limitSeconds} s`) }));
  reactor.callWhenRunning(() => {
    try {
      body(
        reactor,
        (value) => end({ ok: true, value }),
        (error) => end({ ok: false, error }),
      );
    } catch (error) {
      end({ ok: false, error });
    }
  });
  await reactor.run();
  const o = outcome as { ok: true; value: T } | { ok: false; error: unknown } | null;
  if (o === null) throw new Error("the reactor stopped before the test finished");
  if (!o.ok) throw o.error;
  return o.value;
}

/** Records a datagram protocol's life: "start", "dgram:<latin1>@host:port", "refused", "stop". */
export class DatagramRecorder extends DatagramProtocol {
  /** What happened, in order. */
  events: string[] = [];
  /** Every datagram received, with its source. */
  datagrams: { data: Buffer; addr: Address }[] = [];
  /** Called after each datagram (tests set it). */
  onDatagram: ((data: Buffer, addr: Address) => void) | null = null;
  /** Called after a refusal (tests set it). */
  onRefused: (() => void) | null = null;

  override startProtocol(): void {
    this.events.push("start");
  }

  override stopProtocol(): void {
    this.events.push("stop");
  }

  override datagramReceived(data: Buffer, addr: Address): void {
    const where = addr.type === "UNIX" ? addr.name : `${addr.host}:${addr.port}`;
    this.events.push(`dgram:${data.toString("latin1")}@${where}`);
    this.datagrams.push({ data, addr });
    this.onDatagram?.(data, addr);
  }

  override connectionRefused(): void {
    this.events.push("refused");
    this.onRefused?.();
  }
}

/** A UDP port number on 127.0.0.1 that nothing listens on (test/support/loopback.ts). */
export function closedUDPPort(): number {
  return closedPort("udp");
}

/** Shared with the TCP and native tests (test/support/loopback.ts). */
export { hasIPv6Loopback } from "../support/loopback";
