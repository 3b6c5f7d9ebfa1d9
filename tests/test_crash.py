"""
Crash safety: a real C{twistd -n fts} running a simulated campaign is killed
with SIGKILL at random moments and restarted, repeatedly, and the database
it leaves behind is checked contact by contact.

The daemons share one test database (a DSN), so this test reads it while
they come and go.  The campaign runs on to its finalization, which purges
C{calls} and C{campaign_contacts}; a test-only trigger (enabled ALWAYS, as
the purge runs with C{session_replication_role = replica}) copies every row
the purge deletes into C{crash_purged}, so the checks see every attempt ever
made, not just what the purge left.
"""

import os
import random
from collections import defaultdict
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.logger import Logger
from twisted.trial import unittest

from fts.db.pool import Pool
from fts.db.store import Store
from tests.support.campaigns import Daemons, running_campaign
from tests.support.db import fresh_database

CONTACTS = 50
MAX_ATTEMPTS = 2
KILLS = 4
SEED = 20240607
log = Logger()

ENV = {
    "FTS_PBX_SIM_SCALE": "0.05",
    "FTS_BACKUP_ENABLED": "no",
    "FTS_DIALER_CPS": "20",
    "FTS_DIALER_SHUTDOWN_GRACE": "2",
    "FTS_TTS_ENGINE": "none",
}

# Rows the finalization's purge deletes, kept for the checks.  Only deletes
# of a campaign being finalized are kept: the restart's release of
# never-dialed claims also deletes calls rows, and those were never calls.
KEEP_PURGED = """
CREATE TABLE crash_purged (tbl text NOT NULL, row jsonb NOT NULL);
CREATE FUNCTION crash_keep_purged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM campaign_finalizations AS f
                WHERE f.campaign_id = OLD.campaign_id) THEN
        INSERT INTO crash_purged VALUES (TG_TABLE_NAME, to_jsonb(OLD));
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER crash_keep_purged AFTER DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION crash_keep_purged();
ALTER TABLE calls ENABLE ALWAYS TRIGGER crash_keep_purged;
CREATE TRIGGER crash_keep_purged AFTER DELETE ON campaign_contacts
    FOR EACH ROW EXECUTE FUNCTION crash_keep_purged();
ALTER TABLE campaign_contacts ENABLE ALWAYS TRIGGER crash_keep_purged;
"""

ALL_CALLS = """
SELECT id, campaign_contact_id, attempt, outcome, originated_at, ended_at
  FROM calls WHERE campaign_id = %(c)s AND NOT is_test_call
UNION ALL
SELECT r.id, r.campaign_contact_id, r.attempt, r.outcome, r.originated_at, r.ended_at
  FROM crash_purged AS p, jsonb_populate_record(NULL::calls, p.row) AS r
 WHERE p.tbl = 'calls' AND r.campaign_id = %(c)s AND NOT r.is_test_call
"""

ALL_CONTACTS = """
SELECT id, contact_id, status, attempts, final_outcome
  FROM campaign_contacts WHERE campaign_id = %(c)s
UNION ALL
SELECT r.id, r.contact_id, r.status, r.attempts, r.final_outcome
  FROM crash_purged AS p, jsonb_populate_record(NULL::campaign_contacts, p.row) AS r
 WHERE p.tbl = 'campaign_contacts' AND r.campaign_id = %(c)s
"""


class CrashRestartTests(Daemons, unittest.TestCase):
    ENV = ENV
    timeout = 240

    @defer.inlineCallbacks
    def setUp(self):
        dsn, drop = yield fresh_database()
        self.addCleanup(drop)
        self.dsn = dsn
        self.pool = Pool(reactor, dsn, size=2)
        yield self.pool.start()
        self.addCleanup(self.pool.close)
        self.store = Store(self.pool, tts_available=False,
                           default_dial_string="Local/{number}@fts-callee")
        self.base = Path(os.path.abspath(self.mktemp()))
        self.base.mkdir(parents=True)
        self.daemons = []
        yield self.pool.runOperation(KEEP_PURGED)

    def daemon(self):
        """A new daemon on the test database, with a data directory of its own."""
        return self.start_daemon(self.base / f"daemon-{len(self.daemons) + 1}")

    def create_campaign(self):
        """The demo campaign on C{CONTACTS} contacts, confirmed and started."""
        return running_campaign(self.store, self.base / "test", CONTACTS, name="crash",
                                max_attempts=MAX_ATTEMPTS, retry_delay=1)

    @defer.inlineCallbacks
    def kill_while_dialing(self, daemon, rng, campaign_id):
        """
        Once C{daemon} has calls of its own up, wait a random moment and
        SIGKILL it: C{(calls in flight, accepted attempts in flight)} at the
        kill, or L{None} when the campaign had nothing left to dial.
        """
        before = yield self.scalar("SELECT coalesce(max(id), 0) FROM calls")
        yield daemon.health(timeout=60)
        deadline = reactor.seconds() + 30
        while True:
            up = yield self.scalar(
                "SELECT count(*) FROM calls WHERE id > %s AND ended_at IS NULL", (before,))
            if up:
                break
            left = yield self.scalar(
                "SELECT count(*) FROM campaign_contacts"
                " WHERE campaign_id = %s AND status <> 'done'", (campaign_id,))
            if not left:
                return None
            if daemon.output.ended.called:
                self.fail("daemon exited on its own:\n" + self.logs())
            if reactor.seconds() > deadline:
                self.fail("no call placed within 30 s:\n" + self.logs())
            yield task.deferLater(reactor, 0.05, lambda: None)
        yield task.deferLater(reactor, rng.uniform(0.0, 1.5), lambda: None)
        code = yield daemon.kill()
        self.assertIsNone(code, "the daemon was killed, not ended")
        # Nobody writes now: what is not ended was in flight at the kill.
        rows = yield self.pool.runQuery(
            "SELECT count(*), count(attempt) FROM calls"
            " WHERE campaign_id = %s AND ended_at IS NULL", (campaign_id,))
        return rows[0]

    @defer.inlineCallbacks
    def wait_for_finalized(self, campaign_id, seconds):
        deadline = reactor.seconds() + seconds
        while True:
            campaign = yield self.store.campaigns.get(campaign_id)
            if campaign.state == "finalized":
                return
            if reactor.seconds() > deadline:
                self.fail(f"campaign still {campaign.state} after {seconds} s:\n" + self.logs())
            yield task.deferLater(reactor, 0.5, lambda: None)

    @defer.inlineCallbacks
    def test_killed_and_restarted_daemons_leave_every_contact_consistent(self):
        """
        A campaign whose daemon is SIGKILLed at random moments while calls
        are up, and restarted, ends with every contact consistent: attempt
        numbers distinct and consecutive from 1, every call with an outcome
        (C{unknown} for those lost in a crash), the contact's attempt count
        equal to its accepted calls, and no two calls of one contact
        overlapping in time.
        """
        rng = random.Random(SEED)
        campaign_id = yield self.create_campaign()

        in_flight_at_kills = []
        for _ in range(KILLS):
            found = yield self.kill_while_dialing(self.daemon(), rng, campaign_id)
            if found is None:
                break
            in_flight_at_kills.append(tuple(found))
        self.assertTrue(any(accepted for _, accepted in in_flight_at_kills),
                        f"no kill caught an accepted call in flight: {in_flight_at_kills}")

        final = self.daemon()
        yield final.health(timeout=60)
        yield self.wait_for_finalized(campaign_id, 150)
        code = yield final.terminate()
        self.assertEqual(code, 0, final.text()[-6000:])

        contacts = yield self.pool.runQuery(ALL_CONTACTS, {"c": campaign_id})
        calls = yield self.pool.runQuery(ALL_CALLS, {"c": campaign_id})
        archive = yield self.pool.runQuery(
            "SELECT contact_id, attempts FROM campaign_contacts_archive"
            " WHERE campaign_id = %s", (campaign_id,))
        self.assertEqual(len(contacts), CONTACTS, "every campaign contact is accounted for")
        self.assertEqual(len({row[0] for row in contacts}), CONTACTS)
        archived = dict(archive)
        self.assertEqual(len(archived), CONTACTS)

        by_contact = defaultdict(list)
        for call in calls:
            by_contact[call[1]].append(call)
        problems = []
        for cc_id, contact_id, status, attempts, final_outcome in contacts:
            mine = sorted(by_contact.pop(cc_id, []), key=lambda c: (c[4], c[0]))
            numbers = sorted(c[2] for c in mine if c[2] is not None)
            if numbers != list(range(1, len(numbers) + 1)):
                problems.append(f"contact {cc_id}: attempt numbers {numbers}")
            if len(numbers) > MAX_ATTEMPTS:
                problems.append(f"contact {cc_id}: {len(numbers)} attempts > {MAX_ATTEMPTS}")
            if attempts != len(numbers):
                problems.append(f"contact {cc_id}: attempts {attempts}, calls {numbers}")
            if archived.get(contact_id) != len(numbers):
                problems.append(f"contact {cc_id}: archived attempts"
                                f" {archived.get(contact_id)}, calls {numbers}")
            if status != "done" or final_outcome is None:
                problems.append(f"contact {cc_id}: {status}/{final_outcome}")
            for call in mine:
                if call[3] is None or call[5] is None:
                    problems.append(f"contact {cc_id}: call {call} has no outcome or end")
            for earlier, later in zip(mine, mine[1:]):
                if earlier[5] is None or earlier[5] > later[4]:
                    problems.append(f"contact {cc_id}: calls overlap: {earlier} / {later}")
        if by_contact:
            problems.append(f"calls of no campaign contact: {dict(by_contact)}")
        self.assertEqual(problems, [], "\n".join(problems[:40]))

        unknown = sum(1 for c in calls if c[3] == "unknown")
        attempted = sum(1 for c in calls if c[2] is not None)
        self.assertGreater(attempted, 0)
        log.info(f"crash test: {len(self.daemons)} daemons, kills caught (calls, attempts) in"
              f" flight {in_flight_at_kills}; {len(calls)} calls, {attempted} attempts,"
              f" {unknown} unknown".replace("{", "{{").replace("}", "}}"))
