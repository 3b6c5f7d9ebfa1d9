"""
AMI wire frames, sans-IO: bytes in, L{Message}s out, and back.

An AMI stream is an optional banner line (C{Asterisk Call Manager/11.0.0\\r\\n},
sent by the server on connect) followed by messages, each a block of
C{Name: value\\r\\n} lines ended by an empty line.  Responses, events and
actions share this shape; only the first header tells them apart.

Performance shapes this module: Asterisk can send tens of thousands of events
per second, most of which nobody reads in full.  L{FrameParser.feed} therefore
splits the stream on C{\\r\\n\\r\\n}, decodes every complete frame of a read in
one call, and builds each L{Message} from its text with only the first line
and the C{ActionID} looked at.  The header tuple and the case-insensitive
index are built the first time they are needed; a single L{Message.get} of a
header spelled as Asterisk spells it is answered by a substring search.

Bad input never raises out of L{FrameParser.feed}: every problem becomes a
L{ParseProblem} (what, which frame, where in the stream, the offending line)
passed to the parser's C{on_problem} callback and kept in C{errors}, and the
frames after it are parsed as usual.
"""

from itertools import repeat
from operator import itemgetter

import attr

__all__ = [
    "Message",
    "FrameParser",
    "ParseProblem",
    "serialize",
    "BANNER_PREFIX",
]

BANNER_PREFIX = "Asterisk Call Manager/"

_KINDS = {"response": "response", "event": "event", "action": "action"}
# The spellings Asterisk uses, looked up before lower-casing anything.
_KINDS_EXACT = {"Event": "event", "Response": "response", "Action": "action"}
_contains = str.__contains__
# An endless iterator, so one shared instance serves every map() call.
_COLON_SPACE = repeat(": ")


@attr.s(frozen=True, slots=True)
class ParseProblem:
    """
    One malformed piece of an AMI stream.

    @ivar what: a sentence saying what is wrong.
    @ivar frame: the number of the frame it was found in (0 is the first frame
        after the banner), or C{None} for the banner or the buffer.
    @ivar offset: the byte offset in the stream of the start of that frame
        (or of the piece of stream concerned).
    @ivar line: the offending line (possibly cut short), or C{""}.
    """

    what = attr.ib()
    frame = attr.ib()
    offset = attr.ib()
    line = attr.ib(default="")

    def __str__(self):
        where = "frame %s at byte %s" % (self.frame, self.offset)
        if self.line:
            return "%s (%s: %r)" % (self.what, where, self.line)
        return "%s (%s)" % (self.what, where)


def _case_insensitive(text, lowered):
    """
    The first value of header C{lowered} in a frame's text, or C{None}.
    """
    for line in text.split("\r\n"):
        pair = _split_line(line)
        if pair is not None and pair[0].lower() == lowered:
            return pair[1]
    return None


def _split_line(line):
    """
    Split one header line into C{(name, value)}, or return C{None}.

    C{Name: value} is the wire form; C{Name:value} is accepted too.
    """
    name, sep, value = line.partition(": ")
    if sep:
        return name, value
    name, sep, value = line.partition(":")
    if sep and name:
        return name, value
    return None


def _parse_lines(text):
    """
    Parse a frame's text into C{(headers, bad_lines)}.

    A legacy (Asterisk < 14) C{Response: Follows} to a C{Command} action
    carries raw CLI output after its headers, ended by C{--END COMMAND--}; its
    lines become C{Output} headers, as Asterisk >= 14 sends them.
    """
    lines = text.split("\r\n")
    if lines[0].lower() == "response: follows":
        return _parse_follows(lines)
    headers = []
    bad = []
    for line in lines:
        pair = _split_line(line)
        if pair is None:
            if line:
                bad.append(line)
        else:
            headers.append(pair)
    return tuple(headers), bad


def _parse_follows(lines):
    headers = []
    index = 0
    for index, line in enumerate(lines):
        pair = _split_line(line)
        if pair is None or pair[0].lower() not in (
            "response",
            "privilege",
            "actionid",
            "message",
        ):
            break
        headers.append(pair)
    else:
        return tuple(headers), []
    for chunk in lines[index:]:
        for out in chunk.split("\n"):
            if out and out != "--END COMMAND--":
                headers.append(("Output", out))
    return tuple(headers), []


try:
    # The C descriptor namedtuple uses: as fast as a slot read.
    from _collections import _tuplegetter
except ImportError:  # pragma: no cover (other Pythons)

    def _tuplegetter(index, doc):
        return property(itemgetter(index), doc=doc)


class Message(tuple):
    """
    One AMI message: a response, an event or an action.  Immutable.

    It is a tuple underneath (that is what makes building one per frame
    cheap and keeps it immutable), but use it through the attributes and
    methods below: C{message["Channel"]}, C{"Channel" in message},
    C{len(message)} and iteration are about headers.

    @ivar headers: C{((name, value), ...)} in wire order, repeated headers
        kept (C{Output}, C{Variable}, C{ChanVariable}...).
    @ivar kind: C{"response"}, C{"event"}, C{"action"} or C{"unknown"},
        decided by the first header (a message whose first header is none of
        these but which has an C{Action} header somewhere is an action, as
        Asterisk reads requests).
    @ivar name: the value of that C{Response}/C{Event}/C{Action} header
        (C{""} when the kind is unknown).
    @ivar action_id: the C{ActionID} value, or C{None}.
    @ivar raw: the frame's text as received (without its ending empty
        line), or C{None} for a message built from headers.
    @ivar problems: lines of this message that were not C{Name: value}
        headers (dropped from C{headers}).
    """

    __slots__ = ()

    kind = _tuplegetter(0, "response, event, action or unknown")
    name = _tuplegetter(1, "the Response/Event/Action value")
    action_id = _tuplegetter(2, "the ActionID, or None")
    raw = _tuplegetter(3, "the frame text, or None")
    # [headers or None, lower-case index or None, problems or None]
    _lazy = _tuplegetter(4, "headers parsed on first use")

    def __new__(cls, headers):
        """
        @param headers: a sequence of C{(name, value)} pairs, or a mapping.
        """
        if hasattr(headers, "items"):
            headers = headers.items()
        headers = tuple((str(k), str(v)) for k, v in headers)
        kind = "unknown"
        name = ""
        index = {}
        for key, value in headers:
            index.setdefault(key.lower(), value)
        if headers:
            first, value = headers[0]
            kind = _KINDS.get(first.lower(), "unknown")
            if kind != "unknown":
                name = value
        if kind == "unknown" and "action" in index:
            kind, name = "action", index["action"]
        return _tuple_new(cls, (kind, name, index.get("actionid"), None, [headers, index, ()]))

    def __getnewargs__(self):
        return (self.headers,)

    def _parse(self):
        lazy = self._lazy
        headers, bad = _parse_lines(self.raw)
        lazy[0] = headers
        lazy[2] = tuple(bad)
        return headers

    @property
    def headers(self):
        headers = self._lazy[0]
        if headers is None:
            headers = self._parse()
        return headers

    @property
    def problems(self):
        lazy = self._lazy
        if lazy[2] is None:
            self._parse()
        return lazy[2]

    def _lookup(self):
        lazy = self._lazy
        index = lazy[1]
        if index is None:
            index = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), value)
            lazy[1] = index
        return index

    def get(self, name, default=None):
        """
        The first value of header C{name} (case-insensitive), or C{default}.
        """
        text = self.raw
        if text is not None and self._lazy[1] is None and ": " not in name:
            # A substring search for the header as spelled answers most
            # lookups without parsing the frame.  Asterisk never repeats a
            # header in two spellings; a miss falls back to the
            # case-insensitive index.
            probe = "\r\n" + name + ": "
            i = text.find(probe)
            if i >= 0:
                i += len(probe)
                j = text.find("\r\n", i)
                return text[i:] if j < 0 else text[i:j]
            if text.startswith(name + ": "):
                start = len(name) + 2
                j = text.find("\r\n")
                return text[start:] if j < 0 else text[start:j]
            if text.lower().find(name.lower() + ":") < 0:
                return default
        return self._lookup().get(name.lower(), default)

    def getall(self, name):
        """
        Every value of header C{name} (case-insensitive), in wire order.
        """
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    def __getitem__(self, name):
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name, _MISSING) is not _MISSING

    def __iter__(self):
        return iter(self.headers)

    def __len__(self):
        return len(self.headers)

    def __bool__(self):
        return True

    def __eq__(self, other):
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers

    def __ne__(self, other):
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers != other.headers

    def __hash__(self):
        return hash(self.headers)

    def __repr__(self):
        return "Message(%r)" % (self.headers,)

    def as_dict(self):
        """
        A dict of the first value of every header, keyed as spelled on the
        wire (for logs and JSON; repeated headers keep their first value).
        """
        result = {}
        for key, value in self.headers:
            result.setdefault(key, value)
        return result

    def to_bytes(self):
        """
        The message on the wire (see L{serialize}).
        """
        return serialize(self.headers)


_MISSING = object()
_tuple_new = tuple.__new__


class FrameParser:
    """
    Split an AMI byte stream into L{Message}s.

    Feed it bytes in any chunking; it returns the complete messages each
    chunk finishes.  It never raises on bad input: problems go to
    C{on_problem} (a callable taking a L{ParseProblem}) and the most recent
    ones are kept in C{errors}.

    @ivar banner: the banner line (without CRLF) once seen, else C{None}.
    @ivar errors: the last L{ParseProblem}s (at most C{max_errors}).
    @ivar frames: how many frames have been parsed.
    @ivar offset: how many bytes have been consumed.
    """

    def __init__(
        self,
        expect_banner=True,
        on_problem=None,
        max_frame_bytes=8 * 1024 * 1024,
        max_errors=100,
        encoding="utf-8",
        check_lines=None,
    ):
        """
        @param expect_banner: C{True} for a client, which first reads the
            C{Asterisk Call Manager/x.y.z} line; C{False} for a server
            reading actions.
        @param on_problem: called with each L{ParseProblem}.
        @param max_frame_bytes: a frame growing past this without its
            terminating empty line is reported and discarded up to the next
            frame boundary (protects memory against a stream that is not AMI).
        @param check_lines: check every line of every frame as it is parsed,
            so that a line that is not a header is reported at once.  This
            costs about a quarter of the throughput, so by default only a
            server reading actions (C{expect_banner=False}) does it; a client
            checks the first line of each frame, and a bad line further down
            is dropped and listed in L{Message.problems} when the headers
            are first read.
        """
        self.banner = None
        self.errors = []
        self.frames = 0
        self.offset = 0
        self._expect_banner = expect_banner
        self._client = expect_banner
        self._check_lines = (not expect_banner) if check_lines is None else check_lines
        self._on_problem = on_problem
        self._max_frame = max_frame_bytes
        self._max_errors = max_errors
        self._encoding = encoding
        self._buffer = b""
        self._discarding = False

    def _report(self, problem):
        errors = self.errors
        errors.append(problem)
        if len(errors) > self._max_errors:
            del errors[0]
        if self._on_problem is not None:
            try:
                self._on_problem(problem)
            except Exception:
                pass

    def _take_banner(self, buf):
        """
        Handle the banner line at the start of C{buf}; return what is left,
        or C{None} if more bytes are needed.
        """
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) <= 1024:
                return None
            self._expect_banner = False
            self._report(
                ParseProblem(
                    "no AMI banner line in the first 1024 bytes",
                    None,
                    self.offset,
                    buf[:80].decode(self._encoding, "replace"),
                )
            )
            return buf
        line = buf[:end].decode(self._encoding, "replace")
        self._expect_banner = False
        if ": " in line:
            # Not a banner but a header: parse it as part of a frame.
            self._report(
                ParseProblem("expected the AMI banner, got a header", None, 0, line)
            )
            return buf
        self.banner = line
        if not line.startswith(BANNER_PREFIX):
            self._report(
                ParseProblem(
                    "banner does not start with %r" % (BANNER_PREFIX,), None, 0, line
                )
            )
        self.offset += end + 2
        return buf[end + 2 :]

    def feed(self, data):
        """
        Parse more bytes; return the list of messages they complete.
        """
        old = self._buffer
        if old:
            buf = old + data
            start = len(old) - 3
            if start < 0:
                start = 0
        else:
            buf = data
            start = 0
        if self._expect_banner:
            buf = self._take_banner(buf)
            if buf is None:
                self._buffer = old + data if old else data
                return []
            start = 0
        if self._discarding:
            i = buf.find(b"\r\n\r\n", start)
            if i < 0:
                self.offset += len(buf) - 3 if len(buf) > 3 else 0
                self._buffer = buf[-3:]
                return []
            self._discarding = False
            self.offset += i + 4
            buf = buf[i + 4 :]
            start = 0
        end = buf.rfind(b"\r\n\r\n", start)
        if end < 0:
            if len(buf) > self._max_frame:
                self._report(
                    ParseProblem(
                        "frame longer than %d bytes without an end; discarded"
                        % (self._max_frame,),
                        self.frames,
                        self.offset,
                        buf[:80].decode(self._encoding, "replace"),
                    )
                )
                self._discarding = True
                self.offset += len(buf) - 3
                self._buffer = buf[-3:]
                return []
            self._buffer = buf
            return []
        self._buffer = buf[end + 4 :]
        batch = buf[:end].decode(self._encoding, "replace")
        texts = batch.split("\r\n\r\n")
        # Stray line ends between frames leave frames that are empty or
        # start with CR or LF; look for them once per read, not per frame.
        stray = (
            not batch
            or batch[0] in "\r\n"
            or "\r\n\r\n\r" in batch
            or "\r\n\r\n\n" in batch
            or batch.endswith("\r\n\r\n")
        )
        exact = _KINDS_EXACT
        kinds = _KINDS
        check_lines = self._check_lines
        client = self._client
        new = _tuple_new
        out = []
        append = out.append
        slow = None
        for index, text in enumerate(texts):
            if stray and (not text or text[0] in "\r\n"):
                text = text.lstrip("\r\n")
                if not text:
                    continue
            i = text.find(": ")
            kind = exact.get(text[:i])
            if kind is None and i > 0:
                first = text[:i]
                if "\r\n" not in first:
                    kind = kinds.get(first.lower())
            if kind is None or (
                check_lines and not all(map(_contains, text.split("\r\n"), _COLON_SPACE))
            ):
                # The first line is not a Response/Event/Action header, or a
                # line may not be a header at all: find out exactly.
                if slow is None:
                    slow = []
                slow.append((len(out), index))
                append(text)
                continue
            j = text.find("\r\n", i)
            name = text[i + 2 :] if j < 0 else text[i + 2 : j]
            # Asterisk spells it "ActionID" and never puts it first.
            a = text.find("\r\nActionID: ")
            if a < 0:
                action_id = None
                if not client and "ction" in text:
                    action_id = _case_insensitive(text, "actionid")
            else:
                a += 12
                b = text.find("\r\n", a)
                action_id = text[a:] if b < 0 else text[a:b]
            append(new(Message, (kind, name, action_id, text, [None, None, None])))
        if slow is not None:
            self._slow_frames(out, slow, texts)
        self.frames += len(texts)
        self.offset += end + 4
        return out

    def _slow_frames(self, out, slow, texts):
        """
        Build the messages that the fast path did not, reporting every line
        that is not a header and every frame that is not a message.
        """
        for position, index in slow:
            text = out[position]
            headers, bad = _parse_lines(text)
            frame = self.frames + index
            offset = self._offset_of(texts, index)
            for line in bad:
                self._report(
                    ParseProblem(
                        "line is not a 'Name: value' header", frame, offset, line[:200]
                    )
                )
            message = Message(headers)
            if message.kind == "unknown":
                self._report(
                    ParseProblem(
                        "message has no Response, Event or Action header",
                        frame,
                        offset,
                        text.split("\r\n", 1)[0][:200],
                    )
                )
            out[position] = message
        # A frame with no header at all is garbage: reported above, dropped.
        out[:] = [m for m in out if m.raw is not None or m.headers]

    def _offset_of(self, texts, index):
        before = "\r\n\r\n".join(texts[:index])
        encoded = len(before.encode(self._encoding, "replace"))
        return self.offset + encoded + (4 if index else 0)

    @property
    def buffered(self):
        """
        How many bytes are held waiting for the end of a frame.
        """
        return len(self._buffer)


def serialize(headers):
    """
    Encode one message: C{b"Name: value\\r\\n...\\r\\n"} (ended by an empty
    line).

    @param headers: a sequence of C{(name, value)} pairs, a mapping or a
        L{Message}.  Values that are not strings are converted with C{str}.
    @raise ValueError: a name or value holds CR or LF (it would split the
        message on the wire), or a name is empty or holds a colon.
    """
    if isinstance(headers, Message):
        headers = headers.headers
    elif hasattr(headers, "items"):
        headers = headers.items()
    parts = []
    append = parts.append
    for name, value in headers:
        if value.__class__ is not str:
            value = str(value)
        if not name or ":" in name:
            raise ValueError("bad AMI header name %r" % (name,))
        append(name + ": " + value + "\r\n")
    append("\r\n")
    text = "".join(parts)
    # One CR and one LF per line, or a name or value holds a line break.
    if text.count("\n") != len(parts) or text.count("\r") != len(parts):
        for name, value in headers:  # find the culprit, for the message
            value = str(value)
            if "\r" in name or "\n" in name:
                raise ValueError("bad AMI header name %r" % (name,))
            if "\r" in value or "\n" in value:
                raise ValueError("AMI header %s has a line break in %r" % (name, value))
        raise ValueError("line break in AMI message %r" % (text,))
    return text.encode("utf-8")
