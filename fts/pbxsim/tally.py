"""
What happened in the simulated PBX, counted, so that tests and benchmarks can
compare it with FTS's own records (calls placed, outcomes, keys, AGI use).
"""

from collections import Counter

__all__ = ["Tally"]


class Tally:
    """
    Counters of everything the simulator did.

    @ivar originates: Originate actions received (any outcome).
    @ivar originate_errors: Originates refused at once (C{Response: Error}).
    @ivar calls_placed: Originates that became a call attempt (queued).
    @ivar outcomes: per call outcome: C{answered}, C{busy}, C{congestion},
        C{no_answer}, C{rejected}, C{unavailable} (the Local extension does
        not exist), C{failed} (unknown channel technology),
        C{over_capacity} (refused because the PBX was full), C{cancelled}
        (hung up by AMI before an answer).
    @ivar behaviours: per answer behaviour of the callee model.
    @ivar amd: per C{AMDSTATUS} reported to an C{EXEC AMD}.
    @ivar keys_pressed: per digit the called parties sent.
    @ivar keys_heard: per digit an AGI command returned to the script.
    @ivar keys_lost: digits sent while no AGI command was listening.
    @ivar agi_sessions: FastAGI connections made (campaign and h).
    @ivar agi_failures: FastAGI connections that could not be made.
    @ivar agi_commands: per AGI command verb (e.g. C{STREAM FILE}).
    @ivar peak_calls: the most calls in progress at once.
    @ivar hangups: per who ended an answered call: C{callee}, C{agi} (the
        AGI HANGUP command), C{ami} (Action: Hangup), C{script_end} (the
        script ended with the call up), C{agi_failure}, C{autohangup}.
    """

    def __init__(self):
        self.originates = 0
        self.originate_errors = 0
        self.calls_placed = 0
        self.peak_calls = 0
        self.outcomes = Counter()
        self.behaviours = Counter()
        self.amd = Counter()
        self.keys_pressed = Counter()
        self.keys_heard = Counter()
        self.keys_lost = 0
        self.agi_sessions = 0
        self.agi_failures = 0
        self.agi_commands = Counter()
        self.hangups = Counter()

    @property
    def keys_heard_total(self):
        """
        How many digits AGI commands returned to the scripts, all digits.
        """
        return sum(self.keys_heard.values())

    def expected_events(self):
        """
        The call events a dialer and call flow that record everything should
        have stored for what this simulator did, for the kinds it can tell:
        C{originate_sent} (one per Originate received),
        C{originate_accepted} (one per Originate not refused at once),
        C{answered}, C{ended} (one end per Originate: C{hangup}, C{lost} or
        C{originate_failed} added up) and C{key} (one per digit an AGI
        command returned).  The durability tests compare the event log with
        this after an outage.
        """
        return {
            "originate_sent": self.originates,
            "originate_accepted": self.originates - self.originate_errors,
            "answered": self.outcomes["answered"],
            "ended": self.originates,
            "key": self.keys_heard_total,
        }

    def snapshot(self):
        """
        All counters as plain dicts and ints (JSON-ready).
        """
        return {
            "originates": self.originates,
            "originate_errors": self.originate_errors,
            "calls_placed": self.calls_placed,
            "peak_calls": self.peak_calls,
            "outcomes": dict(self.outcomes),
            "behaviours": dict(self.behaviours),
            "amd": dict(self.amd),
            "keys_pressed": dict(self.keys_pressed),
            "keys_heard": dict(self.keys_heard),
            "keys_lost": self.keys_lost,
            "agi_sessions": self.agi_sessions,
            "agi_failures": self.agi_failures,
            "agi_commands": dict(self.agi_commands),
            "hangups": dict(self.hangups),
        }
