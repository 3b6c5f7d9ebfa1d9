"""
Property tests for L{fts.asterisk.ami.frames}: random, truncated and garbage
input never raises out of C{feed()} and never costs a later valid frame.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.frames import FrameParser, Message, serialize

NAMES = [
    "Channel",
    "Uniqueid",
    "Linkedid",
    "ActionID",
    "Message",
    "Variable",
    "Output",
    "Value",
    "Cause-txt",
    "CallerIDName",
    "AccountCode",
    "X-Custom_1",
]

values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
)
first_headers = st.tuples(st.sampled_from(["Response", "Event"]), values)
messages = st.builds(
    lambda first, rest: [first] + rest,
    first_headers,
    st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=8),
)
garbage = st.binary(max_size=400)


def chunked(data, cuts):
    """
    Cut C{data} at the given (sorted, de-duplicated) positions.
    """
    positions = sorted({c % (len(data) + 1) for c in cuts})
    chunks = []
    last = 0
    for p in positions + [len(data)]:
        chunks.append(data[last:p])
        last = p
    return chunks


def feed_all(parser, chunks):
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


class FramePropertyTests(SynchronousTestCase):
    """
    Properties that hold for any input.
    """

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.binary(max_size=200), max_size=20), st.booleans(), st.booleans())
    def test_feed_never_raises(self, chunks, banner, check_lines):
        """
        Arbitrary bytes, in arbitrary chunks, never raise out of feed().
        """
        parser = FrameParser(expect_banner=banner, check_lines=check_lines, max_frame_bytes=300)
        for message in feed_all(parser, chunks):
            self.assertIsInstance(message, Message)
            message.headers
            message.get("ActionID")

    @settings(max_examples=100, deadline=None)
    @given(st.lists(messages, min_size=1, max_size=6), st.lists(st.integers(0, 5000), max_size=12))
    def test_chunking_does_not_matter(self, sent, cuts):
        """
        Valid messages come out identical, in order, however the stream is
        cut.
        """
        data = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(serialize(m) for m in sent)
        parser = FrameParser()
        got = feed_all(parser, chunked(data, cuts))
        self.assertEqual([list(m.headers) for m in got], sent)
        self.assertEqual(parser.errors, [])
        for message, headers in zip(got, sent):
            self.assertEqual(message, Message(headers))
            self.assertEqual(message.kind, headers[0][0].lower())
            self.assertEqual(message.name, headers[0][1])
            for name, _ in headers:
                self.assertEqual(message.get(name), Message(headers).get(name))

    @settings(max_examples=100, deadline=None)
    @given(
        garbage,
        st.lists(messages, min_size=1, max_size=4),
        st.lists(st.integers(0, 5000), max_size=8),
        st.booleans(),
        st.booleans(),
    )
    def test_garbage_loses_no_later_frame(self, junk, sent, cuts, banner, check_lines):
        """
        Garbage (or a truncated frame) ended by a frame boundary costs
        nothing after it, even when it overflows the frame size limit.
        """
        prefix = b"Asterisk Call Manager/11.0.0\r\n" if banner else b""
        valid = b"".join(serialize(m) for m in sent)
        data = prefix + junk + b"\r\n\r\n" + valid
        parser = FrameParser(expect_banner=banner, check_lines=check_lines, max_frame_bytes=256)
        got = feed_all(parser, chunked(data, cuts))
        # Every valid frame here is shorter than the limit.
        if all(len(serialize(m)) < 200 for m in sent):
            self.assertEqual([list(m.headers) for m in got[-len(sent) :]], sent)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(messages, min_size=2, max_size=5), st.integers(1, 10**6))
    def test_truncated_frame_then_valid(self, sent, cut):
        """
        A frame cut short and followed by a boundary is at worst one bad
        message; the frames after it are intact.
        """
        first = serialize(sent[0])
        truncated = first[: cut % len(first)]
        rest = b"".join(serialize(m) for m in sent[1:])
        parser = FrameParser(expect_banner=False)
        got = parser.feed(truncated + b"\r\n\r\n" + rest)
        self.assertEqual([list(m.headers) for m in got[-(len(sent) - 1) :]], sent[1:])
