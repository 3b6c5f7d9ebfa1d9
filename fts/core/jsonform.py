"""
Plain JSON-able data to and from frozen attrs settings values, driven by the
classes' type annotations.

Supported field types: C{str}, C{int}, C{float}, C{bool} (strictly: C{True}
is not an int), C{datetime.time} (C{"HH:MM"} or C{"HH:MM:SS"}),
C{datetime.datetime} (naive ISO 8601), L{enum.Enum} subclasses (by value),
C{X | None}, C{tuple[X, ...]} (a list), nested attrs classes (an object),
unions of attrs classes with a C{TYPE} class variable (an object tagged by
C{"type"}), and fields with C{metadata={"json": "mapping"}} holding
C{(name, int)} pairs (an object).  Reading collects every problem before
failing; see L{fts.core.campaign} for the shapes of the settings.
"""

import typing
from datetime import datetime, time
from enum import Enum
from types import NoneType, UnionType

import attr

from fts.core.problems import Problem, join


class SettingsError(ValueError):
    """
    Settings data that cannot be read.

    @ivar problems: every malformed field, as L{Problem}s.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(
            "Campaign settings are malformed: " + "; ".join(map(str, self.problems))
        )


_BAD = object()
_HINTS = {}


def _hints(cls):
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _unstructure(value):
    if attr.has(type(value)):
        tag = getattr(type(value), "TYPE", None)
        out = {"type": tag} if tag is not None else {}
        for field in attr.fields(type(value)):
            item = getattr(value, field.name)
            if field.metadata.get("json") == "mapping":
                out[field.name] = {name: val for name, val in item}
            else:
                out[field.name] = _unstructure(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_unstructure(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat("seconds" if value.second else "minutes")
    return value


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _structure(tp, value, path, problems):
    """
    Read C{value} as type C{tp}; on failure record a problem at C{path} and
    return C{_BAD}.
    """

    def bad(message):
        problems.append(Problem(path, message))
        return _BAD

    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        members = typing.get_args(tp)
        if value is None and NoneType in members:
            return None
        members = tuple(m for m in members if m is not NoneType)
        if len(members) > 1:
            # A tagged union: attrs classes told apart by their TYPE.
            tags = {m.TYPE: m for m in members}
            if not isinstance(value, dict):
                return bad(f"Expected a message part object, got {_show(value)}.")
            kind = value.get("type")
            if kind not in tags:
                return bad(
                    f"Unknown message part type {_show(kind)}; expected one of "
                    + ", ".join(sorted(tags))
                    + "."
                )
            data = {k: v for k, v in value.items() if k != "type"}
            return _structure(tags[kind], data, path, problems)
        (tp,) = members
        return _structure(tp, value, path, problems)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return bad(f"Expected a list, got {_show(value)}.")
        (item_type, _ellipsis) = typing.get_args(tp)
        items = [
            _structure(item_type, item, join(path, i), problems)
            for i, item in enumerate(value)
        ]
        return _BAD if any(item is _BAD for item in items) else tuple(items)
    if attr.has(tp):
        return _structure_attrs(tp, value, path, problems)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except (ValueError, TypeError):
            choices = ", ".join(member.value for member in tp)
            return bad(f"Expected one of {choices}; got {_show(value)}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        return bad(f"Expected true or false, got {_show(value)}.")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return bad(f"Expected a whole number, got {_show(value)}.")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return bad(f"Expected a number, got {_show(value)}.")
    if tp is str:
        if isinstance(value, str):
            return value
        return bad(f"Expected text, got {_show(value)}.")
    if tp is time:
        try:
            if not isinstance(value, str) or len(value) not in (5, 8):
                raise ValueError(value)
            return time.fromisoformat(value)
        except ValueError:
            return bad(f"Expected a time like 09:30, got {_show(value)}.")
    if tp is datetime:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return bad(f"Expected a date and time like 2026-03-01T09:00, got {_show(value)}.")
        if parsed.tzinfo is not None:
            return bad(
                f"Expected a local date and time without a UTC offset, got {_show(value)};"
                " the campaign's timezone applies."
            )
        return parsed
    raise TypeError(f"no JSON form for {tp!r} at {path}")  # a bug in this module


def _structure_attrs(cls, value, path, problems):
    if not isinstance(value, dict):
        problems.append(Problem(path, f"Expected an object, got {_show(value)}."))
        return _BAD
    hints = _hints(cls)
    fields = {f.name: f for f in attr.fields(cls)}
    failed = False
    for key in value:
        if key not in fields:
            problems.append(
                Problem(join(path, str(key)), f"Unknown setting {_show(key)}.")
            )
            failed = True
    kwargs = {}
    for name, field in fields.items():
        where = join(path, name)
        if name not in value:
            if field.default is attr.NOTHING:
                problems.append(Problem(where, "Missing; this setting is required."))
                failed = True
            continue
        if field.metadata.get("json") == "mapping":
            item = _structure_mapping(value[name], where, problems)
        else:
            item = _structure(hints[name], value[name], where, problems)
        if item is _BAD:
            failed = True
        else:
            kwargs[name] = item
    if failed:
        return _BAD
    return cls(**kwargs)


def _structure_mapping(value, path, problems):
    if not isinstance(value, dict):
        problems.append(
            Problem(path, f"Expected an object of names to numbers, got {_show(value)}.")
        )
        return _BAD
    result = {}
    for name, item in value.items():
        if isinstance(item, int) and not isinstance(item, bool):
            result[name] = item
        else:
            problems.append(
                Problem(join(path, str(name)), f"Expected a whole number, got {_show(item)}.")
            )
    return result if len(result) == len(value) else _BAD


def to_json(value):
    """
    The JSON-able form of an attrs settings value.
    """
    return _unstructure(value)


def from_json(cls, data):
    """
    Read an attrs settings value of class C{cls} from its JSON form.

    @raise SettingsError: listing every malformed or unknown field.
    """
    problems = []
    result = _structure(cls, data, "", problems)
    if problems:
        raise SettingsError(problems)
    return result
