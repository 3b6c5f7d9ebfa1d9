"""
The called parties: what each dialed number does.

A L{CalleeModel} turns a number into a L{CalleePlan}: the outcome of the
dial (answered, busy, congestion, no_answer, rejected, unavailable), how long
it rings first, and, when answered, a small script of what the person (or
answering machine) does on the line: wait, press keys, hang up.  Random
choices come from one seeded C{random.Random}, drawn in originate order, so a
run is reproducible.  Per-number overrides by prefix make tests
deterministic; L{transcript_model} reproduces the test dialplan of the
recorded Asterisk (1xxx answers and presses 1, 2xxx is busy, ...).

Pure: no Twisted, no I/O (see L{fts.pbxsim.profile} for loading from JSON).
"""

import random

import attr

__all__ = [
    "ANSWERED",
    "BUSY",
    "CONGESTION",
    "NO_ANSWER",
    "REJECTED",
    "UNAVAILABLE",
    "OUTCOMES",
    "Step",
    "CalleePlan",
    "AnswerBehaviour",
    "Override",
    "CalleeModel",
    "script_from",
    "transcript_model",
    "DTMF_STEP_SECONDS",
]

ANSWERED = "answered"
BUSY = "busy"
CONGESTION = "congestion"
NO_ANSWER = "no_answer"
REJECTED = "rejected"
UNAVAILABLE = "unavailable"
OUTCOMES = (ANSWERED, BUSY, CONGESTION, NO_ANSWER, REJECTED, UNAVAILABLE)

# SendDTMF of one digit as seen on the real PBX: DTMFBegin 0.1 s after the
# application starts, DTMFEnd (and delivery) 0.2 s after, next app 0.45 s.
DTMF_STEP_SECONDS = 0.45
DIGITS = "0123456789*#ABCD"


@attr.frozen
class Step:
    """
    One thing the called party does after answering, as a dialplan
    application on the C{;2} channel (shown in Newexten / CoreShowChannel).

    @ivar application: C{Wait}, C{Playback}, C{SendDTMF} or C{Hangup}.
    @ivar data: its argument as Asterisk would show it.
    @ivar seconds: how long it lasts.
    @ivar digit: for C{SendDTMF}, the key pressed.
    """

    application: str
    data: str = ""
    seconds: float = 0.0
    digit: str = None


def _wait(seconds):
    return Step("Wait", "%g" % (seconds,), seconds)


def script_from(hangup_after=None, keys=()):
    """
    Build a script: press C{keys} (C{(seconds_after_answer, digit)} pairs)
    and hang up C{hangup_after} seconds after answering (C{None}: stay on
    the line until the other side hangs up).
    """
    steps = []
    cursor = 0.0
    for at, digit in sorted(keys, key=lambda k: k[0]):
        if digit not in DIGITS:
            raise ValueError("not a DTMF digit: %r" % (digit,))
        if at > cursor + 1e-9:
            steps.append(_wait(at - cursor))
            cursor = at
        steps.append(Step("SendDTMF", digit, DTMF_STEP_SECONDS, digit))
        cursor += DTMF_STEP_SECONDS
    if hangup_after is not None:
        if hangup_after > cursor + 1e-9:
            steps.append(_wait(hangup_after - cursor))
        steps.append(Step("Hangup"))
    return tuple(steps)


@attr.frozen
class CalleePlan:
    """
    What one called party does.

    @ivar outcome: one of L{OUTCOMES}.
    @ivar ring_seconds: seconds from the dial to the answer, busy,
        congestion or reject (no_answer rings until the Originate timeout).
    @ivar rings: whether ringing is signalled meanwhile (DialState RINGING).
    @ivar script: the L{Step}s after answering.
    @ivar amd_status, amd_cause, amd_seconds: what C{EXEC AMD} concludes
        about this party, and after how long.
    @ivar behaviour: the name of the answer behaviour (for the tally).
    """

    outcome: str
    ring_seconds: float = 0.0
    rings: bool = False
    script: tuple = ()
    amd_status: str = "HUMAN"
    amd_cause: str = "HUMAN-800-800"
    amd_seconds: float = 1.5
    behaviour: str = ""

    @property
    def hangup_after(self):
        """
        Seconds after answer when the party hangs up, or C{None} (never).
        """
        if not self.script or self.script[-1].application != "Hangup":
            return None
        return sum(step.seconds for step in self.script)

    @property
    def keys(self):
        """
        C{(seconds_after_answer, digit)} for every key the party presses.
        """
        keys = []
        t = 0.0
        for step in self.script:
            if step.digit:
                keys.append((t, step.digit))
            t += step.seconds
        return keys


def _range(value):
    """
    A C{(low, high)} pair from a number or a two-item sequence.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    low, high = value
    low, high = float(low), float(high)
    if high < low or low < 0:
        raise ValueError("bad range %r" % (value,))
    return (low, high)


def _draw(rng, span):
    low, high = span
    return low + rng.random() * (high - low)


def _pick(rng, weighted):
    """
    Pick a key from C{((key, weight), ...)}.
    """
    total = sum(w for _, w in weighted)
    point = rng.random() * total
    for key, weight in weighted:
        point -= weight
        if point < 0:
            return key
    return weighted[-1][0]


@attr.frozen
class AnswerBehaviour:
    """
    One kind of answered call in the random model.

    @ivar name: e.g. C{listen}, C{keys}, C{hangup_early}, C{machine}.
    @ivar weight: relative likelihood among the answer behaviours.
    @ivar hangup_after: C{(low, high)} seconds after answer when the party
        hangs up, or C{None} to stay until the other side hangs up.
    @ivar key_after: C{(low, high)} seconds after answer of the first key,
        or C{None} for no key.
    @ivar digits: C{((digit, weight), ...)} the keys are drawn from.
    @ivar key_count: how many keys are pressed.
    @ivar key_gap: C{(low, high)} seconds between two keys.
    @ivar amd: C{HUMAN}, C{MACHINE} or C{NOTSURE}.
    """

    name: str
    weight: float = 1.0
    hangup_after: tuple = attr.field(default=(5.0, 30.0), converter=_range)
    key_after: tuple = attr.field(default=None, converter=_range)
    digits: tuple = (("1", 1.0),)
    key_count: int = 1
    key_gap: tuple = attr.field(default=(1.0, 1.0), converter=_range)
    amd: str = "HUMAN"

    def script(self, rng):
        keys = []
        if self.key_after is not None and self.digits:
            at = _draw(rng, self.key_after)
            for _ in range(self.key_count):
                keys.append((at, _pick(rng, self.digits)))
                at += DTMF_STEP_SECONDS + _draw(rng, self.key_gap)
        hangup_after = None
        if self.hangup_after is not None:
            hangup_after = _draw(rng, self.hangup_after)
            if keys:
                hangup_after = max(hangup_after, keys[-1][0] + DTMF_STEP_SECONDS)
        return script_from(hangup_after, keys)


DEFAULT_BEHAVIOURS = (
    AnswerBehaviour("listen", 0.55, hangup_after=(20.0, 60.0)),
    AnswerBehaviour(
        "keys",
        0.25,
        hangup_after=(8.0, 30.0),
        key_after=(2.0, 8.0),
        digits=(("1", 0.7), ("2", 0.2), ("9", 0.1)),
    ),
    AnswerBehaviour("hangup_early", 0.1, hangup_after=(0.5, 4.0)),
    AnswerBehaviour("machine", 0.1, hangup_after=(20.0, 40.0), amd="MACHINE"),
)


@attr.frozen
class AMDSettings:
    """
    What C{EXEC AMD} reports for each kind of party, and after how long.
    """

    human_cause: str = "HUMAN-800-800"
    human_seconds: float = 1.5
    machine_cause: str = "INITIALSILENCE-2500-2500"
    machine_seconds: float = 2.98
    notsure_cause: str = "TOOLONG-5000"
    notsure_seconds: float = 5.0

    def result(self, status):
        status = status.upper()
        if status == "MACHINE":
            return status, self.machine_cause, self.machine_seconds
        if status == "NOTSURE":
            return status, self.notsure_cause, self.notsure_seconds
        return "HUMAN", self.human_cause, self.human_seconds


@attr.frozen
class Override:
    """
    A fixed behaviour for the numbers starting with C{prefix} (and of
    C{length} digits, when given).  Fields left C{None} are drawn from the
    random model as usual.
    """

    prefix: str
    length: int = None
    outcome: str = None
    ring_seconds: float = None
    rings: bool = None
    behaviour: str = None
    script: tuple = None
    amd: str = None

    def matches(self, number):
        return number.startswith(self.prefix) and (
            self.length is None or len(number) == self.length
        )


class CalleeModel:
    """
    Decide what each dialed number does.

    @param outcomes: C{{outcome: weight}}; missing outcomes have weight 0.
    @param ring_seconds: seconds of ringing before the outcome, a number or
        C{(low, high)}.
    @param no_answer_rings: probability that a party that never answers
        signals ringing.
    @param behaviours: the L{AnswerBehaviour}s of answered calls.
    @param overrides: L{Override}s; the longest matching prefix wins.
    @param amd: an L{AMDSettings}.
    @param seed: seed of the random generator (C{None}: unseeded).
    """

    def __init__(
        self,
        outcomes=None,
        ring_seconds=(2.0, 8.0),
        no_answer_rings=0.9,
        behaviours=DEFAULT_BEHAVIOURS,
        overrides=(),
        amd=None,
        seed=None,
    ):
        if outcomes is None:
            outcomes = {ANSWERED: 1.0}
        unknown = set(outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError("unknown outcomes %s (known: %s)" % (sorted(unknown), ", ".join(OUTCOMES)))
        weighted = tuple((o, float(outcomes.get(o, 0))) for o in OUTCOMES)
        if any(w < 0 for _, w in weighted) or sum(w for _, w in weighted) <= 0:
            raise ValueError("outcome weights must be >= 0 and not all 0: %r" % (outcomes,))
        self.outcomes = tuple((o, w) for o, w in weighted if w > 0)
        self.ring_seconds = _range(ring_seconds)
        self.no_answer_rings = float(no_answer_rings)
        self.behaviours = tuple(behaviours)
        if not self.behaviours:
            raise ValueError("at least one answer behaviour is needed")
        self._by_name = {b.name: b for b in self.behaviours}
        for override in overrides:
            if override.outcome is not None and override.outcome not in OUTCOMES:
                raise ValueError("override %r: unknown outcome %r" % (override.prefix, override.outcome))
            if override.behaviour is not None and override.behaviour not in self._by_name:
                raise ValueError(
                    "override %r: unknown behaviour %r" % (override.prefix, override.behaviour)
                )
        self.overrides = tuple(sorted(overrides, key=lambda o: -len(o.prefix)))
        self.amd = amd or AMDSettings()
        self.seed = seed
        self.random = random.Random(seed)

    def override_for(self, number):
        for override in self.overrides:
            if override.matches(number):
                return override
        return None

    def plan(self, number):
        """
        The L{CalleePlan} for one dial of C{number}.
        """
        rng = self.random
        override = self.override_for(number)
        if override is None:
            override = _NO_OVERRIDE
        outcome = override.outcome or _pick(rng, self.outcomes)
        if override.ring_seconds is not None:
            ring = float(override.ring_seconds)
        else:
            ring = _draw(rng, self.ring_seconds)
        if override.rings is not None:
            rings = override.rings
        elif outcome == NO_ANSWER:
            rings = rng.random() < self.no_answer_rings
        else:
            rings = ring > 0
        if outcome != ANSWERED:
            return CalleePlan(outcome, ring, rings)
        if override.script is not None:
            name = override.behaviour or "scripted"
            script = override.script
            amd_status = override.amd or "HUMAN"
        else:
            if override.behaviour is not None:
                behaviour = self._by_name[override.behaviour]
            else:
                behaviour = _pick(rng, tuple((b, b.weight) for b in self.behaviours))
            name = behaviour.name
            script = behaviour.script(rng)
            amd_status = override.amd or behaviour.amd
        status, cause, seconds = self.amd.result(amd_status)
        return CalleePlan(
            outcome,
            ring,
            rings,
            script,
            amd_status=status,
            amd_cause=cause,
            amd_seconds=seconds,
            behaviour=name,
        )


_NO_OVERRIDE = Override(prefix="")


def transcript_model(seed=None):
    """
    The recorded test dialplan (../shared/asterisk-transcripts/README.md):
    1xxx answers, waits 1 s, presses 1, waits 5 s, hangs up; 2xxx busy;
    3xxx congestion; 4xxx rings and never answers; 5xxx answers and hangs up
    after 2 s; 6xxx answers and plays 20 s of silence; 7xxx never answers
    nor rings; 8xxx rejects (cause 21); 90XX answers, presses 1 at once,
    hangs up 3 s later; every other number does not exist.  C{EXEC AMD}
    hears silence: MACHINE / INITIALSILENCE-2500-2500 after 2.98 s.
    """
    answered = dict(outcome=ANSWERED, ring_seconds=0.0, rings=False, amd="MACHINE")
    overrides = (
        Override(
            "1",
            4,
            script=(
                _wait(1.0),
                Step("SendDTMF", "1", DTMF_STEP_SECONDS, "1"),
                _wait(5.0),
                Step("Hangup"),
            ),
            behaviour="keys",
            **answered,
        ),
        Override("2", 4, outcome=BUSY, ring_seconds=0.0, rings=False),
        Override("3", 4, outcome=CONGESTION, ring_seconds=0.0, rings=False),
        Override("4", 4, outcome=NO_ANSWER, ring_seconds=0.0, rings=True),
        Override("5", 4, script=(_wait(2.0), Step("Hangup")), behaviour="hangup_early", **answered),
        Override(
            "6",
            4,
            script=(Step("Playback", "silence/10&silence/10", 20.0), Step("Hangup")),
            behaviour="listen",
            **answered,
        ),
        Override("7", 4, outcome=NO_ANSWER, ring_seconds=0.0, rings=False),
        Override("8", 4, outcome=REJECTED, ring_seconds=0.0, rings=False),
        Override(
            "90",
            4,
            script=(Step("SendDTMF", "1", DTMF_STEP_SECONDS, "1"), _wait(3.0), Step("Hangup")),
            behaviour="keys",
            **answered,
        ),
        Override("", None, outcome=UNAVAILABLE, ring_seconds=0.0, rings=False),
    )
    return CalleeModel(
        outcomes={UNAVAILABLE: 1.0},
        ring_seconds=0.0,
        behaviours=(
            AnswerBehaviour("keys", hangup_after=None, amd="MACHINE"),
            AnswerBehaviour("hangup_early", hangup_after=None, amd="MACHINE"),
            AnswerBehaviour("listen", hangup_after=None, amd="MACHINE"),
        ),
        overrides=overrides,
        seed=seed,
    )

