"""
Tests for L{fts.contacts.service.ImportService}: unfinished imports of a
previous run are failed at start; running ones are stopped at stop.
"""

from pathlib import Path

from twisted.internet import defer, reactor

from fts.contacts.dnc_uploads import DncUploads
from fts.contacts.imports import ContactImports
from fts.contacts.service import ImportService
from fts.db.contacts import ContactStore
from fts.db.dnc import DncStore
from tests.contacts.support import RULES, in_place
from tests.support.db import DatabaseTestCase


class ImportServiceTests(DatabaseTestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.contacts = ContactStore(self.pool)
        self.dnc = DncStore(self.pool, RULES)
        self.imports = ContactImports(reactor, self.contacts, Path(self.mktemp()), RULES,
                                      run_in_thread=in_place, batch_rows=1, slice_records=1)
        self.uploads = DncUploads(reactor, self.dnc, RULES, run_in_thread=in_place)
        self.service = ImportService(self.imports, self.uploads)

    @defer.inlineCallbacks
    def test_start_fails_leftovers(self):
        """
        At start, imports and uploads still marked running by a previous
        run are failed.
        """
        lst = yield self.contacts.create_list("A")
        yield self.pool.runOperation(
            "UPDATE contact_lists SET import_status = 'importing', encoding = 'utf-8',"
            " delimiter = ',', has_header = false, phone_column = 0 WHERE id = %s", (lst.id,))
        builtin = yield self.dnc.builtin()
        upload = yield self.dnc.begin_upload(builtin.id, "x.csv", 1)
        yield self.service.startService()
        self.assertEqual((yield self.contacts.get(lst.id)).import_status, "failed")
        self.assertEqual((yield self.dnc.upload(upload.id)).status, "failed")
        yield self.service.stopService()

    @defer.inlineCallbacks
    def test_stop_stops_running_imports(self):
        """
        At stop, a running import is stopped and marked failed before the
        service has stopped.
        """
        yield self.service.startService()
        lst = yield self.contacts.create_list("A")
        relative, absolute = self.imports.upload_path(lst.id)
        absolute.write_bytes(b"".join(b"06123456%02d\n" % i for i in range(50)))
        yield self.imports.uploaded(lst.id, relative)
        run = yield self.imports.start(lst.id)
        yield self.service.stopService()
        self.assertTrue(run.finished)
        final = yield self.contacts.get(lst.id)
        self.assertEqual(final.import_status, "failed")
