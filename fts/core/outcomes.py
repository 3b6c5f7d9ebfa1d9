"""
The outcome vocabulary of FTS (PRODUCT.md, "Outcome vocabulary") and the
classification of Asterisk facts into an attempt outcome.

Three vocabularies, all L{enum.StrEnum} so they compare equal to, and
serialise as, their plain string values (C{AttemptOutcome.BUSY == "busy"}):

  - L{AttemptOutcome}: what one call attempt ended as;
  - L{AmdVerdict}: what answering-machine detection said about an answered
    call;
  - L{FinalOutcome}: what a contact ended as once no more attempts will be
    made.
"""

from enum import StrEnum


class AttemptOutcome(StrEnum):
    """How one call attempt ended."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    CHANUNAVAIL = "chanunavail"
    INVALID_NUMBER = "invalid_number"
    #: The originate was refused or the PBX reported an error.
    FAILED = "failed"
    #: FTS itself ended the attempt (campaign cancelled, queue cleaned,
    #: stuck call hung up during finalization).
    CANCELLED = "cancelled"
    #: The outcome was lost (e.g. the daemon crashed during the call).
    UNKNOWN = "unknown"


class AmdVerdict(StrEnum):
    """What answering-machine detection concluded for an answered call."""

    HUMAN = "human"
    MACHINE = "machine"
    NOTSURE = "notsure"
    #: Detection was not run for this call.
    OFF = "off"


class FinalOutcome(StrEnum):
    """What a contact ended as, once no further attempt will be made."""

    #: Answered (by a human or a machine; the attempt's AMD verdict says which).
    REACHED = "reached"
    OPTED_OUT = "opted_out"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    DNC_SKIPPED = "dnc_skipped"
    OUTSIDE_HOURS_SKIPPED = "outside_hours_skipped"
    NOT_DIALED = "not_dialed"
    #: The attempts ran out while the policy still wanted another one.
    EXHAUSTED = "exhausted"


# OriginateResponse "Reason" codes.  They are Asterisk's AST_CONTROL_* frame
# numbers for the last thing the outbound channel signalled; the transcripts
# (asterisk-transcripts/README.md, "Reason codes seen") show 0, 3, 4, 5, 8.
REASON_FAILURE = 0  # seen: rejected (cause 21), unknown technology, no such Local exten
REASON_HANGUP = 1  # the channel hung up before answering, no other signal
REASON_RING = 2
REASON_RINGING = 3  # seen: Timeout expired, whether or not it was ringing
REASON_ANSWERED = 4  # seen
REASON_BUSY = 5  # seen
REASON_CONGESTION = 8  # seen

# Q.850 hangup causes (the Cause header of the Hangup event) that say more
# than the Reason code does.  Causes not listed here (0 "Unknown",
# 16 "Normal Clearing", 31 "Normal, unspecified", 127 "Interworking") carry no
# verdict of their own and leave the decision to the Reason code.
_CAUSES = {
    # 1 "Unallocated number", 28 "Invalid number format": the number itself
    # is wrong; retrying cannot help.  22 "Number changed" is just as
    # permanent, so it is treated the same.
    1: AttemptOutcome.INVALID_NUMBER,
    22: AttemptOutcome.INVALID_NUMBER,
    28: AttemptOutcome.INVALID_NUMBER,
    # 17 "User busy" (seen on the ;2 half for Busy()).
    17: AttemptOutcome.BUSY,
    # 18 "No user responding", 19 "User alerting, no answer" (seen for the
    # Originate timeout, ringing or not).
    18: AttemptOutcome.NO_ANSWER,
    19: AttemptOutcome.NO_ANSWER,
    # Network-side shortage: 34 "No circuit/channel available" (seen for
    # Congestion()), 38 "Network out of order", 42 "Switching equipment
    # congestion".  41 "Temporary failure", 44 "Requested channel not
    # available" and 47 "Resource unavailable" are the same kind of
    # transient trouble on the way to the callee.
    34: AttemptOutcome.CONGESTION,
    38: AttemptOutcome.CONGESTION,
    41: AttemptOutcome.CONGESTION,
    42: AttemptOutcome.CONGESTION,
    44: AttemptOutcome.CONGESTION,
    47: AttemptOutcome.CONGESTION,
    # The callee's side cannot take calls right now: 20 "Subscriber absent"
    # (chan_pjsip uses it for an endpoint with no registered contact),
    # 27 "Destination out of order", 3 "No route to destination",
    # 2 "No route to specified transit network".
    2: AttemptOutcome.CHANUNAVAIL,
    3: AttemptOutcome.CHANUNAVAIL,
    20: AttemptOutcome.CHANUNAVAIL,
    27: AttemptOutcome.CHANUNAVAIL,
    # 21 "Call Rejected" (seen: Hangup(21) gives Reason 0, cause 21).  A
    # rejection is a refusal, not a busy line: failed.
    21: AttemptOutcome.FAILED,
}

# Causes that mean "cleared normally" when the call was not answered.
_NORMAL_CLEARING = frozenset({16, 31})


def _as_int(value):
    """
    Read a Reason or Cause header value as an int; C{None} when absent or
    not a number (e.g. C{""} or C{"<unknown>"}).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def classify_originate_failure(reason, hangup_cause=None):
    """
    Classify how an originated call ended before (or at) answer.

    Rules, in order:

      1. Reason 4 is L{AttemptOutcome.ANSWERED}, whatever the cause.
      2. A hangup cause listed in C{_CAUSES} wins over the Reason code,
         because it is more specific: Reason 0 covers a rejection, an unknown
         technology and a missing extension alike, and real trunks report an
         unallocated number with a congestion or hangup Reason.
      3. Otherwise the Reason decides: 5 busy; 8 congestion; 3 (timeout,
         ringing or not) and 2 (ring) no answer; 1 (hung up before answer)
         no answer if the cause says normal clearing (16/31: the callee let
         it ring and then it was cleared, e.g. declined on a mobile), else
         failed; 0 and any other code failed.

    Pass the most informative cause seen for the attempt: for a Local
    channel pair that is the C{;2} (callee) half, because the C{;1} half of a
    busy call reports cause 0.  C{None}, C{0} or a non-number means no cause.

    @param reason: the C{Reason} of the OriginateResponse event (an int, or
        the header's string).
    @param hangup_cause: the Q.850 C{Cause} of the Hangup event, if any.
    @rtype: L{AttemptOutcome}
    """
    reason = _as_int(reason)
    cause = _as_int(hangup_cause)
    if reason == REASON_ANSWERED:
        return AttemptOutcome.ANSWERED
    if cause in _CAUSES:
        return _CAUSES[cause]
    if reason == REASON_BUSY:
        return AttemptOutcome.BUSY
    if reason == REASON_CONGESTION:
        return AttemptOutcome.CONGESTION
    if reason in (REASON_RINGING, REASON_RING):
        return AttemptOutcome.NO_ANSWER
    if reason == REASON_HANGUP and cause in _NORMAL_CLEARING:
        return AttemptOutcome.NO_ANSWER
    return AttemptOutcome.FAILED


def classify_amd_status(amdstatus):
    """
    Turn the AMDSTATUS channel variable set by Asterisk's AMD() into a verdict.

    C{HUMAN} and C{MACHINE} map directly; C{NOTSURE}, C{HANGUP} (the caller
    hung up during detection), an empty or unknown value all give
    L{AmdVerdict.NOTSURE}: detection ran but reached no verdict.

    @param amdstatus: the variable's value (any case; C{None} allowed).
    @rtype: L{AmdVerdict}
    """
    value = (amdstatus or "").strip().upper()
    if value == "HUMAN":
        return AmdVerdict.HUMAN
    if value == "MACHINE":
        return AmdVerdict.MACHINE
    return AmdVerdict.NOTSURE
