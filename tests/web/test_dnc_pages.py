"""
Tests for the DNC pages on the real store and uploader.
"""

import re

from twisted.internet import defer

from tests.contacts.support import campaign
from tests.web.library_support import SQLI, XSS, LibraryTestCase


def error_at(page, field):
    found = re.search(rf'id="e-{field}">([^<]*)<', page.text)
    return found.group(1).replace("&#39;", "'") if found else None


class DncPagesTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_lists_numbers_and_check(self):
        """
        An operator creates a list, adds numbers (however written, stored
        normalised), finds them, checks a number across the lists, removes
        one; bad input is said at its field and stores nothing; opt-outs
        appear in the built-in list with their campaign.
        """
        client = yield self.logged_in("operator")
        created = yield client.post("/dnc", {"name": "Complaints", "description": "angry"})
        self.assertEqual(created.code, 303)
        list_id = int(created.header("location").split("/")[2].split("?")[0])
        for phone, notice in (("06 12 34 56 78", "dnc-added"), ("+33612345678", "dnc-present"),
                              ("0611111111", "dnc-added")):
            result = yield client.post(f"/dnc/{list_id}/add", {"phone": phone, "note": XSS})
            self.assertEqual(result.header("location"), f"/dnc/{list_id}?notice={notice}")
        bad = yield client.post(f"/dnc/{list_id}/add", {"phone": "06 12 ab"})
        self.assertEqual(bad.code, 400)
        self.assertIn("'a'", error_at(bad, "phone"))
        duplicate = yield client.post("/dnc", {"name": "Complaints"})
        self.assertEqual(error_at(duplicate, "name"),
                         "There is already a DNC list named 'Complaints'.")
        self.assertEqual((yield self.count("dnc_entries")), 2)
        self.assertEqual((yield self.count("dnc_lists")), 2)

        page = yield client.get(f"/dnc/{list_id}?q=1111")
        self.assertIn("33611111111", page.text)
        self.assertNotIn("33612345678", page.text)
        self.assertIn("&lt;script&gt;", page.text)
        self.assertNotIn(XSS, page.text)

        viewer = yield self.logged_in("viewer")
        check = yield viewer.get("/dnc/check?phone=%2B33%206%2012%2034%2056%2078")
        self.assertRegex(check.text, r'is on 1 DNC list:</span>\s*<a href="/dnc/\d+\?q=')
        none = yield viewer.get("/dnc/check?phone=0699999999")
        self.assertIn("is on no DNC list.", none.text)
        bad = yield viewer.get("/dnc/check?phone=hello")
        self.assertEqual(bad.code, 400)
        self.assertIsNotNone(error_at(bad, "phone"))

        removed = yield client.post(f"/dnc/{list_id}/remove", {"phone": "+33 6 11 11 11 11"})
        self.assertEqual(removed.header("location"), f"/dnc/{list_id}?notice=dnc-removed")
        absent = yield client.post(f"/dnc/{list_id}/remove", {"phone": "0611111111"})
        self.assertEqual(absent.header("location"), f"/dnc/{list_id}?notice=dnc-absent")

        builtin = yield self.store.dnc.builtin()
        contacts = yield self.store.contacts.create_list("L")
        cid = yield campaign(self.pool, contacts.id, "running")
        yield self.store.dnc.opt_out("06 22 33 44 55", campaign_id=cid, source="opt_out_key",
                                     added_by="callflow")
        page = yield viewer.get(f"/dnc/{builtin.id}")
        self.assertRegex(page.text, re.compile(rf"<td>33622334455</td><td>06 22 33 44 55</td>"
                                               rf"<td>opt_out_key</td>.*<td>{cid}</td>", re.S))
        self.assertNotIn("Delete this list", page.text)
        entries, _ = yield self.app.audit.entries(object_type="dnc_list")
        self.assertEqual(sorted(e.action for e in entries),
                         ["dnc_list.add", "dnc_list.add", "dnc_list.create",
                          "dnc_list.remove"])

    @defer.inlineCallbacks
    def test_rename_and_delete(self):
        """
        Renaming checks the name; the built-in list and a list a running
        campaign honours cannot be deleted (the page says why); another can.
        """
        client = yield self.logged_in("operator")
        builtin = yield self.store.dnc.builtin()
        refused = yield client.post(f"/dnc/{builtin.id}/delete")
        self.assertEqual(refused.code, 409)
        self.assertIn('The built-in DNC list "opt-outs" cannot be deleted.',
                      refused.text.replace("&#34;", '"'))
        mine = yield self.store.dnc.create_list("Mine")
        renamed = yield client.post(f"/dnc/{mine.id}/rename", {"name": SQLI})
        self.assertEqual(renamed.code, 303)
        self.assertEqual((yield self.store.dnc.get(mine.id)).name, SQLI)
        empty = yield client.post(f"/dnc/{mine.id}/rename", {"name": " "})
        self.assertEqual(error_at(empty, "name"), "Name is required.")
        contacts = yield self.store.contacts.create_list("L")
        cid = yield campaign(self.pool, contacts.id, "paused")
        yield self.pool.runOperation(
            "INSERT INTO campaign_dnc_lists (campaign_id, dnc_list_id) VALUES (%s, %s)",
            (cid, mine.id))
        in_use = yield client.post(f"/dnc/{mine.id}/delete")
        self.assertEqual(in_use.code, 409)
        self.assertIn(f"is honoured by campaign {cid}", in_use.text)
        yield self.pool.runOperation("DELETE FROM campaign_dnc_lists")
        deleted = yield client.post(f"/dnc/{mine.id}/delete")
        self.assertEqual(deleted.header("location"), "/dnc?notice=dnc-deleted")
        self.assertIsNone((yield self.store.dnc.get(mine.id)))

    @defer.inlineCallbacks
    def test_upload_with_rejects(self):
        """
        A CSV of numbers with bad rows is uploaded: the numbers are added,
        the rejected rows are shown and downloadable, the staged file is
        removed when the upload ends; a file that is not CSV is refused at
        its field.
        """
        client = yield self.logged_in("operator")
        mine = yield self.store.dnc.create_list("Mine")
        data = b"phone\r\n0611111111\r\n06 12\r\n0611111112\r\n=1+2\r\n0611111111\r\n"
        result = yield client.upload(f"/dnc/upload/{mine.id}", {},
                                     {"file": ("numbers.csv", data)})
        self.assertEqual(result.code, 303)
        path = result.header("location").split("?")[0]
        import_id = int(path.rsplit("/", 1)[1])
        yield self.dnc_uploaded(import_id)
        progress = (yield client.get(f"{path}/progress.json")).json()
        self.assertEqual((progress["status"], progress["added_rows"],
                          progress["already_present_rows"], progress["rejected_rows"],
                          progress["finished"]), ("done", 2, 1, 2, True))
        page = yield client.get(path)
        self.assertIn("06 12", page.text)
        self.assertIn("=1+2", page.text)
        viewer = yield self.logged_in("viewer")
        download = yield viewer.get(f"{path}/rejects.csv")
        self.assertEqual(download.header("content-type"), "text/csv; charset=utf-8")
        self.assertIn("'=1+2", download.text)
        self.assertEqual(self.staged(), [])
        self.assertEqual((yield self.store.dnc.get(mine.id)).entries, 2)

        refused = yield client.upload(f"/dnc/upload/{mine.id}", {},
                                      {"file": ("numbers.ods", b"PK\x03\x04")})
        self.assertEqual(refused.code, 400)
        self.assertIn("spreadsheet workbook", error_at(refused, "file"))
        self.assertEqual((yield self.count("dnc_imports")), 1)
        self.assertEqual(self.staged(), [])
        self.assertEqual((yield viewer.upload(f"/dnc/upload/{mine.id}", {},
                                              {"file": ("n.csv", data)})).code, 403)
        self.assertEqual((yield self.count("dnc_imports")), 1)
        other = yield client.get(f"/dnc/{mine.id + 1}/uploads/{import_id}")
        self.assertEqual(other.code, 404)
