"""
Contact-list and DNC-list imports: streaming a CSV file into the database
without loading it whole and without blocking the reactor.

  - L{fts.contacts.records}: bytes -> CSV records, problems attached.
  - L{fts.contacts.batches}: records -> validated batches (off the reactor).
  - L{fts.contacts.pump}: the read-while-writing loop.
  - L{fts.contacts.imports}: contact-list imports (L{ContactImports}).
  - L{fts.contacts.dnc_uploads}: DNC uploads (L{DncUploads}).
  - L{fts.contacts.report}: the rejected-rows reports as CSV.
  - L{fts.contacts.service}: the service that owns both at run time.

The row rules themselves are pure and live in L{fts.core.contacts} and
L{fts.core.phones}; the SQL in L{fts.db.contacts} and L{fts.db.dnc}.
"""
