"""
Campaign reports: what the panel, the API, the CSV export and the e-mails
show about a campaign, live while it runs and final once it is finalized.

    model.py     the report values (frozen attrs), their labels, rates and
                 JSON form (the C{report_snapshots.data} column)
    assemble.py  pure arithmetic: aggregate rows from the store -> L{Report};
                 the CSV column layout from the contact list's columns
    export.py    the CSV export, streamed in chunks into an IConsumer (a web
                 request, a file, a bounded in-memory buffer)
    charts.py    small SVG bar and stacked-bar charts for the panel
    summary.py   the plain-text summary used in e-mails

The SQL lives in L{fts.db.reports.ReportStore}; nothing here does I/O except
export.py writing to the consumer it is given.
"""
