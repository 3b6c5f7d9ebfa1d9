"""
Tests for the contact-list pages on the real store and importer: upload,
format, preview, import with rejected rows, the report, the operator's
decision, contacts, and refusals.
"""

import csv
import io
import re

from twisted.internet import defer

from fts.core import contacts as C
from tests.contacts.support import campaign
from tests.web.library_support import GOOD_CSV, SQLI, XSS, LibraryTestCase

FORMAT = {"action": "start", "encoding": "utf-8", "delimiter": "comma", "has_header": "yes",
          "column_count": "3", "name_0": "first_name", "type_0": "text", "name_1": "phone",
          "type_1": "phone", "name_2": "due", "type_2": "date", "date_order_2": "dmy"}


class ListRoundTripTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_upload_import_rejects_accept(self):
        """
        An operator uploads a CSV with bad rows, sees the detected format
        and the preview with each row's problem, starts the import, sees the
        rejected rows reported (page and CSV, readable by a viewer), accepts
        the rest, and finds the contacts; every step is audited.
        """
        client = yield self.logged_in("operator")
        list_id = yield self.upload_list(client)
        self.assertEqual(self.staged(), [])
        page = yield client.get(f"/lists/{list_id}")
        self.assertEqual(page.code, 200)
        self.assertIn('<option value="comma" selected>', page.text)
        self.assertIn('name="name_2" value="due"', page.text)
        self.assertRegex(page.text, r'<td class="bad">06 12</td>')
        self.assertIn("too short: 5 digits", page.text)
        self.assertIn("2 values where the list has 3 columns", page.text)

        result = yield client.post(f"/lists/{list_id}/format", FORMAT)
        self.assertEqual(result.code, 303)
        progress = yield client.get(f"/lists/{list_id}/progress.json")
        self.assertEqual(progress.json()["status"], C.IMPORTING)
        self.assertFalse(progress.json()["finished"])
        lst = yield self.imported(list_id)
        self.assertEqual((lst.import_status, lst.accepted_rows, lst.rejected_rows,
                          lst.duplicate_rows), (C.IMPORTED, 3, 4, 1))
        done = (yield client.get(f"/lists/{list_id}/progress.json")).json()
        self.assertEqual((done["finished"], done["percent"], done["rejected_rows"]),
                         (True, 100, 4))

        page = yield client.get(f"/lists/{list_id}")
        self.assertIn("Accept the 3 rows", page.text)
        viewer = yield self.logged_in("viewer")
        rejects = yield viewer.get(f"/lists/{list_id}/rejects")
        self.assertEqual(rejects.code, 200)
        for row in ("3", "4", "5", "6", "9"):
            self.assertIn(f'<td class="num">{row}</td>', rejects.text)
        only = yield viewer.get(f"/lists/{list_id}/rejects?reason=bad_date")
        self.assertIn("February 2026 has no day 31", only.text)
        self.assertNotIn("too short", only.text)
        download = yield viewer.get(f"/lists/{list_id}/rejects.csv")
        self.assertEqual(download.header("content-type"), "text/csv; charset=utf-8")
        self.assertIn("attachment", download.header("content-disposition"))
        lines = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
        self.assertEqual(lines[0][:4], ["row", "column", "value", "reason"])
        self.assertEqual([line[0] for line in lines[1:]], ["3", "4", "5", "6", "9"])
        self.assertTrue(lines[-1][-1].startswith('"=HYPERLINK'))

        self.assertEqual((yield viewer.post(f"/lists/{list_id}/accept")).code, 403)
        result = yield client.post(f"/lists/{list_id}/accept")
        self.assertEqual(result.code, 303)
        lst = yield self.store.contacts.get(list_id)
        self.assertEqual((lst.import_status, lst.upload_path), (C.READY, None))
        page = yield client.get(f"/lists/{list_id}")
        self.assertIn("33612345678", page.text)
        self.assertIn("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", page.text)
        found = yield client.get(f"/lists/{list_id}?q=zo%C3%A9")
        self.assertIn("Zoé", found.text)
        self.assertNotIn("0612345690", found.text)
        entries, total = yield self.app.audit.entries(object_type="contact_list")
        self.assertEqual(sorted(e.action for e in entries),
                         ["contact_list.accept", "contact_list.import",
                          "contact_list.upload"])

    @defer.inlineCallbacks
    def test_preview_and_detect_again(self):
        """
        Preview shows the first rows as a corrected format takes them,
        storing nothing; "detect again" with another delimiter proposes its
        columns; a format whose columns do not fit the file says so.
        """
        client = yield self.logged_in("operator")
        list_id = yield self.upload_list(client)
        preview = dict(FORMAT, action="preview", type_2="text")
        page = yield client.post(f"/lists/{list_id}/format", preview)
        self.assertEqual(page.code, 200)
        self.assertNotIn("no day 31", page.text)
        self.assertEqual((yield self.store.contacts.get(list_id)).columns[2].type, C.DATE)
        page = yield client.post(f"/lists/{list_id}/format",
                                 dict(FORMAT, action="detect", delimiter="semicolon"))
        self.assertIn('name="column_count" value="1"', page.text)
        page = yield client.post(f"/lists/{list_id}/format",
                                 dict(FORMAT, action="preview", delimiter="semicolon"))
        self.assertEqual(page.code, 400)
        self.assertIn("the file has 1 columns, not 3", page.text)


class ListInputTests(LibraryTestCase):
    @defer.inlineCallbacks
    def assertNothingStored(self):
        self.assertEqual((yield self.count("contact_lists")), 0)
        self.assertEqual(self.staged(), [])
        self.assertFalse((self.data_dir / "uploads" / "contacts").exists()
                         and any((self.data_dir / "uploads" / "contacts").iterdir()))

    @defer.inlineCallbacks
    def test_bad_uploads(self):
        """
        A missing name, a workbook, a file that is not CSV text, an empty
        file or no file at all: each is said at its field, and nothing is
        stored.
        """
        client = yield self.logged_in("operator")
        cases = [
            ({"name": ""}, ("list.csv", GOOD_CSV), "e-name", "Name is required."),
            ({"name": "x"}, ("list.xlsx", b"PK\x03\x04zz"), "e-file", "save it as CSV"),
            ({"name": "x"}, ("list.csv", b"PK\x03\x04zz"), "e-file",
             "list.csv: this is a spreadsheet workbook"),
            ({"name": "x"}, ("list.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"x" * 900),
             "e-file", "binary data"),
            ({"name": "x"}, ("list.csv", b""), "e-file", "list.csv is empty"),
            ({"name": "x"}, None, "e-file", "Choose a file to upload."),
        ]
        for fields, upload, where, message in cases:
            files = {"file": upload} if upload else {"other": ("a.txt", b"x")}
            result = yield client.upload("/lists/upload", fields, files)
            self.assertEqual(result.code, 400, message)
            found = re.search(rf'id="{where}">([^<]*)<', result.text)
            self.assertIsNotNone(found, message)
            self.assertIn(message, found.group(1).replace("&#39;", "'"))
        yield self.assertNothingStored()

    @defer.inlineCallbacks
    def test_format_problems_at_fields(self):
        """
        Bad column names, a second phone column and unknown choices are
        shown at their fields; the stored format and status do not change.
        """
        client = yield self.logged_in("operator")
        list_id = yield self.upload_list(client)
        before = yield self.store.contacts.get(list_id)
        bad = dict(FORMAT, name_0="first name", name_2="phone", type_2="phone",
                   encoding="ebcdic")
        page = yield client.post(f"/lists/{list_id}/format", bad)
        self.assertEqual(page.code, 400)
        self.assertRegex(page.text, r'id="e-name_0">Column name &#39;first name&#39; cannot'
                                    r' be a placeholder')
        self.assertIn('id="e-name_2">Column 2 is named phone too', page.text)
        self.assertIn('id="e-type_2">Column 2 holds the phone numbers already', page.text)
        self.assertIn("Choose a encoding: utf-8, latin-1.", page.text)
        after = yield self.store.contacts.get(list_id)
        self.assertEqual((after.columns, after.import_status),
                         (before.columns, C.UPLOADED))
        self.assertIsNone(self.imports.run(list_id))

    @defer.inlineCallbacks
    def test_hostile_names_inert(self):
        """
        Markup and SQL in a list's name, description, file name and column
        names are shown as text and stored as given.
        """
        client = yield self.logged_in("operator")
        hostile = f'"{XSS}";phone\r\n"{SQLI}";0611111111\r\n'.encode()
        result = yield client.upload("/lists/upload", {"name": XSS, "description": SQLI},
                                     {"file": ("../../../etc/evil.csv", hostile)})
        self.assertEqual(result.code, 303)
        list_id = int(result.header("location").split("/")[2].split("?")[0])
        for path in ("/lists", f"/lists/{list_id}"):
            page = yield client.get(path)
            self.assertNotIn("<script>alert", page.text)
            self.assertIn("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", page.text)
        self.assertIn("<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</td>", page.text)
        self.assertIn("Robert&#39;); DROP TABLE contacts; --", page.text)
        stored = yield self.store.contacts.get(list_id)
        self.assertEqual((stored.source_filename, stored.upload_path),
                         ("evil.csv", f"uploads/contacts/{list_id}.csv"))
        page = yield client.post(f"/lists/{list_id}/format", {
            "action": "preview", "encoding": "utf-8", "delimiter": "semicolon",
            "has_header": "yes", "column_count": "2", "name_0": '"><img src=x>',
            "type_0": "text", "name_1": "phone", "type_1": "phone"})
        self.assertEqual(page.code, 400)
        self.assertIn("&#34;&gt;&lt;img src=x&gt;", page.text)
        self.assertNotIn("<img src=x>", page.text)
        lst = yield self.store.contacts.get(list_id)
        self.assertEqual((lst.name, lst.description), (XSS, SQLI))


class ListDecisionTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_discard_archive_delete(self):
        """
        An import with rejects can be discarded; a list is archived and
        restored; a list a campaign still uses cannot be deleted (the
        message says which), and can be once it is not used.
        """
        client = yield self.logged_in("operator")
        list_id = yield self.upload_list(client)
        yield client.post(f"/lists/{list_id}/format", FORMAT)
        yield self.imported(list_id)
        self.assertEqual((yield client.post(f"/lists/{list_id}/discard")).code, 303)
        self.assertEqual((yield self.store.contacts.get(list_id)).import_status, C.CANCELLED)
        again = yield client.post(f"/lists/{list_id}/discard")
        self.assertEqual(again.code, 409)
        self.assertIn("there is no import to cancel or discard", again.text.lower())

        other = yield self.upload_list(client, GOOD_CSV, "Ready")
        self.assertEqual((yield client.post(f"/lists/{other}/archive")).code, 303)
        self.assertNotIn("Ready", (yield client.get("/lists")).text)
        self.assertIn("Ready", (yield client.get("/lists?archived=1")).text)
        yield client.post(f"/lists/{other}/restore")
        self.assertIn("Ready", (yield client.get("/lists")).text)

        cid = yield campaign(self.pool, other, "running", name="<b>Spring</b>")
        refused = yield client.post(f"/lists/{other}/delete")
        self.assertEqual(refused.code, 409)
        self.assertIn("campaign", refused.text)
        self.assertNotIn("<b>Spring</b>", refused.text)
        self.assertIsNotNone((yield self.store.contacts.get(other)))
        yield self.pool.runOperation("DELETE FROM campaigns WHERE id = %s", (cid,))
        deleted = yield client.post(f"/lists/{other}/delete")
        self.assertEqual(deleted.header("location"), "/lists?notice=list-deleted")
        self.assertIsNone((yield self.store.contacts.get(other)))
        self.assertEqual((yield client.get(f"/lists/{other}")).code, 404)

    @defer.inlineCallbacks
    def test_upload_refusals_change_nothing(self):
        """
        An upload without the CSRF token, with a wrong one, from another
        site or by a viewer is refused before the file is saved.
        """
        operator = yield self.logged_in("operator")
        viewer = yield self.logged_in("viewer")
        files = {"file": ("list.csv", GOOD_CSV)}
        for client, csrf, headers in ((operator, False, None), (operator, "0" * 43, None),
                                      (operator, None, {"Origin": "https://evil.example"}),
                                      (viewer, None, None)):
            result = yield client.upload("/lists/upload", {"name": "x"}, files, csrf=csrf,
                                         headers=headers)
            self.assertEqual(result.code, 403)
        self.assertEqual((yield self.count("contact_lists")), 0)
        self.assertEqual(self.staged(), [])
        page = yield viewer.get("/lists")
        self.assertNotIn("/lists/upload", page.text)


class ListsNotWiredTests(LibraryTestCase):
    def make_app(self, **kwargs):
        return super().make_app(imports=None, **kwargs)

    @defer.inlineCallbacks
    def test_says_so(self):
        """
        Without an importer the pages say they are not available.
        """
        client = yield self.logged_in("operator")
        page = yield client.get("/lists")
        self.assertIn("Not available in this build yet", page.text)
