"""
Tests for L{fts.core.validation}.
"""

from datetime import UTC, datetime, time

import attr
from twisted.trial.unittest import SynchronousTestCase

from fts.core.campaign import (
    Action,
    AmdMode,
    AmdSettings,
    AudioPart,
    CallerId,
    CampaignSettings,
    FieldPart,
    KeyOption,
    Menu,
    Pacing,
    RecipientHours,
    Replay,
    RetryPolicy,
    RetryRule,
    SayMode,
    Schedule,
    TextPart,
    Window,
    settings_to_dict,
)
from fts.core.validation import (
    Problem,
    ValidationContext,
    check_campaign_data,
    validate_campaign,
)

CONTEXT = ValidationContext(
    list_ids={7},
    list_columns={"phone", "first_name", "amount", "tz"},
    tts_available=True,
    audio_asset_ids={3, 8, 9},
    dnc_list_ids={1, 2},
)

VALID = CampaignSettings(
    name="March reminders",
    list_id=7,
    dnc_list_ids=(1,),
    caller_id=CallerId("+15550100", "Acme Clinic"),
    message=(AudioPart(3), TextPart("Hello {first_name}"), FieldPart("amount", SayMode.MONEY)),
    menu=Menu(
        options=(
            KeyOption("1", Action.RECORD, "confirm"),
            KeyOption("2", Action.QUEUE, "agent", "sales-queue"),
            KeyOption("3", Action.DIAL, "office", "PJSIP/1000@office"),
            KeyOption("4", Action.DIAL, "mobile", "+15550199"),
            KeyOption("9", Action.OPTOUT, "stop", message=(AudioPart(9),)),
            KeyOption("*", Action.REPEAT, "again"),
            KeyOption("#", Action.HANGUP, "bye"),
        ),
    ),
    amd=AmdSettings(AmdMode.MACHINE_MESSAGE, (AudioPart(8),), {"greeting": 1500}),
    schedule=Schedule(
        "America/New_York",
        datetime(2026, 3, 2, 8),
        datetime(2026, 3, 31, 20),
        (
            Window(0, time(9), time(12)),
            Window(0, time(14), time(17)),
            Window(4, time(22), time(2)),
            Window(5, time(9), time(0)),
        ),
        RecipientHours(time(9), time(20), "tz"),
    ),
    dial_string="PJSIP/{number}@trunk",
)


def change(**changes):
    """A copy of the valid settings with some fields changed."""
    return attr.evolve(VALID, **changes)


class ValidationTestCase(SynchronousTestCase):
    def problems(self, settings, context=CONTEXT):
        return validate_campaign(settings, context)

    def assertOnly(self, settings, path, message, context=CONTEXT):
        """The settings have exactly one problem, at path, with message."""
        self.assertEqual(self.problems(settings, context), [Problem(path, message)])

    def assertPaths(self, settings, paths, context=CONTEXT):
        self.assertEqual([p.path for p in self.problems(settings, context)], paths)


class ValidTests(ValidationTestCase):
    """
    Correct settings have no problems.
    """

    def test_valid(self):
        """The reference settings validate cleanly."""
        self.assertEqual(self.problems(VALID), [])

    def test_default_dial_string(self):
        """An empty dial string is fine when a default is configured."""
        context = attr.evolve(CONTEXT, default_dial_string="Local/{number}@callee-sim")
        self.assertEqual(self.problems(change(dial_string=""), context), [])

    def test_template(self):
        """A template needs no list, dates or windows, and its placeholders are not checked."""
        template = change(list_id=None, schedule=Schedule("Europe/Berlin"),
                          message=(TextPart("Hi {anything}"),))
        context = attr.evolve(CONTEXT, is_template=True, list_columns=())
        self.assertEqual(self.problems(template, context), [])


class IdentityTests(ValidationTestCase):
    """
    Name, list, DNC lists and caller ID.
    """

    def test_missing_name(self):
        """A blank name is a problem."""
        self.assertOnly(change(name="  "), "name", "Give the campaign a name.")

    def test_long_name(self):
        """A name over 200 characters is a problem."""
        self.assertOnly(change(name="x" * 201), "name", "The name is longer than 200 characters.")

    def test_name_control_characters(self):
        """A name with a line break is a problem."""
        self.assertPaths(change(name="a\nb"), ["name"])

    def test_no_list(self):
        """A campaign without a list is a problem."""
        self.assertOnly(change(list_id=None), "list_id", "Choose a contact list.")

    def test_unknown_list(self):
        """A list that does not exist is a problem."""
        self.assertOnly(change(list_id=99), "list_id", "Contact list 99 does not exist.")

    def test_unknown_dnc_list(self):
        """A DNC list that does not exist is a problem at its index."""
        self.assertOnly(change(dnc_list_ids=(1, 5)), "dnc_list_ids[1]", "DNC list 5 does not exist.")

    def test_missing_caller_id(self):
        """A missing caller ID number is a problem."""
        self.assertOnly(change(caller_id=CallerId("", "x")), "caller_id.number", "Set the caller ID number.")

    def test_bad_caller_id(self):
        """A caller ID number with anything but digits (and a leading +) is a problem."""
        for number in ("555-0100", "12", "+", "1" * 21, "15550100 ", "++15550100"):
            self.assertOnly(
                change(caller_id=CallerId(number)), "caller_id.number",
                f"Caller ID number {number!r} must be 3 to 20 digits, optionally starting with +.",
            )

    def test_caller_name(self):
        """A caller ID name that is too long or has quotes or brackets is a problem."""
        self.assertOnly(change(caller_id=CallerId("5550100", 'Acme "Clinic"')), "caller_id.name",
                        'The caller ID name cannot contain ", < or >.')
        self.assertOnly(change(caller_id=CallerId("5550100", "x" * 41)), "caller_id.name",
                        "The caller ID name is longer than 40 characters.")

    def test_language(self):
        """
        A language is empty (the default) or a code like en, fr, en-gb or
        pt_BR; anything else is a problem at C{language}.
        """
        for good in ("", "en", "fr", "en-gb", "pt_BR", "yue"):
            self.assertEqual(self.problems(change(language=good)), [], good)
        for bad in ("english", "EN", "e", "fr;rm -rf", "en-", "../en"):
            self.assertOnly(change(language=bad), "language",
                            f"Language {bad!r} is not a language code like en, fr or en-gb"
                            " (leave it empty for the default).")
        self.assertPaths(change(caller_id=CallerId("5550100", "a\r\nAction: Hangup")), ["caller_id.name"])


class MessageTests(ValidationTestCase):
    """
    Message parts.
    """

    def test_no_parts(self):
        """A campaign without message parts is a problem."""
        self.assertOnly(change(message=()), "message",
                        "Add at least one message part (audio, text-to-speech or a field).")

    def test_missing_audio(self):
        """An audio part naming a missing asset is a problem."""
        self.assertOnly(change(message=(AudioPart(4),)), "message[0].asset_id",
                        "Part 1 of the message plays audio 4, which does not exist.")

    def test_unknown_placeholder(self):
        """A placeholder that is not a list column is a problem naming the columns."""
        self.assertOnly(
            change(message=(AudioPart(3), TextPart("Hi {first_nme}"))), "message[1].text",
            "Part 2 of the message uses {first_nme}, which is not a column of the list"
            " (columns: amount, first_name, phone, tz).",
        )

    def test_each_unknown_placeholder_once(self):
        """Each unknown placeholder is reported once, however often it appears."""
        problems = self.problems(change(message=(TextPart("{a} {b} {a}"),)))
        self.assertEqual(len(problems), 2)

    def test_malformed_placeholder(self):
        """An unbalanced brace is a problem."""
        self.assertOnly(change(message=(TextPart("Hi {first_name"),)), "message[0].text",
                        "Part 1 of the message: Unbalanced { or } in the text;"
                        " write {{ or }} for a literal brace.")

    def test_empty_text(self):
        """A text part without text is a problem."""
        self.assertOnly(change(message=(TextPart(" "),)), "message[0].text",
                        "Part 1 of the message has no text to speak.")

    def test_tts_without_engine(self):
        """Text-to-speech without an engine is a problem telling to install espeak-ng."""
        context = attr.evolve(CONTEXT, tts_available=False)
        problems = self.problems(VALID, context)
        self.assertEqual([p.path for p in problems], ["message[1]"])
        self.assertIn("install espeak-ng", problems[0].message)

    def test_unknown_field(self):
        """A spoken field that is not a list column is a problem."""
        self.assertOnly(
            change(message=(FieldPart("amt", SayMode.MONEY),)), "message[0].field",
            "Part 1 of the message speaks the field 'amt', which is not a column of the list"
            " (columns: amount, first_name, phone, tz).",
        )

    def test_empty_field(self):
        """A spoken field without a field name is a problem."""
        self.assertOnly(change(message=(FieldPart(""),)), "message[0].field",
                        "Part 1 of the message does not say which field to speak.")

    def test_bad_mode(self):
        """A spoken field with an unknown mode is a problem."""
        self.assertPaths(change(message=(FieldPart("amount", "shout"),)), ["message[0].mode"])

    def test_not_a_part(self):
        """Something that is not a message part is a problem."""
        self.assertPaths(change(message=("hello",)), ["message[0]"])

    def test_many_columns_shortened(self):
        """A long column list is cut short in messages."""
        context = attr.evolve(CONTEXT, list_columns={f"c{i:02}" for i in range(30)})
        problems = self.problems(change(message=(TextPart("{x}"),)), context)
        message = [p for p in problems if p.path == "message[0].text"][0].message
        self.assertIn("c11, ...", message)


class MenuTests(ValidationTestCase):
    """
    Options per key and the invalid/no-key handling.
    """

    def menu(self, *options, **kwargs):
        return change(menu=Menu(options=options, **kwargs))

    def test_bad_key(self):
        """A key outside 0-9 * # is a problem."""
        for key in ("A", "10", "", 1):
            self.assertOnly(self.menu(KeyOption(key, Action.HANGUP)), "menu.options[0].key",
                            f"Option 1 uses key {str(key)!r}; keys are 0-9, * and #.")

    def test_duplicate_key(self):
        """A key used twice is a problem on the second use."""
        self.assertOnly(
            self.menu(KeyOption("1", Action.HANGUP), KeyOption("2", Action.HANGUP), KeyOption("1", Action.RECORD)),
            "menu.options[2].key", "Key 1 is set twice (options 1 and 3).",
        )

    def test_unknown_action(self):
        """An unknown action is a problem."""
        self.assertPaths(self.menu(KeyOption("1", "fax")), ["menu.options[0].action"])

    def test_queue_target(self):
        """A queue transfer needs a valid queue name."""
        self.assertOnly(self.menu(KeyOption("2", Action.QUEUE)), "menu.options[0].target",
                        "Key 2 transfers to a queue but names none.")
        self.assertOnly(self.menu(KeyOption("2", Action.QUEUE, target="sales,t")), "menu.options[0].target",
                        "Key 2 names the queue 'sales,t'; a queue name may only contain letters,"
                        " digits, '-', '_' and '.'.")

    def test_dial_target(self):
        """A dial transfer needs a phone number or a dial string."""
        self.assertOnly(self.menu(KeyOption("3", Action.DIAL)), "menu.options[0].target",
                        "Key 3 transfers the call but has no number or dial string.")
        for target in ("office", "PJSIP/1000,30", "PJSIP/", "555 0100"):
            self.assertOnly(self.menu(KeyOption("3", Action.DIAL, target=target)), "menu.options[0].target",
                            f"Key 3 transfers to {target!r}, which is neither a phone number nor a"
                            " dial string like PJSIP/1000.")

    def test_label(self):
        """A label over 80 characters is a problem."""
        self.assertOnly(self.menu(KeyOption("1", Action.RECORD, "x" * 81)), "menu.options[0].label",
                        "The label of key 1 is longer than 80 characters.")

    def test_option_message(self):
        """An option's own message parts are checked."""
        self.assertOnly(self.menu(KeyOption("9", Action.OPTOUT, message=(AudioPart(77),))),
                        "menu.options[0].message[0].asset_id",
                        "Part 1 of key 9's message plays audio 77, which does not exist.")

    def test_wait_seconds(self):
        """The wait for a key must be 1 to 60 seconds when keys are offered."""
        self.assertOnly(self.menu(KeyOption("1", Action.RECORD), wait_seconds=0), "menu.wait_seconds",
                        "The wait for a key must be a whole number from 1 to 60 seconds; got 0.")
        self.assertEqual(self.problems(self.menu(wait_seconds=0)), [])

    def test_replays(self):
        """Replays on invalid or no key must be 0 to 10."""
        self.assertPaths(
            self.menu(invalid_key=Replay(-1), no_key=Replay(11)),
            ["menu.invalid_key.replays", "menu.no_key.replays"],
        )

    def test_replay_message(self):
        """Replay messages are checked."""
        self.assertOnly(self.menu(no_key=Replay(1, (AudioPart(42),))), "menu.no_key.message[0].asset_id",
                        "Part 1 of the message on no key plays audio 42, which does not exist.")


class AmdTests(ValidationTestCase):
    """
    Answering-machine detection settings.
    """

    def test_machine_message_required(self):
        """Playing a machine message needs one."""
        self.assertOnly(change(amd=AmdSettings(AmdMode.MACHINE_MESSAGE)), "amd.machine_message",
                        "Answering machines get a message, but the machine message has no parts.")

    def test_machine_message_parts(self):
        """Machine message parts are checked."""
        self.assertPaths(change(amd=AmdSettings(AmdMode.HANGUP, (AudioPart(1),))), ["amd.machine_message[0].asset_id"])

    def test_unknown_mode(self):
        """An unknown AMD mode is a problem."""
        self.assertPaths(change(amd=AmdSettings("guess")), ["amd.mode"])

    def test_parameters(self):
        """Unknown AMD parameters and values out of range are problems."""
        amd = AmdSettings(AmdMode.HANGUP, parameters={"greeting": 0, "maximum_number_of_words": 101,
                                                       "loudness": 3, "silence_threshold": 256})
        problems = self.problems(change(amd=amd))
        self.assertEqual([p.path for p in problems],
                         ["amd.parameters.greeting", "amd.parameters.loudness", "amd.parameters.maximum_number_of_words"])
        self.assertEqual(problems[0].message, "AMD greeting must be a whole number from 1 to 60000; got 0.")
        self.assertIn("known: initial_silence, greeting", problems[1].message)


class ScheduleTests(ValidationTestCase):
    """
    Timezone, dates, windows and recipient hours.
    """

    def schedule(self, **changes):
        return change(schedule=attr.evolve(VALID.schedule, **changes))

    def windows(self, *windows):
        return self.schedule(windows=tuple(Window(d, time.fromisoformat(a), time.fromisoformat(b))
                                           for d, a, b in windows))

    def test_unknown_timezone(self):
        """An unknown timezone is a problem."""
        self.assertOnly(self.schedule(timezone="Europe/Atlantis"), "schedule.timezone",
                        "Unknown timezone 'Europe/Atlantis'; use a name like Europe/Berlin.")

    def test_missing_dates(self):
        """A campaign needs a start and an end."""
        self.assertPaths(self.schedule(start=None, end=None), ["schedule.start", "schedule.end"])

    def test_aware_dates(self):
        """Dates with an offset are a problem: they are local to the campaign."""
        self.assertPaths(self.schedule(start=datetime(2026, 3, 2, tzinfo=UTC)), ["schedule.start"])

    def test_end_before_start(self):
        """The end must be after the start."""
        self.assertOnly(self.schedule(end=datetime(2026, 3, 1)), "schedule.end",
                        "The end (2026-03-01 00:00) must be after the start (2026-03-02 08:00).")
        self.assertPaths(self.schedule(end=VALID.schedule.start), ["schedule.end"])

    def test_end_passed(self):
        """An end already past is a problem when now is known."""
        context = attr.evolve(CONTEXT, now=datetime(2026, 4, 1, tzinfo=UTC))
        self.assertOnly(VALID, "schedule.end", "The end (2026-03-31 20:00) has already passed.", context)

    def test_no_windows(self):
        """A campaign needs a calling window."""
        self.assertOnly(self.schedule(windows=()), "schedule.windows", "Add at least one calling window.")

    def test_no_window_between_dates(self):
        """Windows that never fall between start and end are a problem."""
        self.assertOnly(
            self.schedule(start=datetime(2026, 3, 3, 8), end=datetime(2026, 3, 5, 8)),
            "schedule.windows",
            "No calling window falls between the start (2026-03-03 08:00) and the end (2026-03-05 08:00).",
        )

    def test_bad_weekday(self):
        """A weekday outside 0-6 is a problem."""
        self.assertOnly(self.windows((7, "09:00", "10:00")), "schedule.windows[0].weekday",
                        "Window 1 has weekday 7; use 0 (Monday) to 6 (Sunday).")

    def test_same_start_and_end(self):
        """A window starting and ending at the same time is a problem (except 00:00-00:00)."""
        self.assertOnly(self.windows((0, "09:00", "09:00")), "schedule.windows[0]",
                        "Window 1 on Monday starts and ends at 09:00; use 00:00-00:00 for the whole day.")
        self.assertEqual(self.problems(self.windows((0, "00:00", "00:00"))), [])

    def test_overlap_same_day(self):
        """Overlapping windows on a day are a problem naming both."""
        self.assertOnly(
            self.windows((0, "09:00", "12:00"), (0, "13:00", "14:00"), (0, "10:00", "11:00")),
            "schedule.windows[2]", "Window 3 on Monday overlaps window 1 (09:00-12:00).",
        )

    def test_touching_windows(self):
        """Windows that only touch do not overlap."""
        self.assertEqual(self.problems(self.windows((0, "09:00", "12:00"), (0, "12:00", "14:00"))), [])

    def test_overlap_spill_over(self):
        """A window crossing midnight overlaps the next morning's window."""
        self.assertOnly(
            self.windows((0, "22:00", "02:00"), (1, "01:00", "03:00")),
            "schedule.windows[1]",
            "Window 2 on Tuesday overlaps window 1 (Monday 22:00-02:00, continuing past midnight).",
        )

    def test_overlap_spill_over_week_wrap(self):
        """A Sunday window crossing midnight overlaps Monday's early window."""
        self.assertPaths(self.windows((6, "23:00", "01:00"), (0, "00:30", "02:00")), ["schedule.windows[1]"])

    def test_overlap_whole_day(self):
        """A whole-day window overlaps any other window that day."""
        self.assertPaths(self.windows((2, "00:00", "00:00"), (2, "23:00", "00:00")), ["schedule.windows[1]"])

    def test_spill_over_touching(self):
        """A window crossing midnight may end exactly where the next one starts."""
        self.assertEqual(self.problems(self.windows((0, "22:00", "02:00"), (1, "02:00", "05:00"))), [])

    def test_every_overlap(self):
        """A window overlapping several is reported once per pair."""
        self.assertPaths(
            self.windows((0, "09:00", "10:00"), (0, "11:00", "12:00"), (0, "08:00", "13:00")),
            ["schedule.windows[2]", "schedule.windows[2]"],
        )

    def test_recipient_hours_same_time(self):
        """Recipient hours starting and ending at the same time are a problem."""
        self.assertOnly(self.schedule(recipient_hours=RecipientHours(time(9), time(9), "tz")),
                        "schedule.recipient_hours",
                        "Recipient hours start and end at 09:00; use 00:00-00:00 for the whole day.")

    def test_recipient_timezone_column(self):
        """Recipient hours need a timezone column of the list."""
        self.assertOnly(self.schedule(recipient_hours=RecipientHours(time(9), time(20))),
                        "schedule.recipient_hours.timezone_column",
                        "Choose the list column that holds each contact's timezone.")
        self.assertPaths(self.schedule(recipient_hours=RecipientHours(time(9), time(20), "zone")),
                         ["schedule.recipient_hours.timezone_column"])


class PacingRetryDialTests(ValidationTestCase):
    """
    Pacing numbers, retry policy and the dial string.
    """

    def test_pacing_ranges(self):
        """Pacing numbers must be positive and sane."""
        for field, bad in (
            ("max_channels", 0), ("max_channels", 1001), ("max_channels", 2.5),
            ("cps", 0), ("cps", -1), ("cps", 101), ("cps", True),
            ("priority", 0), ("priority", 101),
            ("ring_timeout", 4), ("ring_timeout", 301),
            ("max_call_duration", 9), ("max_call_duration", 14401),
        ):
            self.assertPaths(change(pacing=attr.evolve(Pacing(), **{field: bad})), [f"pacing.{field}"])

    def test_pacing_message(self):
        """Pacing problems say the allowed range."""
        self.assertOnly(change(pacing=Pacing(max_channels=0)), "pacing.max_channels",
                        "Max channels must be a whole number from 1 to 1000; got 0.")
        self.assertOnly(change(pacing=Pacing(cps=0)), "pacing.cps",
                        "Calls per second must be more than 0 and at most 100; got 0.")

    def test_max_attempts(self):
        """Max attempts must be at least 1."""
        self.assertOnly(change(retry=RetryPolicy(max_attempts=0)), "retry.max_attempts",
                        "Max attempts must be a whole number from 1 to 20; got 0.")

    def test_negative_delays(self):
        """Every retry delay must be zero or more."""
        policy = RetryPolicy(busy=RetryRule(True, -1), no_answer=RetryRule(True, -1),
                             failed=RetryRule(True, -1), machine=RetryRule(True, -1),
                             answered_without_key=RetryRule(True, -1))
        problems = self.problems(change(retry=policy))
        self.assertEqual([p.path for p in problems],
                         ["retry.busy.delay", "retry.no_answer.delay", "retry.failed.delay",
                          "retry.machine.delay", "retry.answered_without_key.delay"])
        self.assertEqual(problems[0].message, "The retry delay for busy lines must be 0 or more seconds; got -1.")

    def test_long_delay(self):
        """A delay over 30 days is a problem."""
        self.assertPaths(change(retry=RetryPolicy(busy=RetryRule(True, 31 * 86400))), ["retry.busy.delay"])

    def test_retry_flag(self):
        """The retry flag must be a boolean."""
        self.assertPaths(change(retry=RetryPolicy(busy=RetryRule("yes", 1))), ["retry.busy.retry"])

    def test_dial_string_without_number(self):
        """A dial string without {number} is a problem."""
        self.assertOnly(change(dial_string="PJSIP/100@trunk"), "dial_string",
                        "The dial string 'PJSIP/100@trunk' has no {number}; for example PJSIP/{number}@trunk.")

    def test_dial_string_technology(self):
        """A dial string must start with a technology."""
        self.assertPaths(change(dial_string="{number}@trunk"), ["dial_string"])

    def test_dial_string_spaces(self):
        """A dial string with spaces or line breaks is a problem."""
        self.assertPaths(change(dial_string="PJSIP/{number}@trunk\r\nAction: Hangup"), ["dial_string"])

    def test_dial_string_other_placeholder(self):
        """Only {number} may be filled in."""
        self.assertOnly(change(dial_string="PJSIP/{number}@{trunk}"), "dial_string",
                        "The dial string uses {trunk}; only {number} can be filled in.")

    def test_dial_string_unbalanced(self):
        """An unbalanced brace in the dial string is a problem."""
        self.assertPaths(change(dial_string="PJSIP/{number}@trunk}"), ["dial_string"])

    def test_no_dial_string(self):
        """No dial string and no default is a problem."""
        self.assertOnly(change(dial_string=""), "dial_string",
                        "Set a dial string such as PJSIP/{number}@trunk; no default is configured.")

    def test_bad_default(self):
        """A bad configured default is reported as such."""
        context = attr.evolve(CONTEXT, default_dial_string="Local/1000")
        problems = self.problems(change(dial_string=""), context)
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].message.startswith("The configured default dial string"))


class AllTogetherTests(ValidationTestCase):
    """
    Every problem is reported at once, in field order.
    """

    def test_all_problems(self):
        """Settings wrong everywhere yield every problem together."""
        bad = CampaignSettings(
            name="",
            list_id=None,
            dnc_list_ids=(5,),
            caller_id=CallerId("abc"),
            message=(),
            menu=Menu(options=(KeyOption("X", Action.DIAL),), wait_seconds=0),
            amd=AmdSettings(AmdMode.MACHINE_MESSAGE),
            schedule=Schedule("Nowhere/City", datetime(2026, 3, 2), datetime(2026, 3, 1),
                              (Window(0, time(9), time(12)), Window(0, time(11), time(13)))),
            pacing=Pacing(max_channels=0, cps=0, priority=0, ring_timeout=0, max_call_duration=0),
            retry=RetryPolicy(max_attempts=0, busy=RetryRule(True, -5)),
            dial_string="SIP/trunk",
        )
        context = attr.evolve(CONTEXT, tts_available=False)
        self.assertEqual(
            [p.path for p in self.problems(bad, context)],
            [
                "name", "list_id", "dnc_list_ids[0]", "caller_id.number", "message",
                "menu.options[0].key", "menu.options[0].target", "menu.wait_seconds",
                "amd.machine_message", "schedule.timezone", "schedule.end", "schedule.windows[1]",
                "pacing.max_channels", "pacing.cps", "pacing.priority", "pacing.ring_timeout",
                "pacing.max_call_duration", "retry.max_attempts", "retry.busy.delay", "dial_string",
            ],
        )

    def test_check_data_valid(self):
        """check_campaign_data reads and validates the JSON form."""
        settings, problems = check_campaign_data(settings_to_dict(VALID), CONTEXT)
        self.assertEqual((settings, problems), (VALID, []))

    def test_check_data_semantic(self):
        """check_campaign_data returns the settings with their validation problems."""
        settings, problems = check_campaign_data({"name": "x"}, CONTEXT)
        self.assertEqual(settings, CampaignSettings(name="x"))
        self.assertIn("list_id", [p.path for p in problems])

    def test_check_data_malformed(self):
        """check_campaign_data returns every malformed field and no settings."""
        settings, problems = check_campaign_data({"name": 1, "pacing": {"cps": "x"}}, CONTEXT)
        self.assertIsNone(settings)
        self.assertEqual([p.path for p in problems], ["name", "pacing.cps"])
