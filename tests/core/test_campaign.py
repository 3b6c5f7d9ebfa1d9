"""
Tests for L{fts.core.campaign}.
"""

import json
from datetime import datetime, time

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
    SettingsError,
    TextPart,
    Window,
    placeholders,
    render_dial_string,
    render_text,
    settings_from_dict,
    settings_to_dict,
)
from fts.core.problems import Problem


def full_settings():
    """Settings with every field away from its default."""
    return CampaignSettings(
        name="March reminders",
        list_id=7,
        dnc_list_ids=(1, 4),
        caller_id=CallerId("+15550100", "Acme Clinic"),
        message=(
            AudioPart(3),
            TextPart("Hello {first_name}, your appointment is on"),
            FieldPart("appointment", SayMode.DATE),
        ),
        menu=Menu(
            options=(
                KeyOption("1", Action.RECORD, "confirm"),
                KeyOption("2", Action.QUEUE, "agent", "sales", (TextPart("Transferring you."),)),
                KeyOption("#", Action.DIAL, "office", "PJSIP/1000@office"),
                KeyOption("9", Action.OPTOUT, "stop", message=(AudioPart(9),)),
            ),
            wait_seconds=7,
            invalid_key=Replay(2, (AudioPart(5),)),
            no_key=Replay(0),
        ),
        amd=AmdSettings(AmdMode.MACHINE_MESSAGE, (AudioPart(8),), {"greeting": 1500, "initial_silence": 2500}),
        schedule=Schedule(
            "America/New_York",
            datetime(2026, 3, 2, 8, 0),
            datetime(2026, 3, 31, 20, 30, 15),
            (Window(0, time(9), time(12)), Window(4, time(22), time(2, 0, 30))),
            RecipientHours(time(9), time(20), "tz"),
        ),
        pacing=Pacing(25, 2.5, 3, 40, 900),
        retry=RetryPolicy(5, RetryRule(True, 60), RetryRule(False, 0), RetryRule(True, 7),
                          RetryRule(True, 8), RetryRule(True, 9)),
        dial_string="PJSIP/{number}@trunk",
    )


class JsonFormTests(SynchronousTestCase):
    """
    Settings convert to plain JSON-able data and back without loss.
    """

    def test_round_trip(self):
        """Full settings survive a trip through JSON text unchanged."""
        settings = full_settings()
        text = json.dumps(settings_to_dict(settings))
        self.assertEqual(settings_from_dict(json.loads(text)), settings)

    def test_defaults_round_trip(self):
        """Default settings survive the trip too."""
        self.assertEqual(settings_from_dict(settings_to_dict(CampaignSettings())), CampaignSettings())

    def test_empty_object_is_defaults(self):
        """Missing keys take their defaults."""
        self.assertEqual(settings_from_dict({}), CampaignSettings())

    def test_shapes(self):
        """Times, date-times, parts, enums and AMD parameters have readable JSON forms."""
        data = settings_to_dict(full_settings())
        self.assertEqual(data["message"][0], {"type": "audio", "asset_id": 3})
        self.assertEqual(data["message"][2], {"type": "field", "field": "appointment", "mode": "date"})
        self.assertEqual(data["schedule"]["windows"][1], {"weekday": 4, "start": "22:00", "end": "02:00:30"})
        self.assertEqual(data["schedule"]["start"], "2026-03-02T08:00:00")
        self.assertEqual(data["amd"]["parameters"], {"greeting": 1500, "initial_silence": 2500})
        self.assertEqual(data["amd"]["mode"], "machine_message")
        self.assertEqual(data["menu"]["options"][2]["action"], "dial")
        self.assertEqual(data["schedule"]["recipient_hours"], {"start": "09:00", "end": "20:00", "timezone_column": "tz"})

    def test_partial_object(self):
        """A nested object may give only some of its keys."""
        settings = settings_from_dict({"pacing": {"cps": 3}, "schedule": {"windows": [
            {"weekday": 1, "start": "09:30", "end": "17:00"}]}})
        self.assertEqual(settings.pacing, Pacing(cps=3.0))
        self.assertEqual(settings.schedule.windows, (Window(1, time(9, 30), time(17)),))

    def test_other_class(self):
        """Any settings class can be read on its own."""
        self.assertEqual(
            settings_from_dict({"weekday": 2, "start": "08:00", "end": "09:00"}, Window),
            Window(2, time(8), time(9)),
        )


class MalformedTests(SynchronousTestCase):
    """
    Malformed data is reported field by field, all at once.
    """

    def problems(self, data, cls=CampaignSettings):
        with self.assertRaises(SettingsError) as caught:
            settings_from_dict(data, cls)
        return caught.exception.problems

    def test_all_problems_together(self):
        """Every malformed field is reported in one error."""
        problems = self.problems({
            "name": 3,
            "list_id": True,
            "bogus": 1,
            "message": [{"type": "video"}, {"type": "audio"}, "hello"],
            "menu": {"options": [{"key": "1", "action": "teleport"}]},
            "amd": {"parameters": {"greeting": "long"}},
            "schedule": {
                "start": "2026-03-02T09:00+01:00",
                "end": "next tuesday",
                "windows": [{"weekday": 1, "start": "25:00", "end": "10:00"}, {"weekday": 2}],
            },
            "pacing": {"cps": "fast"},
            "retry": {"busy": {"retry": "yes"}},
        })
        self.assertEqual(
            [p.path for p in problems],
            [
                "bogus",
                "name",
                "list_id",
                "message[0]",
                "message[1].asset_id",
                "message[2]",
                "menu.options[0].action",
                "amd.parameters.greeting",
                "schedule.start",
                "schedule.end",
                "schedule.windows[0].start",
                "schedule.windows[1].start",
                "schedule.windows[1].end",
                "pacing.cps",
                "retry.busy.retry",
            ],
        )
        messages = {p.path: p.message for p in problems}
        self.assertEqual(messages["bogus"], "Unknown setting 'bogus'.")
        self.assertEqual(messages["name"], "Expected text, got 3.")
        self.assertEqual(messages["list_id"], "Expected a whole number, got True.")
        self.assertIn("'video'", messages["message[0]"])
        self.assertEqual(messages["message[1].asset_id"], "Missing; this setting is required.")
        self.assertIn("record, repeat, queue, dial, optout, hangup", messages["menu.options[0].action"])
        self.assertIn("without a UTC offset", messages["schedule.start"])
        self.assertIn("2026-03-01T09:00", messages["schedule.end"])
        self.assertEqual(messages["schedule.windows[0].start"], "Expected a time like 09:30, got '25:00'.")
        self.assertEqual(messages["retry.busy.retry"], "Expected true or false, got 'yes'.")

    def test_error_text(self):
        """The exception's text lists the problems with their paths."""
        with self.assertRaises(SettingsError) as caught:
            settings_from_dict({"name": None})
        self.assertEqual(str(caught.exception), "Campaign settings are malformed: name: Expected text, got None.")

    def test_root_not_object(self):
        """Data that is not an object is one problem at the root."""
        self.assertEqual(self.problems([1, 2]), [Problem("", "Expected an object, got [1, 2].")])

    def test_list_expected(self):
        """A scalar where a list belongs is reported."""
        self.assertEqual(self.problems({"dnc_list_ids": 5}), [Problem("dnc_list_ids", "Expected a list, got 5.")])

    def test_mapping_expected(self):
        """AMD parameters must be an object."""
        self.assertEqual([p.path for p in self.problems({"amd": {"parameters": [1]}})], ["amd.parameters"])

    def test_null_for_optional(self):
        """null is accepted where a value is optional, and refused where not."""
        self.assertIsNone(settings_from_dict({"schedule": {"recipient_hours": None}}).schedule.recipient_hours)
        self.assertEqual([p.path for p in self.problems({"pacing": {"max_channels": None}})], ["pacing.max_channels"])

    def test_part_not_object(self):
        """A message part that is not an object is reported at its index."""
        self.assertEqual(self.problems({"message": [7]})[0].path, "message[0]")

    def test_long_values_shortened(self):
        """Long bad values are shortened in messages."""
        (problem,) = self.problems({"name": ["x" * 500]})
        self.assertLess(len(problem.message), 100)


class PlaceholderTests(SynchronousTestCase):
    """
    TTS text placeholders are found, checked and filled.
    """

    def test_names(self):
        """Placeholders are listed in order, repeats kept; {{ }} are literal."""
        self.assertEqual(placeholders("Hi {first}, {{not}} {last} {first}"), ["first", "last", "first"])
        self.assertEqual(placeholders("no placeholders"), [])

    def test_spaces_in_names(self):
        """A column name with spaces is a placeholder name."""
        self.assertEqual(placeholders("Dear {first name}"), ["first name"])

    def test_malformed(self):
        """Unbalanced braces, empty and formatted placeholders are clear errors."""
        for text, fragment in (
            ("Hi {first", "Unbalanced"),
            ("Hi first}", "Unbalanced"),
            ("Hi {}", "Empty placeholder"),
            ("Hi {x!r}", "{x!r} has a format"),
            ("Hi {x:>5}", "{x:>5} has a format"),
        ):
            with self.assertRaises(ValueError) as caught:
                placeholders(text)
            self.assertIn(fragment, str(caught.exception))

    def test_render(self):
        """render_text fills fields and leaves missing ones empty."""
        self.assertEqual(
            render_text("Hi {first} {last}, {{ok}} {n}", {"first": "Ann", "n": 3}),
            "Hi Ann , {ok} 3",
        )

    def test_dial_string(self):
        """render_dial_string puts the number into the template."""
        self.assertEqual(render_dial_string("PJSIP/{number}@trunk", "15551234"), "PJSIP/15551234@trunk")
        self.assertEqual(render_dial_string("Local/{number}@callee-sim", "1001"), "Local/1001@callee-sim")


class ModelHelperTests(SynchronousTestCase):
    """
    Small helpers on the settings values.
    """

    def test_menu_option(self):
        """Menu.option finds the option for a key, or None."""
        menu = full_settings().menu
        self.assertEqual(menu.option("#").target, "PJSIP/1000@office")
        self.assertIsNone(menu.option("5"))

    def test_crosses_midnight(self):
        """A window crosses midnight when its end is before its start, not at 00:00."""
        self.assertTrue(Window(0, time(22), time(2)).crosses_midnight)
        self.assertFalse(Window(0, time(20), time(0)).crosses_midnight)
        self.assertFalse(Window(0, time(0), time(0)).crosses_midnight)
        self.assertFalse(Window(0, time(9), time(17)).crosses_midnight)

    def test_amd_arguments(self):
        """AMD() arguments come in Asterisk's order, unset ones blank, trailing ones dropped."""
        self.assertEqual(AmdSettings(parameters={"greeting": 1500, "initial_silence": 2500}).app_arguments(), "2500,1500")
        self.assertEqual(AmdSettings(parameters={"total_analysis_time": 5000}).app_arguments(), ",,,5000")
        self.assertEqual(AmdSettings().app_arguments(), "")

    def test_amd_parameters_hashable(self):
        """AMD parameters given as a mapping are stored as sorted pairs, keeping settings hashable."""
        amd = AmdSettings(parameters={"b_x": 1, "a_x": 2})
        self.assertEqual(amd.parameters, (("a_x", 2), ("b_x", 1)))
        hash(full_settings())

    def test_lists_become_tuples(self):
        """Lists given to tuple fields are stored as tuples."""
        self.assertEqual(CampaignSettings(message=[AudioPart(1)]).message, (AudioPart(1),))
