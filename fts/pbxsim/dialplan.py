"""
The simulated PBX's dialplan and sound files.

Only what an FTS deployment needs exists: one or more campaign contexts
(like the shipped C{extensions_fts.conf}) where the C{;1} half of an answered
Local call runs C{AGI(agi://HOST:PORT/SCRIPT)} for any extension matching
C{_X.}, then C{Hangup()}, and an C{h} extension that runs a second FastAGI
script on the dead channel.  The called party's side (the C{;2} half) is the
callee model, not dialplan.
"""

import functools
import re

import attr

__all__ = [
    "AGITarget",
    "CampaignContext",
    "Dialplan",
    "SoundLibrary",
    "parse_agi_url",
    "SAMPLE_RATE",
]

# Asterisk reports playback positions (endpos) in samples at 8 kHz.
SAMPLE_RATE = 8000

_AGI_URL = re.compile(r"^agi://(?P<host>\[[^\]]+\]|[^/:]+)(?::(?P<port>\d+))?(?:/(?P<script>.*))?$")


@functools.lru_cache(maxsize=256)
def parse_agi_url(url):
    """
    Split C{agi://host[:port]/script} into C{(host, port, script)}; the port
    defaults to 4573 as in Asterisk.

    @raise ValueError: not an C{agi://} URL.
    """
    match = _AGI_URL.match(url)
    if match is None:
        raise ValueError("not a FastAGI URL (agi://host[:port]/script): %r" % (url,))
    host = match.group("host").strip("[]")
    port = int(match.group("port") or 4573)
    return host, port, match.group("script") or ""


@attr.frozen
class AGITarget:
    """
    One C{AGI(url,arg1,arg2...)} dialplan application.
    """

    url: str
    args: tuple = ()

    def __attrs_post_init__(self):
        parse_agi_url(self.url)

    @property
    def address(self):
        host, port, _ = parse_agi_url(self.url)
        return host, port

    @property
    def script(self):
        return parse_agi_url(self.url)[2]

    @property
    def app_data(self):
        """
        The AppData Asterisk shows for this application.
        """
        return ",".join((self.url,) + tuple(self.args))


@attr.frozen
class CampaignContext:
    """
    A context like C{[fts-campaign]}: C{_X.} runs C{agi} then C{Hangup()};
    C{h} runs C{hangup} (if any).
    """

    name: str
    agi: AGITarget
    hangup: AGITarget = None

    def has_extension(self, exten, priority=1):
        """
        Whether C{exten} at C{priority} exists (pattern C{_X.}: a digit then
        at least one more character; priorities 1 and 2).
        """
        return (
            len(exten) >= 2 and exten[0] in "0123456789" and priority in (1, 2)
        )


class Dialplan:
    """
    The campaign contexts, by name.
    """

    def __init__(self, contexts):
        self.contexts = {c.name: c for c in contexts}

    @classmethod
    def default(
        cls,
        agi_host="127.0.0.1",
        agi_port=4573,
        context="fts-campaign",
        script="call",
        hangup_script="hangup",
        hangup_args=("h-extension",),
    ):
        """
        One campaign context; the h extension runs C{hangup_script} with
        C{hangup_args} (C{hangup_script=None}: no h extension).
        """
        base = "agi://%s:%d/" % (agi_host, agi_port)
        hangup = None
        if hangup_script is not None:
            hangup = AGITarget(base + hangup_script, tuple(hangup_args))
        return cls([CampaignContext(context, AGITarget(base + script), hangup)])

    def find(self, context):
        return self.contexts.get(context)


class SoundLibrary:
    """
    How long each sound file plays, in seconds.

    C{silence/N} lasts N seconds; names not listed last C{default} seconds.
    Several files joined with C{&} (as Playback takes them) add up.
    """

    DEFAULTS = {
        "beep": 3404 / SAMPLE_RATE,
        "demo-congrats": 6.0,
        "demo-instruct": 12.0,
    }

    def __init__(self, durations=None, default=3.0):
        self.durations = dict(self.DEFAULTS)
        if durations:
            self.durations.update({k: float(v) for k, v in durations.items()})
        self.default = float(default)

    def seconds(self, name):
        total = 0.0
        for part in name.split("&"):
            total += self._one(part.strip())
        return total

    def _one(self, name):
        if name in self.durations:
            return self.durations[name]
        if name.startswith("silence/"):
            try:
                return float(name[len("silence/"):])
            except ValueError:
                pass
        return self.default

    def samples(self, name):
        return int(round(self.seconds(name) * SAMPLE_RATE))
