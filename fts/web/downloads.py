"""
Reports streamed to the browser as they are read from the database: the
response is written page by page, and the reading waits while the client
is slower than the database (the transport's back-pressure), so a report
of millions of lines never sits in memory.
"""

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()


@implementer(IPushProducer)
class StreamWriter:
    """
    C{write(data)} for a report writer: writes to the request and returns a
    Deferred while the transport asks to pause (so the report's reader
    waits), L{None} otherwise.  Raises C{ConnectionDone} once the client
    has gone, which ends the report.
    """

    def __init__(self, request):
        self.request = request
        self.gone = False
        self._paused = None
        request.registerProducer(self, True)
        request.notifyFinish().addErrback(lambda _: self.stopProducing())

    def pauseProducing(self):
        if self._paused is None:
            self._paused = defer.Deferred()

    def resumeProducing(self):
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self):
        self.gone = True
        self.resumeProducing()

    def write(self, data):
        if self.gone:
            raise ConnectionDone("the client closed the download")
        self.request.write(data)
        return self._paused

    def close(self):
        if not self.gone:
            self.request.unregisterProducer()


def attachment(request, content_type, filename):
    """
    Set the headers of a file download named C{filename} (ASCII, chosen by
    FTS, never taken from the request).
    """
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-disposition",
                      b'attachment; filename="' + filename.encode("ascii") + b'"')
    request.setHeader(b"cache-control", b"no-store")


async def stream(request, content_type, filename, produce):
    """
    Answer C{request} with a download: C{produce(write)} (a Deferred) calls
    C{write(bytes)} for each chunk.

    @return: C{b""} for Klein once everything is written.
    """
    attachment(request, content_type, filename)
    writer = StreamWriter(request)
    try:
        await produce(writer.write)
    except ConnectionDone:
        return b""
    except Exception:
        # The headers and part of the file are sent: the only honest end is
        # to cut the connection, so the browser reports a failed download
        # rather than keep a truncated file that looks complete.
        log.failure("streaming the download {filename}", filename=filename)
        transport = getattr(getattr(request, "channel", None), "transport", None)
        if transport is not None:
            transport.abortConnection()
        return b""
    finally:
        writer.close()
    return b""
