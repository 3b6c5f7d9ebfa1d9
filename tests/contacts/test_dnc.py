"""
Tests for L{fts.db.dnc.DncStore} and L{fts.contacts.dnc_uploads.DncUploads}:
named lists, the built-in opt-outs list, numbers added, removed and
checked in their normalised form, and CSV uploads.
"""

from pathlib import Path

from twisted.internet import defer, reactor

from fts.contacts import report
from fts.contacts.dnc_uploads import DncUploads
from fts.core.phones import PhoneError
from fts.db.dnc import DncError, DncListInUse, DncStore
from tests.contacts.support import RULES, campaign, in_place
from tests.support.db import DatabaseTestCase


class DncTestCase(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.dnc = DncStore(self.pool, RULES)


class ListTests(DncTestCase):
    @defer.inlineCallbacks
    def test_builtin_list(self):
        """
        The built-in opt-outs list exists from the start, listed first.
        """
        builtin = yield self.dnc.builtin()
        self.assertEqual((builtin.name, builtin.builtin, builtin.entries), ("opt-outs", True, 0))
        yield self.dnc.create_list("Aardvark")
        self.assertEqual([x.name for x in (yield self.dnc.lists())], ["opt-outs", "Aardvark"])

    @defer.inlineCallbacks
    def test_names(self):
        """
        A list needs a name no other list has.
        """
        lst = yield self.dnc.create_list("Complaints", "people who complained")
        self.assertEqual((lst.name, lst.description, lst.builtin), ("Complaints", "people who "
                                                                    "complained", False))
        failure = yield self.assertFailure(self.dnc.create_list("Complaints"), DncError)
        self.assertEqual(str(failure), "there is already a DNC list named 'Complaints'")
        yield self.assertFailure(self.dnc.create_list(" "), DncError)
        other = yield self.dnc.create_list("Other")
        yield self.assertFailure(self.dnc.rename(other.id, "Complaints"), DncError)
        self.assertTrue((yield self.dnc.rename(other.id, "Renamed")))

    @defer.inlineCallbacks
    def test_builtin_cannot_be_deleted(self):
        """
        Deleting the built-in list is refused with the database's reason.
        """
        builtin = yield self.dnc.builtin()
        failure = yield self.assertFailure(self.dnc.delete_list(builtin.id), DncListInUse)
        self.assertEqual(str(failure), 'the built-in DNC list "opt-outs" cannot be deleted')

    @defer.inlineCallbacks
    def test_delete_guarded_by_campaigns(self):
        """
        A list honoured by a campaign that is not finalized cannot be
        deleted; links of finalized campaigns are dropped on delete.
        """
        lst = yield self.dnc.create_list("Complaints")
        yield self.dnc.add(lst.id, "0612345678")
        rows = yield self.pool.runQuery(
            "INSERT INTO contact_lists (name) VALUES ('c') RETURNING id")
        running = yield campaign(self.pool, rows[0][0], "running", name="Live")
        done = yield campaign(self.pool, rows[0][0], "finalized", name="Old")
        for cid in (running, done):
            yield self.pool.runOperation(
                "INSERT INTO campaign_dnc_lists (campaign_id, dnc_list_id) VALUES (%s, %s)",
                (cid, lst.id))
        failure = yield self.assertFailure(self.dnc.delete_list(lst.id), DncListInUse)
        self.assertEqual(str(failure), f"DNC list {lst.id} ('Complaints') is honoured by "
                                       f"campaign {running} ('Live'), which is running; it can "
                                       "be deleted once that campaign is finalized")
        yield self.pool.runOperation("UPDATE campaigns SET state = 'finalized',"
                                     " finish_reason = 'completed' WHERE id = %s", (running,))
        self.assertTrue((yield self.dnc.delete_list(lst.id)))
        self.assertIsNone((yield self.dnc.get(lst.id)))
        self.assertFalse((yield self.dnc.delete_list(lst.id)))


class NumberTests(DncTestCase):
    @defer.inlineCallbacks
    def test_add_normalises_and_is_idempotent(self):
        """
        A number is stored normalised with the text as written; adding it
        again in another form changes nothing.
        """
        lst = yield self.dnc.create_list("Complaints")
        entry, added = yield self.dnc.add(lst.id, " 06 12 34 56 78 ", added_by="alice",
                                          note="called twice")
        self.assertTrue(added)
        self.assertEqual((entry.phone, entry.phone_original, entry.source, entry.added_by,
                          entry.note), ("33612345678", "06 12 34 56 78", "manual", "alice",
                                        "called twice"))
        again, added = yield self.dnc.add(lst.id, "+33 6 12 34 56 78", source="api")
        self.assertFalse(added)
        self.assertEqual(again, entry)
        self.assertEqual((yield self.dnc.get(lst.id)).entries, 1)

    @defer.inlineCallbacks
    def test_add_refuses_bad_input(self):
        """
        An invalid number, an unknown source or list is refused.
        """
        lst = yield self.dnc.create_list("Complaints")
        failure = yield self.assertFailure(self.dnc.add(lst.id, "06 12"), PhoneError)
        self.assertIn("too short", failure.reason)
        yield self.assertFailure(self.dnc.add(lst.id, "0612345678", source="magic"), ValueError)
        yield self.assertFailure(self.dnc.add(9999, "0612345678"), DncError)

    @defer.inlineCallbacks
    def test_remove(self):
        """
        A number is removed whichever way it is written.
        """
        lst = yield self.dnc.create_list("Complaints")
        yield self.dnc.add(lst.id, "0612345678")
        self.assertTrue((yield self.dnc.remove(lst.id, "0033 6 12 34 56 78")))
        self.assertFalse((yield self.dnc.remove(lst.id, "0612345678")))
        self.assertFalse((yield self.dnc.remove(lst.id, "no digits")))

    @defer.inlineCallbacks
    def test_check(self):
        """
        A check names every list holding the number, the built-in one
        first, optionally among given lists only.
        """
        a = yield self.dnc.create_list("A")
        b = yield self.dnc.create_list("B")
        builtin = yield self.dnc.builtin()
        yield self.dnc.add(a.id, "0612345678")
        yield self.dnc.add(b.id, "0612345678")
        yield self.dnc.opt_out("+33612345678")
        hits = yield self.dnc.check("06 12 34 56 78")
        self.assertEqual([h.name for h in hits], ["opt-outs", "A", "B"])
        hits = yield self.dnc.check("06 12 34 56 78", list_ids=[b.id, builtin.id])
        self.assertEqual([h.name for h in hits], ["opt-outs", "B"])
        self.assertEqual((yield self.dnc.check("0699999999")), [])
        self.assertEqual((yield self.dnc.check("0612345678", list_ids=[])), [])
        yield self.assertFailure(self.dnc.check("nope"), PhoneError)

    @defer.inlineCallbacks
    def test_opt_out(self):
        """
        An opt-out lands in the built-in list once, keeping its first
        campaign and call.
        """
        self.assertTrue((yield self.dnc.opt_out("06 12 34 56 78", campaign_id=7, call_id=70,
                                                source="opt_out_key", added_by="opt-out key")))
        self.assertFalse((yield self.dnc.opt_out("+33612345678", campaign_id=8, call_id=80)))
        builtin = yield self.dnc.builtin()
        entry = yield self.dnc.entry(builtin.id, "33612345678")
        self.assertEqual((entry.source, entry.source_campaign_id, entry.source_call_id,
                          entry.added_by), ("opt_out_key", 7, 70, "opt-out key"))
        yield self.assertFailure(self.dnc.opt_out("0612345679", source="manual"), ValueError)

    @defer.inlineCallbacks
    def test_entries_pages_and_search(self):
        """
        Entries come in numeric order, a page at a time, optionally matching
        digits.
        """
        lst = yield self.dnc.create_list("A")
        for i in range(5):
            yield self.dnc.add(lst.id, "06123456%02d" % (9 - i))
        page = yield self.dnc.entries(lst.id, limit=2)
        phones = [e.phone for e in page.items]
        while page.after is not None:
            page = yield self.dnc.entries(lst.id, limit=2, after=page.after)
            phones += [e.phone for e in page.items]
        self.assertEqual(phones, sorted(phones))
        self.assertEqual(len(phones), 5)
        found = yield self.dnc.entries(lst.id, search="56 07")
        self.assertEqual([e.phone for e in found.items], ["33612345607"])


class UploadTests(DncTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.uploads = DncUploads(reactor, self.dnc, RULES, run_in_thread=in_place,
                                  batch_rows=2, slice_records=2)
        self.directory = Path(self.mktemp())
        self.directory.mkdir()

    def write(self, data):
        path = self.directory / "dnc.csv"
        path.write_bytes(data)
        return path

    @defer.inlineCallbacks
    def test_upload(self):
        """
        An uploaded CSV of numbers adds the new ones, counts those already
        listed (or repeated), and rejects invalid rows with the reason.
        """
        lst = yield self.dnc.create_list("Complaints")
        yield self.dnc.add(lst.id, "0612345678")
        path = self.write(b"Phone\n06 12 34 56 78\n0612345679\nabc\n+33 6 12 34 56 79\n"
                          b"\n0612345680\n")
        run = yield self.uploads.start(lst.id, path, added_by="alice")
        final = yield run.when_done()
        self.assertEqual((final.status, final.total_rows, final.added_rows,
                          final.already_present_rows, final.rejected_rows, final.bytes_done,
                          final.source_filename),
                         ("done", 5, 2, 2, 1, path.stat().st_size, "dnc.csv"))
        rejects = yield self.dnc.upload_rejects(final.id)
        self.assertEqual([(r.row_number, r.value, r.reason) for r in rejects.items],
                         [(4, "abc", "'abc' is not a phone number: it contains 'a'")])
        entry = yield self.dnc.entry(lst.id, "33612345680")
        self.assertEqual((entry.source, entry.added_by, entry.note),
                         ("upload", "alice", "uploaded from dnc.csv"))
        self.assertEqual((yield self.dnc.get(lst.id)).entries, 3)
        self.assertEqual([u.id for u in (yield self.dnc.uploads(lst.id))], [final.id])
        chunks = []
        yield report.write_dnc_rejects(self.dnc, final.id, chunks.append)
        self.assertEqual(b"".join(chunks).decode("utf-8-sig"),
                         "row,value,reason\r\n4,abc,'abc' is not a phone number: it contains "
                         "'a'\r\n")

    @defer.inlineCallbacks
    def test_upload_with_other_columns(self):
        """
        With several columns the phone column is detected and the others
        ignored.
        """
        lst = yield self.dnc.create_list("Complaints")
        path = self.write(b"name;number\nA;0612345678\nB;0612345679\n")
        detected = yield self.uploads.detect(path)
        self.assertEqual(detected.phone_column, 1)
        run = yield self.uploads.start(lst.id, path, detected.format())
        final = yield run.when_done()
        self.assertEqual((final.added_rows, final.rejected_rows), (2, 0))

    @defer.inlineCallbacks
    def test_cancel_upload(self):
        """
        A cancelled upload stops after its current batch; what it added
        stays.
        """
        lst = yield self.dnc.create_list("Complaints")
        path = self.write(b"".join(b"06123456%02d\n" % i for i in range(20)))
        write = self.dnc.upload_chunk
        cancels = []

        def cancel_on_first(import_id, *args, **kwargs):
            if not cancels:
                cancels.append(self.uploads.cancel(import_id))
            return write(import_id, *args, **kwargs)

        self.dnc.upload_chunk = cancel_on_first
        run = yield self.uploads.start(lst.id, path)
        final = yield run.when_done()
        self.assertTrue((yield cancels[0]))
        self.assertEqual((final.status, final.added_rows), ("cancelled", 2))
        self.assertEqual((yield self.dnc.get(lst.id)).entries, 2)

    @defer.inlineCallbacks
    def test_interrupted_uploads(self):
        """
        Uploads a stopped daemon left running are marked failed.
        """
        lst = yield self.dnc.create_list("Complaints")
        upload = yield self.dnc.begin_upload(lst.id, "x.csv", 10)
        self.assertEqual((yield self.dnc.fail_interrupted_uploads(stalled_for=3600)), [])
        self.assertEqual((yield self.dnc.fail_interrupted_uploads()), [upload.id])
        self.assertEqual((yield self.dnc.upload(upload.id)).status, "failed")
        yield self.assertFailure(self.dnc.begin_upload(9999), DncError)
