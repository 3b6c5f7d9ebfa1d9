"""
Tests for request body limits (L{fts.web.limits}), with raw HTTP bytes in
memory.
"""

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial import unittest
from twisted.web.resource import Resource

from fts.web.app import _Guarded
from fts.web.limits import BodyLimits, LimitedSite


class _Echo(Resource):
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.seen = []

    def render(self, request):
        self.seen.append((request.path, dict(request.args)))
        return b"ok"


class BodyLimitTests(unittest.SynchronousTestCase):
    def setUp(self):
        self.echo = _Echo()
        limits = BodyLimits(default=100, uploads={b"/upload": 1000})
        self.site = LimitedSite(_Guarded(self.echo, []), body_limits=limits,
                                reactor=MemoryReactorClock())

    def send(self, path, body, chunked=False):
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        head = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n")
        if chunked:
            data = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50])
                            for i in range(0, len(body), 50)) + b"0\r\n\r\n"
            channel.dataReceived(head + b"Transfer-Encoding: chunked\r\n\r\n" + data)
        else:
            channel.dataReceived(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        channel.connectionLost(None)
        return transport.value()

    def test_form_within_limit(self):
        """
        A form body within the route's limit reaches the route, parsed.
        """
        response = self.send(b"/users", b"a=" + b"x" * 50)
        self.assertIn(b"200 OK", response)
        self.assertEqual(self.echo.seen[0][1], {b"a": [b"x" * 50]})

    def test_form_over_limit(self):
        """
        A form body over the default limit is refused with 413 before any
        route runs or the form is parsed, declared length or chunked.
        """
        for chunked in (False, True):
            response = self.send(b"/users", b"a=" + b"x" * 200, chunked=chunked)
            self.assertIn(b"413", response.split(b"\r\n")[0])
        self.assertEqual(self.echo.seen, [])

    def test_upload_limits(self):
        """
        Upload routes take larger bodies, up to their own limit, and parse no
        form (the route streams the file itself).
        """
        response = self.send(b"/upload/list", b"a=" + b"x" * 500)
        self.assertIn(b"200 OK", response)
        self.assertEqual(self.echo.seen[0][1], {})
        response = self.send(b"/upload/list", b"a=" + b"x" * 2000, chunked=True)
        self.assertIn(b"413", response.split(b"\r\n")[0])
