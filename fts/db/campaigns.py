"""
Campaigns in PostgreSQL: create and edit drafts, read them as L{Campaign}
values, move them through the life cycle, templates and recycling.

Storage (see 0001_initial.sql): the whole L{CampaignSettings} is the jsonb
C{campaigns.settings} (its JSON form, L{settings_to_dict}); what the dialer
and the sweepers filter or read on every decision is copied into real
columns (list, caller ID, timezone, start and end as instants, recipient
hours, pacing, max attempts, dial string), and the windows, DNC lists and
audio assets into their link tables.  Every write of settings rewrites all of
them in one transaction, so they never disagree.

Times: the settings hold the schedule's start and end as naive wall-clock
times in the schedule's timezone (what the operator typed); the columns
C{starts_at}/C{ends_at} hold the instants L{fts.core.windows.bounds} gives
(a time inside a spring-forward gap is the transition, a repeated hour its
first occurrence).  They are computed again at confirmation.

Every state change goes through L{fts.core.lifecycle.transition}: the store
locks the row (C{FOR UPDATE}), gathers the facts the guard needs, and writes
the new state and its C{campaign_transitions} record in one transaction.
Listeners registered with L{CampaignStore.on_transition} are told after the
commit.

Recycling copies the selected contacts of a finalized campaign's archive into
a new contact list (set-based, one row per archived contact, nothing merged)
and creates a draft campaign with the same settings on that list.  A copy
rather than a reference: the archive is self-contained and the source list may
be deleted once its campaign is finalized, while C{campaign_contacts} must
reference C{contacts}; and the recycled draft is then an ordinary campaign
whose confirmation fills C{campaign_contacts} from its list like any other.
"""

from datetime import UTC, datetime

import attr
import psycopg2.errors
from psycopg2.extras import Json
from twisted.internet import defer
from twisted.logger import Logger

from fts.core import lifecycle, windows
from fts.core.campaign import (
    AudioPart,
    CampaignSettings,
    Schedule,
    settings_from_dict,
    settings_to_dict,
)
from fts.core.lifecycle import Facts, FinishReason, State, Transition, Trigger
from fts.core.recycling import RecycleChoice, RecycleSelection
from fts.core.validation import ValidationContext, validate_campaign

log = Logger()

#: "Is there anything left to dial, is anything in flight": two EXISTS, each
#: served by its partial index (a single C{status IN (...)} reads every row
#: of the campaign), in one statement so both see the same snapshot (two
#: statements could both miss a row moving from pending to in flight).
WORK_LEFT_SQL = """
SELECT EXISTS (SELECT 1 FROM campaign_contacts
                WHERE campaign_id = %(campaign)s AND status = 'pending'),
       EXISTS (SELECT 1 FROM campaign_contacts
                WHERE campaign_id = %(campaign)s AND status = 'in_flight')
"""

#: Contacts left to dial (pending or in flight), counted up to 1000 each
#: through the partial indexes.
CONTACTS_LEFT_SQL = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM campaign_contacts
                               WHERE campaign_id = %(campaign)s AND status = 'pending'
                               LIMIT 1000) p)
     + (SELECT count(*) FROM (SELECT 1 FROM campaign_contacts
                               WHERE campaign_id = %(campaign)s AND status = 'in_flight'
                               LIMIT 1000) f)
"""

#: Calls of the campaign in flight: calls not ended (calls_in_flight_idx),
#: plus contacts claimed by a dialer whose call is not (or no longer) an
#: open calls row (the claim comes before the calls row is inserted).
IN_FLIGHT_SQL = """
SELECT (SELECT count(*) FROM calls
         WHERE campaign_id = %(campaign)s AND ended_at IS NULL)
     + (SELECT count(*) FROM campaign_contacts cc
         WHERE cc.campaign_id = %(campaign)s AND cc.status = 'in_flight'
           AND NOT EXISTS (SELECT 1 FROM calls k
                            WHERE k.id = cc.in_flight_call_id AND k.ended_at IS NULL))
"""

_COLUMNS = """id, name, description, state, finish_reason, is_template, list_id, settings,
    starts_at, ends_at, recycled_from_id, recycle_filter, created_by, created_at, updated_at,
    state_changed_at, first_started_at, finished_at, finalized_at"""

# Operator sentences for the constraints a draft can break when saved.
_CONSTRAINTS = {
    "campaigns_name_check": "Give the campaign a name.",
    "campaigns_dates_check": "The end must be after the start.",
    "campaigns_timezone_check": "The timezone is not one PostgreSQL knows.",
    "campaigns_max_channels_check": "Max channels must be at least 1.",
    "campaigns_cps_check": "Calls per second must be more than 0.",
    "campaigns_priority_check": "Priority must be from 1 to 100.",
    "campaigns_ring_timeout_check": "The ring timeout must be from 5 to 300 seconds.",
    "campaigns_max_call_duration_check":
        "The max call duration must be from 10 to 86400 seconds.",
    "campaigns_max_attempts_check": "Max attempts must be from 1 to 100.",
    "campaigns_list_id_fkey": "The contact list does not exist.",
    "campaigns_template_check": "A template has no contact list and no start or end.",
    "campaigns_local_hours_check": "Recipient hours need both a start and an end.",
}


#: L{CampaignStore.update}'s "leave the description as it is".
_UNCHANGED = object()


class CampaignNotFound(LookupError):
    """No campaign has that id."""


class NotEditable(ValueError):
    """The campaign's settings can no longer be changed (it left draft)."""


class InvalidCampaign(ValueError):
    """Settings the database cannot hold (e.g. an end before the start)."""


@attr.frozen
class Actor:
    """
    Who or what causes a change, as the audit tables record it.

    @ivar kind: C{"user"}, C{"api_token"} or C{"system"}.
    @ivar name: the username, token name, or component (C{"sweeper:expiry"}).
    """

    kind: str
    name: str
    user_id: int | None = None
    api_token_id: int | None = None

    @property
    def label(self):
        """The actor as L{fts.core.lifecycle} records it (C{"user:alice"})."""
        prefix = {"user": "user:", "api_token": "api:"}.get(self.kind, "")
        return prefix + self.name

    @classmethod
    def of(cls, actor):
        """
        An L{Actor} from an L{Actor} or a label: C{"user:alice"},
        C{"api:nightly"}, anything else a system component.
        """
        if isinstance(actor, Actor):
            return actor
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("A change needs an actor (who or what caused it).")
        kind, _, rest = actor.partition(":")
        if kind == "user" and rest:
            return cls("user", rest)
        if kind == "api" and rest:
            return cls("api_token", rest)
        return cls("system", actor)


@attr.frozen
class Campaign:
    """
    A campaign (or template) as stored.

    @ivar settings: the L{CampaignSettings}; C{settings.list_id} is the
        C{list_id} column (C{None} once a finalized campaign's list was
        deleted).
    @ivar starts_at: the schedule's start as an aware UTC instant (C{None}
        for templates); C{ends_at} likewise.
    @ivar recycle_filter: for a recycled campaign, the selection as
        C{{"choices": [...], "keys": [...]}}.
    """

    id: int
    name: str
    description: str | None
    state: State
    finish_reason: FinishReason | None
    is_template: bool
    settings: CampaignSettings
    starts_at: object
    ends_at: object
    recycled_from_id: int | None
    recycle_filter: dict | None
    created_by: int | None
    created_at: object
    updated_at: object
    state_changed_at: object
    first_started_at: object
    finished_at: object
    finalized_at: object

    @property
    def list_id(self):
        """The campaign's contact list (C{None} for templates)."""
        return self.settings.list_id


@attr.frozen
class TransitionRecord:
    """One row of C{campaign_transitions}."""

    id: int
    campaign_id: int
    from_state: State | None
    to_state: State
    trigger: Trigger
    reason: str
    actor_kind: str
    actor_name: str
    user_id: int | None
    api_token_id: int | None
    at: object


def _utc(value):
    return value.astimezone(UTC) if value is not None else None


def _campaign(row):
    (cid, name, description, state, finish_reason, is_template, list_id, settings,
     starts_at, ends_at, recycled_from_id, recycle_filter, created_by, created_at,
     updated_at, state_changed_at, first_started_at, finished_at, finalized_at) = row
    parsed = attr.evolve(settings_from_dict(settings), list_id=list_id)
    return Campaign(
        id=cid, name=name, description=description, state=State(state),
        finish_reason=FinishReason(finish_reason) if finish_reason else None,
        is_template=is_template, settings=parsed, starts_at=_utc(starts_at),
        ends_at=_utc(ends_at), recycled_from_id=recycled_from_id,
        recycle_filter=recycle_filter, created_by=created_by, created_at=_utc(created_at),
        updated_at=_utc(updated_at), state_changed_at=_utc(state_changed_at),
        first_started_at=_utc(first_started_at), finished_at=_utc(finished_at),
        finalized_at=_utc(finalized_at),
    )


def audio_asset_ids(settings):
    """Every audio asset the settings play (message, options, replays, machine message)."""
    menu = settings.menu
    parts = list(settings.message) + list(settings.amd.machine_message)
    parts += list(menu.invalid_key.message) + list(menu.no_key.message)
    for option in menu.options:
        parts += list(option.message)
    return sorted({part.asset_id for part in parts if isinstance(part, AudioPart)})


def _columns(settings):
    """The real columns of C{campaigns} that mirror C{settings}."""
    schedule = settings.schedule
    try:
        starts_at, ends_at = windows.bounds(schedule)
    except windows.UnknownTimezone as e:
        raise InvalidCampaign(str(e)) from None
    hours = schedule.recipient_hours
    pacing = settings.pacing
    return {
        "name": settings.name,
        "list_id": settings.list_id,
        "caller_id_number": settings.caller_id.number or None,
        "caller_id_name": settings.caller_id.name or None,
        "timezone": schedule.timezone,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "local_hours_from": hours.start if hours is not None else None,
        "local_hours_to": hours.end if hours is not None else None,
        "settings": Json(settings_to_dict(settings)),
        "max_channels": pacing.max_channels,
        "cps": pacing.cps,
        "priority": pacing.priority,
        "ring_timeout_s": pacing.ring_timeout,
        "max_call_duration_s": pacing.max_call_duration,
        "max_attempts": settings.retry.max_attempts,
        "dial_string": settings.dial_string or None,
    }


def _database_error(failure):
    """Turn a constraint violation into L{InvalidCampaign} with an operator sentence."""
    failure.trap(psycopg2.IntegrityError)
    error = failure.value
    constraint = getattr(error.diag, "constraint_name", None)
    message = _CONSTRAINTS.get(constraint) or " ".join(
        (error.diag.message_primary or str(error)).split())
    raise InvalidCampaign(message)


def _template_settings(settings):
    return attr.evolve(settings, list_id=None, schedule=attr.evolve(
        settings.schedule, start=None, end=None))


class CampaignStore:
    """
    Campaigns, their life cycle, templates and recycling.

    @param pool: the L{fts.db.pool.Pool}.
    @param clock: an C{IReactorTime}; C{now} for guards when the caller
        gives none.
    @param tts_available: whether a text-to-speech engine is installed
        (validation at confirmation).
    @param default_dial_string: the configured dial string, for campaigns
        that set none.
    """

    def __init__(self, pool, clock, tts_available=True, default_dial_string=""):
        self.pool = pool
        self.clock = clock
        self.tts_available = tts_available
        self.default_dial_string = default_dial_string
        self._listeners = []

    # -- listeners ----------------------------------------------------------

    def on_transition(self, callback):
        """
        Call C{callback(campaign_id, transition)} after every committed
        life-cycle record (creation and recycling included), in order.  A
        callback that raises, or returns a failing Deferred, is logged.

        @return: a function that unregisters C{callback}.
        """
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _notify(self, result):
        value, records = result
        for campaign_id, transition in records:
            for callback in list(self._listeners):
                d = defer.maybeDeferred(callback, campaign_id, transition)
                d.addErrback(lambda f, c=campaign_id, t=transition: log.failure(
                    "transition listener failed for campaign {campaign} ({trigger})",
                    f, campaign=c, trigger=t.trigger))
        return value

    def _write(self, interaction, *args, **kwargs):
        """Run an interaction returning C{(value, records)}; notify; fire with value."""
        d = self.pool.runInteraction(interaction, *args, **kwargs)
        d.addErrback(_database_error)
        return d.addCallback(self._notify)

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    # -- reading ------------------------------------------------------------

    @defer.inlineCallbacks
    def get(self, campaign_id):
        """
        The L{Campaign} C{campaign_id}.

        @raise CampaignNotFound: no such campaign.
        """
        rows = yield self.pool.runQuery(
            f"SELECT {_COLUMNS} FROM campaigns WHERE id = %s", (campaign_id,))
        if not rows:
            raise CampaignNotFound(f"Campaign {campaign_id} does not exist.")
        return _campaign(rows[0])

    @staticmethod
    def _filters(states, is_template, list_id, name_contains):
        where, args = [], {}
        if states is not None:
            where.append("state = ANY(%(states)s)")
            args["states"] = [State(s).value for s in states]
        else:
            where.append("state <> 'deleted'")
        if is_template is not None:
            where.append("is_template = %(template)s")
            args["template"] = is_template
        if list_id is not None:
            where.append("list_id = %(list)s")
            args["list"] = list_id
        if name_contains:
            where.append("name ILIKE %(name)s")
            escaped = (name_contains.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_"))
            args["name"] = f"%{escaped}%"
        return (" WHERE " + " AND ".join(where)) if where else "", args

    @defer.inlineCallbacks
    def list(self, states=None, is_template=False, list_id=None, name_contains=None,
             limit=50, offset=0):
        """
        Campaigns, newest first.

        @param states: only these states (default: all but C{deleted}).
        @param is_template: C{False} campaigns only (default), C{True}
            templates only, C{None} both.
        @param name_contains: a case-insensitive substring of the name.
        @return: a list of L{Campaign}.
        """
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError("limit must be 1 to 1000 and offset 0 or more")
        where, args = self._filters(states, is_template, list_id, name_contains)
        args.update(limit=limit, offset=offset)
        rows = yield self.pool.runQuery(
            f"SELECT {_COLUMNS} FROM campaigns{where}"
            " ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s", args)
        return [_campaign(row) for row in rows]

    @defer.inlineCallbacks
    def count(self, states=None, is_template=False, list_id=None, name_contains=None):
        """How many campaigns L{list} would page through with these filters."""
        where, args = self._filters(states, is_template, list_id, name_contains)
        rows = yield self.pool.runQuery(f"SELECT count(*) FROM campaigns{where}", args)
        return rows[0][0]

    @defer.inlineCallbacks
    def transitions(self, campaign_id):
        """The audit records of C{campaign_id}, oldest first (L{TransitionRecord}s)."""
        rows = yield self.pool.runQuery(
            "SELECT id, campaign_id, from_state, to_state, trigger, coalesce(reason, ''),"
            " actor_kind, actor_name, user_id, api_token_id, at"
            " FROM campaign_transitions WHERE campaign_id = %s ORDER BY id", (campaign_id,))
        return [
            TransitionRecord(r[0], r[1], State(r[2]) if r[2] else None, State(r[3]),
                             Trigger(r[4]), r[5], r[6], r[7], r[8], r[9], _utc(r[10]))
            for r in rows
        ]

    @defer.inlineCallbacks
    def work_left(self, campaign_id):
        """
        C{(pending, in_flight)}: whether any contact of the campaign is
        still to dial, and whether any is in flight (one snapshot).
        """
        rows = yield self.pool.runQuery(WORK_LEFT_SQL, {"campaign": campaign_id})
        return tuple(rows[0])

    @defer.inlineCallbacks
    def in_states(self, states):
        """
        C{(id, state, starts_at, ends_at, schedule)} of every campaign (not
        template) in C{states}, by id: what the sweeper decides on.
        """
        rows = yield self.pool.runQuery(
            "SELECT id, state, starts_at, ends_at, settings->'schedule' FROM campaigns"
            " WHERE state = ANY(%s) AND NOT is_template ORDER BY id",
            ([State(s).value for s in states],))
        return [(r[0], State(r[1]), _utc(r[2]), _utc(r[3]),
                 settings_from_dict(r[4] or {}, Schedule)) for r in rows]

    # -- writing settings ---------------------------------------------------

    def create(self, settings, actor, *, is_template=False, description=None, note=""):
        """
        Store a new draft (or template) with C{settings}, its links and its
        creation record, in one transaction.  Settings are not validated
        (that happens at confirmation); values the table cannot hold fail.

        @return: a Deferred firing with the L{Campaign}.
        @raise InvalidCampaign: (in the Deferred) e.g. an end before the
            start, an unknown timezone, a template with a list or dates.
        """
        actor = Actor.of(actor)
        record = lifecycle.create(actor=actor.label, is_template=is_template, note=note)
        d = self._write(self._create, settings, actor, is_template, description, record)
        return d.addCallback(self.get)

    @defer.inlineCallbacks
    def _create(self, cursor, settings, actor, is_template, description, record,
                recycled_from=None, recycle_filter=None):
        columns = _columns(settings)
        columns.update(description=description, is_template=is_template,
                       created_by=actor.user_id, recycled_from_id=recycled_from,
                       recycle_filter=Json(recycle_filter) if recycle_filter else None)
        names = ", ".join(columns)
        values = ", ".join(f"%({name})s" for name in columns)
        yield cursor.execute(
            f"INSERT INTO campaigns ({names}) VALUES ({values}) RETURNING id", columns)
        campaign_id = cursor.fetchone()[0]
        yield self._write_links(cursor, campaign_id, settings)
        yield _insert_transition(cursor, campaign_id, record, actor)
        return campaign_id, [(campaign_id, record)]

    @defer.inlineCallbacks
    def _write_links(self, cursor, campaign_id, settings):
        """(Re)write the windows, DNC list and audio asset rows of a campaign."""
        yield cursor.execute(
            "DELETE FROM campaign_windows WHERE campaign_id = %s", (campaign_id,))
        yield cursor.execute(
            "DELETE FROM campaign_dnc_lists WHERE campaign_id = %s", (campaign_id,))
        yield cursor.execute(
            "DELETE FROM campaign_audio_assets WHERE campaign_id = %s", (campaign_id,))
        spans = settings.schedule.windows
        if spans:
            yield cursor.execute(
                "INSERT INTO campaign_windows (campaign_id, weekday, from_time, to_time)"
                " SELECT %s, w, f, t FROM unnest(%s::smallint[], %s::time[], %s::time[])"
                " AS u(w, f, t)",
                (campaign_id, [w.weekday for w in spans], [w.start for w in spans],
                 [w.end for w in spans]))
        # Only lists and assets that exist: a draft may name one that does not
        # (validation at confirmation says so); the links guard real rows.
        yield cursor.execute(
            "INSERT INTO campaign_dnc_lists (campaign_id, dnc_list_id)"
            " SELECT %s, id FROM dnc_lists WHERE id = ANY(%s::bigint[])",
            (campaign_id, list(settings.dnc_list_ids)))
        yield cursor.execute(
            "INSERT INTO campaign_audio_assets (campaign_id, audio_asset_id)"
            " SELECT %s, id FROM audio_assets WHERE id = ANY(%s::bigint[])",
            (campaign_id, audio_asset_ids(settings)))

    def update(self, campaign_id, settings, actor, *, description=_UNCHANGED):
        """
        Replace the settings of a draft (or template).

        @param description: the new description (C{None} clears it); left
            as it is when not given.
        @return: a Deferred firing with the updated L{Campaign}.
        @raise NotEditable: the campaign is not a draft.
        @raise CampaignNotFound: no such campaign.
        @raise InvalidCampaign: values the table cannot hold.
        """
        d = self._write(self._update, campaign_id, settings, description)
        return d.addCallback(self.get)

    @defer.inlineCallbacks
    def _update(self, cursor, campaign_id, settings, description=_UNCHANGED):
        row = yield _lock(cursor, campaign_id)
        state, is_template = State(row[0]), row[1]
        if state is not State.DRAFT:
            raise NotEditable(
                f"Campaign {campaign_id} is {state}; only a draft's settings can be changed.")
        columns = _columns(settings)
        if description is not _UNCHANGED:
            columns["description"] = description
        assignments = ", ".join(f"{name} = %({name})s" for name in columns)
        columns["id"] = campaign_id
        yield cursor.execute(f"UPDATE campaigns SET {assignments} WHERE id = %(id)s", columns)
        yield self._write_links(cursor, campaign_id, settings)
        return campaign_id, []

    # -- life cycle ---------------------------------------------------------

    def transition(self, campaign_id, trigger, actor, *, facts=None, note="", now=None,
                   in_transaction=None):
        """
        Move campaign C{campaign_id} by C{trigger}, in one transaction: lock
        the row, gather the facts the guard needs, ask
        L{fts.core.lifecycle.transition}, write the new state with its
        effects and the audit record; then tell the listeners.

        Facts gathered: C{is_template}; C{now} (C{now}, else the clock),
        C{start_at}/C{end_at} (the row's instants); for C{confirm} the
        validation problems (against the lists, DNC lists and audio in the
        database); for C{finish_expired} whether a window is left; for
        C{finish_completed} the contacts left; for C{finalize} the calls in
        flight.  C{facts} (a mapping of L{Facts} field names) overrides them,
        e.g. C{{"stuck_wait_over": True}}.

        Effects: C{confirm} sets C{starts_at}/C{ends_at} again from the
        settings and fills C{campaign_contacts} from the list (one
        C{INSERT ... SELECT}); C{unschedule} empties it; C{start} sets
        C{first_started_at} (first time); finishing sets C{finish_reason} and
        C{finished_at}; C{finalize} sets C{finalized_at}.

        @param in_transaction: optional C{f(cursor, transition)} returning a
            Deferred, run inside the same transaction after the state is
            written (the finalizer records its progress with it).
        @return: a Deferred firing with the L{Transition}.
        @raise fts.core.lifecycle.TransitionError: (in the Deferred) not
            allowed; nothing changed.
        @raise CampaignNotFound: no such campaign.
        """
        actor = Actor.of(actor)
        try:
            trigger = Trigger(trigger)
        except ValueError:
            return defer.fail(lifecycle.IllegalTransition(f"Unknown trigger {trigger!r}."))
        now = now if now is not None else self._now()
        return self._write(self._transition, campaign_id, trigger, actor, dict(facts or {}),
                           note, now, in_transaction)

    @defer.inlineCallbacks
    def _transition(self, cursor, campaign_id, trigger, actor, overrides, note, now,
                    in_transaction):
        row = yield _lock(cursor, campaign_id)
        state, is_template, starts_at, ends_at, settings_data, list_id = row
        gathered = {"is_template": is_template, "now": now, "start_at": _utc(starts_at),
                    "end_at": _utc(ends_at)}
        settings = None
        if trigger in (Trigger.CONFIRM, Trigger.FINISH_EXPIRED):
            settings = attr.evolve(settings_from_dict(settings_data), list_id=list_id)
        if trigger is Trigger.CONFIRM and not is_template:
            gathered["problems"] = yield self._problems(cursor, settings, now)
        elif trigger is Trigger.FINISH_EXPIRED:
            gathered["has_window_left"] = windows.has_window_left(settings.schedule, now)
        elif trigger is Trigger.FINISH_COMPLETED:
            yield cursor.execute(CONTACTS_LEFT_SQL, {"campaign": campaign_id})
            gathered["contacts_left"] = cursor.fetchone()[0]
        elif trigger is Trigger.FINALIZE:
            yield cursor.execute(IN_FLIGHT_SQL, {"campaign": campaign_id})
            gathered["calls_in_flight"] = cursor.fetchone()[0]
        gathered.update(overrides)
        move = lifecycle.transition(state, trigger, Facts(**gathered), actor=actor.label,
                                    note=note)
        yield cursor.execute(
            """
            UPDATE campaigns SET
                state = %(to)s,
                state_changed_at = now(),
                finish_reason = CASE WHEN %(to)s = 'finished' THEN %(reason)s
                                     ELSE finish_reason END,
                finished_at = CASE WHEN %(to)s = 'finished' THEN now() ELSE finished_at END,
                first_started_at = CASE WHEN %(to)s = 'running'
                                        THEN coalesce(first_started_at, now())
                                        ELSE first_started_at END,
                finalized_at = CASE WHEN %(to)s = 'finalized' THEN now() ELSE finalized_at END
             WHERE id = %(id)s
            """,
            {"to": move.to_state.value, "reason": move.reason, "id": campaign_id})
        if trigger is Trigger.CONFIRM:
            start, end = windows.bounds(settings.schedule)
            yield cursor.execute(
                "UPDATE campaigns SET starts_at = %s, ends_at = %s WHERE id = %s",
                (start, end, campaign_id))
            yield cursor.execute(
                "INSERT INTO campaign_contacts (campaign_id, contact_id)"
                " SELECT %s, id FROM contacts WHERE list_id = %s ORDER BY id"
                " ON CONFLICT (campaign_id, contact_id) DO NOTHING",
                (campaign_id, list_id))
        elif trigger is Trigger.UNSCHEDULE:
            yield cursor.execute(
                "DELETE FROM campaign_contacts WHERE campaign_id = %s", (campaign_id,))
        yield _insert_transition(cursor, campaign_id, move, actor)
        if in_transaction is not None:
            yield in_transaction(cursor, move)
        log.info("campaign {campaign}: {from_state} -> {to_state} ({trigger}) by {actor}",
                 campaign=campaign_id, from_state=move.from_state, to_state=move.to_state,
                 trigger=move.trigger, actor=actor.label)
        return move, [(campaign_id, move)]

    def problems(self, settings, *, is_template=False, now=None):
        """
        What confirming a campaign with C{settings} would find wrong, against
        the lists, audio and DNC lists the database holds now (the wizard's
        review, the API's answers).

        @param is_template: check as a template (no list, dates or windows).
        @return: a Deferred firing with a list of
            L{fts.core.validation.Problem}s.
        """
        now = now if now is not None else self._now()
        return self.pool.runInteraction(self._problems, settings, now, is_template)

    @defer.inlineCallbacks
    def _problems(self, cursor, settings, now, is_template=False):
        """Validation problems of C{settings}, against what the database holds."""
        yield cursor.execute(
            "SELECT id, columns FROM contact_lists"
            " WHERE id = %s AND import_status = 'ready' AND archived_at IS NULL",
            (settings.list_id,))
        found = cursor.fetchall()
        columns = [c.get("name") for c in (found[0][1] if found else [])
                   if isinstance(c, dict) and c.get("name")]
        yield cursor.execute(
            "SELECT id FROM audio_assets WHERE id = ANY(%s::bigint[]) AND status = 'ready'",
            (audio_asset_ids(settings),))
        assets = [r[0] for r in cursor.fetchall()]
        yield cursor.execute(
            "SELECT id FROM dnc_lists WHERE id = ANY(%s::bigint[])",
            (list(settings.dnc_list_ids),))
        dnc = [r[0] for r in cursor.fetchall()]
        context = ValidationContext(
            list_ids=[r[0] for r in found], list_columns=columns,
            tts_available=self.tts_available, audio_asset_ids=assets, dnc_list_ids=dnc,
            default_dial_string=self.default_dial_string, now=now, is_template=is_template)
        return validate_campaign(settings, context)

    # -- templates ----------------------------------------------------------

    @defer.inlineCallbacks
    def save_as_template(self, campaign_id, actor, name=None):
        """
        A new template with every setting of C{campaign_id} (AMD, menu,
        pacing, retries, windows, DNC lists...) but no list and no dates.

        @return: a Deferred firing with the template's L{Campaign}.
        """
        source = yield self.get(campaign_id)
        settings = _template_settings(source.settings)
        if name:
            settings = attr.evolve(settings, name=name)
        template = yield self.create(settings, actor, is_template=True,
                                     description=source.description,
                                     note=f"template from campaign {campaign_id}")
        return template

    @defer.inlineCallbacks
    def create_from_template(self, template_id, actor, *, name=None, list_id=None,
                             start=None, end=None, description=None):
        """
        A new draft with every setting of template C{template_id}, plus the
        given name, list and dates (naive wall-clock in the template's
        timezone).

        @return: a Deferred firing with the new L{Campaign}.
        @raise ValueError: C{template_id} is not a template.
        """
        template = yield self.get(template_id)
        if not template.is_template or template.state is not State.DRAFT:
            raise ValueError(f"Campaign {template_id} is not a template.")
        settings = attr.evolve(
            template.settings, name=name or template.settings.name, list_id=list_id,
            schedule=attr.evolve(template.settings.schedule, start=start, end=end))
        campaign = yield self.create(
            settings, actor, description=description or template.description,
            note=f"from template {template_id}")
        return campaign

    # -- recycling ----------------------------------------------------------

    def recycle(self, campaign_id, selection, actor, name=None):
        """
        A new draft with the settings of finalized campaign C{campaign_id}
        and only the contacts the L{RecycleSelection} picks, copied from its
        archive into a new contact list (set-based; every selected contact
        becomes one row, nothing merged).

        @return: a Deferred firing with the new L{Campaign}.
        @raise fts.core.lifecycle.IllegalTransition: the source is not
            finalized (or is a template).
        """
        if not isinstance(selection, RecycleSelection):
            raise TypeError("recycle() needs a RecycleSelection")
        actor = Actor.of(actor)
        d = self._write(self._recycle, campaign_id, selection, actor, name)
        return d.addCallback(self.get)

    @defer.inlineCallbacks
    def _recycle(self, cursor, source_id, selection, actor, name):
        yield cursor.execute(
            f"SELECT {_COLUMNS} FROM campaigns WHERE id = %s FOR SHARE", (source_id,))
        row = cursor.fetchone()
        if row is None:
            raise CampaignNotFound(f"Campaign {source_id} does not exist.")
        source = _campaign(row)
        record = lifecycle.recycle(source.state, selection, actor=actor.label,
                                   source_is_template=source.is_template)
        list_id = yield self._recycled_list(cursor, source, selection, actor)
        settings = attr.evolve(source.settings, list_id=list_id,
                               name=name or f"{source.name} (recycled)")
        recycle_filter = {"choices": sorted(c.value for c in selection.choices),
                          "keys": sorted(selection.keys)}
        result = yield self._create(cursor, settings, actor, False, source.description,
                                    record, recycled_from=source_id,
                                    recycle_filter=recycle_filter)
        return result

    @defer.inlineCallbacks
    def _recycled_list(self, cursor, source, selection, actor):
        """Create the recycled campaign's list and copy the selected contacts."""
        hours = source.settings.schedule.recipient_hours
        tz_column = hours.timezone_column if hours is not None else ""
        yield cursor.execute(
            "SELECT name, columns, encoding, delimiter, has_header, phone_column"
            " FROM contact_lists WHERE id = %s", (source.list_id,))
        found = cursor.fetchone()
        title = f"Recycled from campaign {source.id} ({source.name})"
        if found is not None:
            yield cursor.execute(
                "INSERT INTO contact_lists (name, description, columns, encoding, delimiter,"
                " has_header, phone_column, import_status, created_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, 'ready', %s) RETURNING id",
                (title, f"From list {found[0]!r}: {selection.describe()}", Json(found[1]),
                 found[2], found[3], found[4], found[5], actor.user_id))
        else:
            # The source list is gone: describe the columns from the archive.
            yield cursor.execute(
                """
                INSERT INTO contact_lists (name, description, columns, encoding, delimiter,
                                           has_header, phone_column, import_status, created_by)
                SELECT %(title)s, %(description)s,
                       jsonb_build_array(jsonb_build_object('name', 'phone', 'type', 'phone'))
                       || coalesce((SELECT jsonb_agg(jsonb_build_object(
                                        'name', k, 'type',
                                        CASE WHEN k = %(tz)s THEN 'timezone' ELSE 'text' END)
                                        ORDER BY k)
                                      FROM (SELECT DISTINCT jsonb_object_keys(fields) AS k
                                              FROM campaign_contacts_archive
                                             WHERE campaign_id = %(source)s) keys), '[]'),
                       'utf-8', ',', true, 0, 'ready', %(user)s
                RETURNING id
                """,
                {"title": title, "description": selection.describe(), "tz": tz_column,
                 "source": source.id, "user": actor.user_id})
        list_id = cursor.fetchone()[0]
        choices = selection.choices
        yield cursor.execute(
            RECYCLE_COPY_SQL,
            {"list": list_id, "source": source.id, "source_list": source.list_id,
             "tz": tz_column or None, "keys": sorted(selection.keys),
             **{choice.value: choice in choices for choice in RecycleChoice}})
        yield cursor.execute(
            "UPDATE contact_lists SET total_rows = n, accepted_rows = n,"
            " import_finished_at = now()"
            " FROM (SELECT count(*) AS n FROM contacts WHERE list_id = %s) c WHERE id = %s",
            (list_id, list_id))
        return list_id


#: Which archived contacts a recycling takes: the SQL form of
#: L{fts.core.recycling.selects} (tests check that the two agree).
RECYCLE_WHERE = """
a.campaign_id = %(source)s
AND a.final_outcome NOT IN ('opted_out', 'dnc_skipped', 'invalid_number')
AND (
    EXISTS (SELECT 1 FROM unnest(%(keys)s::text[]) AS k(key) WHERE strpos(a.keys, k.key) > 0)
    OR CASE
        WHEN coalesce(a.answered, a.final_outcome IN ('reached', 'opted_out')) THEN
            (%(machine)s AND a.amd_verdict = 'machine')
            OR (%(answered_without_key)s AND a.amd_verdict IS DISTINCT FROM 'machine'
                AND a.keys = '')
        WHEN (a.last_outcome IS NULL OR a.last_outcome = 'cancelled')
             AND a.final_outcome IN ('not_dialed', 'outside_hours_skipped')
            THEN %(never_dialed)s
        ELSE %(not_answered)s
            OR (%(busy)s AND a.last_outcome = 'busy')
            OR (%(no_answer)s AND a.last_outcome IN ('no_answer', 'unknown'))
            OR (%(failed)s AND a.last_outcome IN ('congestion', 'chanunavail', 'failed'))
    END
)
"""

RECYCLE_COPY_SQL = """
INSERT INTO contacts (list_id, row_number, phone, phone_original, fields, timezone)
SELECT %(list)s, coalesce(a.row_number, 0), a.phone, coalesce(a.phone_original, a.phone),
       a.fields, coalesce(c.timezone, nullif(a.fields->>%(tz)s, ''))
  FROM campaign_contacts_archive a
  LEFT JOIN contacts c ON c.id = a.contact_id AND c.list_id = %(source_list)s
 WHERE """ + RECYCLE_WHERE + """
 ORDER BY a.row_number, a.contact_id
"""


@defer.inlineCallbacks
def _lock(cursor, campaign_id):
    yield cursor.execute(
        "SELECT state, is_template, starts_at, ends_at, settings, list_id"
        " FROM campaigns WHERE id = %s FOR UPDATE", (campaign_id,))
    row = cursor.fetchone()
    if row is None:
        raise CampaignNotFound(f"Campaign {campaign_id} does not exist.")
    return row


def _insert_transition(cursor, campaign_id, record, actor):
    return cursor.execute(
        "INSERT INTO campaign_transitions (campaign_id, from_state, to_state, trigger, reason,"
        " actor_kind, user_id, api_token_id, actor_name)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (campaign_id, record.from_state.value if record.from_state else None,
         record.to_state.value, record.trigger.value, record.reason or None, actor.kind,
         actor.user_id, actor.api_token_id, actor.name))


__all__ = [
    "Actor", "Campaign", "CampaignNotFound", "CampaignStore", "InvalidCampaign",
    "NotEditable", "TransitionRecord", "Transition", "audio_asset_ids",
]
