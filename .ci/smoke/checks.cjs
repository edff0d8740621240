// The installed-package smoke test's body, shared by smoke.cjs (require) and smoke.mjs
// (ES module named imports): an echo round trip over 127.0.0.1, a Deferred chain, and
// getPage against a local Site, each checked byte for byte. Exits non-zero on any miss.
"use strict";
const assert = require("node:assert/strict");

async function smoke(api, label) {
  const { Reactor, Factory, Protocol, ClientCreator, Deferred, Resource, Site, getPage } = api;
  const reactor = new Reactor();
  const running = reactor.run();
  try {
    class Echo extends Protocol {
      dataReceived(data) {
        this.transport.write(data);
      }
    }
    const echoPort = reactor.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
    const got = new Deferred();
    class Pinger extends Protocol {
      connectionMade() {
        this.chunks = [];
        this.transport.write(Buffer.from("ping over fdreactor"));
      }
      dataReceived(data) {
        this.chunks.push(Buffer.from(data));
        const all = Buffer.concat(this.chunks).toString();
        if (all.length >= 19) {
          this.transport.loseConnection();
          got.callback(all);
        }
      }
    }
    await new ClientCreator(reactor, Pinger).connectTCP("127.0.0.1", echoPort.getHost().port);
    assert.equal(await got, "ping over fdreactor");

    const order = [];
    const chain = new Deferred();
    chain.addCallback((x) => (order.push(`cb ${x}`), x + 1));
    chain.addCallback(() => {
      throw new Error("boom");
    });
    chain.addErrback((f) => (order.push(`eb ${f.value.message}`), "recovered"));
    chain.callback(41);
    assert.equal(await chain, "recovered");
    assert.deepEqual(order, ["cb 41", "eb boom"]);

    class Hello extends Resource {
      isLeaf = true;
      render_GET(request) {
        request.setHeader("Content-Type", "text/plain");
        return "Hello, World!";
      }
    }
    const web = reactor.listenTCP(0, new Site(new Hello(), { reactor }), { interface: "127.0.0.1" });
    const body = await getPage(`http://127.0.0.1:${web.getHost().port}/`, { reactor });
    assert.equal(body.toString(), "Hello, World!");
    await echoPort.stopListening();
    await web.stopListening();
  } finally {
    reactor.stop();
    await running;
  }
  console.log(`${label}: echo, Deferred chain and getPage OK on ${reactor.backend}`);
}

module.exports = { smoke };
