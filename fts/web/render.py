"""
HTML rendering: one Jinja2 environment, built once, with autoescaping on for
every template, and the filters the templates use to show times, durations
and numbers.
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
if not TEMPLATES.is_dir():  # installed with pip, not from a work tree
    TEMPLATES = Path(sys.prefix) / "share" / "fts" / "templates"


def when(value):
    """
    An aware datetime (or POSIX seconds) as C{2026-11-02 14:03:07 UTC};
    C{"—"} for L{None}.
    """
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value):
    """
    An aware datetime (or POSIX seconds) in ISO 8601, for C{<time datetime>}.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    return value.isoformat()


def duration_ms(value):
    """
    Milliseconds as C{"850 ms"}, C{"12.4 s"} or C{"3 min 5 s"}.
    """
    if value is None:
        return "—"
    if value < 1000:
        return f"{int(value)} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def percent(value):
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


def environment(path=TEMPLATES):
    """
    The panel's Jinja2 environment: templates from C{path}, every one
    autoescaped, undefined names an error rather than silently empty.
    """
    env = Environment(
        loader=FileSystemLoader(str(path)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, iso=iso, duration_ms=duration_ms, percent=percent)
    return env
