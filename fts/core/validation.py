"""
Campaign settings validation, in operator language.

L{validate_campaign} returns every problem it finds, never just the first,
as L{Problem}s whose C{path} points at the field (0-based indexes, e.g.
C{"schedule.windows[2]"}) and whose C{message} is a sentence for the
operator (1-based numbers, e.g. "Window 3 on Monday overlaps window 1
(09:00-12:00).").  An empty list means the campaign can be confirmed.

Facts outside the settings (which lists, audio and DNC lists exist, the
list's columns, whether TTS works) come in a L{ValidationContext}.
L{check_campaign_data} reads the JSON form and validates in one go.
"""

import re
import string
from datetime import datetime, time

import attr

from fts.core import windows
from fts.core.campaign import (
    AMD_PARAMETERS,
    KEYS,
    Action,
    AmdMode,
    AudioPart,
    FieldPart,
    SayMode,
    SettingsError,
    TextPart,
    placeholders,
    settings_from_dict,
)
from fts.core.problems import Problem, join

__all__ = ["Problem", "ValidationContext", "validate_campaign", "check_campaign_data"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Limits that keep a typo from becoming an incident.
MAX_NAME = 200
MAX_CALLER_NAME = 40
MAX_LABEL = 80
MAX_CHANNELS = 1000
MAX_CPS = 100
MAX_PRIORITY = 100
RING_TIMEOUT = (5, 300)
CALL_DURATION = (10, 4 * 3600)
MAX_ATTEMPTS = 20
MAX_RETRY_DELAY = 30 * 86400
WAIT_SECONDS = (1, 60)
MAX_REPLAYS = 10
#: Allowed range of each AMD() parameter.
AMD_RANGES = {name: (1, 60000) for name in AMD_PARAMETERS}
AMD_RANGES.update(maximum_number_of_words=(1, 100), silence_threshold=(1, 32767))

_PHONE = re.compile(r"\+?[0-9]{3,20}")
#: A language tag as Asterisk and espeak-ng take them: "fr", "en-gb", "pt_BR".
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}")
_QUEUE = re.compile(r"[A-Za-z0-9_.\-]+")
_DIAL_TARGET = re.compile(r"[A-Za-z0-9_]+/[^\s,|()\"'\\]+")
_TECH = re.compile(r"[A-Za-z0-9_]+/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _frozen(value):
    return frozenset(value)


@attr.frozen(kw_only=True)
class ValidationContext:
    """
    Facts the settings are checked against.

    @ivar list_ids: contact lists that exist.
    @ivar list_columns: columns of the campaign's list (placeholder and
        field names, the recipient timezone column).
    @ivar tts_available: whether a text-to-speech engine is installed.
    @ivar audio_asset_ids: audio assets that exist.
    @ivar dnc_list_ids: DNC lists that exist.
    @ivar is_template: templates need no list, dates or windows, and their
        placeholders are not checked against a list.
    @ivar default_dial_string: the configured dial string used when the
        campaign sets none (C{""} if there is none).
    @ivar now: if given, an end already past is a problem.
    """

    list_ids: frozenset = attr.field(converter=_frozen)
    list_columns: frozenset = attr.field(converter=_frozen)
    tts_available: bool
    audio_asset_ids: frozenset = attr.field(converter=_frozen)
    dnc_list_ids: frozenset = attr.field(converter=_frozen)
    is_template: bool = False
    default_dial_string: str = ""
    now: datetime | None = None


def _hhmm(value):
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _show(value, limit=40):
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _columns_hint(context):
    columns = sorted(context.list_columns)
    if not columns:
        return "the list has no columns to use"
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f"columns: {shown}"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    """Collects problems while walking the settings."""

    def __init__(self, context):
        self.context = context
        self.problems = []

    def add(self, path, message):
        self.problems.append(Problem(path, message))

    def int_range(self, value, path, what, low, high, unit=""):
        unit = f" {unit}" if unit else ""
        if not _is_int(value) or not low <= value <= high:
            self.add(
                path,
                f"{what} must be a whole number from {low} to {high}{unit}; got {value!r}.",
            )
            return False
        return True

    def text(self, value, path, what, limit):
        if not isinstance(value, str):
            self.add(path, f"{what} must be text.")
            return False
        if len(value) > limit:
            self.add(path, f"{what} is longer than {limit} characters.")
            return False
        if _CONTROL.search(value):
            self.add(path, f"{what} contains control characters (such as a line break).")
            return False
        return True

    # -- message parts -----------------------------------------------------

    def parts(self, parts, path, where):
        for index, part in enumerate(parts):
            self.part(part, join(path, index), f"Part {index + 1} of {where}")

    def part(self, part, path, label):
        context = self.context
        if isinstance(part, AudioPart):
            if part.asset_id not in context.audio_asset_ids:
                self.add(
                    join(path, "asset_id"),
                    f"{label} plays audio {part.asset_id!r}, which does not exist.",
                )
        elif isinstance(part, TextPart):
            if not isinstance(part.text, str) or not part.text.strip():
                self.add(join(path, "text"), f"{label} has no text to speak.")
                return
            if not context.tts_available:
                self.add(
                    path,
                    f"{label} is text-to-speech, but no TTS engine is available;"
                    " install espeak-ng on the server or use recorded audio.",
                )
            try:
                names = placeholders(part.text)
            except ValueError as e:
                self.add(join(path, "text"), f"{label}: {e}")
                return
            if context.is_template:
                return
            unknown = sorted(set(n for n in names if n not in context.list_columns))
            for name in unknown:
                self.add(
                    join(path, "text"),
                    f"{label} uses {{{name}}}, which is not a column of the list"
                    f" ({_columns_hint(context)}).",
                )
        elif isinstance(part, FieldPart):
            if not isinstance(part.field, str) or not part.field.strip():
                self.add(join(path, "field"), f"{label} does not say which field to speak.")
            elif not context.is_template and part.field not in context.list_columns:
                self.add(
                    join(path, "field"),
                    f"{label} speaks the field {_show(part.field)}, which is not a column"
                    f" of the list ({_columns_hint(context)}).",
                )
            if part.mode not in set(SayMode):
                self.add(
                    join(path, "mode"),
                    f"{label} has an unknown way of speaking {_show(part.mode)};"
                    " use digits, number, date, time or money.",
                )
        else:
            self.add(path, f"{label} is not a message part (audio, tts or field).")


def _check_identity(check, settings):
    context = check.context
    name = settings.name
    if not isinstance(name, str) or not name.strip():
        check.add("name", "Give the campaign a name.")
    else:
        check.text(name, "name", "The name", MAX_NAME)
    if not context.is_template:
        if settings.list_id is None:
            check.add("list_id", "Choose a contact list.")
        elif settings.list_id not in context.list_ids:
            check.add("list_id", f"Contact list {settings.list_id!r} does not exist.")
    for index, dnc in enumerate(settings.dnc_list_ids):
        if dnc not in context.dnc_list_ids:
            check.add(join("dnc_list_ids", index), f"DNC list {dnc!r} does not exist.")
    number = settings.caller_id.number
    if not isinstance(number, str) or not number:
        check.add("caller_id.number", "Set the caller ID number.")
    elif not _PHONE.fullmatch(number):
        check.add(
            "caller_id.number",
            f"Caller ID number {_show(number)} must be 3 to 20 digits,"
            " optionally starting with +.",
        )
    caller_name = settings.caller_id.name
    if check.text(caller_name, "caller_id.name", "The caller ID name", MAX_CALLER_NAME):
        if any(c in caller_name for c in '"<>'):
            check.add("caller_id.name", 'The caller ID name cannot contain ", < or >.')
    language = settings.language
    if language and (not isinstance(language, str) or not _LANGUAGE.fullmatch(language)):
        check.add("language", f"Language {_show(language)} is not a language code like"
                              " en, fr or en-gb (leave it empty for the default).")


def _check_message(check, settings):
    if not settings.message:
        check.add("message", "Add at least one message part (audio, text-to-speech or a field).")
    check.parts(settings.message, "message", "the message")


def _check_menu(check, menu):
    seen = {}
    for index, option in enumerate(menu.options):
        path = join("menu.options", index)
        key = option.key
        if not isinstance(key, str) or len(key) != 1 or key not in KEYS:
            check.add(
                join(path, "key"),
                f"Option {index + 1} uses key {_show(key)}; keys are 0-9, * and #.",
            )
            key_name = f"Option {index + 1}"
        else:
            key_name = f"Key {key}"
            if key in seen:
                check.add(
                    join(path, "key"),
                    f"Key {key} is set twice (options {seen[key] + 1} and {index + 1}).",
                )
            else:
                seen[key] = index
        try:
            action = Action(option.action)
        except ValueError:
            check.add(
                join(path, "action"),
                f"{key_name} has an unknown action {_show(option.action)};"
                " use record, repeat, queue, dial, optout or hangup.",
            )
            action = None
        target = option.target
        if action is Action.QUEUE:
            if not isinstance(target, str) or not target:
                check.add(join(path, "target"), f"{key_name} transfers to a queue but names none.")
            elif not _QUEUE.fullmatch(target):
                check.add(
                    join(path, "target"),
                    f"{key_name} names the queue {_show(target)}; a queue name may only"
                    " contain letters, digits, '-', '_' and '.'.",
                )
        elif action is Action.DIAL:
            if not isinstance(target, str) or not target:
                check.add(
                    join(path, "target"),
                    f"{key_name} transfers the call but has no number or dial string.",
                )
            elif not (_PHONE.fullmatch(target) or _DIAL_TARGET.fullmatch(target)):
                check.add(
                    join(path, "target"),
                    f"{key_name} transfers to {_show(target)}, which is neither a phone"
                    " number nor a dial string like PJSIP/1000.",
                )
        check.text(option.label, join(path, "label"), f"The label of {key_name.lower()}", MAX_LABEL)
        check.parts(option.message, join(path, "message"), f"{key_name.lower()}'s message")
    if menu.options:
        check.int_range(
            menu.wait_seconds, "menu.wait_seconds", "The wait for a key", *WAIT_SECONDS,
            unit="seconds",
        )
    for name, what in (("invalid_key", "an invalid key"), ("no_key", "no key")):
        replay = getattr(menu, name)
        check.int_range(
            replay.replays, f"menu.{name}.replays", f"Replays on {what}", 0, MAX_REPLAYS
        )
        check.parts(replay.message, f"menu.{name}.message", f"the message on {what}")


def _check_amd(check, amd):
    try:
        mode = AmdMode(amd.mode)
    except ValueError:
        check.add(
            "amd.mode",
            f"Unknown answering-machine handling {_show(amd.mode)};"
            " use off, hangup, machine_message or treat_as_human.",
        )
        mode = None
    if mode is AmdMode.MACHINE_MESSAGE and not amd.machine_message:
        check.add(
            "amd.machine_message",
            "Answering machines get a message, but the machine message has no parts.",
        )
    check.parts(amd.machine_message, "amd.machine_message", "the machine message")
    for name, value in amd.parameters:
        path = join("amd.parameters", name)
        if name not in AMD_RANGES:
            check.add(
                path,
                f"Unknown AMD parameter {_show(name)}; known: {', '.join(AMD_PARAMETERS)}.",
            )
            continue
        check.int_range(value, path, f"AMD {name.replace('_', ' ')}", *AMD_RANGES[name])


def _window_text(window, with_day):
    text = f"{_hhmm(window.start)}-{_hhmm(window.end)}"
    if with_day:
        text = f"{WEEKDAYS[window.weekday]} {text}"
        if window.crosses_midnight:
            text += ", continuing past midnight"
    return text


_WEEK = 7 * 86400


def _week_pieces(window):
    """The window as [start, end) second ranges of the week, split at the wrap."""
    start = window.start.hour * 3600 + window.start.minute * 60 + window.start.second
    end = window.end.hour * 3600 + window.end.minute * 60 + window.end.second
    length = (end - start) % 86400 or 86400
    begin = window.weekday * 86400 + start
    finish = begin + length
    if finish <= _WEEK:
        return [(begin, finish)]
    return [(begin, _WEEK), (0, finish - _WEEK)]


def _check_windows(check, schedule):
    good = []
    for index, window in enumerate(schedule.windows):
        path = join("schedule.windows", index)
        if not _is_int(window.weekday) or not 0 <= window.weekday <= 6:
            check.add(
                join(path, "weekday"),
                f"Window {index + 1} has weekday {window.weekday!r}; use 0 (Monday) to 6 (Sunday).",
            )
            continue
        if not isinstance(window.start, time) or not isinstance(window.end, time):
            check.add(path, f"Window {index + 1} needs a start and an end time.")
            continue
        if window.start.tzinfo is not None or window.end.tzinfo is not None:
            check.add(path, f"Window {index + 1} times must be local times without an offset.")
            continue
        if window.start == window.end and window.start != time(0):
            check.add(
                path,
                f"Window {index + 1} on {WEEKDAYS[window.weekday]} starts and ends at"
                f" {_hhmm(window.start)}; use 00:00-00:00 for the whole day.",
            )
            continue
        pieces = _week_pieces(window)
        for other_index, other, other_pieces in good:
            if any(a < d and c < b for a, b in pieces for c, d in other_pieces):
                with_day = other.weekday != window.weekday or other.crosses_midnight
                check.add(
                    path,
                    f"Window {index + 1} on {WEEKDAYS[window.weekday]} overlaps window"
                    f" {other_index + 1} ({_window_text(other, with_day)}).",
                )
        good.append((index, window, pieces))
    return len(good) == len(schedule.windows)


def _check_schedule(check, schedule):
    context = check.context
    tz = None
    try:
        tz = windows.zone(schedule.timezone)
    except windows.UnknownTimezone:
        check.add(
            "schedule.timezone",
            f"Unknown timezone {_show(schedule.timezone)}; use a name like Europe/Berlin.",
        )
    dates_ok = True
    for name, label in (("start", "start"), ("end", "end")):
        value = getattr(schedule, name)
        if value is None:
            if not context.is_template:
                check.add(f"schedule.{name}", f"Set the {label} date and time.")
                dates_ok = False
        elif not isinstance(value, datetime) or value.tzinfo is not None:
            check.add(
                f"schedule.{name}",
                f"The {label} must be a local date and time in the campaign's timezone.",
            )
            dates_ok = False
    start, end = schedule.start, schedule.end
    if dates_ok and start is not None and end is not None and end <= start:
        check.add(
            "schedule.end",
            f"The end ({end:%Y-%m-%d %H:%M}) must be after the start ({start:%Y-%m-%d %H:%M}).",
        )
        dates_ok = False
    if dates_ok and tz is not None and end is not None and context.now is not None:
        if windows.to_instant(end, tz) <= context.now:
            check.add("schedule.end", f"The end ({end:%Y-%m-%d %H:%M}) has already passed.")
            dates_ok = False
    if not schedule.windows and not context.is_template:
        check.add("schedule.windows", "Add at least one calling window.")
    windows_ok = _check_windows(check, schedule)
    hours = schedule.recipient_hours
    if hours is not None:
        if not isinstance(hours.start, time) or not isinstance(hours.end, time):
            check.add("schedule.recipient_hours", "Recipient hours need a start and an end time.")
            windows_ok = False
        elif hours.start == hours.end and hours.start != time(0):
            check.add(
                "schedule.recipient_hours",
                f"Recipient hours start and end at {_hhmm(hours.start)};"
                " use 00:00-00:00 for the whole day.",
            )
            windows_ok = False
        column = hours.timezone_column
        if not isinstance(column, str) or not column:
            check.add(
                "schedule.recipient_hours.timezone_column",
                "Choose the list column that holds each contact's timezone.",
            )
        elif not context.is_template and column not in context.list_columns:
            check.add(
                "schedule.recipient_hours.timezone_column",
                f"The timezone column {_show(column)} is not a column of the list"
                f" ({_columns_hint(context)}).",
            )
    if (
        dates_ok and windows_ok and tz is not None and schedule.windows
        and start is not None and end is not None
        and windows.next_open(schedule, windows.to_instant(start, tz)) is None
    ):
        check.add(
            "schedule.windows",
            f"No calling window falls between the start ({start:%Y-%m-%d %H:%M})"
            f" and the end ({end:%Y-%m-%d %H:%M}).",
        )


def _check_pacing(check, pacing):
    check.int_range(pacing.max_channels, "pacing.max_channels", "Max channels", 1, MAX_CHANNELS)
    if not _is_number(pacing.cps) or not 0 < pacing.cps <= MAX_CPS:
        check.add(
            "pacing.cps",
            f"Calls per second must be more than 0 and at most {MAX_CPS}; got {pacing.cps!r}.",
        )
    check.int_range(pacing.priority, "pacing.priority", "Priority", 1, MAX_PRIORITY)
    check.int_range(
        pacing.ring_timeout, "pacing.ring_timeout", "Ring timeout", *RING_TIMEOUT, unit="seconds"
    )
    check.int_range(
        pacing.max_call_duration, "pacing.max_call_duration", "Max call duration",
        *CALL_DURATION, unit="seconds",
    )


_RULES = (
    ("busy", "busy lines"),
    ("no_answer", "unanswered calls"),
    ("failed", "congestion or failures"),
    ("machine", "answering machines"),
    ("answered_without_key", "calls answered without a key"),
)


def _check_retry(check, policy):
    check.int_range(
        policy.max_attempts, "retry.max_attempts", "Max attempts", 1, MAX_ATTEMPTS
    )
    for name, what in _RULES:
        rule = getattr(policy, name)
        path = join("retry", name)
        if not isinstance(rule.retry, bool):
            check.add(join(path, "retry"), f"Whether to retry {what} must be yes or no.")
        if not _is_int(rule.delay) or rule.delay < 0:
            check.add(
                join(path, "delay"),
                f"The retry delay for {what} must be 0 or more seconds; got {rule.delay!r}.",
            )
        elif rule.delay > MAX_RETRY_DELAY:
            check.add(
                join(path, "delay"),
                f"The retry delay for {what} is more than 30 days ({rule.delay} seconds).",
            )


def _check_dial_string(check, settings):
    template = settings.dial_string
    default = not template
    if default:
        template = check.context.default_dial_string
        if not template:
            check.add(
                "dial_string",
                "Set a dial string such as PJSIP/{number}@trunk; no default is configured.",
            )
            return
    which = "The configured default dial string" if default else "The dial string"
    if not isinstance(template, str):
        check.add("dial_string", f"{which} must be text.")
        return
    if "{number}" not in template:
        check.add(
            "dial_string",
            f"{which} {_show(template)} has no {{number}}; for example PJSIP/{{number}}@trunk.",
        )
    if not _TECH.match(template):
        check.add(
            "dial_string",
            f"{which} {_show(template)} must start with a technology, like PJSIP/ or Local/.",
        )
    if re.search(r"\s", template) or _CONTROL.search(template):
        check.add(
            "dial_string", f"{which} {_show(template)} contains spaces or control characters."
        )
    try:
        names = [n for _l, n, _s, _c in string.Formatter().parse(template) if n is not None]
    except ValueError:
        check.add("dial_string", f"{which} {_show(template)} has an unbalanced {{ or }}.")
        return
    for name in sorted(set(names) - {"number"}):
        check.add(
            "dial_string",
            f"{which} uses {{{name}}}; only {{number}} can be filled in.",
        )


def validate_campaign(settings, context):
    """
    Every problem with C{settings} that would stop the campaign from being
    confirmed.

    @param settings: L{fts.core.campaign.CampaignSettings}.
    @param context: L{ValidationContext}.
    @return: a list of L{Problem}s in field order; empty if none.
    """
    check = _Checker(context)
    _check_identity(check, settings)
    _check_message(check, settings)
    _check_menu(check, settings.menu)
    _check_amd(check, settings.amd)
    _check_schedule(check, settings.schedule)
    _check_pacing(check, settings.pacing)
    _check_retry(check, settings.retry)
    _check_dial_string(check, settings)
    return check.problems


def check_campaign_data(data, context):
    """
    Read settings from their JSON form and validate them.

    @return: C{(settings, problems)}; C{settings} is C{None} if the data is
        malformed, and C{problems} then lists every malformed field.
    """
    try:
        settings = settings_from_dict(data)
    except SettingsError as e:
        return None, e.problems
    return settings, validate_campaign(settings, context)
