"""
A campaign's settings as the rest of FTS uses them, and their JSON form.

Every part is a frozen attrs value; L{CampaignSettings} holds them all.  The
database stores the settings as jsonb: L{settings_to_dict} gives plain
JSON-able dicts/lists/strings/numbers and L{settings_from_dict} reads them
back.  Reading reports every malformed field at once (L{SettingsError} carries
a list of L{Problem}s); whether the values make sense (a window that
overlaps another, an unknown placeholder) is
L{fts.core.validation.validate_campaign}'s job.

JSON shapes: times are C{"HH:MM"} (or C{"HH:MM:SS"}), date-times are ISO 8601
without offset (local wall-clock in C{schedule.timezone}), enums are their
string values, message parts are objects tagged by C{"type"} (C{"audio"},
C{"tts"}, C{"field"}), AMD parameters are an object of name to int.  Missing
keys take the defaults below; unknown keys are reported as problems.
"""

import string
import typing
from datetime import datetime, time
from enum import StrEnum
from typing import ClassVar

import attr

from fts.core.jsonform import SettingsError, from_json, to_json

__all__ = [
    "KEYS", "AMD_PARAMETERS", "SayMode", "Action", "AmdMode", "AudioPart", "TextPart",
    "FieldPart", "MessagePart", "PART_TYPES", "KeyOption", "Replay", "Menu", "AmdSettings",
    "Window", "RecipientHours", "Schedule", "Pacing", "RetryRule", "RetryPolicy", "CallerId",
    "CampaignSettings", "placeholders", "render_text", "render_dial_string", "SettingsError",
    "settings_to_dict", "settings_from_dict",
]

#: The keys a caller can press, in the order a UI shows them.
KEYS = "0123456789*#"


class SayMode(StrEnum):
    """How a spoken field is read out."""

    DIGITS = "digits"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    MONEY = "money"


class Action(StrEnum):
    """What pressing a key does."""

    #: Record the key as the answer, then end the call.
    RECORD = "record"
    #: Play the message again.
    REPEAT = "repeat"
    #: Transfer to the Asterisk queue named by the target.
    QUEUE = "queue"
    #: Transfer to the target: a dial string or a phone number.
    DIAL = "dial"
    #: Add the number to the opt-outs DNC list, confirm, hang up.
    OPTOUT = "optout"
    HANGUP = "hangup"


class AmdMode(StrEnum):
    """What answering-machine detection does."""

    OFF = "off"
    #: Detect; hang up on a machine.
    HANGUP = "hangup"
    #: Detect; play the machine message to a machine after its greeting.
    MACHINE_MESSAGE = "machine_message"
    #: Detect and record the verdict, but play the normal flow to everyone.
    TREAT_AS_HUMAN = "treat_as_human"


def _tuple(value):
    return tuple(value)


@attr.frozen
class AudioPart:
    """Play an uploaded audio asset."""

    TYPE: ClassVar[str] = "audio"
    asset_id: int


@attr.frozen
class TextPart:
    """Speak text through text-to-speech; C{{column}} placeholders are filled
    from the contact's fields."""

    TYPE: ClassVar[str] = "tts"
    text: str


@attr.frozen
class FieldPart:
    """Say one of the contact's fields as digits, a number, a date, a time or
    an amount of money."""

    TYPE: ClassVar[str] = "field"
    field: str
    mode: SayMode = SayMode.DIGITS


MessagePart = AudioPart | TextPart | FieldPart
PART_TYPES = {cls.TYPE: cls for cls in (AudioPart, TextPart, FieldPart)}


@attr.frozen
class KeyOption:
    """
    What one key does.

    @ivar target: the queue name for L{Action.QUEUE}; a dial string
        (C{"PJSIP/1000"}) or phone number for L{Action.DIAL}; unused
        otherwise.
    @ivar message: parts played when the key is pressed, before the action
        (the opt-out confirmation, "transferring you now", "thank you").
    """

    key: str
    action: Action
    label: str = ""
    target: str = ""
    message: tuple[MessagePart, ...] = attr.field(default=(), converter=_tuple)


@attr.frozen
class Replay:
    """
    What to do on an invalid key, or on no key: play C{message} (if any) and
    the main message again, at most C{replays} times, then end the call.
    """

    replays: int = 1
    message: tuple[MessagePart, ...] = attr.field(default=(), converter=_tuple)


@attr.frozen
class Menu:
    """
    The keys offered after the message.  With no options the call plays the
    message and ends.

    @ivar wait_seconds: how long to wait for a key once the message ended.
    """

    options: tuple[KeyOption, ...] = attr.field(default=(), converter=_tuple)
    wait_seconds: int = 5
    invalid_key: Replay = Replay()
    no_key: Replay = Replay()

    def option(self, key):
        """
        The option for C{key}, or C{None} if that key does nothing.
        """
        for option in self.options:
            if option.key == key:
                return option
        return None


#: AMD() parameters, in the order of the application's arguments; values in
#: milliseconds except the word count and the silence threshold.
AMD_PARAMETERS = (
    "initial_silence",
    "greeting",
    "after_greeting_silence",
    "total_analysis_time",
    "min_word_length",
    "between_words_silence",
    "maximum_number_of_words",
    "silence_threshold",
    "maximum_word_length",
)


def _parameters(value):
    items = value.items() if isinstance(value, typing.Mapping) else value
    return tuple(sorted((str(name), val) for name, val in items))


@attr.frozen
class AmdSettings:
    """
    Answering-machine detection.

    @ivar parameters: AMD() parameters by name (see L{AMD_PARAMETERS}), as
        sorted C{(name, value)} pairs; a mapping is accepted.  Unset ones use
        Asterisk's amd.conf.
    """

    mode: AmdMode = AmdMode.OFF
    machine_message: tuple[MessagePart, ...] = attr.field(default=(), converter=_tuple)
    parameters: tuple[tuple[str, int], ...] = attr.field(
        default=(), converter=_parameters, metadata={"json": "mapping"}
    )

    def app_arguments(self):
        """
        The argument string for C{AMD()}: the parameters in order, unset ones
        empty, trailing empty ones dropped (C{"2500,1500"}).
        """
        given = dict(self.parameters)
        values = [str(given.get(name, "")) for name in AMD_PARAMETERS]
        while values and values[-1] == "":
            values.pop()
        return ",".join(values)


@attr.frozen
class Window:
    """
    A weekly calling window, in the campaign's timezone.

    C{weekday} is 0 (Monday) to 6 (Sunday).  An C{end} of 00:00 means the end
    of the day (00:00-00:00 is the whole day); an C{end} earlier than
    C{start} means the window continues past midnight into the next day.
    """

    weekday: int
    start: time
    end: time

    @property
    def crosses_midnight(self):
        """Whether the window continues into the next day."""
        return self.end != time(0) and self.end < self.start


@attr.frozen
class RecipientHours:
    """
    Daily calling hours in each contact's own timezone (same C{end} rules as
    L{Window}), for contacts whose C{timezone_column} holds a timezone.
    """

    start: time
    end: time
    timezone_column: str = ""


@attr.frozen
class Schedule:
    """
    When the campaign may call.

    @ivar start: first date-time calls may be placed, local wall-clock in
        C{timezone} (naive); C{None} for templates.
    @ivar end: when the campaign expires, likewise.
    """

    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    windows: tuple[Window, ...] = attr.field(default=(), converter=_tuple)
    recipient_hours: RecipientHours | None = None


@attr.frozen
class Pacing:
    """
    How hard the campaign dials.

    @ivar priority: the campaign's weight when campaigns share the global
        capacity.
    @ivar ring_timeout: seconds to let a call ring.
    @ivar max_call_duration: seconds after which an answered call is ended.
    """

    max_channels: int = 10
    cps: float = 1.0
    priority: int = 1
    ring_timeout: int = 30
    max_call_duration: int = 600


@attr.frozen
class RetryRule:
    """Whether an outcome is retried, and after how many seconds."""

    retry: bool = False
    delay: int = 0


@attr.frozen
class RetryPolicy:
    """
    How often and when contacts are called again; see L{fts.core.retry}.

    @ivar max_attempts: attempts per contact, the first one included.
    @ivar failed: for congestion, channel unavailable and failed attempts.
    @ivar machine: for calls answered by a machine.
    @ivar answered_without_key: for calls answered (not by a machine) where
        no key was pressed.
    """

    max_attempts: int = 3
    busy: RetryRule = RetryRule(True, 300)
    no_answer: RetryRule = RetryRule(True, 1800)
    failed: RetryRule = RetryRule(True, 900)
    machine: RetryRule = RetryRule(False, 3600)
    answered_without_key: RetryRule = RetryRule(False, 3600)


@attr.frozen
class CallerId:
    """The caller ID presented to the callee."""

    number: str = ""
    name: str = ""


@attr.frozen
class CampaignSettings:
    """
    Everything an operator sets on a campaign.

    @ivar dial_string: template with C{{number}}, e.g. C{"PJSIP/{number}@trunk"};
        empty means the configured default.
    @ivar language: the language the call is played in, e.g. C{"fr"} or
        C{"en-gb"}: Asterisk's prompts and spoken fields (C{SAY *}) and the
        text-to-speech voice; empty means the configured default (C{[tts]
        voice}, C{"en"}).
    """

    name: str = ""
    list_id: int | None = None
    dnc_list_ids: tuple[int, ...] = attr.field(default=(), converter=_tuple)
    caller_id: CallerId = CallerId()
    message: tuple[MessagePart, ...] = attr.field(default=(), converter=_tuple)
    menu: Menu = Menu()
    amd: AmdSettings = AmdSettings()
    schedule: Schedule = Schedule()
    pacing: Pacing = Pacing()
    retry: RetryPolicy = RetryPolicy()
    dial_string: str = ""
    language: str = ""


# -- Placeholders -----------------------------------------------------------


def placeholders(text):
    """
    The placeholder names in C{text}, in order of appearance (repeats kept).

    Only plain C{{name}} is a placeholder; C{{{} and C{}}} are literal braces.

    @raise ValueError: for an unbalanced brace, an empty C{{}}, or a
        placeholder with a conversion or format (C{{x!r}}, C{{x:>5}}), with a
        message for the operator.
    """
    names = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ValueError(
            "Unbalanced { or } in the text; write {{ or }} for a literal brace."
        ) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.strip():
            raise ValueError("Empty placeholder {} in the text; write a column name inside.")
        if spec or conversion:
            raise ValueError(
                f"Placeholder {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} has a format; write just {{{name}}}."
            )
        names.append(name)
    return names


def render_text(text, fields):
    """
    Fill C{text}'s placeholders from a contact's fields; a field the contact
    does not have becomes the empty string.

    @param fields: mapping of column name to value.
    @raise ValueError: as L{placeholders}.
    """
    out = []
    placeholders(text)
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            value = fields.get(name)
            out.append("" if value is None else str(value))
    return "".join(out)


def render_dial_string(template, number):
    """
    The dial string for C{number}: C{template} with C{{number}} replaced
    (C{"PJSIP/{number}@trunk"} -> C{"PJSIP/15551234@trunk"}).
    """
    return template.replace("{number}", number)


# -- JSON form ----------------------------------------------------------------


def settings_to_dict(settings):
    """
    The JSON-able form of L{CampaignSettings} (or of any settings value in
    this module).
    """
    return to_json(settings)


def settings_from_dict(data, cls=CampaignSettings):
    """
    Read settings from their JSON form.

    @param data: what L{settings_to_dict} produced, or a JSON object from
        the API; missing keys take their defaults.
    @param cls: the settings class to read (any class of this module).
    @raise SettingsError: listing every malformed or unknown field.
    """
    return from_json(cls, data)
