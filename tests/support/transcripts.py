"""
Read the real Asterisk wire transcripts in ``../shared/asterisk-transcripts``.

Each transcript is a sequence of blocks: one TCP read of bytes Asterisk sent
(``AST>APP``) or one write our side made (``APP>AST``).  Concatenating the
unescaped lines of a block gives the exact bytes on the wire; see the
transcripts' README for the format.

Set ``FTS_TRANSCRIPTS`` to read them from another directory.
"""

import os
import re
from pathlib import Path

import attr

_HEADER = re.compile(
    rb"^--- \+(?P<offset>[0-9.]+)s @(?P<clock>\S+) (?P<direction>AST>APP|APP>AST)"
    rb" (?P<size>\d+) bytes$"
)
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)")
_SIMPLE = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}

FROM_ASTERISK = "AST>APP"
TO_ASTERISK = "APP>AST"


def directory():
    """
    The folder holding the transcripts.
    """
    override = os.environ.get("FTS_TRANSCRIPTS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "asterisk-transcripts"


@attr.s(frozen=True, slots=True)
class Block:
    """
    One read or write seen on the wire.

    @ivar direction: L{FROM_ASTERISK} or L{TO_ASTERISK}.
    @ivar offset: seconds since the transcript started.
    @ivar data: the exact bytes.
    """

    direction = attr.ib()
    offset = attr.ib()
    data = attr.ib()


def _unescape(text):
    def replace(match):
        code = match.group(1)
        if code in _SIMPLE:
            return _SIMPLE[code]
        if code[:1] == b"x" and len(code) == 3:
            return bytes([int(code[1:], 16)])
        raise ValueError("unknown escape \\%r" % (code,))

    return _ESCAPE.sub(replace, text)


def parse(raw):
    """
    Parse transcript file bytes into a list of L{Block}s.

    @raise ValueError: a block's byte count does not match its header.
    """
    blocks = []
    current = None
    for line in raw.split(b"\n"):
        match = _HEADER.match(line)
        if match:
            if current is not None:
                blocks.append(current)
            current = [
                match.group("direction").decode("ascii"),
                float(match.group("offset")),
                int(match.group("size")),
                [],
            ]
        elif line.startswith((b"AST> ", b"APP> ")) and current is not None:
            current[3].append(_unescape(line[5:]))
    if current is not None:
        blocks.append(current)
    result = []
    for direction, offset, size, parts in blocks:
        data = b"".join(parts)
        if len(data) != size:
            raise ValueError(
                "block at +%ss says %d bytes, has %d" % (offset, size, len(data))
            )
        result.append(Block(direction=direction, offset=offset, data=data))
    return result


def load(name):
    """
    Load one transcript by file name (with or without ``.txt``).
    """
    if not name.endswith(".txt"):
        name += ".txt"
    return parse((directory() / name).read_bytes())


def names(prefix=""):
    """
    The names of every transcript file starting with C{prefix}, sorted.
    """
    return sorted(
        p.name for p in directory().glob(prefix + "*.txt") if p.name != "README.md"
    )


def stream(blocks, direction=FROM_ASTERISK):
    """
    The concatenated bytes of every block in one direction.
    """
    return b"".join(b.data for b in blocks if b.direction == direction)
