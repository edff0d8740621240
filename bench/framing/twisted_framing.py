"""One framing measurement of Twisted's framers, no I/O (the peer of fdreactor.js):
feeds CHUNK-byte chunks of SIZE-byte frames to LineReceiver / Int32StringReceiver whose
callback only counts, for about SECONDS, and prints JSON {lines_ns, int32_ns}.

    /usr/bin/python3 bench/framing/twisted_framing.py <size> <chunk> <seconds>
"""
import json
import struct
import sys
import time

from twisted.protocols import basic

size, chunk, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])


def chunks(kind):
    if kind == "line":
        frame = b"a" * (size - 2) + b"\r\n"
    else:
        frame = struct.pack("!I", size - 4) + b"a" * (size - 4)
    stream = (frame * (chunk * 16 // size + 1))[: chunk * 16]
    whole = len(stream) // size * size
    return [stream[o : min(o + chunk, whole)] for o in range(0, whole, chunk)]


class Transport:
    disconnecting = False

    def loseConnection(self):
        self.disconnecting = True


def measure(kind):
    count = [0]
    if kind == "line":
        p = basic.LineReceiver()
        p.lineReceived = lambda line: count.__setitem__(0, count[0] + 1)
    else:
        p = basic.Int32StringReceiver()
        p.stringReceived = lambda s: count.__setitem__(0, count[0] + 1)
    p.MAX_LENGTH = 1 << 20
    p.makeConnection(Transport())
    out = chunks(kind)
    start = time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    now = start
    while now < deadline:
        for _ in range(50):
            for c in out:
                p.dataReceived(c)
        now = time.perf_counter_ns()
    return (now - start) / count[0]


print(json.dumps({"lines_ns": measure("line"), "int32_ns": measure("int32")}), flush=True)
