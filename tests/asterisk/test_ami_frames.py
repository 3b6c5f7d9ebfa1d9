"""
Tests for L{fts.asterisk.ami.frames}: the sans-IO AMI parser and serializer,
fed the bytes of the real Asterisk transcripts.
"""

import random

from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.ami.frames import FrameParser, Message, ParseProblem, serialize
from tests.support import transcripts

BANNER = b"Asterisk Call Manager/"


def connections(name):
    """
    The AMI connections of a transcript, each as C{(from_asterisk_blocks,
    to_asterisk_blocks, has_banner)}.  A new connection starts at each
    banner (ami-errors.txt holds three).
    """
    result = []
    current = None
    for block in transcripts.load(name):
        if block.direction == transcripts.FROM_ASTERISK and block.data.startswith(
            BANNER
        ):
            current = ([], [], True)
            result.append(current)
        if current is None:
            current = ([], [], False)
            result.append(current)
        if block.direction == transcripts.FROM_ASTERISK:
            current[0].append(block.data)
        else:
            current[1].append(block.data)
    return result


def reference_parse(stream, banner):
    """
    A deliberately naive parser to check the real one against.
    """
    if banner:
        line, _, stream = stream.partition(b"\r\n")
    messages = []
    for frame in stream.split(b"\r\n\r\n")[:-1]:
        headers = []
        for line in frame.decode("utf-8").split("\r\n"):
            name, sep, value = line.partition(": ")
            assert sep, line
            headers.append((name, value))
        messages.append(tuple(headers))
    return messages


def feed_chunks(parser, chunks):
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def one_byte(data):
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data, seed, max_size=300):
    rng = random.Random(seed)
    chunks = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_size)
        chunks.append(data[i : i + n])
        i += n
    return chunks


def messages_of(name, index=0):
    """
    The messages Asterisk sent on one connection of a transcript.
    """
    blocks, _, banner = connections(name)[index]
    parser = FrameParser(expect_banner=banner)
    messages = feed_chunks(parser, blocks)
    return parser, messages


def find(messages, **headers):
    return [m for m in messages if all(m.get(k) == v for k, v in headers.items())]


class TranscriptChunkingTests(SynchronousTestCase):
    """
    Every transcript parses to the same messages however its bytes are cut.
    """

    def check_transcript(self, name):
        for blocks, actions, banner in connections(name):
            stream = b"".join(blocks)
            expected = reference_parse(stream, banner)
            self.assertTrue(expected)
            chunkings = {
                "whole": [stream],
                "per TCP read": blocks,
                "random 1": random_splits(stream, 1),
                "random 2": random_splits(stream, 2, 7),
                "random 3": random_splits(stream, 3, 4000),
            }
            # One byte at a time: whole streams up to 40 kB, the first 30 kB
            # of longer ones (to keep the suite fast).
            if len(stream) <= 40000:
                chunkings["one byte"] = one_byte(stream)
            else:
                chunkings["one byte (first 30 kB)"] = None
            for label, chunks in chunkings.items():
                if chunks is None:
                    part = stream[: stream.index(b"\r\n\r\n", 30000) + 4]
                    chunks = one_byte(part)
                    want = reference_parse(part, banner)
                else:
                    want = expected
                parser = FrameParser(expect_banner=banner)
                got = feed_chunks(parser, chunks)
                self.assertEqual(
                    [m.headers for m in got], want, "%s, %s" % (name, label)
                )
                self.assertEqual(parser.errors, [], "%s, %s" % (name, label))
                self.assertEqual(parser.buffered, 0)
                if banner:
                    self.assertEqual(parser.banner, "Asterisk Call Manager/11.0.0")
                for message in got:
                    self.assertIn(message.kind, ("response", "event"))
                    self.assertEqual(message.problems, ())

    def test_every_transcript_is_listed(self):
        """
        The chunking tests below cover every ami-*.txt transcript.
        """
        covered = {
            name[len("test_") :].replace("_", "-") + ".txt"
            for name in dir(self)
            if name.startswith("test_ami_")
        }
        self.assertEqual(covered, set(transcripts.names("ami-")))

    def test_ami_coreshowchannels(self):
        """
        ami-coreshowchannels parses identically in every chunking.
        """
        self.check_transcript("ami-coreshowchannels.txt")

    def test_ami_errors(self):
        """
        ami-errors (three connections) parses identically in every chunking.
        """
        self.check_transcript("ami-errors.txt")

    def test_ami_events_during_call(self):
        """
        ami-events-during-call (no banner: joined mid-session) parses
        identically in every chunking.
        """
        self.check_transcript("ami-events-during-call.txt")

    def test_ami_events_full_run(self):
        """
        ami-events-full-run parses identically in every chunking.
        """
        self.check_transcript("ami-events-full-run.txt")

    def test_ami_login_and_originate_answered(self):
        """
        ami-login-and-originate-answered parses identically in every chunking.
        """
        self.check_transcript("ami-login-and-originate-answered.txt")

    def test_ami_login_eventmask_call(self):
        """
        ami-login-eventmask-call parses identically in every chunking.
        """
        self.check_transcript("ami-login-eventmask-call.txt")

    def test_ami_originate_agi_server_down(self):
        """
        ami-originate-agi-server-down parses identically in every chunking.
        """
        self.check_transcript("ami-originate-agi-server-down.txt")

    def test_ami_originate_answered_hangup_midway(self):
        """
        ami-originate-answered-hangup-midway parses identically in every
        chunking.
        """
        self.check_transcript("ami-originate-answered-hangup-midway.txt")

    def test_ami_originate_busy(self):
        """
        ami-originate-busy parses identically in every chunking.
        """
        self.check_transcript("ami-originate-busy.txt")

    def test_ami_originate_concurrent(self):
        """
        ami-originate-concurrent parses identically in every chunking.
        """
        self.check_transcript("ami-originate-concurrent.txt")

    def test_ami_originate_congestion(self):
        """
        ami-originate-congestion parses identically in every chunking.
        """
        self.check_transcript("ami-originate-congestion.txt")

    def test_ami_originate_hangup_during_commands(self):
        """
        ami-originate-hangup-during-commands parses identically in every
        chunking.
        """
        self.check_transcript("ami-originate-hangup-during-commands.txt")

    def test_ami_originate_noanswer_noring(self):
        """
        ami-originate-noanswer-noring parses identically in every chunking.
        """
        self.check_transcript("ami-originate-noanswer-noring.txt")

    def test_ami_originate_noanswer(self):
        """
        ami-originate-noanswer parses identically in every chunking.
        """
        self.check_transcript("ami-originate-noanswer.txt")

    def test_ami_originate_rejected(self):
        """
        ami-originate-rejected parses identically in every chunking.
        """
        self.check_transcript("ami-originate-rejected.txt")

    def test_ami_shutdown(self):
        """
        ami-shutdown parses identically in every chunking.
        """
        self.check_transcript("ami-shutdown.txt")


class ActionStreamTests(SynchronousTestCase):
    """
    The actions our side sent parse as actions (a server's view).
    """

    def test_every_action_stream(self):
        """
        Every APP>AST stream parses, in any chunking, to the actions sent.
        """
        for name in transcripts.names("ami-"):
            for _, actions, _ in connections(name):
                stream = b"".join(actions)
                if not stream:
                    continue
                expected = reference_parse(stream, False)
                for chunks in (actions, one_byte(stream), random_splits(stream, 9, 50)):
                    parser = FrameParser(expect_banner=False)
                    got = feed_chunks(parser, chunks)
                    self.assertEqual([m.headers for m in got], expected, name)
                    for message in got:
                        if message.get("Action") is not None:
                            self.assertEqual(message.kind, "action")

    def test_originate_action(self):
        """
        The concurrent Originate carries ChannelId and OtherChannelId.
        """
        _, actions, _ = connections("ami-originate-concurrent.txt")[0]
        parser = FrameParser(expect_banner=False)
        got = feed_chunks(parser, actions)
        first = find(got, ActionID="orig-9001")[0]
        self.assertEqual(first.kind, "action")
        self.assertEqual(first.name, "Originate")
        self.assertEqual(first.action_id, "orig-9001")
        self.assertEqual(first["ChannelId"], "fts-42-a")
        self.assertEqual(first["OtherChannelId"], "fts-42-b")
        self.assertEqual(first["CallerID"], '"FTS Dialer" <5550100>')
        self.assertEqual(first.getall("Variable"), ["FTS_CAMPAIGN=1,FTS_CONTACT=42"])

    def test_message_without_action(self):
        """
        A request with no Action header is reported, and kept as 'unknown'
        so that a server can answer 'Missing action in request'.
        """
        _, actions, _ = connections("ami-errors.txt")[2]
        parser = FrameParser(expect_banner=False)
        got = feed_chunks(parser, actions)
        odd = find(got, ActionID="noaction-1")[0]
        self.assertEqual(odd.kind, "unknown")
        self.assertEqual(odd.action_id, "noaction-1")
        self.assertEqual(len(parser.errors), 1)
        self.assertIn("no Response, Event or Action", parser.errors[0].what)
        self.assertEqual(parser.errors[0].line, "ActionID: noaction-1")

    def test_action_not_first(self):
        """
        An action whose Action header is not first is still an action (as
        Asterisk reads requests), with a case-insensitive ActionID.
        """
        parser = FrameParser(expect_banner=False)
        [message] = parser.feed(b"actionid: 7\r\nACTION: Ping\r\n\r\n")
        self.assertEqual((message.kind, message.name, message.action_id), ("action", "Ping", "7"))
        self.assertEqual(parser.errors, [])


class KnownMessageTests(SynchronousTestCase):
    """
    Specific messages of the transcripts come out with the right fields.
    """

    def test_banner_and_login(self):
        """
        The banner is read apart; the login response and the two events
        after it follow.
        """
        parser, messages = messages_of("ami-login-and-originate-answered.txt")
        self.assertEqual(parser.banner, "Asterisk Call Manager/11.0.0")
        login, booted, auth = messages[:3]
        self.assertEqual((login.kind, login.name, login.action_id), ("response", "Success", "login-1"))
        self.assertEqual(login["Message"], "Authentication accepted")
        self.assertEqual((booted.kind, booted.name), ("event", "FullyBooted"))
        self.assertIsNone(booted.action_id)
        self.assertEqual(auth.name, "SuccessfulAuth")
        self.assertEqual(auth["UsingPassword"], "0")

    def test_originate_answered(self):
        """
        An answered Originate: queued at once, then OriginateResponse
        Success, Reason 4, the ;1 channel and its Uniqueid.
        """
        _, messages = messages_of("ami-login-and-originate-answered.txt")
        queued = find(messages, Response="Success", ActionID="orig-1001")[0]
        self.assertEqual(queued.kind, "response")
        self.assertEqual(queued["Message"], "Originate successfully queued")
        [result] = [m for m in messages if m.name == "OriginateResponse"]
        self.assertEqual(result.kind, "event")
        self.assertEqual(result.action_id, "orig-1001")
        self.assertEqual(result["Response"], "Success")
        self.assertEqual(result["Reason"], "4")
        self.assertEqual(result["Channel"], "Local/1001@callee-sim-00000000;1")
        self.assertEqual(result["Uniqueid"], "1795347861.0")

    def test_originate_failure_reasons(self):
        """
        Busy, congestion, no answer and reject give Failure with Reason 5, 8,
        3, 3 and 0, the requested channel and Uniqueid <unknown>.
        """
        cases = {
            "ami-originate-busy.txt": ("2001", "5"),
            "ami-originate-congestion.txt": ("3001", "8"),
            "ami-originate-noanswer.txt": ("4001", "3"),
            "ami-originate-noanswer-noring.txt": ("7001", "3"),
            "ami-originate-rejected.txt": ("8001", "0"),
        }
        for name, (number, reason) in cases.items():
            _, messages = messages_of(name)
            [result] = [m for m in messages if m.name == "OriginateResponse"]
            self.assertEqual(result.action_id, "orig-" + number, name)
            self.assertEqual(result["Response"], "Failure", name)
            self.assertEqual(result["Reason"], reason, name)
            self.assertEqual(result["Channel"], "Local/%s@callee-sim" % number, name)
            self.assertEqual(result["Uniqueid"], "<unknown>", name)

    def test_command_output(self):
        """
        The Command response, split over two reads, carries its Output line.
        """
        _, messages = messages_of("ami-errors.txt", 2)
        [command] = find(messages, ActionID="cmd-1")
        self.assertEqual(command.kind, "response")
        self.assertEqual(command["Message"], "Command output follows")
        self.assertEqual(
            command.getall("Output"),
            [
                "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux"
                " on 2026-11-22 11:34:42 UTC"
            ],
        )

    def test_error_messages(self):
        """
        Error responses keep their messages, ': ' inside included.
        """
        _, messages = messages_of("ami-errors.txt", 2)
        [unknown] = find(messages, ActionID="unknown-1")
        self.assertEqual(unknown.name, "Error")
        self.assertEqual(
            unknown["Message"],
            "Invalid/unknown command: FooBar. Use Action: ListCommands to show"
            " available commands.",
        )
        [bad] = [m for m in messages if m.name == "RequestBadFormat"][:1]
        self.assertEqual(bad["RequestType"], "Action: FooBar")
        _, first = messages_of("ami-errors.txt", 0)
        self.assertEqual(first[0]["Message"], "Authentication failed")

    def test_core_show_channels_list(self):
        """
        CoreShowChannels: Success with EventList start, two CoreShowChannel
        events with the ActionID, then the Complete event with ListItems.
        """
        _, messages = messages_of("ami-coreshowchannels.txt")
        related = [m for m in messages if m.action_id == "csc-1"]
        self.assertEqual(
            [(m.kind, m.name) for m in related],
            [
                ("response", "Success"),
                ("event", "CoreShowChannel"),
                ("event", "CoreShowChannel"),
                ("event", "CoreShowChannelsComplete"),
            ],
        )
        self.assertEqual(related[0]["EventList"], "start")
        self.assertEqual(related[1]["Channel"], "Local/6001@callee-sim-00000007;1")
        self.assertNotIn("Privilege", related[1])
        self.assertEqual(related[3]["EventList"], "Complete")
        self.assertEqual(related[3]["ListItems"], "2")

    def test_status_with_variables(self):
        """
        Status with Variables: one Status event with repeated Variable
        headers and the ActionID last.
        """
        _, messages = messages_of("ami-coreshowchannels.txt")
        [status] = [m for m in messages if m.action_id == "status-one" and m.name == "Status"]
        self.assertEqual(status["Privilege"], "Call")
        self.assertEqual(status.get("Variable"), "FTS_CAMPAIGN=1")
        self.assertEqual(status.getall("variable"), ["FTS_CAMPAIGN=1", "FTS_CONTACT=42"])
        self.assertEqual(status.headers[-1], ("ActionID", "status-one"))

    def test_getvar_unset_is_empty(self):
        """
        Getvar on an unset variable gives an empty Value, not a missing one.
        """
        _, messages = messages_of("ami-coreshowchannels.txt")
        [unset] = find(messages, ActionID="getvar-3")
        self.assertEqual(unset["Value"], "")
        self.assertIn("Value", unset)

    def test_shutdown(self):
        """
        The Shutdown event says Cleanly, no restart.
        """
        _, messages = messages_of("ami-shutdown.txt")
        [shutdown] = [m for m in messages if m.name == "Shutdown"]
        self.assertEqual(shutdown["Shutdown"], "Cleanly")
        self.assertEqual(shutdown["Restart"], "False")

    def test_dial_begin_has_no_channel(self):
        """
        DialBegin has only Dest* headers: get() of Channel gives the default.
        """
        _, messages = messages_of("ami-login-and-originate-answered.txt")
        dial = [m for m in messages if m.name == "DialBegin"][0]
        self.assertIsNone(dial.get("Channel"))
        self.assertEqual(dial.get("Channel", "-"), "-")
        self.assertNotIn("Channel", dial)
        self.assertIn("DestChannel", dial)
        self.assertRaises(KeyError, lambda: dial["Channel"])


class MessageTests(SynchronousTestCase):
    """
    L{Message} lookups and construction.
    """

    def test_case_insensitive_lookup(self):
        """
        Header names are looked up case-insensitively, parsed or built.
        """
        parsed = FrameParser(False).feed(b"Event: X\r\nUniqueID: 1.2\r\n\r\n")[0]
        built = Message([("Event", "X"), ("UniqueID", "1.2")])
        for message in (parsed, built):
            self.assertEqual(message.get("uniqueid"), "1.2")
            self.assertEqual(message["UNIQUEID"], "1.2")
            self.assertEqual(message.get("UniqueID"), "1.2")
            self.assertIn("uniqueId", message)
        self.assertEqual(parsed, built)

    def test_first_value_of_repeated(self):
        """
        get() gives the first of repeated headers, getall() every one.
        """
        message = FrameParser(False).feed(
            b"Response: Success\r\nOutput: a\r\nOutput: b: c\r\noutput: d\r\n\r\n"
        )[0]
        self.assertEqual(message.get("Output"), "a")
        self.assertEqual(message.getall("Output"), ["a", "b: c", "d"])
        self.assertEqual(message.getall("Nope"), [])

    def test_kinds(self):
        """
        The first header decides the kind; the name is its value.
        """
        self.assertEqual(Message({"Response": "Error"}).kind, "response")
        self.assertEqual(Message({"Event": "Hangup"}).name, "Hangup")
        self.assertEqual(Message({"Action": "Ping"}).kind, "action")
        unknown = Message({"Foo": "bar"})
        self.assertEqual((unknown.kind, unknown.name, unknown.action_id), ("unknown", "", None))

    def test_immutable(self):
        """
        Messages cannot be changed.
        """
        message = Message({"Event": "X"})
        self.assertRaises(AttributeError, setattr, message, "name", "Y")
        self.assertRaises(AttributeError, setattr, message, "other", 1)

    def test_empty_value_and_colon_without_space(self):
        """
        'Name: ' is an empty value; 'Name:value' is tolerated.
        """
        message = FrameParser(False).feed(b"Event: X\r\nA: \r\nB:2\r\n\r\n")[0]
        self.assertEqual(message["A"], "")
        self.assertEqual(message["B"], "2")

    def test_value_at_end_and_first(self):
        """
        The fast lookup finds the first and the last header of a frame.
        """
        message = FrameParser(False).feed(b"Event: X\r\nLast: z\r\n\r\n")[0]
        self.assertEqual(message.get("Event"), "X")
        self.assertEqual(message.get("Last"), "z")
        self.assertIsNone(message.get("Las"))
        self.assertIsNone(message.get("ast"))

    def test_legacy_command_follows(self):
        """
        An Asterisk < 14 'Response: Follows' gives its raw lines as Output.
        """
        data = (
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
            b"line one\nUptime: 5 seconds\n--END COMMAND--\r\n\r\n"
        )
        [message] = FrameParser(False).feed(data)
        self.assertEqual(message.kind, "response")
        self.assertEqual(message.action_id, "c1")
        self.assertEqual(message.getall("Output"), ["line one", "Uptime: 5 seconds"])

    def test_roundtrip(self):
        """
        serialize() then parse gives the same headers, repeats and order kept.
        """
        headers = [("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2"), ("X", "a: b")]
        data = serialize(headers)
        self.assertEqual(
            data,
            b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nX: a: b\r\n\r\n",
        )
        [message] = FrameParser(False).feed(data)
        self.assertEqual(list(message.headers), headers)
        self.assertEqual(message.to_bytes(), data)

    def test_serialize_dict_and_numbers(self):
        """
        serialize() takes a dict and converts values with str().
        """
        self.assertEqual(serialize({"Action": "Ping", "N": 5}), b"Action: Ping\r\nN: 5\r\n\r\n")

    def test_serialize_refuses_line_breaks(self):
        """
        A value or name that would split the message on the wire is refused.
        """
        self.assertRaises(ValueError, serialize, [("Action", "Ping\r\nAction: Logoff")])
        self.assertRaises(ValueError, serialize, [("Bad: name", "x")])
        self.assertRaises(ValueError, serialize, [("", "x")])


class BadInputTests(SynchronousTestCase):
    """
    Bad bytes are reported with what and where, and lose nothing after them.
    """

    def test_line_without_colon(self):
        """
        A first line that is not a header is reported (by frame and byte
        offset) and dropped; the rest of the frame and the next frame
        survive.
        """
        problems = []
        parser = FrameParser(on_problem=problems.append)
        data = (
            b"Asterisk Call Manager/11.0.0\r\n"
            b"Event: A\r\n\r\n"
            b"garbage line\r\nEvent: B\r\n\r\n"
            b"Event: C\r\n\r\n"
        )
        got = parser.feed(data)
        self.assertEqual([m.name for m in got], ["A", "B", "C"])
        self.assertEqual(got[1].headers, (("Event", "B"),))
        [problem] = problems
        self.assertEqual(problem, parser.errors[0])
        self.assertEqual(problem.frame, 1)
        self.assertEqual(problem.offset, 30 + 12)
        self.assertEqual(problem.line, "garbage line")
        self.assertIn("frame 1 at byte 42", str(problem))

    def test_line_without_colon_inside_checked(self):
        """
        With check_lines, a bad line in the middle of a frame is reported at
        once and the frame keeps its other headers.
        """
        parser = FrameParser(expect_banner=False, check_lines=True)
        [message] = parser.feed(b"Event: A\r\nnonsense\r\nX: 1\r\n\r\n")
        self.assertEqual(message.headers, (("Event", "A"), ("X", "1")))
        self.assertEqual([p.line for p in parser.errors], ["nonsense"])

    def test_line_without_colon_inside_lazy(self):
        """
        Without check_lines, a bad line in the middle of a frame is dropped
        and listed in the message's problems.
        """
        parser = FrameParser(expect_banner=False, check_lines=False)
        [message] = parser.feed(b"Event: A\r\nnonsense\r\nX: 1\r\n\r\n")
        self.assertEqual(message.get("X"), "1")
        self.assertEqual(message.headers, (("Event", "A"), ("X", "1")))
        self.assertEqual(message.problems, ("nonsense",))

    def test_garbage_frame_dropped(self):
        """
        A frame with no header at all is reported and dropped.
        """
        parser = FrameParser(expect_banner=False)
        got = parser.feed(b"\x00\xff junk\r\n\r\nEvent: After\r\n\r\n")
        self.assertEqual([m.name for m in got], ["After"])
        self.assertEqual(len(parser.errors), 2)
        self.assertIsInstance(parser.errors[0], ParseProblem)

    def test_blank_lines_between_frames(self):
        """
        Extra empty lines between frames are skipped silently.
        """
        for data in (
            b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n",
            b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\n\r\n",
            b"Event: A\r\n\r\n\nEvent: B\r\n\r\n\r\n\r\n\r\n\r\n",
        ):
            parser = FrameParser(expect_banner=False)
            got = parser.feed(data)
            self.assertEqual([m.name for m in got], ["A", "B"], data)
            self.assertEqual(parser.errors, [], data)

    def test_missing_banner(self):
        """
        A client parser that gets a header instead of the banner reports it
        and parses the header as a message.
        """
        parser = FrameParser()
        got = parser.feed(b"Event: A\r\nX: 1\r\n\r\n")
        self.assertEqual([m.name for m in got], ["A"])
        self.assertIsNone(parser.banner)
        self.assertIn("banner", parser.errors[0].what)

    def test_odd_banner(self):
        """
        A banner line that is not Asterisk's is kept and reported.
        """
        parser = FrameParser()
        self.assertEqual(parser.feed(b"SSH-2.0-OpenSSH\r\nEvent: A\r\n\r\n")[0].name, "A")
        self.assertEqual(parser.banner, "SSH-2.0-OpenSSH")
        self.assertEqual(len(parser.errors), 1)

    def test_banner_split(self):
        """
        A banner cut anywhere is still read whole.
        """
        parser = FrameParser()
        self.assertEqual(parser.feed(b"Asterisk Call Man"), [])
        self.assertEqual(parser.feed(b"ager/11.0.0\r"), [])
        self.assertEqual(parser.feed(b"\nResponse: Success\r\n\r"), [])
        self.assertEqual(parser.feed(b"\n")[0].name, "Success")
        self.assertEqual(parser.banner, "Asterisk Call Manager/11.0.0")

    def test_oversized_frame(self):
        """
        A frame that grows past the limit is reported and skipped up to the
        next frame boundary; the following frame is parsed.
        """
        parser = FrameParser(expect_banner=False, max_frame_bytes=1000)
        self.assertEqual(parser.feed(b"Event: Huge\r\nX: " + b"y" * 1500), [])
        self.assertEqual(len(parser.errors), 1)
        self.assertLessEqual(parser.buffered, 3)
        self.assertEqual(parser.feed(b"y" * 5000), [])
        got = parser.feed(b"yy\r\n\r\nEvent: Next\r\n\r\n")
        self.assertEqual([m.name for m in got], ["Next"])

    def test_invalid_utf8(self):
        """
        Bytes that are not UTF-8 are replaced, not fatal.
        """
        [message] = FrameParser(False).feed(b"Event: A\r\nCallerIDName: Jos\xe9\r\n\r\n")
        self.assertEqual(message["CallerIDName"], "Jos\ufffd")

    def test_errors_bounded(self):
        """
        The parser keeps only the most recent problems.
        """
        parser = FrameParser(expect_banner=False, max_errors=5)
        parser.feed(b"junk\r\n\r\n" * 50)
        self.assertEqual(len(parser.errors), 5)
