"""Twisted web peer on epollreactor: twisted.web Site + Resource answering the 13-byte body.

/usr/bin/python3 twisted_web.py http PORT   — request logging off; twisted.web adds its own
Date and Server headers. Prints "READY <port>" when listening.
"""
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import reactor  # noqa: E402
from twisted.web import resource, server  # noqa: E402


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"text/plain")
        return b"Hello, World!"


class QuietSite(server.Site):
    def log(self, request):
        pass


def main():
    site = QuietSite(Hello())
    port = reactor.listenTCP(int(sys.argv[2]), site, backlog=4096, interface="127.0.0.1")
    sys.stdout.write("READY %d\n" % port.getHost().port)
    sys.stdout.flush()
    reactor.run()


main()
