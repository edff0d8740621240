/**
 * Multicast on the loopback interface: a receiver bound to the group joins it on
 * 127.0.0.1, a sender bound to 127.0.0.1 (so its datagrams leave through lo) sends to the
 * group with loopback on. Linux allows this on lo even without the MULTICAST flag.
 */
import { listenMulticast, listenUDP, MulticastJoinError } from "../../lib/net/udp";
import type { Address } from "../../lib/net/interfaces";
import { expectNoFdLeaks } from "../support/fds";
import { DatagramRecorder, runUDP } from "./udp-support";

expectNoFdLeaks();

const GROUP = "239.255.42.99";

function portOf(a: Address): number {
  if (a.type === "UNIX") throw new Error("not an IP address");
  return a.port;
}

test("a member of a group joined on 127.0.0.1 receives what is sent to the group, with the sender's address", async () => {
  const out = await runUDP<{ events: string[]; senderPort: number }>((reactor, finish, fail) => {
    const receiver = new DatagramRecorder();
    const rp = listenMulticast(reactor, 0, receiver, { interface: GROUP, listenMultiple: true });
    const sender = new DatagramRecorder();
    const sp = listenUDP(reactor, 0, sender, { interface: "127.0.0.1" });
    sp.setTTL(1);
    sp.setLoopbackMode(true);
    receiver.onDatagram = () => {
      const r = { events: receiver.events.slice(), senderPort: portOf(sp.getHost()) };
      rp.stopListening();
      sp.stopListening();
      finish(r);
    };
    rp.joinGroup(GROUP, "127.0.0.1").addCallbacks(
      () => sp.write("to the group", { host: GROUP, port: portOf(rp.getHost()) }),
      (f) => fail(f.value),
    );
  });
  expect(out.events).toEqual(["start", `dgram:to the group@127.0.0.1:${out.senderPort}`]);
});

test("TTL and loopback mode read back what was set", async () => {
  const out = await runUDP<(number | boolean)[]>((reactor, finish) => {
    const port = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
    const seen: (number | boolean)[] = [port.getTTL(), port.getLoopbackMode()];
    port.setTTL(7);
    port.setLoopbackMode(false);
    seen.push(port.getTTL(), port.getLoopbackMode());
    port.setLoopbackMode(1);
    seen.push(port.getLoopbackMode());
    expect(() => port.setTTL(256)).toThrow(new RangeError("ttl must be between 0 and 255, received 256"));
    port.stopListening();
    finish(seen);
  });
  expect(out).toEqual([1, true, 7, false, true]);
});

test("leaveGroup after joinGroup succeeds; leaving again fails with MulticastJoinError carrying EADDRNOTAVAIL", async () => {
  const out = await runUDP<string[]>((reactor, finish) => {
    const port = listenMulticast(reactor, 0, new DatagramRecorder(), { interface: GROUP });
    const steps: string[] = [];
    const record = (what: string) => [() => steps.push(`${what}:ok`), (f: { value: unknown }) => steps.push(`${what}:${(f.value as Error).constructor.name}:${(f.value as MulticastJoinError).code}:${(f.value as Error).message}`)] as const;
    port.joinGroup(GROUP, "127.0.0.1").addCallbacks(...record("join"));
    port.leaveGroup(GROUP, "127.0.0.1").addCallbacks(...record("leave"));
    port.leaveGroup(GROUP, "127.0.0.1").addCallbacks(...record("leave again"));
    port.stopListening();
    finish(steps);
  });
  expect(out).toEqual([
    "join:ok",
    "leave:ok",
    'leave again:MulticastJoinError:EADDRNOTAVAIL:Couldn\'t leave multicast group 239.255.42.99 on interface "127.0.0.1": EADDRNOTAVAIL',
  ]);
});

test("joining an address that is not a multicast group fails with MulticastJoinError carrying EINVAL", async () => {
  const out = await runUDP<string>((reactor, finish) => {
    const port = listenUDP(reactor, 0, new DatagramRecorder(), { interface: "127.0.0.1" });
    port.joinGroup("127.0.0.1", "127.0.0.1").addErrback((f) => {
      const e = f.value as MulticastJoinError;
      port.stopListening();
      finish(`${e.constructor.name}:${e.code}:${e.message}`);
    });
  });
  expect(out).toBe('MulticastJoinError:EINVAL:Couldn\'t join multicast group 127.0.0.1 on interface "127.0.0.1": EINVAL');
});
