"""
The FastAGI wire format, sans-IO: bytes from Asterisk in, typed items out;
commands out as bytes.

Asterisk opens a TCP connection to us and first sends its environment, one
C{agi_key: value} line per variable, ending with an empty line.  After that
every line it sends is either the reply to the command we sent last, or the
out-of-band C{HANGUP} notice.  FastAGI uses bare LF in both directions.

L{AGIParser.feed} takes bytes in any chunking and returns, in order: one
L{Environment}, then L{Reply}, L{InvalidCommand} (510), L{DeadChannel} (511),
L{UsageError} (the multi-line 520 block), L{HangupNotice} and, for anything it
cannot make sense of, a L{ProtocolError} naming the line.  The parser never
raises on input and never loses a valid line that follows a bad one.

L{quote} and L{encode_command} build command lines the way Asterisk's
C{parse_args} reads them: one level of double quotes, with backslash escaping
embedded quotes and backslashes.

Text is decoded as UTF-8; undecodable bytes become U+FFFD, so odd caller-id
bytes reach the call flow as text that can still be stored and logged.

For speed, a usual environment block (every line C{agi_name: value}) is
checked with one regular expression and kept as text until it is used as a
mapping (the typed accessors find their line in it); the common replies are
prebuilt and other C{200} replies are remembered (they are immutable).
"""

import re
from collections.abc import Mapping
from types import MappingProxyType

import attr

__all__ = [
    "AGIParser",
    "DeadChannel",
    "Environment",
    "HANGUP_NOTICE",
    "HangupNotice",
    "InvalidCommand",
    "MAX_LINE",
    "ProtocolError",
    "Reply",
    "UsageError",
    "encode_command",
    "encode_line",
    "quote",
]

#: The longest line the parser buffers; a longer one is reported and skipped.
MAX_LINE = 65536

#: Lines a 520 block may hold before the parser gives up waiting for its end.
MAX_USAGE_LINES = 500


def _decode(raw):
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# The environment


class Environment(Mapping):
    """
    The C{agi_*} variables Asterisk sends when it connects, as an immutable
    mapping of C{str} to C{str} (keys keep their C{agi_} prefix), plus typed
    accessors for the ones FTS uses.  An accessor for a variable Asterisk did
    not send gives C{""}.

    The parser hands over a well-formed block as its text: the typed
    accessors find their line in it, and the dict is only built the first
    time the environment is used as a mapping.  Most sessions never need it.
    """

    __slots__ = ("_values", "_text")

    def __init__(self, values=()):
        self._values = dict(values)
        self._text = None

    @classmethod
    def _adopt(cls, values):
        """
        Wrap C{values} without copying; the caller gives up the dict.
        """
        self = cls.__new__(cls)
        self._values = values
        self._text = None
        return self

    @classmethod
    def _of_text(cls, text):
        """
        Wrap the decoded block C{text}: C{"\\n"} then lines C{agi_key: value}
        joined by C{"\\n"}, every one of them known to be well formed.
        """
        self = cls.__new__(cls)
        self._values = None
        self._text = text
        return self

    def _dict(self):
        values = self._values
        if values is None:
            values = {}
            for line in self._text[1:].split("\n"):
                key, _, value = line.partition(":")
                values[key] = value[1:] if value[:1] == " " else value
            self._values = values
            self._text = None
        return values

    def _get(self, needle):
        """
        The value of the variable whose line starts with C{needle}
        (C{"\\nagi_key:"}), or C{None}.
        """
        values = self._values
        if values is not None:
            return values.get(needle[1:-1])
        text = self._text
        # The last one wins, as in the dict.
        start = text.rfind(needle)
        if start < 0:
            return None
        start += len(needle)
        if text[start : start + 1] == " ":
            start += 1
        end = text.find("\n", start)
        return text[start:] if end < 0 else text[start:end]

    def __getitem__(self, key):
        return self._dict()[key]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self):
        return len(self._dict())

    def __contains__(self, key):
        return key in self._dict()

    def get(self, key, default=None):
        return self._dict().get(key, default)

    def __eq__(self, other):
        if isinstance(other, Environment):
            return self._dict() == other._dict()
        return Mapping.__eq__(self, other)

    __hash__ = None

    def __repr__(self):
        return "Environment(%r)" % (self._dict(),)

    def _text_of(key):  # noqa: N805 - builds properties below
        needle = "\n" + key + ":"

        def read(self):
            value = self._get(needle)
            return "" if value is None else value

        read.__name__ = key[4:]
        read.__doc__ = "C{%s}, or C{\"\"} when Asterisk did not send it." % (key,)
        return property(read)

    network = _text_of("agi_network")
    network_script = _text_of("agi_network_script")
    request = _text_of("agi_request")
    channel = _text_of("agi_channel")
    language = _text_of("agi_language")
    type = _text_of("agi_type")
    uniqueid = _text_of("agi_uniqueid")
    version = _text_of("agi_version")
    callerid = _text_of("agi_callerid")
    calleridname = _text_of("agi_calleridname")
    dnid = _text_of("agi_dnid")
    rdnis = _text_of("agi_rdnis")
    context = _text_of("agi_context")
    extension = _text_of("agi_extension")
    accountcode = _text_of("agi_accountcode")
    threadid = _text_of("agi_threadid")
    del _text_of

    @property
    def priority(self):
        """
        C{agi_priority} as an C{int}, or C{None} when missing or not a number.
        """
        try:
            return int(self._get("\nagi_priority:") or "")
        except ValueError:
            return None

    @property
    def arguments(self):
        """
        The AGI() application arguments C{agi_arg_1}, C{agi_arg_2}, ... as a
        tuple, in order, up to the first missing number.
        """
        result = []
        n = 1
        while True:
            value = self._get("\nagi_arg_%d:" % (n,))
            if value is None:
                return tuple(result)
            result.append(value)
            n += 1

    @property
    def is_h_extension(self):
        """
        C{True} for the connection Asterisk opens from the C{h} extension
        after the call ended: its channel is dead from the start.
        """
        return self._get("\nagi_extension:") == "h"


# A line of the block that is not "agi_<lower-case name>:": such a block takes
# the line-by-line path, which reports the line.
_UNUSUAL_LINE = re.compile(r"\n(?!agi_[a-z0-9_]*:)")


# Keys are a small fixed set and the values of these keys repeat from call
# to call; sharing one str object per distinct line keeps idle sessions small
# and makes parsing a dict lookup per line.
_SHARED_VALUE_KEYS = frozenset(
    [
        "agi_network",
        "agi_network_script",
        "agi_request",
        "agi_language",
        "agi_type",
        "agi_version",
        "agi_callerid",
        "agi_calleridname",
        "agi_callingpres",
        "agi_callingani2",
        "agi_callington",
        "agi_callingtns",
        "agi_dnid",
        "agi_rdnis",
        "agi_context",
        "agi_priority",
        "agi_enhanced",
        "agi_accountcode",
        "agi_arg_1",
    ]
)
_CACHE_LIMIT = 4096
# Key text to its one shared str.
_KEYS = {}
# Whole environment lines whose value is shared, to their (key, value).
_LINES = {}


def _environment_line(line, env, out, raw=None):
    """
    Add one decoded C{key: value} line to C{env} (or a ProtocolError to out).

    @param raw: the line's bytes when decoding was lossy.
    """
    pair = _LINES.get(line)
    if pair is not None:
        env[pair[0]] = pair[1]
        return
    key, colon, value = line.partition(":")
    if not colon or not key:
        if raw is None:
            raw = line.encode("utf-8")
        out.append(_error("environment line without 'key:'", raw))
        return
    if value[:1] == " ":
        value = value[1:]
    name = _KEYS.get(key)
    if name is None:
        name = key
        if len(_KEYS) < _CACHE_LIMIT:
            _KEYS[key] = key
    env[name] = value
    if name in _SHARED_VALUE_KEYS and len(_LINES) < _CACHE_LIMIT:
        _LINES[line] = (name, value)


# ---------------------------------------------------------------------------
# Items after the environment


@attr.s(frozen=True, slots=True, repr=False)
class HangupNotice:
    """
    The out-of-band C{HANGUP} line: the channel hung up.  It is never the
    reply to a command.
    """

    def __repr__(self):
        return "HANGUP_NOTICE"


#: The one L{HangupNotice} the parser returns.
HANGUP_NOTICE = HangupNotice()


@attr.s(frozen=True, slots=True)
class Reply:
    """
    A C{200 result=...} reply.

    @ivar code: always 200.
    @ivar result: the text after C{result=} (C{"0"}, C{"-1"}, C{"49"}, or the
        digits of GET DATA, possibly C{""}).
    @ivar data: the parenthesised part without its parentheses (C{"42"},
        C{"timeout"}, C{""} for C{()}), or C{None} when absent.
    @ivar endpos: the C{endpos=} number, or C{None}.
    @ivar extras: any other C{key=value} words, as a read-only mapping
        (it compares equal to a dict with the same items).
    """

    code = attr.ib(default=200)
    result = attr.ib(default="")
    data = attr.ib(default=None)
    endpos = attr.ib(default=None)
    extras = attr.ib(default=MappingProxyType({}), hash=False)


@attr.s(frozen=True, slots=True)
class InvalidCommand:
    """
    C{510 Invalid or unknown command}.

    @ivar line: the whole line as text.
    """

    line = attr.ib()


@attr.s(frozen=True, slots=True)
class DeadChannel:
    """
    C{511 Command Not Permitted on a dead channel or intercept routine}.

    @ivar line: the whole line as text.
    """

    line = attr.ib()


@attr.s(frozen=True, slots=True)
class UsageError:
    """
    The multi-line C{520-...} to C{520 End of proper usage.} block (or a
    single C{520 ...} line).

    @ivar lines: the text of every line, with the C{520-} / C{520 } prefix
        removed from the first and the last, as a tuple.
    """

    lines = attr.ib(converter=tuple)


@attr.s(frozen=True, slots=True)
class ProtocolError:
    """
    A line the parser could not make sense of.  It replaces that line in the
    item stream; parsing goes on with the next line.

    @ivar reason: what was wrong, for a log line.
    @ivar line: the offending bytes (cut to 200 bytes).
    """

    reason = attr.ib()
    line = attr.ib()

    @property
    def looks_like_reply(self):
        """
        Whether the line starts with a three-digit code, i.e. it was most
        likely Asterisk's reply to the command in flight.
        """
        return self.line[:3].isdigit()

    def __str__(self):
        return "%s: %r" % (self.reason, self.line)


def _error(reason, raw):
    return ProtocolError(reason, raw[:200])


_EMPTY_EXTRAS = MappingProxyType({})

# Replies that are most of the traffic, built once (the items are immutable).
_COMMON = {b"HANGUP": HANGUP_NOTICE}
for _n in range(-2, 10):
    _COMMON[b"200 result=%d" % (_n,)] = Reply(200, str(_n), None, None, _EMPTY_EXTRAS)
# The keys a callee presses: DTMF 0-9, *, #, A-D as ASCII codes.
for _n in list(range(48, 58)) + [35, 42, 65, 66, 67, 68]:
    _COMMON[b"200 result=%d" % (_n,)] = Reply(200, str(_n), None, None, _EMPTY_EXTRAS)
_COMMON[b"200 result=1 ()"] = Reply(200, "1", "", None, _EMPTY_EXTRAS)
_COMMON[b"200 result= (timeout)"] = Reply(200, "", "timeout", None, _EMPTY_EXTRAS)
_COMMON[b"510 Invalid or unknown command"] = InvalidCommand(
    "510 Invalid or unknown command"
)
_COMMON[b"511 Command Not Permitted on a dead channel or intercept routine"] = (
    DeadChannel("511 Command Not Permitted on a dead channel or intercept routine")
)
del _n
# The same, as whole reads (line end included).
_WHOLE = {raw + b"\n": item for raw, item in _COMMON.items()}


# result, optional (data) (greedy: data may hold parentheses), then
# key=value words.
_REPLY_200 = re.compile(rb"200 result=([^ ]*)(?: \((.*)\))?((?: +[^ =]+=[^ ]*)*) *$", re.S)
_ENDPOS = re.compile(rb" endpos=(-?[0-9]+)$")


# Other 200 replies seen recently (the same prompt gives the same endpos
# call after call), to their item; emptied when full.
_SEEN = {}
_SEEN_LIMIT = 2048
# Longer replies (variable values, say) are not worth keeping.
_SEEN_LONGEST = 64


def _parse_200(raw):
    item = _SEEN.get(raw)
    if item is not None:
        return item
    item = _parse_200_line(raw)
    if type(item) is Reply and len(raw) <= _SEEN_LONGEST:
        if len(_SEEN) >= _SEEN_LIMIT:
            _SEEN.clear()
        _SEEN[raw] = item
    return item


def _parse_200_line(raw):
    match = _REPLY_200.match(raw)
    if match is None:
        return _error(_why_not_200(raw), raw)
    result, data, words = match.groups()
    result = _decode(result)
    if data is not None:
        data = _decode(data)
    if not words:
        return Reply(200, result, data, None, _EMPTY_EXTRAS)
    simple = _ENDPOS.match(words)
    if simple is not None:
        return Reply(200, result, data, int(simple.group(1)), _EMPTY_EXTRAS)
    extras = {}
    for word in _decode(words).split():
        key, _, value = word.partition("=")
        extras[key] = value
    endpos = extras.pop("endpos", None)
    if endpos is not None:
        try:
            endpos = int(endpos)
        except ValueError:
            return _error("endpos is not a number", raw)
    return Reply(200, result, data, endpos, MappingProxyType(extras) if extras else _EMPTY_EXTRAS)


def _why_not_200(raw):
    if not raw.startswith(b"200 result="):
        return "200 reply without result="
    rest = raw[11:]
    space = rest.find(b" ")
    if space >= 0 and rest[space + 1 : space + 2] == b"(" and b")" not in rest[space:]:
        return "unbalanced parenthesis in 200 reply"
    return "unexpected words in 200 reply"


def _ends_usage(raw):
    """
    Whether C{raw}, seen inside a 520 block, can only be a reply or notice:
    the block was cut short and this line must not be swallowed.
    """
    return (
        raw == b"HANGUP"
        or raw.startswith(b"200 result=")
        or raw.startswith(b"510 ")
        or raw.startswith(b"511 ")
        or raw.startswith(b"520-")
    )


# ---------------------------------------------------------------------------
# The parser


class AGIParser:
    """
    Turn the bytes of one FastAGI connection into items.

    Feed it every chunk in order with L{feed}; each call returns the items
    completed by that chunk (possibly none).  The first item is always the
    L{Environment}, unless environment lines were malformed, in which case
    L{ProtocolError}s for them come first.
    """

    __slots__ = ("_buffer", "_env", "_usage", "_skipping")

    def __init__(self):
        self._buffer = b""
        # The environment being collected; None once the empty line is seen.
        self._env = {}
        # The lines of a 520 block being collected, or None.
        self._usage = None
        # True while dropping the rest of an over-long line.
        self._skipping = False

    @property
    def environment_complete(self):
        """
        Whether the empty line ending the environment has been seen.
        """
        return self._env is None

    def feed(self, data):
        """
        Add bytes and return the list of items they complete.
        """
        if self._env is None and self._usage is None and not (self._buffer or self._skipping):
            item = _WHOLE.get(data)
            if item is not None:
                # The usual read: one common reply, whole.
                return [item]
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        elif not data:
            return []
        if self._env is not None:
            return self._feed_environment(data)
        if self._usage is None and not self._skipping:
            # The usual read after the environment: exactly one reply line.
            end = data.find(b"\n")
            if end == len(data) - 1:
                raw = data[:end]
                item = _COMMON.get(raw)
                if item is None:
                    if raw[-1:] == b"\r":
                        raw = raw[:-1]
                    item = _COMMON.get(raw) or self._reply(raw)
                    if item is None:
                        return []
                return [item]
        return self._feed_lines(data, [])

    def _feed_environment(self, data):
        """
        Collect the environment: wait for its empty line, then parse the
        whole block at once.  Anything unusual (CR, an over-long block, lines
        already parsed one by one) takes the line-by-line path.
        """
        if self._env or b"\r" in data:
            return self._feed_lines(data, [])
        if data[:1] == b"\n":
            end = 0
            block = b""
        else:
            end = data.find(b"\n\n")
            if end < 0:
                if len(data) > MAX_LINE:
                    return self._feed_lines(data, [])
                self._buffer = data
                return []
            block = data[:end]
            end += 1
        out = []
        env = {}
        if block:
            try:
                text = "\n" + block.decode()
            except UnicodeDecodeError:
                text = None
            if text is not None and _UNUSUAL_LINE.search(text) is None:
                # The usual block: every line "agi_name: value".
                self._env = None
                out.append(Environment._of_text(text))
                rest = data[end + 1 :]
                if rest:
                    out.extend(self.feed(rest))
                return out
            if text is None:
                for raw in block.split(b"\n"):
                    _environment_line(_decode(raw), env, out, raw)
            else:
                cache = _LINES
                for line in text[1:].split("\n"):
                    pair = cache.get(line)
                    if pair is None:
                        _environment_line(line, env, out)
                    else:
                        env[pair[0]] = pair[1]
        self._env = None
        out.append(Environment._adopt(env))
        rest = data[end + 1 :]
        if rest:
            out.extend(self.feed(rest))
        return out

    def _feed_lines(self, data, out):
        """
        The general path: any number of lines, any state.
        """
        end = data.rfind(b"\n")
        if end < 0:
            return self._hold(data, out)
        rest = data[end + 1 :]
        lines = data[:end].split(b"\n")
        if self._skipping:
            # The first line is the tail of an over-long line already reported.
            self._skipping = False
            del lines[0]
        common = _COMMON
        for raw in lines:
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            if self._env is None and self._usage is None:
                item = common.get(raw)
                if item is None:
                    item = self._reply(raw)
                    if item is None:
                        continue
                out.append(item)
            else:
                self._slow_line(raw, out)
        return self._hold(rest, out)

    def _hold(self, pending, out):
        """
        Keep an unfinished line, unless it is too long: then report it once
        and drop it up to its end.
        """
        if self._skipping:
            self._buffer = b""
        elif len(pending) > MAX_LINE:
            out.append(_error("line longer than %d bytes" % (MAX_LINE,), pending))
            self._skipping = True
            self._buffer = b""
        else:
            self._buffer = pending
        return out

    def _reply(self, raw):
        """
        Parse one line after the environment; None when it opened a 520 block.
        """
        head = raw[:4]
        if head == b"200 ":
            return _parse_200(raw)
        if head == b"510 ":
            return InvalidCommand(_decode(raw))
        if head == b"511 ":
            return DeadChannel(_decode(raw))
        if head == b"520-":
            self._usage = [_decode(raw[4:])]
            return None
        if head == b"520 ":
            return UsageError((_decode(raw[4:]),))
        if raw == b"":
            return _error("empty line", raw)
        return _error("not an AGI reply", raw)

    def _slow_line(self, raw, out):
        env = self._env
        if env is not None:
            if raw == b"":
                self._env = None
                out.append(Environment._adopt(env))
                return
            _environment_line(_decode(raw), env, out, raw)
            return
        usage = self._usage
        if raw.startswith(b"520 "):
            usage.append(_decode(raw[4:]))
            self._usage = None
            out.append(UsageError(usage))
            return
        if _ends_usage(raw) or len(usage) >= MAX_USAGE_LINES:
            self._usage = None
            out.append(
                ProtocolError(
                    "520 block cut short (no '520 End of proper usage.')",
                    ("520-" + usage[0]).encode("utf-8")[:200],
                )
            )
            # The line that cut it short is parsed in its own right (a new
            # 520- line opens a new block).
            item = _COMMON.get(raw) or self._reply(raw)
            if item is not None:
                out.append(item)
            return
        usage.append(_decode(raw))


# ---------------------------------------------------------------------------
# Commands

_NEEDS_QUOTES = frozenset(' \t"\\')
_FORBIDDEN = frozenset("\n\r\0")


def quote(value, always=False):
    """
    One AGI command argument as Asterisk's C{parse_args} reads it.

    Bare when it is non-empty and holds no space, tab, double quote or
    backslash (and C{always} is false); otherwise wrapped in double quotes with
    C{"} and C{\\} escaped by a backslash.  Exactly one level: a value with
    spaces reaches Asterisk intact (starpy quotes twice and breaks it).

    @param value: C{str} or C{int}.
    @raise ValueError: the value holds a line break or NUL, which no quoting
        can carry over the line-based protocol.
    """
    text = value if type(value) is str else str(value)
    if not _FORBIDDEN.isdisjoint(text):
        raise ValueError("AGI argument contains a line break or NUL: %r" % (text,))
    if not always and text and _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_line(command, *quoted):
    """
    Join a command name and already-quoted arguments into the bytes to send.

    @raise ValueError: the command name holds a line break or NUL.
    """
    if not _FORBIDDEN.isdisjoint(command):
        raise ValueError("AGI command contains a line break or NUL: %r" % (command,))
    if quoted:
        command = command + " " + " ".join(quoted)
    return (command + "\n").encode("utf-8")


def encode_command(command, *arguments):
    """
    The bytes of one command line: C{command} as given (e.g. C{"SET
    VARIABLE"}), then each argument through L{quote}.

    >>> encode_command("SET VARIABLE", "FTS_STATE", "playing message")
    b'SET VARIABLE FTS_STATE "playing message"\\n'
    """
    return encode_line(command, *[quote(a) for a in arguments])
