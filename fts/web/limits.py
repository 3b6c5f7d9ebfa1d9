"""
Request body limits, enforced while the body arrives.

Twisted's C{Request} keeps any body (in a temporary file past 100 kB) and
parses form bodies into memory before a route runs.  L{LimitedRequest}
stops storing a body once it passes the largest limit of any route, and
marks the request C{body_too_large}; the root resource
(L{fts.web.app._Guarded}) then answers 413 without running the route and
without parsing the form.  Routes that take uploads declare their larger
limit by path prefix (L{BodyLimits}).
"""

import attr
from twisted.web import server

from fts.web.app import FORM_BODY_LIMIT


@attr.s(frozen=True, slots=True)
class BodyLimits:
    """
    C{default} bytes for any route, or the limit of the longest matching
    prefix in C{uploads} (C{{b"/lists/upload": 2 * 2**30}}).
    """

    default = attr.ib(default=FORM_BODY_LIMIT)
    uploads = attr.ib(factory=dict)

    @property
    def largest(self):
        return max([self.default, *self.uploads.values()])

    def is_upload(self, path):
        return any(path.startswith(prefix) for prefix in self.uploads)

    def for_path(self, path):
        best, limit = -1, self.default
        for prefix, value in self.uploads.items():
            if path.startswith(prefix) and len(prefix) > best:
                best, limit = len(prefix), value
        return limit


class _Discard:
    """
    Where the rest of an oversized body goes.
    """

    def write(self, data):
        pass

    def seek(self, *args):
        pass

    def read(self, *args):
        return b""

    def tell(self):
        return 0

    def close(self):
        pass


class LimitedRequest(server.Request):
    """
    A request that refuses bodies over its route's limit (see the module
    docstring).  The limits come from the site's C{body_limits}.
    """

    body_too_large = False
    _received = 0

    def _limits(self):
        return getattr(self.channel.site, "body_limits", None) or BodyLimits()

    def gotLength(self, length):
        if length is not None and length > self._limits().largest:
            self.body_too_large = True
            self.content = _Discard()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.body_too_large:
            return
        self._received += len(data)
        if self._received > self._limits().largest:
            self.body_too_large = True
            self.content.close()
            self.content = _Discard()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        limits = self._limits()
        route = path.split(b"?", 1)[0]
        if limits.is_upload(route):
            # Upload routes read their (large) multipart body themselves,
            # streaming from the file, rather than have it parsed in memory.
            self._parsePOSTFormSubmission = False
        if not self.body_too_large:
            limit = limits.for_path(route)
            if self._received > limit:
                self.body_too_large = True
        if self.body_too_large:
            # Do not parse a form that is too large: an empty body instead.
            self.content.close()
            self.content = _Discard()
            self._received = 0
        super().requestReceived(command, path, version)


class LimitedSite(server.Site):
    """
    A L{server.Site} of L{LimitedRequest}s, never showing tracebacks.
    """

    displayTracebacks = False

    def __init__(self, resource, body_limits=None, **kwargs):
        super().__init__(resource, requestFactory=LimitedRequest, **kwargs)
        self.body_limits = body_limits or BodyLimits()
