"""
Tests for L{fts.audio.spoken}.
"""

import datetime
from decimal import Decimal

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.wire import encode_command
from fts.audio.spoken import (
    Currency,
    SayCommand,
    SpokenValueError,
    language_command,
    parse_number,
    say,
)
from fts.core.campaign import SayMode
from fts.pbxsim.agi_commands import parse_args


def steps(commands):
    return [(c.verb, c.value) for c in commands]


class DigitsTests(SynchronousTestCase):
    """SayMode.DIGITS."""

    def test_phone_punctuation_is_dropped(self):
        """A phone number as written is said digit by digit, leading zeros kept."""
        self.assertEqual(steps(say("+1 (555) 012-3456", "digits")), [("SAY DIGITS", "15550123456")])
        self.assertEqual(steps(say("007", SayMode.DIGITS)), [("SAY DIGITS", "007")])

    def test_letters_are_refused(self):
        """Letters cannot be said as digits."""
        error = self.assertRaises(SpokenValueError, say, "12a", "digits")
        self.assertEqual(str(error), "'12a' has characters other than digits.")

    def test_nothing_to_say(self):
        """A value with no digits at all is refused."""
        self.assertRaises(SpokenValueError, say, " - ", "digits")


class NumberTests(SynchronousTestCase):
    """SayMode.NUMBER and reading numbers per language."""

    def test_whole_numbers(self):
        """Whole numbers, with grouping, signs and a zero fraction, become SAY NUMBER."""
        self.assertEqual(steps(say("1,234", "number", "en")), [("SAY NUMBER", 1234)])
        self.assertEqual(steps(say("1.234", "number", "de")), [("SAY NUMBER", 1234)])
        self.assertEqual(steps(say("-12", "number")), [("SAY NUMBER", -12)])
        self.assertEqual(steps(say("42.0", "number")), [("SAY NUMBER", 42)])
        self.assertEqual(steps(say(7, "number")), [("SAY NUMBER", 7)])

    def test_not_a_number(self):
        """'12a' is not a number, and the field is named when known."""
        error = self.assertRaises(SpokenValueError, say, "12a", "number")
        self.assertEqual(str(error), "'12a' is not a number.")
        error = self.assertRaises(SpokenValueError, say, "12a", "number", field="balance")
        self.assertEqual(str(error), "Field balance: '12a' is not a number.")
        self.assertEqual((error.value, error.mode), ("12a", SayMode.NUMBER))

    def test_fractions_and_huge_numbers_are_refused(self):
        """SAY NUMBER speaks whole numbers within 32 bits only."""
        self.assertIn("not a whole number", str(self.assertRaises(SpokenValueError, say, "12.5", "number")))
        self.assertIn("too large", str(self.assertRaises(SpokenValueError, say, "3000000000", "number")))
        self.assertRaises(SpokenValueError, say, True, "number")
        self.assertRaises(SpokenValueError, say, float("nan"), "number")

    def test_parse_number_by_language(self):
        """The language decides which separator is the decimal one when only one is present."""
        cases = [
            ("1,234.5", "en", "1234.5"), ("1.234,5", "de", "1234.5"), ("1 234,5", "fr", "1234.5"),
            ("12,5", "en", "12.5"), ("1,234", "en", "1234"), ("1,234", "fr", "1.234"),
            ("1.234", "en", "1.234"), ("1.234", "pt_BR", "1234"), ("1,234,567", "en", "1234567"),
            ("1'234.50", "de_CH", "1234.50"),
        ]
        for text, language, expected in cases:
            self.assertEqual(parse_number(text, language), Decimal(expected), (text, language))


class DateTimeTests(SynchronousTestCase):
    """SayMode.DATE and SayMode.TIME give epochs Asterisk reads in its own time zone."""

    def test_date_is_noon_that_day_in_the_pbx_zone(self):
        """A date becomes the epoch of noon that day where Asterisk runs."""
        [command] = say("2024-03-05", "date", pbx_timezone="America/New_York")
        self.assertEqual(command.verb, "SAY DATE")
        moment = datetime.datetime.fromtimestamp(command.value, datetime.timezone.utc)
        self.assertEqual(moment, datetime.datetime(2024, 3, 5, 17, 0, tzinfo=datetime.timezone.utc))
        self.assertEqual(say(datetime.date(2024, 3, 5), "date"), say("2024-03-05", "date"))
        self.assertEqual(say("2024-03-05T08:00:00", "date"), say("2024-03-05", "date"))

    def test_time_in_the_pbx_zone(self):
        """A time becomes an epoch whose wall-clock time where Asterisk runs is that time."""
        [command] = say("14:30", "time", pbx_timezone="Europe/Paris")
        self.assertEqual(command.verb, "SAY TIME")
        local = datetime.datetime.fromtimestamp(command.value, datetime.timezone.utc)
        self.assertEqual((local.hour, local.minute), (13, 30))
        self.assertEqual(say("2:30 PM", "time"), say("14:30", "time"))
        self.assertEqual(say("12:05 am", "time"), say("00:05", "time"))
        self.assertEqual(say(datetime.time(14, 30), "time"), say("14:30", "time"))

    def test_bad_dates_and_times(self):
        """Impossible or unreadable dates and times are refused, saying the expected form."""
        self.assertIn("YYYY-MM-DD", str(self.assertRaises(SpokenValueError, say, "05/03/2024", "date")))
        self.assertIn("not a date", str(self.assertRaises(SpokenValueError, say, "2024-02-30", "date")))
        self.assertIn("HH:MM", str(self.assertRaises(SpokenValueError, say, "noon", "time")))
        self.assertRaises(SpokenValueError, say, "25:00", "time")
        self.assertRaises(SpokenValueError, say, "13:00 pm", "time")

    def test_unknown_zone(self):
        """An unknown PBX time zone is a configuration error."""
        self.assertRaises(ValueError, say, "2024-03-05", "date", pbx_timezone="Mars/Olympus")


class MoneyTests(SynchronousTestCase):
    """SayMode.MONEY: numbers with the currency's prompts in between."""

    def test_units_and_cents(self):
        """An amount is units, the unit word, 'and', cents, the cent word."""
        self.assertEqual(
            steps(say("$1,234.56", "money")),
            [("SAY NUMBER", 1234), ("STREAM FILE", "dollars"), ("STREAM FILE", "and"),
             ("SAY NUMBER", 56), ("STREAM FILE", "cents")],
        )

    def test_singulars_zero_and_negative(self):
        """One unit and one cent use the singular prompts; zero says zero units; negatives say minus."""
        self.assertEqual(steps(say("1", "money")), [("SAY NUMBER", 1), ("STREAM FILE", "letters/dollar")])
        self.assertEqual(steps(say("0.01", "money")), [("SAY NUMBER", 1), ("STREAM FILE", "cent")])
        self.assertEqual(steps(say("0", "money")), [("SAY NUMBER", 0), ("STREAM FILE", "dollars")])
        self.assertEqual(steps(say("-2", "money"))[0], ("STREAM FILE", "minus"))

    def test_rounds_to_cents_in_the_language(self):
        """Amounts are read in the campaign's language and rounded to the cent."""
        self.assertEqual(steps(say("12,345", "money", "de"))[-2], ("SAY NUMBER", 35))

    def test_other_currency_prompts(self):
        """A currency with its own prompts is spoken with them."""
        euro = Currency("EUR", "euro", "euros", "centime", "centimes", "et")
        self.assertEqual(
            steps(say("2,50 €", "money", "fr", currency=euro)),
            [("SAY NUMBER", 2), ("STREAM FILE", "euros"), ("STREAM FILE", "et"),
             ("SAY NUMBER", 50), ("STREAM FILE", "centimes")],
        )

    def test_wrong_or_unknown_currency(self):
        """An amount marked in another currency, or a currency without prompts, is refused."""
        error = self.assertRaises(SpokenValueError, say, "12.50 EUR", "money")
        self.assertEqual(str(error), "'12.50 EUR' is in EUR, but the campaign speaks USD.")
        self.assertIn("USD", str(self.assertRaises(ValueError, say, "1", "money", currency="XYZ")))
        self.assertRaises(SpokenValueError, say, "twelve", "money")


class CommandTests(SynchronousTestCase):
    """The commands as they go over the wire or through a session."""

    def test_encoding_round_trips_through_asterisks_parser(self):
        """Encoded commands split back into the verb, value and escape digits Asterisk expects."""
        [command] = say("42", "number")
        line = command.encode("123#").decode().rstrip("\n")
        self.assertEqual(parse_args(line), ["SAY", "NUMBER", "42", "123#"])
        self.assertEqual(parse_args(command.encode().decode().rstrip("\n")), ["SAY", "NUMBER", "42", ""])

    def test_language_command(self):
        """The channel language is set with SET VARIABLE CHANNEL(language)."""
        self.assertEqual(language_command("pt_BR").encode(),
                         encode_command("SET VARIABLE", "CHANNEL(language)", "pt_BR"))
        self.assertRaises(ValueError, language_command, "en; HANGUP")
        self.assertRaises(ValueError, say, "1", "number", "e n")

    def test_send_uses_the_session_verb(self):
        """send() calls the AGI session's method for the verb with the escape digits."""
        calls = []

        class Session:
            def __getattr__(self, name):
                return lambda *args: calls.append((name,) + args) or succeed(None)

        for command in say("1.50", "money"):
            command.send(Session(), "1")
        language_command("fr").send(Session())
        self.assertEqual(calls, [
            ("say_number", 1, "1"), ("stream_file", "letters/dollar", "1"), ("stream_file", "and", "1"),
            ("say_number", 50, "1"), ("stream_file", "cents", "1"),
            ("set_variable", "CHANNEL(language)", "fr"),
        ])

    def test_unknown_mode(self):
        """An unknown mode lists the known ones."""
        error = self.assertRaises(ValueError, say, "1", "spell")
        self.assertIn("digits, number, date, time or money", str(error))
        self.assertIsInstance(say("1", "number")[0], SayCommand)
