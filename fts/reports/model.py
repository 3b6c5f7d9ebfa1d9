"""
The report of a campaign as plain values.

Two kinds of counts appear, and every label says which one it is:

  - B{contacts}: distinct contacts of the campaign (one per phone number of
    the list), whatever the number of calls made to them;
  - B{calls}: counted attempts, i.e. originates the PBX accepted (a refused
    originate burns no attempt and is reported separately as "not counted").

Per-contact facts (final outcome, AMD verdict of the answered call, keys,
talk time...) come from C{campaign_contacts_archive} for a final report and
from C{campaign_contacts} + C{calls} for a live one; per-call facts (outcome
per attempt number, per hour of day, failure reasons) come from C{calls}.

L{report_to_dict} / L{report_from_dict} give the JSON form stored in
C{report_snapshots.data} (versioned by L{FORMAT}).
"""

from datetime import datetime

import attr

from fts.core.outcomes import AmdVerdict, AttemptOutcome, FinalOutcome

#: Version of the JSON form; bump when a field changes meaning.
FORMAT = 1

LIVE = "live"
FINAL = "final"

#: Pseudo final outcomes of a live report: contacts not final yet.
PENDING = "pending"
IN_FLIGHT = "in_flight"

#: Pseudo attempt outcome: a counted attempt whose call has not ended yet.
IN_PROGRESS = "in_progress"

FINAL_OUTCOME_LABELS = {
    FinalOutcome.REACHED: "Reached (answered)",
    FinalOutcome.OPTED_OUT: "Opted out",
    FinalOutcome.BUSY: "Busy",
    FinalOutcome.NO_ANSWER: "No answer",
    FinalOutcome.FAILED: "Failed",
    FinalOutcome.INVALID_NUMBER: "Invalid number",
    FinalOutcome.DNC_SKIPPED: "Skipped: on a do-not-call list",
    FinalOutcome.OUTSIDE_HOURS_SKIPPED: "Skipped: outside calling hours",
    FinalOutcome.NOT_DIALED: "Not dialed",
    FinalOutcome.EXHAUSTED: "Attempts used up",
    PENDING: "Not final yet: waiting to be dialed",
    IN_FLIGHT: "Not final yet: in a call now",
}

ATTEMPT_OUTCOME_LABELS = {
    AttemptOutcome.ANSWERED: "Answered",
    AttemptOutcome.BUSY: "Busy",
    AttemptOutcome.NO_ANSWER: "No answer",
    AttemptOutcome.CONGESTION: "Congestion",
    AttemptOutcome.CHANUNAVAIL: "Channel unavailable",
    AttemptOutcome.INVALID_NUMBER: "Invalid number",
    AttemptOutcome.FAILED: "Failed (PBX error)",
    AttemptOutcome.CANCELLED: "Cancelled by FTS",
    AttemptOutcome.UNKNOWN: "Outcome lost",
    IN_PROGRESS: "In progress",
}

AMD_LABELS = {
    AmdVerdict.HUMAN: "Human",
    AmdVerdict.MACHINE: "Answering machine",
    AmdVerdict.NOTSURE: "Not sure",
    AmdVerdict.OFF: "Not detected (AMD off)",
}

#: Attempt outcomes that are failure reasons (everything but answered).
FAILURE_REASONS = tuple(o for o in ATTEMPT_OUTCOME_LABELS
                        if o not in (AttemptOutcome.ANSWERED, IN_PROGRESS))


@attr.frozen
class Row:
    """
    One labelled line of a breakdown.

    @ivar key: the machine value (an outcome, a key, a verdict, a list name).
    @ivar contacts: distinct contacts, or L{None} where not meaningful.
    @ivar calls: counted attempts, or L{None} where not meaningful.
    """

    key: str
    label: str
    contacts: int | None = None
    calls: int | None = None


@attr.frozen
class SeriesRow:
    """
    Calls of one attempt number or one hour of day, split by attempt outcome.

    @ivar outcomes: C{(attempt outcome, calls)} pairs in vocabulary order,
        zeros omitted.
    """

    key: int
    label: str
    calls: int
    answered: int
    outcomes: tuple[tuple[str, int], ...] = attr.field(
        default=(), converter=lambda v: tuple(tuple(p) for p in v))


@attr.frozen
class ContactTotals:
    """
    Distinct-contact counts.

    @ivar dialed: contacts with at least one counted attempt.
    @ivar answered: contacts with at least one answered call.
    @ivar human, machine, notsure, amd_off: answered contacts by the AMD
        verdict of their (last) answered call.
    @ivar talk_seconds: total talk time of all their calls.
    @ivar not_final: live reports: contacts still pending or in a call.
    """

    contacts: int = 0
    dialed: int = 0
    answered: int = 0
    human: int = 0
    machine: int = 0
    notsure: int = 0
    amd_off: int = 0
    opted_out: int = 0
    pressed_key: int = 0
    heard_full_message: int = 0
    talk_seconds: int = 0
    not_final: int = 0

    @property
    def answered_by_person(self):
        """
        Answered contacts not classified as a machine (human, not sure, or
        AMD off), as recycling's "answered without key" reads it.
        """
        return self.human + self.notsure + self.amd_off


@attr.frozen
class CallTotals:
    """
    Call counts.

    @ivar calls: counted attempts.
    @ivar machine: answered calls whose AMD verdict was machine.
    @ivar in_progress: counted attempts whose call has not ended.
    @ivar not_counted: originates that burnt no attempt (refused by the PBX,
        or whose outcome was lost before being counted).
    """

    calls: int = 0
    answered: int = 0
    machine: int = 0
    talk_seconds: int = 0
    in_progress: int = 0
    not_counted: int = 0


@attr.frozen
class CsvLayout:
    """
    The columns of the campaign's CSV export.

    @ivar list_columns: the contact list's column names, in file order.
    @ivar phone_column: index in C{list_columns} of the column holding the
        phone number as uploaded (L{None}: no such column).
    @ivar result_columns: the result columns appended after them
        (L{fts.reports.assemble.RESULT_COLUMNS}, renamed C{fts_NAME} where a
        list column has the same name).
    """

    list_columns: tuple[str, ...] = attr.field(converter=tuple)
    phone_column: int | None
    result_columns: tuple[str, ...] = attr.field(converter=tuple)

    @property
    def header(self):
        return self.list_columns + self.result_columns


@attr.frozen
class Figure:
    """
    One headline number with its label and unit (C{"contacts"}, C{"calls"},
    C{"seconds"} or C{"percent"}); C{value} is L{None} for a rate whose
    denominator is zero.
    """

    key: str
    label: str
    value: int | float | None
    unit: str

    def text(self):
        """
        The value as an operator reads it: C{"62.5 %"}, C{"41.2 s"}, C{"12"};
        C{"-"} for no value.
        """
        if self.value is None:
            return "-"
        if self.unit == "percent":
            return f"{self.value:.1f} %"
        if self.unit == "seconds" and isinstance(self.value, float):
            return f"{self.value:.1f} s"
        if self.unit == "seconds":
            return f"{self.value} s"
        return str(self.value)


def _ratio(numerator, denominator):
    return None if not denominator else numerator / denominator


@attr.frozen
class Report:
    """
    A campaign's report.

    @ivar kind: L{LIVE} or L{FINAL}.
    @ivar built_at: when the numbers were read (aware).
    @ivar final_outcomes: contacts per final outcome, every outcome listed
        (live reports add L{PENDING} and L{IN_FLIGHT}).
    @ivar amd: answered contacts (and answered calls) per AMD verdict.
    @ivar options: contacts whose (last) option run was that key, and calls
        that ran it: every key of the menu, then keys seen but not in it.
    @ivar failure_reasons: calls per unanswered attempt outcome, with the
        distinct contacts that had such a call.
    @ivar call_outcomes: calls per attempt outcome, answered included.
    @ivar dnc_lists: contacts skipped per do-not-call list.
    @ivar attempts_used: contacts per number of attempts they used (0 = never
        dialed).
    @ivar attempts: calls per attempt number (1 to the highest of the
        campaign's max attempts and the attempts seen).
    @ivar hours: calls per hour of day (0-23, campaign time zone) of the
        originate.
    """

    campaign_id: int
    campaign_name: str
    kind: str
    state: str
    finish_reason: str | None
    timezone: str
    built_at: datetime
    contacts: ContactTotals
    calls: CallTotals
    final_outcomes: tuple[Row, ...] = attr.field(converter=tuple)
    amd: tuple[Row, ...] = attr.field(converter=tuple)
    options: tuple[Row, ...] = attr.field(converter=tuple)
    failure_reasons: tuple[Row, ...] = attr.field(converter=tuple)
    call_outcomes: tuple[Row, ...] = attr.field(converter=tuple)
    dnc_lists: tuple[Row, ...] = attr.field(converter=tuple)
    attempts_used: tuple[Row, ...] = attr.field(converter=tuple)
    attempts: tuple[SeriesRow, ...] = attr.field(converter=tuple)
    hours: tuple[SeriesRow, ...] = attr.field(converter=tuple)
    csv_layout: CsvLayout

    # -- rates ---------------------------------------------------------------

    @property
    def answer_rate(self):
        """Contacts answered / contacts dialed, or L{None}."""
        return _ratio(self.contacts.answered, self.contacts.dialed)

    @property
    def call_answer_rate(self):
        """Calls answered / calls ended (in-progress calls excluded), or L{None}."""
        return _ratio(self.calls.answered, self.calls.calls - self.calls.in_progress)

    @property
    def machine_rate(self):
        """Contacts answered by a machine / contacts answered, or L{None}."""
        return _ratio(self.contacts.machine, self.contacts.answered)

    @property
    def opt_out_rate(self):
        """Contacts who opted out / contacts answered, or L{None}."""
        return _ratio(self.contacts.opted_out, self.contacts.answered)

    @property
    def average_talk_seconds(self):
        """Talk time of all calls / contacts answered, or L{None}."""
        return _ratio(self.contacts.talk_seconds, self.contacts.answered)

    def figures(self):
        """
        The headline numbers, labelled with what they count, in the order
        the panel and the e-mail show them.
        """
        c, k = self.contacts, self.calls

        def pct(value):
            return None if value is None else round(value * 100, 1)

        avg = self.average_talk_seconds
        figures = [
            Figure("contacts", "Contacts in the campaign", c.contacts, "contacts"),
            Figure("dialed", "Contacts dialed", c.dialed, "contacts"),
            Figure("answered", "Contacts answered", c.answered, "contacts"),
            Figure("answered_by_person", "Contacts answered by a person (AMD human,"
                   " not sure or off)", c.answered_by_person, "contacts"),
            Figure("answered_by_machine", "Contacts answered by a machine", c.machine,
                   "contacts"),
            Figure("opted_out", "Contacts who opted out", c.opted_out, "contacts"),
            Figure("pressed_key", "Contacts who pressed a key", c.pressed_key, "contacts"),
            Figure("heard_full_message", "Contacts who heard the whole message",
                   c.heard_full_message, "contacts"),
        ]
        if self.kind == LIVE:
            figures.append(Figure("not_final", "Contacts not final yet", c.not_final,
                                  "contacts"))
        figures += [
            Figure("calls", "Calls (counted attempts)", k.calls, "calls"),
            Figure("calls_answered", "Calls answered", k.answered, "calls"),
            Figure("not_counted", "Originates not counted as attempts (refused or lost)",
                   k.not_counted, "calls"),
            Figure("answer_rate", "Answer rate (contacts answered / contacts dialed)",
                   pct(self.answer_rate), "percent"),
            Figure("call_answer_rate", "Call answer rate (calls answered / calls ended)",
                   pct(self.call_answer_rate), "percent"),
            Figure("opt_out_rate", "Opt-out rate (contacts who opted out / contacts"
                   " answered)", pct(self.opt_out_rate), "percent"),
            Figure("average_talk_seconds", "Average talk time per contact answered",
                   None if avg is None else round(avg, 1), "seconds"),
            Figure("talk_seconds", "Total talk time", c.talk_seconds, "seconds"),
        ]
        return tuple(figures)


@attr.frozen
class ReportSnapshot:
    """
    A stored report (a C{report_snapshots} row).

    @ivar csv_path: a CSV file written for it, relative to the data
        directory, or L{None} (the CSV is then streamed on demand from the
        archive, which outlives the purge).
    """

    id: int
    campaign_id: int
    kind: str
    built_at: datetime
    report: Report
    csv_path: str | None = None
    csv_bytes: int | None = None
    csv_rows: int | None = None


# -- JSON form ------------------------------------------------------------------


def report_to_dict(report):
    """
    The JSON-able form of a L{Report}, with the rates and headline figures
    added for readers that do not load it back (the API, the panel's JS).
    """
    data = attr.asdict(report, recurse=True, retain_collection_types=False)
    data["built_at"] = report.built_at.isoformat()
    data["format"] = FORMAT
    data["figures"] = [attr.asdict(f) for f in report.figures()]
    return data


def report_from_dict(data):
    """
    Read back what L{report_to_dict} produced.

    @raise ValueError: the data is of another format version or malformed.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"report data of format {data.get('format') if isinstance(data, dict) else None!r};"
            f" this FTS reads format {FORMAT}")
    try:
        return Report(
            campaign_id=data["campaign_id"],
            campaign_name=data["campaign_name"],
            kind=data["kind"],
            state=data["state"],
            finish_reason=data["finish_reason"],
            timezone=data["timezone"],
            built_at=datetime.fromisoformat(data["built_at"]),
            contacts=ContactTotals(**data["contacts"]),
            calls=CallTotals(**data["calls"]),
            final_outcomes=[Row(**r) for r in data["final_outcomes"]],
            amd=[Row(**r) for r in data["amd"]],
            options=[Row(**r) for r in data["options"]],
            failure_reasons=[Row(**r) for r in data["failure_reasons"]],
            call_outcomes=[Row(**r) for r in data["call_outcomes"]],
            dnc_lists=[Row(**r) for r in data["dnc_lists"]],
            attempts_used=[Row(**r) for r in data["attempts_used"]],
            attempts=[SeriesRow(**r) for r in data["attempts"]],
            hours=[SeriesRow(**r) for r in data["hours"]],
            csv_layout=CsvLayout(**data["csv_layout"]),
        )
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed report data: {type(e).__name__}: {e}") from None
