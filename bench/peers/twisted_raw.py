"""Twisted peer on epollreactor, raw Protocol. /usr/bin/python3 twisted_raw.py echo|http PORT

echo: every chunk written back. http: the "count \\r\\n\\r\\n and answer" server, the same
work as the C reference's http mode. Prints "READY <port>" when listening.
"""
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
)


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class RawHTTP(protocol.Protocol):
    tail = b""

    def dataReceived(self, data):
        buf = self.tail + data if self.tail else data
        n = buf.count(b"\r\n\r\n")
        # A request end split across reads: keep the last 3 bytes (a whole 4-byte end
        # cannot hide in them, so nothing is counted twice).
        self.tail = b"" if buf.endswith(b"\r\n\r\n") else buf[-3:]
        if n:
            self.transport.write(RESPONSE * n)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("echo", "http"):
        sys.stderr.write("usage: twisted_raw.py echo|http PORT\n")
        sys.exit(2)
    factory = protocol.Factory.forProtocol(Echo if sys.argv[1] == "echo" else RawHTTP)
    port = reactor.listenTCP(int(sys.argv[2]), factory, backlog=4096, interface="127.0.0.1")
    sys.stdout.write("READY %d\n" % port.getHost().port)
    sys.stdout.flush()
    reactor.run()


main()
