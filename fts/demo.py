"""
The first-run demo: on the embedded defaults (no DSN, the PBX simulator), a
fresh installation gets a sample contact list and a draft campaign labelled
as a demo, so a newcomer can press Start right after C{make run} and watch it
run against the simulator.

It is created once, only into an empty database, and never when a real PBX
or an external database is configured.  It goes through the same paths an
operator's list and campaign do: the CSV importer, the campaign store.
"""

import csv
import io
from datetime import datetime, timedelta, time, timezone

from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from fts.core.campaign import (
    Action,
    CallerId,
    CampaignSettings,
    FieldPart,
    KeyOption,
    Menu,
    Pacing,
    RetryPolicy,
    RetryRule,
    SayMode,
    Schedule,
    TextPart,
    Window,
)

log = Logger()

LIST_NAME = "Demo contacts (simulated numbers)"
CAMPAIGN_NAME = "Demo campaign (simulated PBX)"
ACTOR = "system:demo"
FIRST_NAMES = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken")


def contacts_csv(count):
    """
    A sample contact list: a first name and a 10-digit number in the
    simulator's range (any number reaches the simulator's random callee).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["first_name", "phone"])
    for n in range(count):
        writer.writerow([FIRST_NAMES[n % len(FIRST_NAMES)], "555%07d" % (n + 1)])
    return out.getvalue().encode("utf-8")


def demo_settings(list_id, now, tts_available, max_attempts=2, retry_delay=60):
    """
    The demo campaign: a greeting (spoken by text-to-speech when available,
    else the number read back as digits), key 1 to confirm, key 9 to opt
    out; every day all day for a week; 10 channels at 5 calls per second.
    """
    if tts_available:
        message = (TextPart("Hello {first_name}. This is a demonstration call from F T S. "
                            "Press 1 to confirm, or 9 to stop these calls."),)
    else:
        message = (FieldPart("phone", SayMode.DIGITS),)
    retry = RetryRule(True, retry_delay)
    start = now.replace(tzinfo=None, microsecond=0)
    return CampaignSettings(
        name=CAMPAIGN_NAME,
        list_id=list_id,
        caller_id=CallerId("5550100", "FTS Demo"),
        message=message,
        menu=Menu(options=(
            KeyOption("1", Action.RECORD, label="Confirmed"),
            KeyOption("9", Action.OPTOUT, label="Stop calls"),
        ), wait_seconds=5),
        schedule=Schedule(
            timezone="UTC", start=start, end=start + timedelta(days=7),
            windows=tuple(Window(day, time(0), time(0)) for day in range(7))),
        pacing=Pacing(max_channels=10, cps=5.0, ring_timeout=30, max_call_duration=120),
        retry=RetryPolicy(max_attempts=max_attempts, busy=retry, no_answer=retry,
                          failed=retry, machine=RetryRule(False, 0),
                          answered_without_key=RetryRule(False, 0)),
    )


@defer.inlineCallbacks
def create_demo(store, imports, data_dir, clock, tts_available, contacts=300, **settings):
    """
    Create the demo list and draft campaign into an empty database.

    @return: a Deferred firing with the campaign's id, or L{None} when the
        database already has lists or campaigns.
    """
    lists = yield store.contacts.lists(limit=1)
    campaigns = yield store.campaigns.count()
    if list(lists) or campaigns:
        return None
    # Absolute: the importer reads relative paths from its own data directory.
    directory = (Path(data_dir) / "demo").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-contacts.csv"
    path.write_bytes(contacts_csv(contacts))
    contact_list = yield store.contacts.create_list(LIST_NAME, source_filename=path.name)
    detected = yield imports.uploaded(contact_list.id, str(path), path.name)
    run = yield imports.start(contact_list.id, detected.format())
    yield run.when_done()
    now = datetime.fromtimestamp(clock.seconds(), timezone.utc)
    campaign = yield store.campaigns.create(
        demo_settings(contact_list.id, now, tts_available, **settings), ACTOR,
        description="A demonstration against the built-in PBX simulator: press Start.")
    log.info("first run: created the demo list ({contacts} contacts) and the draft "
             "campaign {name!r} (#{id}); start it from the panel",
             contacts=contacts, name=CAMPAIGN_NAME, id=campaign.id)
    return campaign.id
