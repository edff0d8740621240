"""Twisted web peer on epollreactor: twisted.web Site + Resource answering the 13-byte body.

/usr/bin/python3 twisted_web.py http PORT   — request logging off; twisted.web adds its own
Date and Server headers. Prints "READY <port>" when listening.
/usr/bin/python3 twisted_web.py https PORT CERT KEY   — the same over TLS 1.3 with listenSSL
(CertificateOptions from Debian's python3-openssl; the load generator offers one suite).
/usr/bin/python3 twisted_web.py static PORT DIR   — twisted.web.static.File(DIR), the
files under DIR (Twisted reads each body in chunks through a producer; no sendfile).
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
    if sys.argv[1] == "static":
        from twisted.web import static

        site = QuietSite(static.File(sys.argv[3]))
    else:
        site = QuietSite(Hello())
    if sys.argv[1] == "https":
        from twisted.internet import ssl

        with open(sys.argv[3], "rb") as f:
            cert = f.read()
        with open(sys.argv[4], "rb") as f:
            key = f.read()
        pem = ssl.PrivateCertificate.loadPEM(cert + key)
        options = ssl.CertificateOptions(
            privateKey=pem.privateKey.original, certificate=pem.original, raiseMinimumTo=ssl.TLSVersion.TLSv1_3
        )
        port = reactor.listenSSL(int(sys.argv[2]), site, options, backlog=4096, interface="127.0.0.1")
    else:
        port = reactor.listenTCP(int(sys.argv[2]), site, backlog=4096, interface="127.0.0.1")
    sys.stdout.write("READY %d\n" % port.getHost().port)
    sys.stdout.flush()
    reactor.run()


main()
