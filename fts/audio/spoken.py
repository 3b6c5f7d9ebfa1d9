"""
Speaking a contact's field with Asterisk's own prompts, pure.

L{say} turns a field value and a way of speaking it (L{SayMode}: digits,
number, date, time, money) into the AGI commands that speak it:

    - digits: C{SAY DIGITS 5551234} (spaces, C{+ - ( ) . /} in phone numbers
      are dropped; letters are an error);
    - number: C{SAY NUMBER 1234} (whole numbers within Asterisk's 32-bit
      range);
    - date: C{SAY DATE <epoch>}, the epoch of noon that day in the PBX's
      time zone (Asterisk reads the epoch in its own local time);
    - time: C{SAY TIME <epoch>}, likewise for that wall-clock time;
    - money: C{SAY NUMBER} for the units and the cents, with the currency's
      words played as prompts in between (C{STREAM FILE dollars}, C{and},
      C{cents}), as Asterisk's SayMoney does.

Asterisk speaks in the channel's language: the call flow sets it once per
call with L{language_command} (C{SET VARIABLE CHANNEL(language) fr}), and
prompts such as C{dollars} are then looked up under C{sounds/fr/}.  The
language also decides how a value is read: C{"1.234,50"} is one thousand
two hundred thirty-four and a half in German, C{"1,234.50"} in English.

Values are checked here, so validation (and the preparation of a contact
before it is dialed) reports a bad value in words ("'12a' is not a number")
instead of a call hearing silence.
"""

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attr

from fts.asterisk.agi.wire import encode_line, quote
from fts.core.campaign import SayMode

__all__ = [
    "CURRENCIES",
    "Currency",
    "SayCommand",
    "SetLanguage",
    "SpokenValueError",
    "language_command",
    "parse_number",
    "say",
]

#: The largest magnitude SAY NUMBER takes (Asterisk parses a C int).
MAX_NUMBER = 2**31 - 1

#: Languages whose numbers use a decimal comma (C{12,50}).
DECIMAL_COMMA = frozenset(
    "be bg cs da de el es et fi fr hr hu id is it lt lv nb nl nn no pl pt ro ru sk sl sr sv tr uk"
    .split()
)

_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(?:[_-][A-Za-z0-9]{1,8})*")
_DIGIT_NOISE = re.compile(r"[\s+\-().\/]")
_GROUPING = re.compile(r"[\s\u00a0\u202f']")
_PLAIN = re.compile(r"[+-]?\d+(?:\.\d+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_CURRENCY_MARK = re.compile(r"^\s*(?:[$\u20ac\u00a3\u00a5]|[A-Z]{3}\b)\s*|\s*(?:[$\u20ac\u00a3\u00a5]|\b[A-Z]{3})\s*$")
_SYMBOLS = {"$": "USD", "\u20ac": "EUR", "\u00a3": "GBP", "\u00a5": "JPY"}
_CLOCK = re.compile(r"(\d{1,2})[:.h](\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?")

#: A date far from any daylight-saving change, for SAY TIME.
_TIME_DATE = datetime.date(2001, 1, 15)


class SpokenValueError(ValueError):
    """
    A field value that cannot be spoken the way asked.

    @ivar value: the value as given.
    @ivar mode: the L{SayMode}.
    """

    def __init__(self, value, mode, message):
        super().__init__(message)
        self.value = value
        self.mode = mode


@attr.frozen
class SayCommand:
    """
    One AGI command that speaks (part of) a field.  Barge-in keys are the
    call flow's: it passes them to L{encode} or L{send}.

    @ivar verb: C{"SAY DIGITS"}, C{"SAY NUMBER"}, C{"SAY DATE"},
        C{"SAY TIME"} or C{"STREAM FILE"}.
    @ivar value: the digits (str), the number or epoch seconds (int), or the
        prompt name (str).
    """

    verb: str
    value: object

    @property
    def method(self):
        """The L{fts.asterisk.agi.session.AGISession} method that sends it."""
        return self.verb.lower().replace(" ", "_")

    def encode(self, escape_digits=""):
        """The command line's bytes, e.g. C{b'SAY NUMBER 42 "12"\\n'}."""
        return encode_line(self.verb, quote(self.value), quote(escape_digits, always=True))

    def send(self, session, escape_digits=""):
        """
        Send it through an AGI session.

        @return: the session's Deferred (the digit pressed, or C{None}; for
            STREAM FILE a C{(digit, offset)} pair).
        """
        return getattr(session, self.method)(self.value, escape_digits)


@attr.frozen
class SetLanguage:
    """C{SET VARIABLE CHANNEL(language) <language>}."""

    language: str

    def encode(self):
        return encode_line("SET VARIABLE", "CHANNEL(language)", quote(self.language))

    def send(self, session):
        return session.set_variable("CHANNEL(language)", self.language)


@attr.frozen
class Currency:
    """
    The prompts that name a currency (ISO 4217 C{code}): the unit (one / several), the
    hundredth (one / several), and the word joining them.  Prompt names are
    relative to the sounds directory and resolved in the channel's language.
    """

    code: str
    unit_one: str
    unit_many: str
    cent_one: str
    cent_many: str
    joiner: str = "and"


#: Currencies Asterisk's core sounds can speak (the prompts SayMoney uses).
#: Add others with prompts recorded (or rendered) into the sounds directory.
CURRENCIES = {
    "USD": Currency("USD", "letters/dollar", "dollars", "cent", "cents"),
}


def language_command(language):
    """
    The command that makes Asterisk speak C{language} on this channel.

    @raise ValueError: not a language code (C{en}, C{fr}, C{pt_BR}).
    """
    return SetLanguage(_check_language(language))


def say(value, mode, language="en", *, pbx_timezone="UTC", currency="USD", field=None):
    """
    The commands that speak C{value}.

    @param value: the field's value: text as imported, or an C{int},
        C{Decimal}, C{datetime.date}, C{datetime.time} or
        C{datetime.datetime}.
    @param mode: a L{SayMode} or its string value.
    @param language: the campaign's language; decides how numbers are read.
    @param pbx_timezone: the Asterisk server's time zone (IANA name), which
        SAY DATE and SAY TIME read the epoch in.
    @param currency: a code from L{CURRENCIES}, or a L{Currency}.
    @param field: the field's name, for error messages.
    @return: a tuple of L{SayCommand}s.
    @raise SpokenValueError: the value cannot be spoken that way.
    @raise ValueError: an unknown mode, language, time zone or currency.
    """
    try:
        mode = SayMode(mode)
    except ValueError:
        raise ValueError(
            f"Unknown way of speaking {mode!r}; use digits, number, date, time or money."
        ) from None
    language = _check_language(language)
    try:
        if mode is SayMode.DIGITS:
            return (SayCommand("SAY DIGITS", _digits(value)),)
        if mode is SayMode.NUMBER:
            return (SayCommand("SAY NUMBER", _whole(value, language)),)
        if mode is SayMode.DATE:
            day = _date(value)
            moment = datetime.datetime.combine(day, datetime.time(12), _zone(pbx_timezone))
            return (SayCommand("SAY DATE", int(moment.timestamp())),)
        if mode is SayMode.TIME:
            clock = _time(value)
            moment = datetime.datetime.combine(_TIME_DATE, clock, _zone(pbx_timezone))
            return (SayCommand("SAY TIME", int(moment.timestamp())),)
        return _money(value, language, _currency(currency))
    except _Bad as e:
        prefix = f"Field {field}: " if field else ""
        raise SpokenValueError(value, mode, prefix + str(e)) from None


class _Bad(Exception):
    pass


def _show(value):
    return repr(value) if isinstance(value, str) else repr(str(value))


def _check_language(language):
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise ValueError(f"{language!r} is not a language code (such as en, fr or pt_BR).")
    return language


def _zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone {name!r}.") from None


def _currency(currency):
    if isinstance(currency, Currency):
        return currency
    try:
        return CURRENCIES[str(currency).upper()]
    except KeyError:
        raise ValueError(
            f"FTS has no prompts for the currency {currency!r}; it speaks"
            f" {', '.join(CURRENCIES)}."
        ) from None


def _digits(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(f"{_show(value)} is not a string of digits.")
    text = str(value)
    digits = _DIGIT_NOISE.sub("", text)
    if not digits:
        raise _Bad(f"{_show(text)} has no digits to say.")
    if not digits.isascii() or not digits.isdigit():
        raise _Bad(f"{_show(text)} has characters other than digits.")
    return digits


def parse_number(value, language="en"):
    """
    A number as an operator would write it in C{language}: C{"1,234.5"} in
    English, C{"1.234,5"} or C{"1 234,5"} in French.  A lone separator
    followed by exactly three digits is the language's thousands separator
    when it is the language's (C{"1,234"} is 1234 in English); otherwise it
    is the decimal point (C{"12,5"} is 12.5 anywhere).

    @return: a C{Decimal}.
    @raise ValueError: not a number ("'12a' is not a number.").
    """
    if isinstance(value, bool):
        raise ValueError(f"{_show(value)} is not a number.")
    if isinstance(value, int | Decimal | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{_show(value)} is not a number.")
        return number
    if not isinstance(value, str):
        raise ValueError(f"{_show(value)} is not a number.")
    text = _GROUPING.sub("", value.strip())
    group = "." if language.split("_")[0].split("-")[0].lower() in DECIMAL_COMMA else ","
    if "." in text and "," in text:
        decimal = "." if text.rfind(".") > text.rfind(",") else ","
        text = text.replace("," if decimal == "." else ".", "").replace(decimal, ".")
    else:
        for sep in ".,":
            count = text.count(sep)
            if count > 1 or (count == 1 and sep == group and re.search(r"\d[.,]\d{3}$", text)):
                text = text.replace(sep, "")
            elif count == 1:
                text = text.replace(sep, ".")
    if not _PLAIN.fullmatch(text):
        raise ValueError(f"{_show(value)} is not a number.")
    return Decimal(text)


def _number(value, language):
    try:
        return parse_number(value, language)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _whole(value, language):
    number = _number(value, language)
    if number != number.to_integral_value():
        raise _Bad(
            f"{_show(value)} is not a whole number; numbers are spoken whole"
            " (use money for amounts with cents)."
        )
    return _in_range(int(number), value)


def _in_range(number, value):
    if abs(number) > MAX_NUMBER:
        raise _Bad(f"{_show(value)} is too large to speak (at most {MAX_NUMBER}).")
    return number


def _money(value, language, currency):
    text = value
    if isinstance(value, str):
        match = _CURRENCY_MARK.search(value)
        if match is not None:
            mark = match.group().strip()
            code = _SYMBOLS.get(mark, mark)
            if code != currency.code:
                raise _Bad(f"{_show(value)} is in {code}, but the campaign speaks {currency.code}.")
            text = value[: match.start()] + value[match.end():]
    amount = _number(text, language)
    _in_range(int(amount), value)
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    commands = []
    if amount < 0:
        commands.append(SayCommand("STREAM FILE", "minus"))
        amount = -amount
    units = _in_range(int(amount), value)
    cents = int((amount - units) * 100)
    if units or not cents:
        commands.append(SayCommand("SAY NUMBER", units))
        commands.append(SayCommand("STREAM FILE", currency.unit_one if units == 1 else currency.unit_many))
    if cents:
        if units:
            commands.append(SayCommand("STREAM FILE", currency.joiner))
        commands.append(SayCommand("SAY NUMBER", cents))
        commands.append(SayCommand("STREAM FILE", currency.cent_one if cents == 1 else currency.cent_many))
    return tuple(commands)


def _date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    match = _ISO_DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _Bad(f"{_show(value)} is not a date; write it as YYYY-MM-DD.")
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError as e:
        raise _Bad(f"{_show(value)} is not a date ({e}).") from None


def _time(value):
    if isinstance(value, datetime.datetime):
        return value.time().replace(tzinfo=None)
    if isinstance(value, datetime.time):
        return value.replace(tzinfo=None)
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _Bad(f"{_show(value)} is not a time of day; write it as HH:MM.")
    hour, minute, second = (int(g or 0) for g in match.groups()[:3])
    meridiem = (match.group(4) or "").replace(".", "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise _Bad(f"{_show(value)} is not a time of day (hour {hour} with {meridiem}).")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    try:
        return datetime.time(hour, minute, second)
    except ValueError as e:
        raise _Bad(f"{_show(value)} is not a time of day ({e}).") from None
