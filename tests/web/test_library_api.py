"""
Tests for the contact-list, DNC and audio endpoints of the JSON API.
"""

import csv
import io

from twisted.internet import defer

from fts.core import contacts as C
from fts.web.api import openapi
from fts.web.api.framework import API
from tests.web.library_support import CSV, LibraryTestCase, sound

COLUMNS = [{"name": "first_name", "type": "text"}, {"name": "phone", "type": "phone"},
           {"name": "due", "type": "date", "date_order": "dmy"}]
FORMAT = {"encoding": "utf-8", "delimiter": "comma", "has_header": True, "columns": COLUMNS}
CSV_TYPE = {"Content-Type": "text/csv"}


def problems(result):
    return {p["field"]: p["problem"] for p in result.json()["error"]["problems"]}


class ContactListApiTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_round_trip(self):
        """
        A client uploads a CSV as the body, reads the detected format,
        has a bad format refused field by field, confirms the format, starts
        the import, follows it, pages through the rejects and downloads them
        as CSV, accepts, pages through the contacts, and deletes the list.
        """
        token = yield self.token("operator")
        client = self.client()
        created = yield client.request("POST", "/api/v1/contact-lists/upload?name=Spring"
                                       "&filename=spring.csv", body=CSV, headers=CSV_TYPE,
                                       token=token)
        self.assertEqual(created.code, 201, created.text)
        lst = created.json()
        list_id = lst["id"]
        self.assertEqual((lst["status"], lst["detected"]["delimiter"],
                          lst["detected"]["phone_column"]), (C.UPLOADED, "comma", 1))
        self.assertEqual(lst["detected"]["header"], ["first_name", "phone", "due"])

        bad = dict(FORMAT, columns=[{"name": "first name"}, {"name": "phone", "type": "fax"},
                                    {"name": "due", "colour": 1}])
        result = yield client.request("PUT", f"/api/v1/contact-lists/{list_id}/format",
                                      body=bad, token=token)
        self.assertEqual(result.code, 422)
        self.assertEqual(set(problems(result)), {"columns[0].name", "columns[1].type",
                                                 "columns[2].colour"})
        preview = yield client.request("POST", f"/api/v1/contact-lists/{list_id}/preview",
                                       body=FORMAT, token=token)
        rows = {r["row"]: r for r in preview.json()["rows"]}
        self.assertEqual(rows[3]["problems"][0]["reason_code"], C.INVALID_PHONE)
        self.assertTrue(rows[2]["ok"])
        confirmed = yield client.request("PUT", f"/api/v1/contact-lists/{list_id}/format",
                                         body=FORMAT, token=token)
        self.assertEqual(confirmed.json()["format"]["columns"][2]["type"], "date")
        started = yield client.request("POST", f"/api/v1/contact-lists/{list_id}/start",
                                       token=token)
        self.assertEqual((started.code, started.json()["status"]), (202, C.IMPORTING))
        yield self.imported(list_id)
        status = (yield client.get(f"/api/v1/contact-lists/{list_id}", token=token)).json()
        self.assertEqual((status["status"], status["accepted_rows"], status["rejected_rows"],
                          status["progress"]), (C.IMPORTED, 3, 4, 1.0))
        self.assertEqual(status["rejects_by_reason"][C.INVALID_PHONE], 2)

        seen, after = [], ""
        while True:
            page = yield client.get(f"/api/v1/contact-lists/{list_id}/rejects?limit=2"
                                    f"&after={after}", token=token)
            seen += [r["row"] for r in page.json()["items"]]
            after = page.json()["next_after"]
            if after is None:
                break
        self.assertEqual(seen, [3, 4, 5, 6, 9])
        download = yield client.get(f"/api/v1/contact-lists/{list_id}/rejects.csv",
                                    token=token)
        self.assertEqual(download.header("content-type"), "text/csv; charset=utf-8")
        lines = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
        self.assertEqual(len(lines), 6)

        accepted = yield client.request("POST", f"/api/v1/contact-lists/{list_id}/accept",
                                        token=token)
        self.assertEqual(accepted.json()["status"], C.READY)
        contacts = yield client.get(f"/api/v1/contact-lists/{list_id}/contacts?limit=2",
                                    token=token)
        body = contacts.json()
        self.assertEqual((len(body["items"]), body["total"]), (2, 3))
        rest = yield client.get(f"/api/v1/contact-lists/{list_id}/contacts?limit=2"
                                f"&after={body['next_after']}", token=token)
        self.assertEqual(len(rest.json()["items"]), 1)
        self.assertEqual(body["items"][0]["fields"], {"first_name": "Zoé", "due": "2026-03-25"})
        deleted = yield client.request("DELETE", f"/api/v1/contact-lists/{list_id}",
                                       token=token)
        self.assertEqual(deleted.json(), {"id": list_id, "deleted": True})

    @defer.inlineCallbacks
    def test_refusals(self):
        """
        A body that is not CSV, a missing name, an action the status does
        not allow and an unknown list are structured errors; nothing is
        stored.
        """
        token = yield self.token("operator")
        client = self.client()
        result = yield client.request("POST", "/api/v1/contact-lists/upload?name=x",
                                      body=b"PK\x03\x04zz", headers=CSV_TYPE, token=token)
        self.assertEqual(result.code, 422)
        self.assertIn("spreadsheet workbook", problems(result)["body"])
        result = yield client.request("POST", "/api/v1/contact-lists/upload",
                                      body=CSV, headers=CSV_TYPE, token=token)
        self.assertEqual(problems(result), {"name": "is required"})
        self.assertEqual((yield self.count("contact_lists")), 0)
        self.assertEqual(self.staged(), [])
        created = yield client.request("POST", "/api/v1/contact-lists/upload?name=x",
                                       body=CSV, headers=CSV_TYPE, token=token)
        list_id = created.json()["id"]
        refused = yield client.request("POST", f"/api/v1/contact-lists/{list_id}/accept",
                                       token=token)
        self.assertEqual(refused.json()["error"]["code"], "conflict")
        self.assertEqual((yield client.get("/api/v1/contact-lists/999", token=token)).code,
                         404)
        listed = yield client.get("/api/v1/contact-lists", token=token)
        self.assertEqual([i["id"] for i in listed.json()["items"]], [list_id])


class DncApiTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_numbers_check_and_opt_out(self):
        """
        A client creates a list, adds a number (201, then 200 when already
        there), pages the numbers, checks a number, opts one out, removes
        one (404 when absent) and cannot delete the built-in list.
        """
        token = yield self.token("operator")
        client = self.client()
        created = yield client.request("POST", "/api/v1/dnc-lists", body={"name": "Mine"},
                                       token=token)
        list_id = created.json()["id"]
        first = yield client.request("POST", f"/api/v1/dnc-lists/{list_id}/numbers",
                                     body={"phone": "06 12 34 56 78"}, token=token)
        again = yield client.request("POST", f"/api/v1/dnc-lists/{list_id}/numbers",
                                     body={"phone": "+33612345678"}, token=token)
        self.assertEqual((first.code, again.code, again.json()["added"]), (201, 200, False))
        bad = yield client.request("POST", f"/api/v1/dnc-lists/{list_id}/numbers",
                                   body={"phone": "hello"}, token=token)
        self.assertEqual(set(problems(bad)), {"phone"})
        numbers = (yield client.get(f"/api/v1/dnc-lists/{list_id}/numbers",
                                    token=token)).json()
        self.assertEqual(([n["phone"] for n in numbers["items"]], numbers["total"]),
                         (["33612345678"], 1))
        check = (yield client.get("/api/v1/dnc/check?phone=0612345678", token=token)).json()
        self.assertEqual((check["listed"], [x["name"] for x in check["lists"]]),
                         (True, ["Mine"]))
        opted = yield client.request("POST", "/api/v1/dnc/opt-outs",
                                     body={"phone": "0699999999"}, token=token)
        self.assertEqual((opted.code, opted.json()["phone"]), (201, "33699999999"))
        builtin = yield self.store.dnc.builtin()
        self.assertEqual((yield self.store.dnc.get(builtin.id)).entries, 1)
        removed = yield client.request("DELETE",
                                       f"/api/v1/dnc-lists/{list_id}/numbers/33612345678",
                                       token=token)
        self.assertEqual(removed.code, 200)
        gone = yield client.request("DELETE",
                                    f"/api/v1/dnc-lists/{list_id}/numbers/33612345678",
                                    token=token)
        self.assertEqual(gone.code, 404)
        refused = yield client.request("DELETE", f"/api/v1/dnc-lists/{builtin.id}",
                                       token=token)
        self.assertEqual(refused.code, 409)
        self.assertIn("cannot be deleted", refused.json()["error"]["message"])

    @defer.inlineCallbacks
    def test_upload(self):
        """
        A CSV body is uploaded into a list; its progress and rejects are
        readable, as JSON and as CSV.
        """
        token = yield self.token("operator")
        client = self.client()
        mine = yield self.store.dnc.create_list("Mine")
        data = b"0611111111\r\n06 12\r\n0611111112\r\n"
        started = yield client.request("POST", f"/api/v1/dnc-lists/upload/{mine.id}"
                                       "?filename=n.csv", body=data, headers=CSV_TYPE,
                                       token=token)
        self.assertEqual(started.code, 202, started.text)
        import_id = started.json()["id"]
        yield self.dnc_uploaded(import_id)
        status = (yield client.get(f"/api/v1/dnc-uploads/{import_id}", token=token)).json()
        self.assertEqual((status["status"], status["added_rows"], status["rejected_rows"]),
                         ("done", 2, 1))
        rejects = (yield client.get(f"/api/v1/dnc-uploads/{import_id}/rejects",
                                    token=token)).json()
        self.assertEqual([r["row"] for r in rejects["items"]], [2])
        download = yield client.get(f"/api/v1/dnc-uploads/{import_id}/rejects.csv",
                                    token=token)
        self.assertIn("06 12", download.text)
        self.assertEqual(self.staged(), [])


class AudioApiTests(LibraryTestCase):
    @defer.inlineCallbacks
    def test_upload_get_delete(self):
        """
        A client uploads a recording as the body, lists and reads it,
        downloads its WAV, is told when the same recording is sent again,
        and deletes it.
        """
        token = yield self.token("operator")
        client = self.client()
        headers = {"Content-Type": "audio/wav"}
        refused = yield client.request("POST", "/api/v1/audio/upload?name=Hi&filename=hi.txt",
                                       body=sound(), headers=headers, token=token)
        self.assertEqual(set(problems(refused)), {"filename"})
        created = yield client.request("POST", "/api/v1/audio/upload?name=Hi&filename=hi.wav",
                                       body=sound(), headers=headers, token=token)
        self.assertEqual(created.code, 201, created.text)
        asset = created.json()
        self.assertEqual((asset["name"], asset["duration_ms"], asset["formats"]),
                         ("Hi", 500, ["wav"]))
        listed = (yield client.get("/api/v1/audio", token=token)).json()
        self.assertEqual([a["id"] for a in listed["items"]], [asset["id"]])
        wav = yield client.get(f"/api/v1/audio/{asset['id']}/sound.wav", token=token)
        self.assertEqual((wav.code, wav.header("content-type"), wav.body[:4]),
                         (200, "audio/wav", b"RIFF"))
        again = yield client.request("POST", "/api/v1/audio/upload?name=Two&filename=b.wav",
                                     body=sound(), headers=headers, token=token)
        self.assertEqual((again.code, again.json()["error"]["code"]), (409, "exists"))
        deleted = yield client.request("DELETE", f"/api/v1/audio/{asset['id']}", token=token)
        self.assertEqual(deleted.json()["deleted"], True)
        self.assertEqual((yield client.get(f"/api/v1/audio/{asset['id']}", token=token)).code,
                         404)


class OpenApiTests(LibraryTestCase):
    def test_described(self):
        """
        The OpenAPI document describes the upload bodies and the non-JSON
        answers of the new endpoints.
        """
        paths = openapi.document(API)["paths"]
        upload = paths["/api/v1/contact-lists/upload"]["post"]
        self.assertIn("text/csv", upload["requestBody"]["content"])
        self.assertEqual({p["name"] for p in upload["parameters"]},
                         {"name", "description", "filename"})
        csv_answer = paths["/api/v1/contact-lists/{list_id}/rejects.csv"]["get"]
        self.assertIn("text/csv", csv_answer["responses"]["200"]["content"])
        self.assertIn("audio/wav",
                      paths["/api/v1/audio/{asset_id}/sound.wav"]["get"]["responses"]["200"]
                      ["content"])
        self.assertIn("Requires the operator role",
                      paths["/api/v1/dnc-lists/{list_id}"]["delete"]["description"])
