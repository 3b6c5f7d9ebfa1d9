"""
The campaign wizard's forms: reading one step's submitted fields into
L{fts.core.campaign.CampaignSettings}, and the list edits its buttons ask
for (add, remove and move message parts, key options and windows).

Form fields are named by their settings path (C{"caller_id.number"},
C{"message[2].text"}, C{"schedule.windows[0].start"}), the same paths
L{fts.core.validation} gives its problems, so a page shows each problem at
its field.  A step only replaces the part of the settings it shows.

Two kinds of trouble: what the form cannot read or the database cannot hold
(not a number, an unknown timezone, an end before the start) is a form
error and nothing is stored; what only makes the campaign unfit to confirm
(no message yet, a key used twice) is saved in the draft and listed by the
validation at its field and on the review step.
"""

import re
from datetime import datetime, time

import attr

from fts.audio.tts import MAX_TEXT
from fts.core import windows
from fts.core.campaign import (
    AMD_PARAMETERS,
    KEYS,
    Action,
    AmdMode,
    AudioPart,
    CallerId,
    FieldPart,
    KeyOption,
    RecipientHours,
    RetryRule,
    SayMode,
    TextPart,
    Window,
)

#: The wizard's steps, in order, with their titles.
STEPS = (
    ("basics", "Basics"),
    ("message", "Message"),
    ("options", "Key options"),
    ("amd", "Answering machines"),
    ("schedule", "Schedule"),
    ("pacing", "Pacing"),
    ("retries", "Retries"),
    ("review", "Review"),
)
STEP_NAMES = tuple(name for name, _title in STEPS)

#: Which step shows the settings under each top-level name.
_STEP_OF = {
    "name": "basics", "list_id": "basics", "dnc_list_ids": "basics", "caller_id": "basics",
    "dial_string": "basics", "language": "basics", "message": "message", "menu": "options", "amd": "amd",
    "schedule": "schedule", "pacing": "pacing", "retry": "retries",
}

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RETRY_RULES = (
    ("busy", "Busy"),
    ("no_answer", "No answer"),
    ("failed", "Congestion or failure"),
    ("machine", "Answering machine"),
    ("answered_without_key", "Answered, no key pressed"),
)
PART_TYPES = (("tts", "Text-to-speech"), ("audio", "Recording"), ("field", "Spoken field"))
MAX_PARTS = 50
MAX_WINDOWS = 50
#: The message part lists the wizard edits, by path.
PART_LISTS = ("message", "amd.machine_message", "menu.invalid_key.message",
              "menu.no_key.message")
_OPTION_MESSAGE = re.compile(r"menu\.options\[(\d+)\]\.message$")
_OP = re.compile(r"(add|remove|up|down|preview)\|([a-z_.\[\]0-9]+)\|([a-z0-9]*)$")


def step_of(path):
    """
    The step that shows the field at problem path C{path} (C{"review"} for
    the settings as a whole).
    """
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    return _STEP_OF.get(top, "review")


def problems_at(problems):
    """
    C{{path: [message, ...]}} of L{fts.core.problems.Problem}s.
    """
    found = {}
    for problem in problems:
        found.setdefault(problem.path, []).append(problem.message)
    return found


@attr.frozen
class Facts:
    """
    What the wizard's forms choose from.

    @ivar asset_ids: audio assets that may be played.
    @ivar columns: the chosen list's columns usable as fields.
    @ivar is_template: templates have no list and no dates.
    """

    asset_ids: frozenset = frozenset()
    columns: tuple = ()
    is_template: bool = False


# -- reading fields -------------------------------------------------------------


def read_time(form, name, label, required=True):
    value = (form.raw(name) or "").strip()
    if not value:
        if required:
            form.error(name, f"{label} is required (HH:MM).")
        return None
    try:
        if len(value) not in (5, 8):
            raise ValueError(value)
        return time.fromisoformat(value)
    except ValueError:
        form.error(name, f"{label} must be a time like 09:30.")
        return None


def read_datetime(form, name, label):
    value = (form.raw(name) or "").strip()
    if not value:
        return None
    try:
        if not 16 <= len(value) <= 19:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        form.error(name, f"{label} must be a date and time like 2026-03-01 09:00.")
        return None
    if parsed.tzinfo is not None:
        form.error(name, f"{label} must be local time, without a UTC offset.")
        return None
    return parsed


def _number(form, name, label, low_exclusive=0.0, high=None):
    value = (form.raw(name) or "").strip()
    if not value:
        form.error(name, f"{label} is required.")
        return None
    try:
        number = float(value)
    except ValueError:
        form.error(name, f"{label} must be a number, such as 2 or 0.5.")
        return None
    if not number > low_exclusive or (high is not None and number > high) \
            or number != number:
        form.error(name, f"{label} must be more than {low_exclusive:g}"
                         + (f" and at most {high:g}." if high is not None else "."))
        return None
    return number


def _keep(value, fallback):
    return fallback if value is None else value


def count_of(form, prefix, leaf):
    """
    How many items of the list at C{prefix} the form holds (items are
    numbered from 0 without gaps; C{leaf} is a field every item has).
    """
    count = 0
    while form.raw(f"{prefix}[{count}].{leaf}") is not None and count < 1000:
        count += 1
    return count


def parse_parts(form, prefix):
    """
    The message parts submitted under C{prefix} (C{"message"}), each as
    C{<prefix>[i].type} and its own fields.
    """
    parts = []
    for i in range(count_of(form, prefix, "type")):
        path = f"{prefix}[{i}]"
        kind = form.raw(f"{path}.type")
        label = f"Part {i + 1}"
        if kind == "tts":
            text = form.text(f"{path}.text", f"{label}'s text", required=False,
                             max_length=MAX_TEXT, multiline=True)
            parts.append(TextPart(text.replace("\r\n", "\n")))
        elif kind == "audio":
            asset = form.integer(f"{path}.asset_id", f"{label}'s recording", low=1,
                                 high=2 ** 62, required=False)
            if asset is None:
                form.error(f"{path}.asset_id",
                           f"Choose the recording {label.lower()} plays.")
                asset = 0
            parts.append(AudioPart(asset))
        elif kind == "field":
            field = form.text(f"{path}.field", f"{label}'s field", required=False,
                              max_length=100)
            mode = form.choice(f"{path}.mode", "Way of speaking", [m.value for m in SayMode])
            parts.append(FieldPart(field, SayMode(mode) if mode else SayMode.DIGITS))
        else:
            form.error(path, f"{label} has an unknown kind; choose text-to-speech,"
                             " a recording or a spoken field.")
    if len(parts) > MAX_PARTS:
        form.error(prefix, f"At most {MAX_PARTS} parts.")
    return tuple(parts)


def _basics(form, settings, facts, extra):
    name = form.text("name", "Name", max_length=200)
    extra["description"] = form.text("description", "Description", required=False,
                                     max_length=1000, multiline=True) or None
    list_id = None
    if not facts.is_template:
        list_id = form.integer("list_id", "Contact list", low=1, high=2 ** 62,
                               required=False)
    number = form.text("caller_id.number", "Caller ID number", required=False, max_length=40)
    caller = form.text("caller_id.name", "Caller ID name", required=False, max_length=100)
    dnc = []
    for value in form.all("dnc_list_ids"):
        try:
            dnc.append(int(value))
        except ValueError:
            form.error("dnc_list_ids", "Choose DNC lists from the list shown.")
    dial = form.text("dial_string", "Dial string", required=False, max_length=200)
    language = form.text("language", "Language", required=False, max_length=20)
    return attr.evolve(settings, name=name, list_id=list_id, caller_id=CallerId(number, caller),
                       dnc_list_ids=tuple(sorted(set(dnc))), dial_string=dial,
                       language=language or "")


def _message(form, settings, facts, extra):
    return attr.evolve(settings, message=parse_parts(form, "message"))


def _options(form, settings, facts, extra):
    menu = settings.menu
    options = []
    for i in range(count_of(form, "menu.options", "key")):
        path = f"menu.options[{i}]"
        key = form.choice(f"{path}.key", "Key", list(KEYS))
        action = form.choice(f"{path}.action", "Action", [a.value for a in Action])
        label = form.text(f"{path}.label", "Label", required=False, max_length=80)
        target = form.text(f"{path}.target", "Target", required=False, max_length=200)
        message = parse_parts(form, f"{path}.message")
        options.append(KeyOption(key or "", Action(action) if action else Action.RECORD,
                                 label, target, message))
    wait = form.integer("menu.wait_seconds", "Wait for a key", low=0, high=3600)
    invalid = form.integer("menu.invalid_key.replays", "Replays on an invalid key", low=0,
                           high=1000)
    no_key = form.integer("menu.no_key.replays", "Replays on no key", low=0, high=1000)
    invalid_message = parse_parts(form, "menu.invalid_key.message")
    no_key_message = parse_parts(form, "menu.no_key.message")
    return attr.evolve(settings, menu=attr.evolve(
        menu, options=tuple(options), wait_seconds=_keep(wait, menu.wait_seconds),
        invalid_key=attr.evolve(menu.invalid_key, replays=_keep(invalid,
                                                                  menu.invalid_key.replays),
                                message=invalid_message),
        no_key=attr.evolve(menu.no_key, replays=_keep(no_key, menu.no_key.replays),
                           message=no_key_message)))


def _amd(form, settings, facts, extra):
    mode = form.choice("amd.mode", "Answering-machine handling", [m.value for m in AmdMode])
    parameters = {}
    for name in AMD_PARAMETERS:
        value = form.integer(f"amd.parameters.{name}", name.replace("_", " ").capitalize(),
                             low=1, high=100000, required=False)
        if value is not None:
            parameters[name] = value
    machine = parse_parts(form, "amd.machine_message")
    return attr.evolve(settings, amd=attr.evolve(
        settings.amd, mode=AmdMode(mode) if mode else settings.amd.mode,
        parameters=parameters, machine_message=machine))


def _schedule(form, settings, facts, extra):
    schedule = settings.schedule
    tz = form.text("schedule.timezone", "Timezone", max_length=64)
    if tz and "schedule.timezone" not in form.errors:
        try:
            windows.zone(tz)
        except windows.UnknownTimezone:
            form.error("schedule.timezone",
                       f"Unknown timezone {tz!r}; use a name like Europe/Berlin.")
    start = end = None
    if not facts.is_template:
        start = read_datetime(form, "schedule.start", "Start")
        end = read_datetime(form, "schedule.end", "End")
        if start is not None and end is not None and end <= start:
            form.error("schedule.end", "The end must be after the start.")
    spans = []
    for i in range(count_of(form, "schedule.windows", "weekday")):
        path = f"schedule.windows[{i}]"
        day = form.integer(f"{path}.weekday", f"Window {i + 1}'s day", low=0, high=6)
        begin = read_time(form, f"{path}.start", f"Window {i + 1}'s start")
        finish = read_time(form, f"{path}.end", f"Window {i + 1}'s end")
        # An unreadable window is kept (with what could be read) so the page
        # shows it again with its errors; nothing is stored then.
        spans.append(Window(_keep(day, 0), _keep(begin, time(0)), _keep(finish, time(0))))
    if len(spans) > MAX_WINDOWS:
        form.error("schedule.windows", f"At most {MAX_WINDOWS} windows.")
    hours = None
    if form.checkbox("schedule.recipient_hours.enabled"):
        h_start = read_time(form, "schedule.recipient_hours.start", "Recipient hours start")
        h_end = read_time(form, "schedule.recipient_hours.end", "Recipient hours end")
        column = form.text("schedule.recipient_hours.timezone_column", "Timezone column",
                           required=False, max_length=100)
        if h_start is not None and h_end is not None:
            hours = RecipientHours(h_start, h_end, column)
    return attr.evolve(settings, schedule=attr.evolve(
        schedule, timezone=tz or schedule.timezone, start=start, end=end,
        windows=tuple(spans), recipient_hours=hours))


def _pacing(form, settings, facts, extra):
    pacing = settings.pacing
    channels = form.integer("pacing.max_channels", "Max channels", low=1, high=100000)
    cps = _number(form, "pacing.cps", "Calls per second", high=10000)
    priority = form.integer("pacing.priority", "Priority", low=1, high=100)
    ring = form.integer("pacing.ring_timeout", "Ring timeout", low=5, high=300)
    duration = form.integer("pacing.max_call_duration", "Max call duration", low=10,
                            high=86400)
    return attr.evolve(settings, pacing=attr.evolve(
        pacing, max_channels=_keep(channels, pacing.max_channels), cps=_keep(cps, pacing.cps),
        priority=_keep(priority, pacing.priority), ring_timeout=_keep(ring, pacing.ring_timeout),
        max_call_duration=_keep(duration, pacing.max_call_duration)))


def _retries(form, settings, facts, extra):
    policy = settings.retry
    attempts = form.integer("retry.max_attempts", "Max attempts", low=1, high=100)
    rules = {}
    for name, label in RETRY_RULES:
        delay = form.integer(f"retry.{name}.delay", f"{label} retry delay", low=0,
                             high=10 ** 9)
        rules[name] = RetryRule(form.checkbox(f"retry.{name}.retry"),
                                _keep(delay, getattr(policy, name).delay))
    return attr.evolve(settings, retry=attr.evolve(
        policy, max_attempts=_keep(attempts, policy.max_attempts), **rules))


_READERS = {"basics": _basics, "message": _message, "options": _options, "amd": _amd,
            "schedule": _schedule, "pacing": _pacing, "retries": _retries}


def parse_step(step, form, settings, facts):
    """
    The settings with step C{step}'s fields read from C{form}.

    @param form: a L{fts.web.forms.Form}; its C{errors} collect every field
        that could not be read (then store nothing).
    @param settings: the saved settings (what the step does not show stays).
    @return: C{(settings, extra)}; C{extra} holds values stored outside the
        settings (C{"description"} on the basics step).
    """
    extra = {}
    reader = _READERS.get(step)
    if reader is None:
        return settings, extra
    return reader(form, settings, facts, extra), extra


# -- list edits -----------------------------------------------------------------


def parse_op(text):
    """
    C{(verb, path, argument)} of a list-edit button's value
    (C{"remove|message|2"}), or L{None}.
    """
    found = _OP.match(text or "")
    return found.groups() if found else None


def get_path(settings, path):
    value = settings
    for piece in re.findall(r"[a-z_]+|\[\d+\]", path):
        value = value[int(piece[1:-1])] if piece.startswith("[") else getattr(value, piece)
    return value


def _set(settings, path, new):
    pieces = re.findall(r"[a-z_]+|\[\d+\]", path)
    if not pieces:
        return new
    head, rest = pieces[0], "".join(("." + p if not p.startswith("[") else p)
                                    for p in pieces[1:]).lstrip(".")
    if head.startswith("["):
        index = int(head[1:-1])
        items = list(settings)
        items[index] = _set(items[index], rest, new)
        return tuple(items)
    return attr.evolve(settings, **{head: _set(getattr(settings, head), rest, new)})


def editable_list(path):
    return (path in PART_LISTS or _OPTION_MESSAGE.match(path)
            or path in ("menu.options", "schedule.windows"))


def _new_item(path, kind, settings, facts):
    if path == "menu.options":
        used = {o.key for o in settings.menu.options}
        free = [k for k in KEYS if k not in used]
        if not free:
            return None, "Every key already has an option."
        return KeyOption(free[0], Action.RECORD), None
    if path == "schedule.windows":
        return Window(0, time(9), time(17)), None
    if kind == "tts":
        return TextPart(""), None
    if kind == "field":
        return FieldPart(facts.columns[0] if facts.columns else ""), None
    if kind == "audio":
        if not facts.asset_ids:
            return None, ("There are no recordings in the audio library yet;"
                          " upload one on the Audio page first.")
        return AudioPart(min(facts.asset_ids)), None
    return None, "Choose what kind of part to add."


def apply_op(op, settings, facts):
    """
    Apply a list edit to C{settings}.

    @param op: what L{parse_op} returned.
    @return: C{(settings, error)}; C{error} a sentence when the edit cannot
        be made (the settings are then unchanged).
    """
    verb, path, argument = op
    if verb == "preview" or not editable_list(path):
        return settings, None if verb == "preview" else "That list cannot be edited here."
    try:
        items = list(get_path(settings, path))
    except (AttributeError, IndexError):
        return settings, "That item no longer exists; the page was out of date."
    if verb == "add" and path == "schedule.windows" and argument == "weekdays":
        items += [Window(day, time(9), time(17)) for day in range(5)]
    elif verb == "add":
        item, error = _new_item(path, argument, settings, facts)
        if error:
            return settings, error
        items.append(item)
    else:
        index = int(argument) if argument.isdigit() else -1
        if not 0 <= index < len(items):
            return settings, "That item no longer exists; the page was out of date."
        if verb == "remove":
            del items[index]
        elif verb == "up" and index > 0:
            items[index - 1], items[index] = items[index], items[index - 1]
        elif verb == "down" and index < len(items) - 1:
            items[index + 1], items[index] = items[index], items[index + 1]
    return _set(settings, path, tuple(items)), None


def sample_fields(columns, contact_fields=None):
    """
    The values a preview fills placeholders with: the first contact's
    fields, else each column's name in brackets (C{"[first_name]"}).
    """
    fields = {name: f"[{name}]" for name in columns}
    if contact_fields:
        fields.update({k: "" if v is None else str(v) for k, v in contact_fields.items()})
    return fields
