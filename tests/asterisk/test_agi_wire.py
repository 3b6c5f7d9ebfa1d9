"""
Tests for L{fts.asterisk.agi.wire}: the sans-IO FastAGI parser, fed the bytes
of the real Asterisk transcripts in every chunking, and the command encoder.
"""

import random

from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.wire import (
    HANGUP_NOTICE,
    MAX_LINE,
    AGIParser,
    DeadChannel,
    Environment,
    InvalidCommand,
    ProtocolError,
    Reply,
    UsageError,
    encode_command,
    encode_line,
    quote,
)
from tests.support import transcripts

DEAD = DeadChannel("511 Command Not Permitted on a dead channel or intercept routine")
INVALID = InvalidCommand("510 Invalid or unknown command")
HANGUP = HANGUP_NOTICE


def R(result, data=None, endpos=None, **extras):
    return Reply(200, result, data, endpos, extras)


STREAM_FILE_USAGE = UsageError(
    (
        "Invalid command syntax.  Proper usage follows:",
        "Send the given file, allowing playback to be interrupted by the given "
        "digits, if any. Returns <literal>0</literal> if playback completes "
        "without a digit being pressed, or the ASCII numerical value of the "
        "digit if one was pressed, or <literal>-1</literal> on error or if the "
        "channel was disconnected. If musiconhold is playing before calling "
        "stream file it will be automatically stopped and will not be restarted "
        "after completion.",
        "It sets the following channel variables upon completion:",
        "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt "
        "as a text string.",
        "    <value>SUCCESS</value>",
        "    <value>FAILED</value>",
        "End of proper usage.",
    )
)

# For every transcript: (script, channel, uniqueid, extension, arguments)
# and the exact items after the environment.
EXPECTED = {
    "agi-session-answered-dtmf.txt": (
        ("campaign", "Local/1001@callee-sim-00000000;1", "1795347861.0", "1001", ()),
        [
            R("0"),
            R("1", "1"),
            R("1", "42"),
            R("0"),
            R("1", "Local/1001@callee-sim-00000000;1"),
            R("1", "5550100 FTS Dialer"),
            R("1"),
            R("6"),
            R("49", endpos=9760),
            R("0"),
            R("", "timeout"),
            R("1"),
            R("0"),
            R("1"),
            R("0"),
            INVALID,
            STREAM_FILE_USAGE,
            R("1"),
            HANGUP,
            R("1", "playing message"),
            DEAD,
            DEAD,
            HANGUP,
        ],
    ),
    "agi-session-h-extension.txt": (
        ("hangup", "Local/1001@callee-sim-00000000;1", "1795347861.0", "h", ("h-extension",)),
        [R("1", "42"), R("1", "dtmf-1"), R("1", "0"), R("1", ""), DEAD, DEAD, HANGUP],
    ),
    "agi-session-hangup-midway.txt": (
        ("campaign", "Local/5001@callee-sim-00000006;1", "1795347908.12", "5001", ()),
        [
            R("0"),
            R("1", "42"),
            R("-1", endpos=16160),
            HANGUP,
            R("1", "42"),
            DEAD,
            R("1"),
            DEAD,
            DEAD,
            DEAD,
            R("0"),
            DEAD,
            DEAD,
            HANGUP,
        ],
    ),
    "agi-session-hangup-midway-h-extension.txt": (
        ("hangup", "Local/5001@callee-sim-00000006;1", "1795347908.12", "h", ("h-extension",)),
        [R("1", "42"), R("1", "hungup-midway"), R("1", "16"), R("1", ""), DEAD, DEAD, HANGUP],
    ),
    "agi-session-hangup-during-wait-for-digit.txt": (
        ("campaign", "Local/5002@callee-sim-0000000d;1", "1795347925.25", "5002", ()),
        [R("0"), R("-1"), HANGUP, R("1", "42"), HANGUP],
    ),
    "agi-session-hangup-during-get-data.txt": (
        ("campaign", "Local/5003@callee-sim-0000000c;1", "1795347925.24", "5003", ()),
        [R("0"), R("-1"), HANGUP, R("1", "42"), HANGUP],
    ),
    "agi-session-hangup-during-exec-playback.txt": (
        ("campaign", "Local/5004@callee-sim-0000000e;1", "1795347925.27", "5004", ()),
        [R("0"), R("-1"), HANGUP, R("1", "42"), HANGUP],
    ),
    "agi-session-hangup-during-exec-read.txt": (
        ("campaign", "Local/5005@callee-sim-0000000f;1", "1795347925.30", "5005", ()),
        [R("0"), R("0"), HANGUP, R("1", "42"), HANGUP],
    ),
    "agi-session-amd-and-ami-hangup.txt": (
        ("campaign", "Local/6001@callee-sim-00000007;1", "1795347913.14", "6001", ()),
        [
            R("0"),
            R("1", "1"),
            R("0"),
            R("1", "MACHINE"),
            R("1", "INITIALSILENCE-2500-2500"),
            R("-1", endpos=5760),
            HANGUP,
            R("1", "42"),
            HANGUP,
        ],
    ),
    "agi-session-amd-and-ami-hangup-h-extension.txt": (
        ("hangup", "Local/6001@callee-sim-00000007;1", "1795347913.14", "h", ("h-extension",)),
        [R("1", "42"), R("0"), R("1", "16"), R("1", ""), DEAD, DEAD, HANGUP],
    ),
    "agi-session-idle-dtmf-and-idle-hangup.txt": (
        ("campaign", "Local/9001@callee-sim-00000008;1", "fts-42-a", "9001", ()),
        [R("1", "42"), R("0"), HANGUP, R("1", "42"), HANGUP],
    ),
    "agi-session-script-ends-channel-up.txt": (
        ("campaign", "Local/6002@callee-sim-00000009;1", "1795347919.18", "6002", ()),
        [R("0"), R("0", endpos=3404), HANGUP],
    ),
    "agi-session-h-extension-assigned-uniqueid.txt": (
        ("hangup", "Local/9001@callee-sim-00000008;1", "fts-42-a", "h", ("h-extension",)),
        [R("1", "42"), R("0"), R("1", "16"), R("1", ""), DEAD, DEAD, HANGUP],
    ),
}


def feed_all(chunks, parser=None):
    parser = parser or AGIParser()
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def random_chunks(data, rng):
    chunks = []
    i = 0
    while i < len(data):
        n = rng.randint(1, 64)
        chunks.append(data[i : i + n])
        i += n
    return chunks


def asterisk_reads(name):
    return [
        b.data for b in transcripts.load(name) if b.direction == transcripts.FROM_ASTERISK
    ]


def after_environment():
    """
    A parser that has already seen an environment.
    """
    parser = AGIParser()
    parser.feed(b"agi_network: yes\n\n")
    return parser


class TranscriptTests(SynchronousTestCase):
    """
    Every AGI transcript parses to exactly the expected items, whatever the
    chunking.
    """

    def test_every_transcript_is_covered(self):
        """
        The expectations name every agi-session transcript there is.
        """
        self.assertEqual(sorted(EXPECTED), transcripts.names("agi-session"))

    def check(self, name, chunks):
        (script, channel, uniqueid, extension, arguments), replies = EXPECTED[name]
        items = feed_all(chunks)
        env = items[0]
        self.assertIsInstance(env, Environment, name)
        self.assertEqual(
            (env.network_script, env.channel, env.uniqueid, env.extension, env.arguments),
            (script, channel, uniqueid, extension, arguments),
            name,
        )
        self.assertEqual(items[1:], replies, name)

    def test_whole(self):
        """
        Each transcript fed as one buffer gives the expected items.
        """
        for name in EXPECTED:
            self.check(name, [b"".join(asterisk_reads(name))])

    def test_per_tcp_read(self):
        """
        Each transcript fed read by read, as Asterisk's bytes really arrived
        (the environment in two reads, the 520 block split), gives the
        expected items.
        """
        for name in EXPECTED:
            self.check(name, asterisk_reads(name))

    def test_one_byte_at_a_time(self):
        """
        Each transcript fed one byte at a time gives the expected items.
        """
        for name in EXPECTED:
            data = b"".join(asterisk_reads(name))
            self.check(name, [data[i : i + 1] for i in range(len(data))])

    def test_random_chunks(self):
        """
        Each transcript fed in random chunks (fixed seeds) gives the expected
        items.
        """
        for seed in range(20):
            rng = random.Random(seed)
            for name in EXPECTED:
                self.check(name, random_chunks(b"".join(asterisk_reads(name)), rng))

    def test_items_arrive_as_soon_as_their_line_is_complete(self):
        """
        Per read, the parser returns exactly the items whose last byte is in
        that read: the environment with the read holding its empty line,
        the 520 block with its last line, nothing for a partial line.
        """
        reads = asterisk_reads("agi-session-answered-dtmf.txt")
        parser = AGIParser()
        counts = [len(parser.feed(data)) for data in reads]
        self.assertEqual(counts[:2], [0, 1])
        usage_start = reads.index(b"520-Invalid command syntax.  Proper usage follows:\n")
        self.assertEqual(counts[usage_start], 0)
        self.assertEqual(counts[usage_start + 1], 1)


class EnvironmentTests(SynchronousTestCase):
    """
    The environment is an immutable mapping with typed accessors.
    """

    def setUp(self):
        reads = asterisk_reads("agi-session-answered-dtmf.txt")
        self.env = AGIParser().feed(reads[0] + reads[1])[0]

    def test_every_variable_in_order(self):
        """
        All 22 variables arrive in Asterisk's order, with their values; an
        empty value (agi_accountcode) is an empty string.
        """
        self.assertEqual(
            list(self.env.items()),
            [
                ("agi_network", "yes"),
                ("agi_network_script", "campaign"),
                ("agi_request", "agi://127.0.0.1:4573/campaign"),
                ("agi_channel", "Local/1001@callee-sim-00000000;1"),
                ("agi_language", "en"),
                ("agi_type", "Local"),
                ("agi_uniqueid", "1795347861.0"),
                ("agi_version", "22.10.1"),
                ("agi_callerid", "5550100"),
                ("agi_calleridname", "FTS Dialer"),
                ("agi_callingpres", "0"),
                ("agi_callingani2", "0"),
                ("agi_callington", "0"),
                ("agi_callingtns", "0"),
                ("agi_dnid", "unknown"),
                ("agi_rdnis", "unknown"),
                ("agi_context", "fts-campaign"),
                ("agi_extension", "1001"),
                ("agi_priority", "1"),
                ("agi_enhanced", "0.0"),
                ("agi_accountcode", ""),
                ("agi_threadid", "140413021255360"),
            ],
        )

    def test_accessors(self):
        """
        The typed accessors read the matching variables.
        """
        env = self.env
        self.assertEqual(
            (
                env.network,
                env.network_script,
                env.request,
                env.channel,
                env.language,
                env.type,
                env.uniqueid,
                env.version,
                env.callerid,
                env.calleridname,
                env.dnid,
                env.rdnis,
                env.context,
                env.extension,
                env.priority,
                env.accountcode,
                env.threadid,
                env.arguments,
                env.is_h_extension,
            ),
            (
                "yes",
                "campaign",
                "agi://127.0.0.1:4573/campaign",
                "Local/1001@callee-sim-00000000;1",
                "en",
                "Local",
                "1795347861.0",
                "22.10.1",
                "5550100",
                "FTS Dialer",
                "unknown",
                "unknown",
                "fts-campaign",
                "1001",
                1,
                "",
                "140413021255360",
                (),
                False,
            ),
        )

    def test_h_extension(self):
        """
        The h-extension connection is recognised and its AGI() argument read.
        """
        env = feed_all(asterisk_reads("agi-session-h-extension.txt"))[0]
        self.assertTrue(env.is_h_extension)
        self.assertEqual(env.arguments, ("h-extension",))

    def test_arguments_in_order_up_to_a_gap(self):
        """
        C{arguments} lists agi_arg_1, agi_arg_2 ... in number order, stopping
        at the first missing number.
        """
        env = Environment(
            {"agi_arg_2": "b", "agi_arg_1": "a", "agi_arg_3": "", "agi_arg_5": "e"}
        )
        self.assertEqual(env.arguments, ("a", "b", ""))

    def test_missing_variables(self):
        """
        Text accessors give "" and C{priority} gives C{None} for missing or
        non-numeric values.
        """
        env = Environment({"agi_priority": "x"})
        self.assertEqual((env.channel, env.uniqueid, env.priority), ("", "", None))
        self.assertIsNone(Environment().priority)

    def test_immutable(self):
        """
        The mapping cannot be changed.
        """
        with self.assertRaises(TypeError):
            self.env["agi_channel"] = "x"
        with self.assertRaises(AttributeError):
            self.env.channel = "x"

    def test_mapping_equality(self):
        """
        An environment equals another with the same variables, and a dict.
        """
        self.assertEqual(Environment({"a": "1"}), Environment({"a": "1"}))
        self.assertEqual(Environment({"a": "1"}), {"a": "1"})
        self.assertNotEqual(Environment({"a": "1"}), Environment({"a": "2"}))

    def test_malformed_line_reported_and_skipped(self):
        """
        An environment line with no colon becomes a L{ProtocolError} naming
        it, before the environment, which still holds the other lines.
        """
        items = feed_all([b"agi_network: yes\nbogus line\nagi_channel: X\n\n200 result=0\n"])
        self.assertEqual(
            items,
            [
                ProtocolError("environment line without 'key:'", b"bogus line"),
                Environment({"agi_network": "yes", "agi_channel": "X"}),
                R("0"),
            ],
        )

    def test_crlf_tolerated(self):
        """
        CRLF line ends (not what Asterisk sends) still parse.
        """
        items = feed_all([b"agi_network: yes\r\nagi_channel: X\r\n\r\n200 result=1 (a)\r\n"])
        self.assertEqual(
            items, [Environment({"agi_network": "yes", "agi_channel": "X"}), R("1", "a")]
        )

    def test_empty_environment(self):
        """
        An environment that is just the empty line is an empty mapping.
        """
        self.assertEqual(feed_all([b"\n200 result=0\n"]), [Environment(), R("0")])

    def test_value_without_space_and_with_colons(self):
        """
        The value is everything after the first colon (one space dropped).
        """
        items = feed_all([b"agi_request:agi://h:4573/x\nagi_dnid: a: b\n\n"])
        self.assertEqual(
            items[0], Environment({"agi_request": "agi://h:4573/x", "agi_dnid": "a: b"})
        )

    def test_undecodable_bytes(self):
        """
        Bytes that are not UTF-8 become U+FFFD rather than an error.
        """
        env = feed_all([b"agi_calleridname: Jos\xe9\n\n"])[0]
        self.assertEqual(env.calleridname, "Jos\ufffd")

    def test_environment_split_anywhere(self):
        """
        An environment cut at every possible point parses the same.
        """
        data = b"".join(asterisk_reads("agi-session-h-extension.txt"))
        whole = feed_all([data])
        for cut in range(1, len(data)):
            self.assertEqual(feed_all([data[:cut], data[cut:]]), whole)


class ReplyTests(SynchronousTestCase):
    """
    Each reply shape Asterisk sends becomes the matching item.
    """

    def parse(self, *lines):
        return after_environment().feed(b"".join(line + b"\n" for line in lines))

    def test_shapes(self):
        """
        result, data in parentheses (possibly empty, possibly holding
        parentheses), endpos and other key=value words are split out.
        """
        cases = [
            (b"200 result=0", R("0")),
            (b"200 result=1 (42)", R("1", "42")),
            (b"200 result=1 ()", R("1", "")),
            (b"200 result=49 endpos=9760", R("49", endpos=9760)),
            (b"200 result=-1 endpos=16160", R("-1", endpos=16160)),
            (b"200 result= (timeout)", R("", "timeout")),
            (b"200 result=12 (timeout)", R("12", "timeout")),
            (b"200 result=123", R("123")),
            (b"200 result=", R("")),
            (b"200 result=1 (a (b) c)", R("1", "a (b) c")),
            (b"200 result=1 (5550100 FTS Dialer)", R("1", "5550100 FTS Dialer")),
            (
                b"200 result=1 (speech) endpos=80 results=2",
                R("1", "speech", endpos=80, results="2"),
            ),
        ]
        for line, expected in cases:
            self.assertEqual(self.parse(line), [expected], line)

    def test_codes(self):
        """
        510, 511 and the HANGUP notice have their own items.
        """
        self.assertEqual(
            self.parse(
                b"510 Invalid or unknown command",
                b"511 Command Not Permitted on a dead channel or intercept routine",
                b"HANGUP",
                b"511 Something else",
            ),
            [INVALID, DEAD, HANGUP, DeadChannel("511 Something else")],
        )

    def test_usage_block(self):
        """
        The 520 block becomes one item holding every line.
        """
        self.assertEqual(
            self.parse(
                b"520-Invalid command syntax.",
                b"usage <literal>x</literal>",
                b"520 End of proper usage.",
            ),
            [
                UsageError(
                    (
                        "Invalid command syntax.",
                        "usage <literal>x</literal>",
                        "End of proper usage.",
                    )
                )
            ],
        )

    def test_single_line_usage(self):
        """
        A lone C{520 ...} line is a one-line usage error.
        """
        self.assertEqual(
            self.parse(b"520 Invalid command syntax.  Proper usage not available."),
            [UsageError(("Invalid command syntax.  Proper usage not available.",))],
        )

    def test_items_are_values(self):
        """
        Items compare by value and the common ones are shared immutable
        objects.
        """
        first = self.parse(b"200 result=0")[0]
        second = self.parse(b"200 result=0")[0]
        self.assertEqual(first, second)
        with self.assertRaises(AttributeError):
            first.result = "1"


class MalformedInputTests(SynchronousTestCase):
    """
    Bad lines become L{ProtocolError} items naming them; nothing raises and
    the following lines still parse.
    """

    def parse(self, data):
        return after_environment().feed(data)

    def test_bad_lines(self):
        """
        Lines that are no reply, or a broken 200 reply, are reported one by
        one and parsing continues.
        """
        items = self.parse(
            b"garbage\n200 oops\n200 result=1 (unbalanced\n200 result=0 endpos=abc\n"
            b"200 result=0 stray\n\n200 result=1 (ok)\n"
        )
        self.assertEqual(
            items,
            [
                ProtocolError("not an AGI reply", b"garbage"),
                ProtocolError("200 reply without result=", b"200 oops"),
                ProtocolError("unbalanced parenthesis in 200 reply", b"200 result=1 (unbalanced"),
                ProtocolError("endpos is not a number", b"200 result=0 endpos=abc"),
                ProtocolError("unexpected words in 200 reply", b"200 result=0 stray"),
                ProtocolError("empty line", b""),
                R("1", "ok"),
            ],
        )

    def test_empty_chunks(self):
        """
        Feeding no bytes gives no items, in any state.
        """
        parser = AGIParser()
        self.assertEqual(parser.feed(b""), [])
        parser.feed(b"agi_network: yes\n\n200 res")
        self.assertEqual(parser.feed(b""), [])
        self.assertEqual(parser.feed(b"ult=0\n"), [R("0")])
        self.assertEqual(parser.feed(b""), [])

    def test_looks_like_reply(self):
        """
        A malformed line with a numeric code is flagged as a probable reply;
        other garbage is not.
        """
        first, second = self.parse(b"200 oops\nfoo\n")
        self.assertTrue(first.looks_like_reply)
        self.assertFalse(second.looks_like_reply)

    def test_over_long_line(self):
        """
        A line longer than MAX_LINE is reported once, dropped up to its end,
        and the next line parses, whatever the chunking.
        """
        parser = after_environment()
        items = []
        for _ in range(4):
            items.extend(parser.feed(b"x" * (MAX_LINE // 2)))
        items.extend(parser.feed(b"x" * 10 + b"\n200 result=1 (42)\n"))
        self.assertEqual(len(items), 2)
        self.assertIsInstance(items[0], ProtocolError)
        self.assertEqual(items[0].reason, "line longer than %d bytes" % (MAX_LINE,))
        self.assertEqual(items[1], R("1", "42"))

    def test_usage_block_cut_short(self):
        """
        A 520 block interrupted by a line that can only be a reply is
        reported, and that reply is not swallowed.
        """
        items = self.parse(b"520-Invalid command syntax.\nsome usage\n200 result=1\nHANGUP\n")
        self.assertEqual(
            items,
            [
                ProtocolError(
                    "520 block cut short (no '520 End of proper usage.')",
                    b"520-Invalid command syntax.",
                ),
                R("1"),
                HANGUP,
            ],
        )

    def test_environment_garbage_never_blocks(self):
        """
        Garbage before the environment's empty line is reported and the
        environment still completes.
        """
        items = feed_all([b"\x00\xff junk\nagi_network: yes\n\nHANGUP\n"])
        self.assertEqual(
            items,
            [
                ProtocolError("environment line without 'key:'", b"\x00\xff junk"),
                Environment({"agi_network": "yes"}),
                HANGUP,
            ],
        )


def parse_args(line):
    """
    A Python port of Asterisk's res_agi C{parse_args}: how Asterisk splits
    a command line into words.
    """
    argv = []
    cur = None
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                cur = []
                argv.append(cur)
                whitespace = False
            escaped = False
        elif ch in " \t" and not quoted and not escaped:
            whitespace = True
        elif ch == "\\" and not escaped:
            escaped = True
        else:
            if whitespace:
                cur = []
                argv.append(cur)
                whitespace = False
            cur.append(ch)
            escaped = False
    return ["".join(word) for word in argv]


class EncoderTests(SynchronousTestCase):
    """
    Commands are encoded so that Asterisk reads back exactly our arguments.
    """

    def test_bare_when_possible(self):
        """
        Plain words and numbers are sent as they are.
        """
        self.assertEqual(quote("FTS_RESULT"), "FTS_RESULT")
        self.assertEqual(quote("${CHANNEL(name)}"), "${CHANNEL(name)}")
        self.assertEqual(quote(1500), "1500")

    def test_quoted_once(self):
        """
        Values with spaces are quoted once (starpy quoted twice), and
        embedded quotes and backslashes are escaped.
        """
        self.assertEqual(quote("playing message"), '"playing message"')
        self.assertEqual(quote('say "hi"'), '"say \\"hi\\""')
        self.assertEqual(quote("a\\b"), '"a\\\\b"')
        self.assertEqual(quote(""), '""')
        self.assertEqual(quote("123", always=True), '"123"')

    def test_recorded_lines(self):
        """
        The encoder produces the exact lines the recorded server sent.
        """
        self.assertEqual(
            encode_command("SET VARIABLE", "FTS_STATE", "playing message"),
            b'SET VARIABLE FTS_STATE "playing message"\n',
        )
        self.assertEqual(
            encode_command("GET FULL VARIABLE", "${CALLERID(num)} ${CALLERID(name)}"),
            b'GET FULL VARIABLE "${CALLERID(num)} ${CALLERID(name)}"\n',
        )
        self.assertEqual(encode_command("GET DATA", "beep", 1500, 1), b"GET DATA beep 1500 1\n")
        self.assertEqual(encode_command("STREAM FILE", "beep", ""), b'STREAM FILE beep ""\n')
        self.assertEqual(encode_command("ANSWER"), b"ANSWER\n")

    def test_round_trip_through_asterisk_rules(self):
        """
        Asterisk's parse_args gives back each argument, whatever it holds.
        """
        values = ["a b", 'x"y', "back\\slash", "", "tab\there", '"', "\\", 'end\\"', "ünï"]
        line = encode_command("SET VARIABLE", "V", *values).decode("utf-8")[:-1]
        self.assertEqual(parse_args(line), ["SET", "VARIABLE", "V"] + values)

    def test_line_breaks_refused(self):
        """
        An argument or command with a line break or NUL cannot be sent.
        """
        for bad in ["a\nb", "a\rb", "a\x00b"]:
            self.assertRaises(ValueError, quote, bad)
            self.assertRaises(ValueError, encode_line, bad)

    def test_utf8(self):
        """
        Text is sent as UTF-8.
        """
        self.assertEqual(encode_command("VERBOSE", "é"), "VERBOSE é\n".encode("utf-8"))
