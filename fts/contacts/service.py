"""
The service owning the daemon's contact imports and DNC uploads: at start
it marks imports a previous run left unfinished as failed, at stop it stops
the running ones (marked failed, to be started again) and waits for them.
"""

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

log = Logger()


class ImportService(service.Service):
    """
    @param imports: the L{fts.contacts.imports.ContactImports}.
    @param uploads: the L{fts.contacts.dnc_uploads.DncUploads}.
    @param stalled_for: at start, only imports without progress for this
        many seconds are marked failed (another daemon sharing the database
        may be running one); L{None}: every unfinished import.
    """

    name = "imports"

    def __init__(self, imports, uploads, stalled_for=None):
        self.imports = imports
        self.uploads = uploads
        self.stalled_for = stalled_for

    @defer.inlineCallbacks
    def startService(self):
        service.Service.startService(self)
        lists = yield self.imports.store.fail_interrupted_imports(stalled_for=self.stalled_for)
        uploads = yield self.uploads.store.fail_interrupted_uploads(stalled_for=self.stalled_for)
        if lists or uploads:
            log.warn("imports left unfinished by a previous run marked failed: contact lists "
                     "{lists}, DNC uploads {uploads}; the operator can start them again",
                     lists=lists, uploads=uploads)

    @defer.inlineCallbacks
    def stopService(self):
        service.Service.stopService(self)
        yield defer.gatherResults([self.imports.stop(), self.uploads.stop()])
