"""
Tests for L{fts.core.recycling}.
"""

from twisted.trial.unittest import SynchronousTestCase

from fts.core.recycling import RecycleChoice, RecycleSelection, selects

# Contacts as (final, last attempt, answered, amd, keys).
BUSY = ("busy", "busy", False, None, "")
EXHAUSTED_BUSY = ("exhausted", "busy", False, None, "")
NO_ANSWER = ("no_answer", "no_answer", False, None, "")
LOST = ("no_answer", "unknown", False, None, "")
CONGESTION = ("failed", "congestion", False, None, "")
CHANUNAVAIL = ("failed", "chanunavail", False, None, "")
FAILED = ("failed", "failed", False, None, "")
MACHINE = ("reached", "answered", True, "machine", "")
HUMAN_NO_KEY = ("reached", "answered", True, "human", "")
NOTSURE_NO_KEY = ("exhausted", "answered", True, "notsure", "")
PRESSED_2 = ("reached", "answered", True, "human", "2")
NEVER = ("not_dialed", None, False, None, "")
OUTSIDE = ("outside_hours_skipped", None, False, None, "")
NO_FINAL = (None, None, False, None, "")
CANCELLED = ("not_dialed", "cancelled", False, None, "")
OPTED_OUT = ("opted_out", "answered", True, "human", "9")
DNC = ("dnc_skipped", None, False, None, "")
INVALID = ("invalid_number", "invalid_number", False, None, "")

ALL = {
    "busy": BUSY, "exhausted_busy": EXHAUSTED_BUSY, "no_answer": NO_ANSWER, "lost": LOST,
    "congestion": CONGESTION, "chanunavail": CHANUNAVAIL, "failed": FAILED,
    "machine": MACHINE, "human_no_key": HUMAN_NO_KEY, "notsure_no_key": NOTSURE_NO_KEY,
    "pressed_2": PRESSED_2, "never": NEVER, "outside": OUTSIDE, "no_final": NO_FINAL,
    "cancelled": CANCELLED, "opted_out": OPTED_OUT, "dnc": DNC, "invalid": INVALID,
}


def taken(**selection):
    chosen = RecycleSelection(**selection)
    return {name for name, contact in ALL.items() if selects(chosen, *contact)}


class SelectsTests(SynchronousTestCase):
    """
    Each recycle choice takes exactly the contacts it names.
    """

    def test_not_answered(self):
        """not_answered takes every dialed, never answered contact."""
        self.assertEqual(
            taken(choices={"not_answered"}),
            {"busy", "exhausted_busy", "no_answer", "lost", "congestion", "chanunavail", "failed"},
        )

    def test_busy(self):
        """busy takes contacts whose last attempt was busy, exhausted or not."""
        self.assertEqual(taken(choices={"busy"}), {"busy", "exhausted_busy"})

    def test_no_answer(self):
        """no_answer takes unanswered contacts, lost outcomes included."""
        self.assertEqual(taken(choices={"no_answer"}), {"no_answer", "lost"})

    def test_failed(self):
        """failed takes congestion, channel unavailable and failed."""
        self.assertEqual(taken(choices={"failed"}), {"congestion", "chanunavail", "failed"})

    def test_machine(self):
        """machine takes contacts answered by a machine."""
        self.assertEqual(taken(choices={"machine"}), {"machine"})

    def test_answered_without_key(self):
        """answered_without_key takes non-machine answers without a key."""
        self.assertEqual(taken(choices={"answered_without_key"}), {"human_no_key", "notsure_no_key"})

    def test_never_dialed(self):
        """never_dialed takes contacts never dialed, skipped for hours, or cancelled."""
        self.assertEqual(taken(choices={"never_dialed"}), {"never", "outside", "no_final", "cancelled"})

    def test_pressed_key(self):
        """A key takes contacts that pressed it."""
        self.assertEqual(taken(keys={"2"}), {"pressed_2"})
        self.assertEqual(taken(keys={"3"}), set())

    def test_union(self):
        """Several choices take the union."""
        self.assertEqual(
            taken(choices={"busy", "machine"}, keys={"2"}),
            {"busy", "exhausted_busy", "machine", "pressed_2"},
        )

    def test_never_taken(self):
        """Opted-out, DNC-skipped and invalid numbers are never taken, whatever is picked."""
        everything = taken(choices=set(RecycleChoice), keys=set("0123456789*#"))
        self.assertEqual(everything, set(ALL) - {"opted_out", "dnc", "invalid"})


class SelectionTests(SynchronousTestCase):
    """
    A selection is checked when built.
    """

    def test_empty(self):
        """Picking nothing is refused."""
        self.assertRaises(ValueError, RecycleSelection)

    def test_unknown_choice(self):
        """An unknown choice is refused."""
        self.assertRaises(ValueError, RecycleSelection, choices={"lucky"})

    def test_bad_key(self):
        """A key that is not a phone key is refused with a clear message."""
        with self.assertRaises(ValueError) as caught:
            RecycleSelection(keys={"A", "1"})
        self.assertIn("'A'", str(caught.exception))

    def test_describe(self):
        """describe() lists the picks in a stable order."""
        self.assertEqual(
            RecycleSelection(choices={"machine", "busy"}, keys={"#", "1"}).describe(),
            "contacts with: busy, machine, pressed #, pressed 1",
        )
