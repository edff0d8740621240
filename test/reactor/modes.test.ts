import * as fs from "node:fs";
import { expectNoFdLeaks } from "../support/fds";
import { native } from "../../lib/native";
import { Reactor } from "../../lib/reactor";
import { configTable, makeReactor, FdReader, closeAll } from "./helpers";

expectNoFdLeaks();

describe("integrated mode", () => {
  test("setTimeout, promises and fs.promises keep working beside a running reactor", async () => {
    const r = new Reactor({ mode: "integrated" });
    const [rd, wr] = native.pipe();
    const order: string[] = [];
    const reader = new FdReader(rd, async (x) => {
      order.push(`read ${x.text()}`);
      const text = await fs.promises.readFile(__filename, "utf8");
      order.push(`fs ${text.includes("integrated mode") ? "ok" : "wrong"}`);
      await Promise.resolve();
      order.push("promise");
      r.callLater(0, () => r.stop());
    });
    r.addReader(reader);
    const running = r.run();
    order.push("run() returned");
    setTimeout(() => {
      order.push("setTimeout");
      native.write(wr, Buffer.from("z"), 0, 1);
    }, 5);
    await running;
    order.push("resolved");
    expect(order).toEqual(["run() returned", "setTimeout", "read z", "fs ok", "promise", "resolved"]);
    closeAll(rd, wr);
  });

  test("a callLater made from a Node timer while the reactor sleeps until a far deadline wakes it", async () => {
    const r = new Reactor({ mode: "integrated" });
    const order: string[] = [];
    const far = r.callLater(3600, () => order.push("far"));
    setTimeout(() =>
      r.callLater(0.005, () => {
        order.push("near");
        r.stop();
      }),
    5);
    await r.run();
    expect(order).toEqual(["near"]);
    expect(far.active()).toBe(true);
  });

  test("stop() from outside an iteration (a Node timer) shuts down promptly", async () => {
    const r = new Reactor({ mode: "integrated" });
    r.callLater(3600, () => undefined);
    setTimeout(() => r.stop(), 5);
    await r.run();
    expect(r.running).toBe(false);
  });
});

describe.each(configTable().filter(([, c]) => c.mode === "exclusive"))("exclusive mode (%s)", (_label, config) => {
  test("long promise chains and nextTicks started by a reader complete before the reactor blocks again", async () => {
    const r = makeReactor(config);
    const [a, b] = native.socketpair("stream");
    const order: string[] = [];
    let n = 0;
    const reader = new FdReader(b, () => {
      n++;
      // 20 chained continuations, then a nextTick, then the answer: nothing reaches the
      // peer unless all of them ran while the reactor was not blocked.
      let p: Promise<number> = Promise.resolve(0);
      for (let i = 0; i < 20; i++) p = p.then((v) => v + 1);
      void p.then((v) =>
        process.nextTick(() => {
          order.push(`chain ${v}`);
          native.write(b, Buffer.from("k"), 0, 1);
        }),
      );
    });
    const peer = new FdReader(a, () => {
      if (peer.text().length === 3) r.stop();
      else native.write(a, Buffer.from("p"), 0, 1);
    });
    r.addReader(reader);
    r.addReader(peer);
    r.callWhenRunning(() => native.write(a, Buffer.from("p"), 0, 1));
    await r.run();
    expect(n).toBe(3);
    expect(order).toEqual(["chain 20", "chain 20", "chain 20"]);
    expect(peer.text()).toBe("kkk");
    closeAll(a, b);
  });

  test("Node timers and setImmediate still run while the reactor waits", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    setTimeout(() => order.push("setTimeout"), 5);
    setImmediate(() => order.push("setImmediate"));
    r.callLater(0.2, () => r.stop());
    await r.run();
    // Both ran while the reactor was running (their relative order is Node's business).
    expect([...order].sort()).toEqual(["setImmediate", "setTimeout"]);
  });

  test("fs.promises work beside a busy exclusive reactor", async () => {
    const r = makeReactor(config);
    const [a, b] = native.socketpair("stream");
    let echoes = 0;
    let fsDone = false;
    // A busy ping-pong keeps the reactor out of blocking waits.
    const reader = new FdReader(b, () => {
      echoes++;
      if (fsDone && echoes > 10) r.stop();
      else native.write(a, Buffer.from("."), 0, 1);
    });
    r.addReader(reader);
    r.callWhenRunning(() => native.write(a, Buffer.from("."), 0, 1));
    void fs.promises.readFile(__filename).then(() => {
      fsDone = true;
    });
    await r.run();
    expect(fsDone).toBe(true);
    closeAll(a, b);
  });
});
