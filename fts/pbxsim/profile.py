"""
Load a callee model (and the sound durations and transfer behaviour that go
with it) from a small JSON file, for benchmarks and demos.

Example (every key optional)::

    {
      "seed": 1,
      "outcomes": {"answered": 60, "busy": 10, "congestion": 5,
                   "no_answer": 15, "rejected": 5, "unavailable": 5},
      "ring_seconds": [2, 8],
      "no_answer_rings": 0.9,
      "behaviours": {
        "listen": {"weight": 55, "hangup_after": [20, 60]},
        "keys": {"weight": 25, "hangup_after": [8, 30], "key_after": [2, 8],
                 "digits": {"1": 70, "2": 20, "9": 10}, "key_count": 1},
        "hangup_early": {"weight": 10, "hangup_after": [0.5, 4]},
        "machine": {"weight": 10, "hangup_after": [20, 40], "amd": "MACHINE"},
        "stay": {"weight": 0, "hangup_after": null}
      },
      "amd": {"human_cause": "HUMAN-800-800", "human_seconds": 1.5,
              "machine_cause": "INITIALSILENCE-2500-2500", "machine_seconds": 2.98},
      "overrides": [
        {"prefix": "2", "outcome": "busy"},
        {"prefix": "1", "length": 4, "outcome": "answered", "ring_seconds": 0,
         "hangup_after": 6.5, "keys": [[1.0, "1"]], "amd": "HUMAN"},
        {"prefix": "55", "behaviour": "machine"}
      ],
      "sounds": {"default": 3.0, "durations": {"welcome": 7.5}},
      "transfer": {"status": "ANSWER", "ring_seconds": 3, "talk_seconds": 10}
    }

Numbers in seconds; a range is C{[low, high]} (uniform) or a single number.
"""

import json

import attr

from .callee import (
    DEFAULT_BEHAVIOURS,
    AMDSettings,
    AnswerBehaviour,
    CalleeModel,
    Override,
    script_from,
    transcript_model,
)
from .dialplan import SoundLibrary
from .pbx import TransferSettings

__all__ = ["Profile", "load_profile", "profile_from_dict", "named_profile", "PROFILE_NAMES"]

PROFILE_NAMES = ("transcript", "random")

_TOP = {"seed", "outcomes", "ring_seconds", "no_answer_rings", "behaviours", "amd", "overrides", "sounds", "transfer"}
_BEHAVIOUR = {"weight", "hangup_after", "key_after", "digits", "key_count", "key_gap", "amd"}
_OVERRIDE = {"prefix", "length", "outcome", "ring_seconds", "rings", "behaviour", "hangup_after", "keys", "amd"}


@attr.frozen
class Profile:
    """
    A callee model with the sound durations and transfer target it is
    meant to run with.
    """

    callee: CalleeModel
    sounds: SoundLibrary = attr.field(factory=SoundLibrary)
    transfer: TransferSettings = attr.field(factory=TransferSettings)


def _check(keys, allowed, where):
    unknown = set(keys) - allowed
    if unknown:
        raise ValueError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(sorted(unknown)), ", ".join(sorted(allowed))))


def _behaviour(name, spec):
    where = "behaviours.%s" % (name,)
    if not isinstance(spec, dict):
        raise ValueError("%s: expected an object" % (where,))
    _check(spec, _BEHAVIOUR, where)
    kwargs = dict(spec)
    if "digits" in kwargs:
        kwargs["digits"] = tuple((str(d), float(w)) for d, w in kwargs["digits"].items())
    try:
        return AnswerBehaviour(name, **kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError("%s: %s" % (where, e)) from None


def _override(index, spec):
    where = "overrides[%d]" % (index,)
    if not isinstance(spec, dict) or "prefix" not in spec:
        raise ValueError("%s: expected an object with a prefix" % (where,))
    _check(spec, _OVERRIDE, where)
    kwargs = {k: v for k, v in spec.items() if k not in ("hangup_after", "keys")}
    kwargs["prefix"] = str(kwargs["prefix"])
    if "hangup_after" in spec or "keys" in spec:
        try:
            keys = [(float(t), str(d)) for t, d in spec.get("keys", ())]
            kwargs["script"] = script_from(spec.get("hangup_after"), keys)
        except (TypeError, ValueError) as e:
            raise ValueError("%s: %s" % (where, e)) from None
        kwargs.setdefault("outcome", "answered")
    return Override(**kwargs)


def profile_from_dict(data, seed=None):
    """
    Build a L{Profile} from parsed JSON; C{seed} (if not C{None}) wins over
    the file's.

    @raise ValueError: naming the key that is wrong.
    """
    if not isinstance(data, dict):
        raise ValueError("callee profile: expected a JSON object")
    _check(data, _TOP, "callee profile")
    behaviours = DEFAULT_BEHAVIOURS
    if "behaviours" in data:
        behaviours = tuple(_behaviour(n, s) for n, s in data["behaviours"].items())
        behaviours = tuple(b for b in behaviours if b.weight > 0) or behaviours
    overrides = tuple(_override(i, s) for i, s in enumerate(data.get("overrides", ())))
    amd = AMDSettings(**data.get("amd", {}))
    kwargs = {}
    for key in ("outcomes", "ring_seconds", "no_answer_rings"):
        if key in data:
            kwargs[key] = data[key]
    callee = CalleeModel(
        behaviours=behaviours,
        overrides=overrides,
        amd=amd,
        seed=data.get("seed") if seed is None else seed,
        **kwargs,
    )
    sounds_spec = data.get("sounds", {})
    _check(sounds_spec, {"default", "durations"}, "sounds")
    sounds = SoundLibrary(sounds_spec.get("durations"), sounds_spec.get("default", 3.0))
    transfer = TransferSettings(**data.get("transfer", {}))
    return Profile(callee, sounds, transfer)


def load_profile(path, seed=None):
    """
    Read a L{Profile} from a JSON file.

    @raise ValueError: the file is not valid JSON or not a valid profile
        (the message names the file and the problem).
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError("%s: not valid JSON: %s" % (path, e)) from None
    try:
        return profile_from_dict(data, seed)
    except (TypeError, ValueError) as e:
        raise ValueError("%s: %s" % (path, e)) from None


def named_profile(name, seed=None):
    """
    C{transcript}: the recorded test dialplan (L{transcript_model});
    C{random}: the default random model.
    """
    if name == "transcript":
        return Profile(transcript_model(seed))
    if name == "random":
        return Profile(CalleeModel(
            outcomes={"answered": 60, "busy": 10, "congestion": 5, "no_answer": 15, "rejected": 5, "unavailable": 5},
            seed=seed,
        ))
    raise ValueError("unknown callee profile %r (known: %s)" % (name, ", ".join(PROFILE_NAMES)))
