"""
A campaign report as plain text, for e-mails (and logs): the headline
figures, then contacts per final outcome, per option and calls per failure
reason, with what each number counts in its label.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fts.reports.model import FINAL, LIVE


def _local(report):
    try:
        zone = ZoneInfo(report.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    at = report.built_at.astimezone(zone) if zone is not None else report.built_at
    return at.strftime("%Y-%m-%d %H:%M") + f" ({report.timezone})"


def _table(title, rows):
    width = max([len(label) for label, _ in rows] + [0])
    lines = [title]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return lines


def summary_text(report):
    """
    The report as text, e.g.::

        Campaign "Payment reminders" (id 7): finished (completed).
        Live report, numbers as of 2026-01-12 18:00 (Europe/Paris).

        Contacts in the campaign                      12
        ...
    """
    reason = f" ({report.finish_reason})" if report.finish_reason else ""
    # A final report is built while the campaign is finalizing.
    state = f"finished{reason}, finalized" if report.kind == FINAL else report.state + reason
    kind = "Live report (the campaign is not finalized yet)" if report.kind == LIVE \
        else "Final report"
    lines = [
        f'Campaign "{report.campaign_name}" (id {report.campaign_id}): {state}.',
        f"{kind}, numbers as of {_local(report)}.",
        "",
    ]
    lines += _table("Summary", [(f.label, f.text()) for f in report.figures()])
    lines.append("")
    lines += _table("Contacts per final outcome",
                    [(row.label, row.contacts) for row in report.final_outcomes if row.contacts])
    if report.options:
        lines.append("")
        lines += _table("Options chosen (contacts / calls)",
                        [(f"{row.key}: {row.label}", f"{row.contacts} / {row.calls}")
                         for row in report.options])
    failures = [row for row in report.failure_reasons if row.calls]
    if failures:
        lines.append("")
        lines += _table("Unanswered calls per reason (calls / contacts)",
                        [(row.label, f"{row.calls} / {row.contacts}") for row in failures])
    if report.dnc_lists:
        lines.append("")
        lines += _table("Contacts skipped per do-not-call list",
                        [(row.label, row.contacts) for row in report.dnc_lists])
    return "\n".join(lines) + "\n"
