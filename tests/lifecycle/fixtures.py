"""
What the campaign store and life-cycle tests build on: ready contact lists,
valid settings, campaigns moved to a state, calls in given states, and a
fake report builder.  Rows the stores of other subjects will own (lists,
contacts, calls) are written with plain SQL.
"""

import json
from datetime import UTC, datetime, time

import attr
from twisted.internet import defer, reactor, task

from fts.core.campaign import (
    AmdMode,
    AmdSettings,
    CallerId,
    CampaignSettings,
    Schedule,
    TextPart,
    Window,
)
from fts.core.lifecycle import Trigger

ALL_WEEK = tuple(Window(day, time(0), time(0)) for day in range(7))
USER = "user:alice"


@defer.inlineCallbacks
def contact_list(pool, phones, columns=("first_name",), timezones=None, name="customers"):
    """
    A ready contact list with one contact per phone (fields
    C{first_name = "name-<phone>"}); returns its id.
    """
    listed = [{"name": "phone", "type": "phone"}]
    listed += [{"name": column, "type": "timezone" if column == "tz" else "text"}
               for column in columns]
    rows = yield pool.runQuery(
        "INSERT INTO contact_lists (name, columns, encoding, delimiter, has_header,"
        " phone_column, import_status) VALUES (%s, %s::jsonb, 'utf-8', ',', true, 0, 'ready')"
        " RETURNING id", (name, json.dumps(listed)))
    list_id = rows[0][0]
    timezones = list(timezones) if timezones is not None else [None] * len(phones)
    yield pool.runOperation(
        "INSERT INTO contacts (list_id, row_number, phone, phone_original, fields, timezone)"
        " SELECT %s, n + 1, p, '+' || p,"
        "        jsonb_build_object('first_name', 'name-' || p)"
        "        || CASE WHEN tz IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('tz', tz) END,"
        "        tz"
        " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS u(p, tz, n)",
        (list_id, list(phones), timezones))
    return list_id


def settings(list_id, **changes):
    """Campaign settings that pass validation (TTS available), with C{changes}."""
    schedule = changes.pop("schedule", None) or Schedule(
        timezone="UTC", start=datetime(2026, 1, 1, 0, 0), end=datetime(2027, 1, 1, 0, 0),
        windows=ALL_WEEK)
    base = CampaignSettings(
        name="Reminders", list_id=list_id, caller_id=CallerId("15550000", "FTS"),
        message=(TextPart("Hello {first_name}, this is a reminder."),),
        amd=AmdSettings(mode=AmdMode.HANGUP, parameters={"initial_silence": 2500}),
        schedule=schedule, dial_string="PJSIP/{number}@trunk")
    return attr.evolve(base, **changes)


@defer.inlineCallbacks
def campaign_in(store, pool, state, phones=("15551000", "15551001"), now=None, **changes):
    """
    A campaign on a new list of C{phones}, moved to C{state}
    (C{"draft"}, C{"scheduled"}, C{"running"}, C{"paused"}); returns its id.
    """
    list_id = yield contact_list(pool, phones)
    campaign = yield store.create(settings(list_id, **changes), USER)
    moves = {"draft": [], "scheduled": [Trigger.CONFIRM],
             "running": [Trigger.CONFIRM, Trigger.START],
             "paused": [Trigger.CONFIRM, Trigger.START, Trigger.PAUSE]}[state]
    for trigger in moves:
        yield store.transition(campaign.id, trigger, USER, now=now)
    return campaign.id


@defer.inlineCallbacks
def contact_rows(pool, campaign_id):
    """C{{phone: campaign_contacts.id}} of a campaign."""
    rows = yield pool.runQuery(
        "SELECT c.phone, cc.id FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id"
        " WHERE cc.campaign_id = %s", (campaign_id,))
    return dict(rows)


@defer.inlineCallbacks
def set_contact(pool, cc_id, **values):
    """Update columns of one campaign_contacts row."""
    names = ", ".join(f"{name} = %({name})s" for name in values)
    values["id"] = cc_id
    yield pool.runOperation(f"UPDATE campaign_contacts SET {names} WHERE id = %(id)s", values)


T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@defer.inlineCallbacks
def add_call(pool, campaign_id, cc_id, attempt, outcome=None, answered=False, amd=None,
             keys="", option_key=None, opted_out=False, talk_seconds=None, heard=False,
             ended=True, at=T0):
    """
    A calls row of contact C{cc_id}: accepted as C{attempt} (C{None}: a
    refused originate), ended with C{outcome} unless C{ended} is false.
    Returns C{(call_id, channel_id)}.
    """
    rows = yield pool.runQuery(
        "INSERT INTO calls (campaign_id, contact_id, campaign_contact_id, attempt, channel_id,"
        " number_dialed, originated_at, accepted_at, answered_at, ended_at, outcome,"
        " amd_verdict, keys, option_key, opted_out, talk_seconds, heard_full_message)"
        " SELECT %(campaign)s, cc.contact_id, cc.id, %(attempt)s,"
        "        'fts-t-' || nextval(pg_get_serial_sequence('calls', 'id')), c.phone,"
        "        %(at)s, CASE WHEN %(attempt)s IS NOT NULL THEN %(at)s END,"
        "        CASE WHEN %(answered)s THEN %(at)s END,"
        "        CASE WHEN %(ended)s THEN %(at)s END, %(outcome)s, %(amd)s, %(keys)s,"
        "        %(option)s, %(opted_out)s, %(talk)s, %(heard)s"
        " FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id WHERE cc.id = %(cc)s"
        " RETURNING id, channel_id",
        {"campaign": campaign_id, "cc": cc_id, "attempt": attempt, "at": at,
         "answered": answered, "ended": ended, "outcome": outcome if ended else None,
         "amd": amd, "keys": keys, "option": option_key, "opted_out": opted_out,
         "talk": talk_seconds, "heard": heard})
    return tuple(rows[0])


@defer.inlineCallbacks
def count(pool, sql, *args):
    """The single value of C{sql}."""
    rows = yield pool.runQuery(sql, args or None)
    return rows[0][0]


class FakeReports:
    """
    Stands for C{ReportStore(pool).build_final}: writes the final snapshot
    (C{ON CONFLICT DO NOTHING}, as the real one) with the archive's row
    count, and counts its calls.
    """

    def __init__(self, pool):
        self.pool = pool
        self.built = []

    @defer.inlineCallbacks
    def build_final(self, campaign_id):
        self.built.append(campaign_id)
        yield self.pool.runOperation(
            "INSERT INTO report_snapshots (campaign_id, kind, data)"
            " SELECT %s, 'final', jsonb_build_object('contacts', count(*),"
            "        'calls', (SELECT count(*) FROM calls WHERE campaign_id = %s))"
            " FROM campaign_contacts_archive WHERE campaign_id = %s"
            " ON CONFLICT (campaign_id) WHERE kind = 'final' DO NOTHING",
            (campaign_id, campaign_id, campaign_id))


@defer.inlineCallbacks
def turns_until(predicate, limit=20000):
    """
    Let the real reactor turn (zero-delay, no wall-clock wait) until
    C{predicate()} is true: database round trips complete, the test's
    C{Clock} does not move.
    """
    for _ in range(limit):
        if predicate():
            return
        yield task.deferLater(reactor, 0, lambda: None)
    raise AssertionError("condition not reached")
