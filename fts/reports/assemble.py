"""
Report arithmetic: the aggregate rows L{fts.db.reports.ReportStore} reads
(a handful per campaign, whatever its size) turned into a L{Report}; and the
CSV column layout from the contact list's columns.

Pure functions of plain values: no I/O, no Twisted.

Row shapes (dicts, as the store builds them from its two GROUPING SETS
queries):

  - contact rows: C{dimension} (C{"total"}, C{"final_outcome"},
    C{"option"}, C{"attempts_used"}, C{"dnc_list"}), C{value} (the group's
    value as text, L{None} for the total), and the counts of
    L{ContactTotals} (C{contacts}, C{dialed}, C{answered}, ...).
  - call rows: C{dimension} (C{"total"}, C{"outcome"}, C{"attempt"},
    C{"hour"}, C{"option"}, C{"amd"}), C{value}, C{outcome} (set for the
    attempt and hour dimensions, which are split by outcome), C{calls},
    C{answered}, C{machine}, C{talk_seconds}; and C{contacts} (distinct)
    on the outcome rows.
"""

import attr

from fts.core.campaign import KEYS
from fts.core.outcomes import AmdVerdict, FinalOutcome
from fts.reports.model import (
    AMD_LABELS, ATTEMPT_OUTCOME_LABELS, FAILURE_REASONS, FINAL_OUTCOME_LABELS, IN_FLIGHT,
    LIVE, PENDING, CallTotals, ContactTotals, CsvLayout, Report, Row, SeriesRow,
)

#: The result columns of the CSV export, after the list's own columns:
#:
#:   phone_normalized    the number dialed (digits only, country code applied)
#:   final_outcome       the contact's final outcome (live: pending/in_flight
#:                       while not final)
#:   attempts            counted attempts
#:   keys                every key pressed, in order, over all calls
#:   option              the key whose option ran (the last one)
#:   amd                 AMD verdict of the answered call (human, machine,
#:                       notsure, off); empty if never answered
#:   talk_seconds        talk time over all calls
#:   heard_full_message  yes / no
#:   last_call_at        last counted attempt, local time of the campaign's
#:                       time zone, YYYY-MM-DD HH:MM:SS
#:   dnc_list            the do-not-call list that skipped the contact
#:
#: A result column whose name is also a list column's is written
#: C{fts_NAME} instead.
RESULT_COLUMNS = (
    "phone_normalized", "final_outcome", "attempts", "keys", "option", "amd",
    "talk_seconds", "heard_full_message", "last_call_at", "dnc_list",
)

_CONTACT_FIELDS = tuple(a.name for a in attr.fields(ContactTotals))
_CALL_FIELDS = ("answered", "machine", "talk_seconds")


def csv_layout(columns, phone_column):
    """
    The CSV layout for a list whose C{contact_lists.columns} is C{columns}
    (objects with C{name} and C{type}) and whose phone column is
    C{phone_column} (0-based, or L{None}).

    A column without a name is called C{column_N} (1-based).  The phone
    column is the one at C{phone_column}, else the first of type
    C{phone}; a list with neither gets a leading C{phone} column.
    """
    names, types = [], []
    for index, column in enumerate(columns or ()):
        column = column if isinstance(column, dict) else {}
        name = column.get("name")
        names.append(name.strip() if isinstance(name, str) and name.strip()
                     else f"column_{index + 1}")
        types.append(column.get("type"))
    if phone_column is not None and 0 <= phone_column < len(names):
        phone = phone_column
    elif "phone" in types:
        phone = types.index("phone")
    else:
        names.insert(0, "phone")
        phone = 0
    return CsvLayout(list_columns=names, phone_column=phone,
                     result_columns=_result_names(names))


def fallback_layout(field_names):
    """
    The layout when the contact list is gone and no final snapshot kept
    one: the uploaded phone first, then the archived fields by name.
    """
    names = ["phone", *sorted(n for n in field_names if n != "phone")]
    return CsvLayout(list_columns=names, phone_column=0, result_columns=_result_names(names))


def _result_names(list_names):
    taken = set(list_names)
    out = []
    for name in RESULT_COLUMNS:
        while name in taken:
            name = "fts_" + name
        taken.add(name)
        out.append(name)
    return out


def menu_options(settings):
    """
    C{(key, label, action)} of each option of the campaign's menu, in keypad
    order.  Reads the settings' JSON form (C{menu.options}, a list, as
    L{fts.core.campaign.settings_to_dict} writes it) and, failing that, an
    C{options} object keyed by key.
    """
    settings = settings if isinstance(settings, dict) else {}
    found = {}
    menu = settings.get("menu")
    listed = menu.get("options") if isinstance(menu, dict) else None
    if isinstance(listed, list):
        for option in listed:
            if isinstance(option, dict) and option.get("key") in tuple(KEYS):
                found[option["key"]] = option
    keyed = settings.get("options")
    if not found and isinstance(keyed, dict):
        for key, option in keyed.items():
            if key in tuple(KEYS) and isinstance(option, dict):
                found[key] = option
    return tuple(
        (key, str(found[key].get("label") or ""), str(found[key].get("action") or ""))
        for key in KEYS if key in found
    )


def _key_order(key):
    return (KEYS.index(key), key) if key in KEYS else (len(KEYS), key)


def assemble(header, contact_rows, call_rows, not_counted, kind):
    """
    Build the L{Report}.

    @param header: C{campaign_id}, C{name}, C{state}, C{finish_reason},
        C{timezone}, C{settings} (JSON), C{max_attempts}, C{built_at} and
        C{layout} (a L{CsvLayout}).
    @param not_counted: originates that burnt no attempt.
    @param kind: L{LIVE} or L{FINAL}.
    """
    by = _index(contact_rows)
    total = by.get(("total", None), {})
    contacts = ContactTotals(**{f: int(total.get(f) or 0) for f in _CONTACT_FIELDS})

    finals = [o.value for o in FinalOutcome] + ([PENDING, IN_FLIGHT] if kind == LIVE else [])
    final_outcomes = [
        Row(o, FINAL_OUTCOME_LABELS[o], contacts=_count(by, "final_outcome", o))
        for o in finals
    ]
    attempts_used = sorted(int(v) for (d, v) in by if d == "attempts_used")
    attempts_used = [
        Row(str(n), _attempts_used_label(n), contacts=_count(by, "attempts_used", str(n)))
        for n in range(0, (attempts_used[-1] if attempts_used else 0) + 1)
    ]
    dnc_lists = [
        Row(v, v, contacts=_count(by, "dnc_list", v))
        for v in sorted(v for (d, v) in by if d == "dnc_list" and v is not None)
    ]

    calls_by = _index(call_rows)
    split = _split(call_rows)
    call_total = calls_by.get(("total", None), {})
    in_progress = int(calls_by.get(("outcome", "in_progress"), {}).get("calls") or 0)
    calls = CallTotals(
        calls=int(call_total.get("calls") or 0),
        answered=int(call_total.get("answered") or 0),
        machine=int(call_total.get("machine") or 0),
        talk_seconds=int(call_total.get("talk_seconds") or 0),
        in_progress=in_progress,
        not_counted=int(not_counted or 0),
    )

    amd = [
        Row(v.value, AMD_LABELS[v], contacts=getattr(contacts, _AMD_FIELD[v]),
            calls=_count(calls_by, "amd", v.value, "calls"))
        for v in AmdVerdict
    ]

    menu = menu_options(header.get("settings"))
    configured = {key for key, _, _ in menu}
    seen = {v for (d, v) in by if d == "option" and v is not None}
    seen |= {v for (d, v) in calls_by if d == "option" and v is not None}
    options = [
        Row(key, label or f"Key {key}", contacts=_count(by, "option", key),
            calls=_count(calls_by, "option", key, "calls"))
        for key, label, _ in menu
    ] + [
        Row(key, f"Key {key} (not in the menu)", contacts=_count(by, "option", key),
            calls=_count(calls_by, "option", key, "calls"))
        for key in sorted(seen - configured, key=_key_order)
    ]

    outcome_keys = list(ATTEMPT_OUTCOME_LABELS)
    call_outcomes = [
        Row(o, ATTEMPT_OUTCOME_LABELS[o],
            contacts=_count(calls_by, "outcome", o, "contacts"),
            calls=_count(calls_by, "outcome", o, "calls"))
        for o in outcome_keys if o != "in_progress" or kind == LIVE
    ]
    failure_reasons = [row for row in call_outcomes if row.key in FAILURE_REASONS]

    top_attempt = max([int(header.get("max_attempts") or 1)]
                      + [int(v) for v in split.get("attempt", {})])
    attempts = [
        _series(n, f"Attempt {n}", split.get("attempt", {}).get(str(n), {}), outcome_keys)
        for n in range(1, top_attempt + 1)
    ]
    hours = [
        _series(h, f"{h:02d}:00-{h:02d}:59", split.get("hour", {}).get(str(h), {}),
                outcome_keys)
        for h in range(24)
    ]

    return Report(
        campaign_id=int(header["campaign_id"]),
        campaign_name=header["name"],
        kind=kind,
        state=header["state"],
        finish_reason=header.get("finish_reason"),
        timezone=header["timezone"],
        built_at=header["built_at"],
        contacts=contacts,
        calls=calls,
        final_outcomes=final_outcomes,
        amd=amd,
        options=options,
        failure_reasons=failure_reasons,
        call_outcomes=call_outcomes,
        dnc_lists=dnc_lists,
        attempts_used=attempts_used,
        attempts=attempts,
        hours=hours,
        csv_layout=header["layout"],
    )


_AMD_FIELD = {
    AmdVerdict.HUMAN: "human",
    AmdVerdict.MACHINE: "machine",
    AmdVerdict.NOTSURE: "notsure",
    AmdVerdict.OFF: "amd_off",
}


def _attempts_used_label(n):
    if n == 0:
        return "Never dialed"
    return "1 attempt" if n == 1 else f"{n} attempts"


def _index(rows):
    """
    Rows without an outcome split, by C{(dimension, value)}.
    """
    return {(r["dimension"], r["value"]): r for r in rows
            if r["dimension"] not in ("attempt", "hour")}


def _split(rows):
    """
    The attempt and hour rows: C{{dimension: {value: {outcome: row}}}}.
    """
    out = {}
    for r in rows:
        if r["dimension"] in ("attempt", "hour"):
            out.setdefault(r["dimension"], {}).setdefault(r["value"], {})[r["outcome"]] = r
    return out


def _count(index, dimension, value, field="contacts"):
    return int(index.get((dimension, value), {}).get(field) or 0)


def _series(key, label, by_outcome, outcome_keys):
    calls = sum(int(r["calls"]) for r in by_outcome.values())
    answered = int(by_outcome.get("answered", {}).get("calls") or 0)
    outcomes = [(o, int(by_outcome[o]["calls"])) for o in outcome_keys if o in by_outcome]
    return SeriesRow(key, label, calls, answered, outcomes)
