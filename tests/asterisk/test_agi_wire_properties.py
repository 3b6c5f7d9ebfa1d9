"""
Property tests for L{fts.asterisk.agi.wire}: random, truncated and garbage
bytes never raise out of the parser and never cost a later valid line; any
text survives quoting as Asterisk reads it.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.wire import (
    HANGUP_NOTICE,
    AGIParser,
    DeadChannel,
    Environment,
    InvalidCommand,
    ProtocolError,
    Reply,
    UsageError,
    encode_command,
    quote,
)
from tests.asterisk.test_agi_wire import parse_args
from tests.support import transcripts

ITEM_TYPES = (Environment, Reply, InvalidCommand, DeadChannel, UsageError, ProtocolError)

VALID = [
    (b"200 result=0\n", Reply(200, "0", None, None, {})),
    (b"200 result=1 (42)\n", Reply(200, "1", "42", None, {})),
    (b"200 result=-1 endpos=16160\n", Reply(200, "-1", None, 16160, {})),
    (b"200 result= (timeout)\n", Reply(200, "", "timeout", None, {})),
    (b"HANGUP\n", HANGUP_NOTICE),
    (b"510 Invalid or unknown command\n", InvalidCommand("510 Invalid or unknown command")),
    (b"511 Command Not Permitted\n", DeadChannel("511 Command Not Permitted")),
    (
        b"520-Bad.\nusage\n520 End of proper usage.\n",
        UsageError(("Bad.", "usage", "End of proper usage.")),
    ),
]

TRANSCRIPT_BYTES = [
    transcripts.stream(transcripts.load(name)) for name in transcripts.names("agi-session")
]


def chunked(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = []
    last = 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


def feed(parser, pieces):
    out = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    return out


def well_formed(items):
    return all(item is HANGUP_NOTICE or isinstance(item, ITEM_TYPES) for item in items)


class ParserProperties(SynchronousTestCase):
    """
    The parser survives anything and keeps what is valid.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=20))
    def test_random_bytes_never_raise(self, data, cuts):
        """
        Arbitrary bytes, in arbitrary chunks, give only items.
        """
        self.assertTrue(well_formed(feed(AGIParser(), chunked(data, cuts))))

    @settings(max_examples=300, deadline=None)
    @given(
        st.binary(max_size=300),
        st.lists(st.sampled_from(range(len(VALID))), min_size=1, max_size=6),
        st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_garbage_never_costs_a_later_valid_line(self, garbage, picks, cuts):
        """
        After garbage ended by a line break, every valid reply that follows
        is parsed exactly, in order, at the end of the item list.
        """
        parser = AGIParser()
        parser.feed(b"agi_network: yes\n\n")
        tail = b"".join(VALID[i][0] for i in picks)
        items = feed(parser, chunked(garbage + b"\n" + tail, cuts))
        expected = [VALID[i][1] for i in picks]
        self.assertTrue(well_formed(items))
        self.assertEqual(items[len(items) - len(expected) :], expected)

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(range(len(TRANSCRIPT_BYTES))),
        st.integers(min_value=0),
        st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_truncation_gives_a_prefix(self, which, cut, cuts):
        """
        A transcript cut anywhere parses to a prefix of its full items.
        """
        data = TRANSCRIPT_BYTES[which]
        full = AGIParser().feed(data)
        truncated = data[: cut % (len(data) + 1)]
        items = feed(AGIParser(), chunked(truncated, cuts))
        self.assertEqual(items, full[: len(items)])

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(range(len(TRANSCRIPT_BYTES))),
        st.lists(st.integers(min_value=0), max_size=30),
    )
    def test_chunking_never_matters(self, which, cuts):
        """
        Any chunking of a transcript gives the same items as one buffer.
        """
        data = TRANSCRIPT_BYTES[which]
        self.assertEqual(feed(AGIParser(), chunked(data, cuts)), AGIParser().feed(data))


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=30,
)


class QuotingProperties(SynchronousTestCase):
    """
    Asterisk's argument splitting gives back exactly what we quoted.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.lists(texts, min_size=1, max_size=5))
    def test_round_trip(self, values):
        """
        Any list of arguments survives encode_command and parse_args.
        """
        line = encode_command("SET VARIABLE", *values).decode("utf-8")
        self.assertTrue(line.endswith("\n"))
        self.assertEqual(parse_args(line[:-1]), ["SET", "VARIABLE"] + values)

    @settings(max_examples=200, deadline=None)
    @given(texts)
    def test_always_quoted_round_trip(self, value):
        """
        Forced quoting reads back the same as needed-only quoting.
        """
        self.assertEqual(parse_args(quote(value, always=True)), [value])
