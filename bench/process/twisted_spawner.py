"""One measured run of spawn-and-reap under Twisted (bench/process/run.js starts it pinned):

    twisted_spawner.py exit|echo COUNT CONCURRENCY

The same work as spawner.js: /bin/true, or /bin/cat echoing 1 MiB, with three pipes and an
empty environment, COUNT children CONCURRENCY at a time after a warm-up of COUNT/10; prints
one JSON line with this process's CPU seconds (getrusage RUSAGE_SELF) and wall seconds.
"""
import json
import resource
import sys
import time

from twisted.internet import defer, protocol, reactor

workload, COUNT, CONC = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MIB = b"a" * (1024 * 1024)
EXE, ARGV = ("/bin/cat", ["cat"]) if workload == "echo" else ("/bin/true", ["true"])


class Child(protocol.ProcessProtocol):
    def __init__(self, done):
        self.done = done
        self.got = 0

    def connectionMade(self):
        if workload == "echo":
            self.transport.write(MIB)
        self.transport.closeStdin()

    def outReceived(self, data):
        self.got += len(data)

    def processEnded(self, reason):
        if reason.value.exitCode != 0 or (workload == "echo" and self.got != len(MIB)):
            self.done.errback(Exception("child failed: %r got %d" % (reason.value, self.got)))
        else:
            self.done.callback(None)


def run_many(total):
    finished = defer.Deferred()
    state = {"started": 0, "ended": 0}

    def next_one():
        if state["started"] >= total:
            return
        state["started"] += 1
        d = defer.Deferred()
        d.addCallbacks(ended, finished.errback)
        reactor.spawnProcess(Child(d), EXE, ARGV, env={})

    def ended(_):
        state["ended"] += 1
        if state["ended"] == total:
            finished.callback(None)
        else:
            next_one()

    for _ in range(min(CONC, total)):
        next_one()
    return finished


@defer.inlineCallbacks
def main():
    try:
        yield run_many(max(1, COUNT // 10))
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        yield run_many(COUNT)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(json.dumps({"peer": "twisted", "workload": workload, "children": COUNT, "cpuSec": cpu, "wallSec": time.monotonic() - t0}), flush=True)
    finally:
        reactor.stop()


reactor.callWhenRunning(main)
reactor.run()
