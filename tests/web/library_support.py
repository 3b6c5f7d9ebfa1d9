"""
A panel wired with the contact importer, DNC uploads and the audio library
on the test database, file work done in place (deterministic), and the
files the tests upload.
"""

from pathlib import Path

from twisted.internet import defer, reactor

from fts.contacts.dnc_uploads import DncUploads
from fts.contacts.imports import ContactImports
from fts.db.audio import AudioStore
from fts.db.dnc import DncStore
from fts.web import security
from tests.audio.support import wav_bytes
from tests.contacts.support import RULES, in_place
from tests.web.support import SYSTEM, PanelTestCase

XSS = "<script>alert('x')</script>"
SQLI = "Robert'); DROP TABLE contacts; --"

#: A contact list with bad rows (row numbers are the file's; 1 is the header).
CSV_LINES = [
    "first_name,phone,due",                      # 1
    "Zoé,06 12 34 56 78,25/03/2026",              # 2 accepted
    "Bad,06 12,01/01/2026",                       # 3 invalid phone
    "Short,0612345679",                           # 4 wrong column count
    "Date,0612345680,31/02/2026",                 # 5 bad date
    "Dup,+33 6 12 34 56 78,01/01/2026",           # 6 duplicate of row 2
    f'"{XSS}",0612345690,02/01/2026',             # 7 accepted, hostile name
    f'"{SQLI}",0612345691,',                      # 8 accepted, hostile name
    '"=HYPERLINK(""http://evil"")",06 99,',       # 9 invalid phone, formula
]
CSV = ("\r\n".join(CSV_LINES) + "\r\n").encode("utf-8")
GOOD_CSV = b"name;phone\r\nAnna;0611111111\r\nBen;0622222222\r\n"


class LibraryTestCase(PanelTestCase):
    """
    L{PanelTestCase} with C{web.imports}, C{web.dnc_uploads} and
    C{web.audio} wired, uploads under the test's own directory.
    """

    @defer.inlineCallbacks
    def setUp(self):
        self.data_dir = Path(self.mktemp()).resolve()
        self.sounds_dir = self.data_dir / "sounds"
        yield super().setUp()

    def make_app(self, **kwargs):
        self.store.dnc = DncStore(self.pool, RULES)
        self.imports = ContactImports(reactor, self.store.contacts, self.data_dir, RULES,
                                      run_in_thread=in_place, batch_rows=4, slice_records=3)
        self.dnc_uploads = DncUploads(reactor, self.store.dnc, RULES, run_in_thread=in_place,
                                      batch_rows=4, slice_records=3)
        self.audio = AudioStore(self.pool, self.sounds_dir)
        kwargs.setdefault("imports", self.imports)
        kwargs.setdefault("dnc_uploads", self.dnc_uploads)
        kwargs.setdefault("audio", self.audio)
        kwargs.setdefault("sounds_dir", self.sounds_dir)
        return super().make_app(**kwargs)

    @defer.inlineCallbacks
    def token(self, role, scope=None):
        token, prefix = security.new_api_token()
        yield self.app.auth.create_token("t", self.users[role].id, security.token_hash(token),
                                         prefix, scope or role, None, SYSTEM)
        return token

    @defer.inlineCallbacks
    def upload_list(self, client, data=CSV, name="Spring", filename="spring.csv"):
        """
        Upload a list through the panel; its id (the upload must succeed).
        """
        result = yield client.upload("/lists/upload", {"name": name, "description": ""},
                                     {"file": (filename, data)})
        self.assertEqual(result.code, 303, result.text)
        return int(result.header("location").split("/")[2].split("?")[0])

    @defer.inlineCallbacks
    def imported(self, list_id):
        """
        Wait for the import of a list to end; the final list.
        """
        run = self.imports.run(list_id)
        if run is not None:
            yield run.when_done()
        return (yield self.store.contacts.get(list_id))

    def dnc_uploaded(self, import_id):
        """
        Wait for a DNC upload to end (it may already have: its run is then
        forgotten).
        """
        run = self.dnc_uploads.run(import_id)
        return run.when_done() if run is not None else defer.succeed(None)

    def staged(self):
        """
        Files left in the upload staging directory.
        """
        incoming = self.data_dir / "uploads" / "incoming"
        return sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []


def sound(seconds=0.5):
    return wav_bytes(seconds)
