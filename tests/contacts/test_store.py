"""
Tests for L{fts.db.contacts.ContactStore}: lists, deletion guarded by
campaigns, contacts and rejects pages, interrupted imports.
"""

import json

from twisted.internet import defer

from fts.core import contacts as C
from fts.core.contacts import Column, ImportFormat
from fts.db.contacts import ContactListError, ContactStore, ImportStateError, ListInUse
from tests.contacts.support import campaign
from tests.support.db import DatabaseTestCase

FORMAT = ImportFormat("utf-8", ",", True, (Column("name"), Column("phone", C.PHONE)))


class ContactStoreTestCase(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.contacts = ContactStore(self.pool)

    @defer.inlineCallbacks
    def filled_list(self, n=5, name="Customers"):
        """
        A ready list of C{n} contacts written directly.
        """
        lst = yield self.contacts.create_list(name)
        for i in range(n):
            yield self.pool.runOperation(
                "INSERT INTO contacts (list_id, row_number, phone, phone_original, fields)"
                " VALUES (%s, %s, %s, %s, %s)",
                (lst.id, i + 2, "3361234%04d" % i, "06 1234 %04d" % i,
                 json.dumps({"name": "Person %d" % i, "city": "Lyon" if i % 2 else "Nice"})))
        yield self.pool.runOperation(
            "UPDATE contact_lists SET import_status = 'ready', encoding = 'utf-8',"
            " delimiter = ',', has_header = true, phone_column = 0 WHERE id = %s", (lst.id,))
        return lst.id


class ListTests(ContactStoreTestCase):
    @defer.inlineCallbacks
    def test_create_and_get(self):
        """
        A new list waits for its file, with no format yet.
        """
        lst = yield self.contacts.create_list("  Spring  ", "reminders", source_filename="a.csv")
        self.assertEqual((lst.name, lst.description, lst.source_filename, lst.import_status,
                          lst.format(), lst.progress, lst.campaigns, lst.archived),
                         ("Spring", "reminders", "a.csv", "uploaded", None, None, 0, False))
        self.assertIsNone((yield self.contacts.get(lst.id + 100)))

    @defer.inlineCallbacks
    def test_name_required(self):
        """
        A list needs a name.
        """
        yield self.assertFailure(self.contacts.create_list("  "), ContactListError)

    @defer.inlineCallbacks
    def test_listing_and_archive(self):
        """
        Archived lists leave the default listing; restoring brings them
        back; the listing filters by status.
        """
        a = yield self.filled_list(name="A")
        b = (yield self.contacts.create_list("B")).id
        self.assertEqual([x.id for x in (yield self.contacts.lists())], [b, a])
        self.assertEqual([x.id for x in (yield self.contacts.lists(status="ready"))], [a])
        self.assertTrue((yield self.contacts.archive(a)))
        self.assertEqual([x.id for x in (yield self.contacts.lists())], [b])
        archived = yield self.contacts.lists(archived=True)
        self.assertEqual([x.id for x in archived], [a])
        self.assertTrue(archived[0].archived)
        yield self.contacts.archive(a, archived=False)
        self.assertEqual(len((yield self.contacts.lists())), 2)
        self.assertFalse((yield self.contacts.archive(9999)))

    @defer.inlineCallbacks
    def test_rename(self):
        """
        A list can be renamed.
        """
        lst = yield self.contacts.create_list("A")
        self.assertTrue((yield self.contacts.rename(lst.id, "B", "desc")))
        self.assertEqual((yield self.contacts.get(lst.id)).name, "B")

    @defer.inlineCallbacks
    def test_set_format(self):
        """
        A usable format is stored; an unusable one is refused with every
        problem; a ready list's format cannot change.
        """
        lst = yield self.contacts.create_list("A")
        stored = yield self.contacts.set_format(lst.id, FORMAT)
        self.assertEqual((stored.format(), stored.phone_column), (FORMAT, 1))
        bad = ImportFormat("utf-8", ",", True, (Column("name"), Column("name")))
        failure = yield self.assertFailure(self.contacts.set_format(lst.id, bad),
                                           ContactListError)
        self.assertIn("both named 'name'", str(failure))
        self.assertIn("choose the column that holds the phone numbers", str(failure))
        ready = yield self.filled_list()
        failure = yield self.assertFailure(self.contacts.set_format(ready, FORMAT),
                                           ImportStateError)
        self.assertIn("is ready: its format cannot be changed", str(failure))

    @defer.inlineCallbacks
    def test_start_needs_a_file(self):
        """
        An import cannot begin without a file and a format.
        """
        lst = yield self.contacts.create_list("A")
        failure = yield self.assertFailure(self.contacts.begin_import(lst.id), ImportStateError)
        self.assertIn("no file or no confirmed format", str(failure))


class DeleteTests(ContactStoreTestCase):
    @defer.inlineCallbacks
    def test_delete(self):
        """
        Deleting a list removes its contacts and rejects.
        """
        list_id = yield self.filled_list()
        deleted = yield self.contacts.delete(list_id)
        self.assertEqual(deleted.id, list_id)
        rows = yield self.pool.runQuery("SELECT count(*) FROM contacts")
        self.assertEqual(rows, [(0,)])
        self.assertIsNone((yield self.contacts.delete(list_id)))

    @defer.inlineCallbacks
    def test_in_use_refused(self):
        """
        A list used by a campaign that is not finalized cannot be deleted;
        the refusal names the campaign and what to do.
        """
        list_id = yield self.filled_list()
        for state in ("draft", "running", "paused", "finished"):
            with self.subTest(state=state):
                cid = yield campaign(self.pool, list_id, state)
                lst = yield self.contacts.get(list_id)
                self.assertEqual(lst.campaigns, 1)
                failure = yield self.assertFailure(self.contacts.delete(list_id), ListInUse)
                self.assertEqual(
                    str(failure),
                    f'contact list {list_id} ("Customers") is used by campaign {cid} '
                    f'("Spring reminders"), which is {state}; it can be deleted once that '
                    "campaign is finalized")
                yield self.pool.runOperation("DELETE FROM campaigns WHERE id = %s", (cid,))
        self.assertEqual(len((yield self.contacts.contacts(list_id)).items), 5)

    @defer.inlineCallbacks
    def test_finalized_campaign_releases_the_list(self):
        """
        Once its campaign is finalized the list can be deleted, and the
        campaign keeps its archive.
        """
        list_id = yield self.filled_list()
        cid = yield campaign(self.pool, list_id, "finalized")
        self.assertEqual((yield self.contacts.get(list_id)).campaigns, 0)
        yield self.contacts.delete(list_id)
        rows = yield self.pool.runQuery("SELECT list_id FROM campaigns WHERE id = %s", (cid,))
        self.assertEqual(rows, [(None,)])

    @defer.inlineCallbacks
    def test_importing_refused(self):
        """
        A list being imported cannot be deleted until its import is
        cancelled.
        """
        lst = yield self.contacts.create_list("A")
        yield self.pool.runOperation(
            "UPDATE contact_lists SET import_status = 'importing', encoding = 'utf-8',"
            " delimiter = ',', has_header = true, phone_column = 0 WHERE id = %s", (lst.id,))
        failure = yield self.assertFailure(self.contacts.delete(lst.id), ImportStateError)
        self.assertIn("cancel the import", str(failure))


class PageTests(ContactStoreTestCase):
    @defer.inlineCallbacks
    def test_contacts_pages(self):
        """
        Contacts come in file order, a page at a time.
        """
        list_id = yield self.filled_list(7)
        page = yield self.contacts.contacts(list_id, limit=3)
        seen = [c.row_number for c in page.items]
        while page.after is not None:
            page = yield self.contacts.contacts(list_id, limit=3, after=page.after)
            seen += [c.row_number for c in page.items]
        self.assertEqual(seen, [2, 3, 4, 5, 6, 7, 8])

    @defer.inlineCallbacks
    def test_search(self):
        """
        Digits search the phone; text searches the written phone and the
        field values, ignoring case; LIKE wildcards are plain characters.
        """
        list_id = yield self.filled_list(6)
        by_phone = yield self.contacts.contacts(list_id, search="1234 0003")
        self.assertEqual([c.row_number for c in by_phone.items], [5])
        by_field = yield self.contacts.contacts(list_id, search="lYoN")
        self.assertEqual([c.row_number for c in by_field.items], [3, 5, 7])
        wildcard = yield self.contacts.contacts(list_id, search="%")
        self.assertEqual(wildcard.items, ())
        keys_only = yield self.contacts.contacts(list_id, search="city")
        self.assertEqual(keys_only.items, ())

    @defer.inlineCallbacks
    def test_rejects_pages(self):
        """
        Rejects come by row number, a page at a time, optionally of one
        reason.
        """
        lst = yield self.contacts.create_list("A")
        for row, code in [(5, "bad_date"), (2, "invalid_phone"), (5, "bad_time"), (9, "other")]:
            yield self.pool.runOperation(
                "INSERT INTO contact_import_rejects (list_id, row_number, reason_code, reason)"
                " VALUES (%s, %s, %s, 'r')", (lst.id, row, code))
        page = yield self.contacts.rejects(lst.id, limit=2)
        rows = [(r.row_number, r.reason_code) for r in page.items]
        page = yield self.contacts.rejects(lst.id, limit=2, after=page.after)
        rows += [(r.row_number, r.reason_code) for r in page.items]
        self.assertEqual(rows, [(2, "invalid_phone"), (5, "bad_date"), (5, "bad_time"),
                                (9, "other")])
        only = yield self.contacts.rejects(lst.id, reason_code="other")
        self.assertEqual([r.row_number for r in only.items], [9])
        self.assertEqual((yield self.contacts.reject_summary(lst.id)),
                         {"bad_date": 1, "invalid_phone": 1, "bad_time": 1, "other": 1})


class InterruptedTests(ContactStoreTestCase):
    @defer.inlineCallbacks
    def test_fail_interrupted_imports(self):
        """
        Imports left running by a daemon that stopped are marked failed;
        with a stall limit, only those without recent progress.
        """
        lst = yield self.contacts.create_list("A")
        yield self.pool.runOperation(
            "UPDATE contact_lists SET import_status = 'importing', encoding = 'utf-8',"
            " delimiter = ',', has_header = true, phone_column = 0 WHERE id = %s", (lst.id,))
        self.assertEqual((yield self.contacts.fail_interrupted_imports(stalled_for=600)), [])
        self.assertEqual((yield self.contacts.fail_interrupted_imports()), [lst.id])
        failed = yield self.contacts.get(lst.id)
        self.assertEqual(failed.import_status, "failed")
        self.assertIn("start the import again", failed.import_error)
