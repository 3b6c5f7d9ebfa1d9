"""
What a panel route looks up first (the campaign, the template, the list,
the DNC list, the upload) refuses the request with its own page when there
is none (L{fts.web.guard.Refusal}), and nothing is changed.
"""

from twisted.internet import defer

from tests.web.library_support import LibraryTestCase
from tests.web.support import PanelTestCase


class RefusalTests(LibraryTestCase):

    with_campaigns = True

    @defer.inlineCallbacks
    def test_unknown_things(self):
        """
        Every lookup answers an unknown id with a 404 page naming what is
        missing, for reading pages and for forms alike; no audit row is
        written.
        """
        client = yield self.logged_in("operator")
        audit = yield self.count("audit_log")
        for method, path, sentence in (
                ("GET", "/campaigns/9999", "There is no such campaign."),
                ("POST", "/campaigns/9999/cancel-pending", "There is no such campaign."),
                ("GET", "/campaigns/9999/edit/basics", "There is no such campaign."),
                ("POST", "/templates/9999/rename", "There is no such template."),
                ("POST", "/templates/9999/delete", "There is no such template."),
                ("GET", "/lists/9999", "There is no such contact list."),
                ("POST", "/lists/9999/rename", "There is no such contact list."),
                ("GET", "/dnc/9999", "There is no such DNC list."),
                ("POST", "/dnc/9999/add", "There is no such DNC list."),
                ("GET", "/dnc/1/uploads/9999", "There is no such upload.")):
            if method == "GET":
                result = yield client.get(path)
            else:
                result = yield client.post(path, {"name": "x", "phone": "15550001111"})
            self.assertEqual((result.code, sentence in result.text), (404, True),
                             (method, path, result.text[-400:]))
        self.assertEqual((yield self.count("audit_log")), audit)


class NotWiredTests(PanelTestCase):
    @defer.inlineCallbacks
    def test_not_available_page(self):
        """
        Without the contact importer, a list's page says the part is not
        available instead of showing anything made up.
        """
        client = yield self.logged_in("operator")
        result = yield client.get("/lists/9999")
        self.assertIn("Not available in this build yet.", result.text)
        self.assertNotIn("There is no such contact list.", result.text)
