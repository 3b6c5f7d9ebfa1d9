"""
The events of a call, as the dialer and the call flow emit them and the
event writer stores them (table C{call_events}).

An event is a fact with a name (its C{kind}), the call and campaign it
belongs to, when it happened, a small JSON payload, and an idempotency key:
the same fact emitted twice (a replay from the spool, a re-observation after
an AMI reconnect or a restart) carries the same key and is stored once.

Kinds and their payloads (every field optional unless marked required; what
each kind changes in C{calls} and C{campaign_contacts} is documented in
L{fts.db.events}):

  - C{originate_sent}: C{{"channel_id", "pbx", "number"}}
  - C{originate_accepted}: C{{"pbx"}} -- the PBX accepted the Originate; the
    attempt is counted now.
  - C{originate_failed}: C{{"reason", "error", "outcome", "retry_at",
    "final_outcome", "pbx"}} -- refused by the PBX or an AMI error; burns no
    attempt.
  - C{answered}: C{{}}
  - C{amd}: C{{"verdict" (required: human|machine|notsure|off), "cause"}}
  - C{key}: C{{"key" (required: one of 0-9 * #)}} -- a key pressed.
  - C{option}: C{{"key" (required), "action", "label"}} -- the option run.
  - C{transfer}: C{{"target", "result"}} -- result is the DIALSTATUS or the
    queue result.
  - C{opt_out}: C{{"phone"}} -- the callee opted out (phone defaults to the
    contact's number).
  - C{message_complete}: C{{}} -- the whole message was played.
  - C{hangup}: C{{"cause", "cause_text", "outcome", "talk_seconds",
    "retry_at", "final_outcome", "reason"}} -- the call ended; C{outcome}
    is the attempt outcome, C{retry_at} (seconds since the epoch) or
    C{final_outcome} the retry decision for the contact.
  - C{lost}: like C{hangup}, for an attempt whose end nobody saw (outcome
    C{unknown} unless given).

Times are seconds since the epoch (C{reactor.seconds()}), as floats.
"""

import datetime
import json
import math
import re

import attr

ORIGINATE_SENT = "originate_sent"
ORIGINATE_ACCEPTED = "originate_accepted"
ORIGINATE_FAILED = "originate_failed"
ANSWERED = "answered"
AMD = "amd"
KEY = "key"
OPTION = "option"
TRANSFER = "transfer"
OPT_OUT = "opt_out"
MESSAGE_COMPLETE = "message_complete"
HANGUP = "hangup"
LOST = "lost"

#: Every kind the writer accepts.  New kinds need no migration (the column
#: is free text), only an entry here.
KINDS = frozenset({
    ORIGINATE_SENT, ORIGINATE_ACCEPTED, ORIGINATE_FAILED, ANSWERED, AMD, KEY,
    OPTION, TRANSFER, OPT_OUT, MESSAGE_COMPLETE, HANGUP, LOST,
})

_MAX_KEY_LENGTH = 200
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# A \u0000 escape in JSON text (not an escaped backslash followed by "u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class InvalidEvent(ValueError):
    """
    An event that cannot be stored: the message says which field and why.
    """


def idempotency_key(call_id, seq):
    """
    The idempotency key of a call's event: C{"<call_id>:<seq>"}.

    C{seq} must name the fact, not the emission, so that emitting it again
    gives the same key:

      - for facts that happen once per call use the kind itself
        (C{idempotency_key(42, "hangup")} -> C{"42:hangup"}): a hangup seen
        again after an AMI reconnect is then stored once;
      - for facts that repeat (keys pressed, options run) use a per-call
        counter kept with the call (C{idempotency_key(42, 3)} -> C{"42:3"}),
        as L{CallEventSequence} does.

    Keys starting with the call id (which grows) keep the unique index
    inserts near its right edge.
    """
    return f"{call_id}:{seq}"


def _check_key(instance, attribute, value):
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"event key must be a non-empty string, not {value!r}")
    if len(value) > _MAX_KEY_LENGTH or "\x00" in value:
        raise InvalidEvent(f"event key {value[:60]!r}… is too long or has a NUL character")


def _check_kind(instance, attribute, value):
    if value not in KINDS:
        raise InvalidEvent(
            f"event {instance.key!r}: unknown kind {value!r} (known: {', '.join(sorted(KINDS))})")


def _check_id(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not (0 < value < 2 ** 63):
        raise InvalidEvent(
            f"event {instance.key!r}: {attribute.name} must be a positive integer or None,"
            f" not {value!r}")


def _to_seconds(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise InvalidEvent(f"occurred_at {value!r} has no time zone")
        return value.timestamp()
    return value


def _check_time(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidEvent(
            f"event {instance.key!r}: occurred_at must be seconds since the epoch, not {value!r}")


def _check_payload(instance, attribute, value):
    if not isinstance(value, dict):
        raise InvalidEvent(f"event {instance.key!r}: payload must be a dict, not {value!r}")


@attr.s(frozen=True, slots=True)
class CallEvent:
    """
    One event of one call.

    @ivar key: the idempotency key (see L{idempotency_key}); unique in the
        event log.
    @ivar kind: one of L{KINDS}.
    @ivar campaign_id: C{campaigns.id}, or L{None} for a test call.
    @ivar call_id: C{calls.id}, or L{None} for an event not tied to a call.
    @ivar occurred_at: when it happened, seconds since the epoch (a
        timezone-aware C{datetime} is converted).
    @ivar payload: a JSON-serialisable dict (see the module docstring).

    @raise InvalidEvent: a field is wrong (the message says which): an
        invalid event cannot be built, so emitting one never fails later.
    """

    key = attr.ib(validator=_check_key)
    kind = attr.ib(validator=_check_kind)
    campaign_id = attr.ib(validator=_check_id)
    call_id = attr.ib(validator=_check_id)
    occurred_at = attr.ib(converter=_to_seconds, validator=_check_time)
    payload = attr.ib(factory=dict, validator=_check_payload, hash=False)
    _json = attr.ib(init=False, repr=False, eq=False, hash=False, default=None)

    def __attrs_post_init__(self):
        try:
            text = _JSON.encode([self.key, self.kind, self.campaign_id, self.call_id,
                                 self.occurred_at, self.payload])
        except (TypeError, ValueError) as e:
            raise InvalidEvent(f"event {self.key!r}: payload is not JSON: {e}")
        if "\\u0000" in text and _NUL_ESCAPE.search(text):
            raise InvalidEvent(f"event {self.key!r}: payload holds a NUL character")
        object.__setattr__(self, "_json", text)

    def as_json(self):
        """
        The event as the compact JSON text
        C{[key, kind, campaign_id, call_id, occurred_at, payload]}, computed
        once, at construction: the form the spool keeps and the event store
        sends to PostgreSQL (L{fts.db.events.EventStore.write}).
        """
        return self._json

    @classmethod
    def from_json(cls, text):
        """
        The event whose L{as_json} is C{text}.

        @raise InvalidEvent: C{text} is not such JSON, or not a valid event.
        """
        try:
            fields = json.loads(text)
        except ValueError as e:
            raise InvalidEvent(f"event record is not JSON: {e}")
        if not isinstance(fields, list) or len(fields) != 6:
            raise InvalidEvent("event record is not a 6-element JSON array")
        return cls(*fields)


@attr.s(slots=True)
class CallEventSequence:
    """
    Builds the events of one call with consecutive keys
    C{"<call_id>:1"}, C{"<call_id>:2"}, …, stamped with C{clock.seconds()}.

    Keep one per call (e.g. in the dialer's registry of calls in flight).
    Use L{once} for facts that happen once per call, so that a second
    observation of the same fact maps to the same key.
    """

    call_id = attr.ib()
    campaign_id = attr.ib()
    clock = attr.ib(repr=False)
    seq = attr.ib(default=0)

    def next(self, kind, payload=None, occurred_at=None):
        """
        A new event of this call with the next sequence number.
        """
        self.seq += 1
        return self._make(idempotency_key(self.call_id, self.seq), kind, payload, occurred_at)

    def once(self, kind, payload=None, occurred_at=None):
        """
        The event of a once-per-call fact, keyed C{"<call_id>:<kind>"}.
        """
        return self._make(idempotency_key(self.call_id, kind), kind, payload, occurred_at)

    def _make(self, key, kind, payload, occurred_at):
        return CallEvent(
            key=key, kind=kind, campaign_id=self.campaign_id, call_id=self.call_id,
            occurred_at=self.clock.seconds() if occurred_at is None else occurred_at,
            payload=dict(payload or {}),
        )
