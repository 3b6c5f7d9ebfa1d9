"""
Database backups: a scheduled C{pg_dump} into the backup directory with
retention, and the restore procedure.

    child.py     running the PostgreSQL client programs (cancellable)
    dump.py      L{BackupJob}: the job, file naming, retention
    restore.py   pg_restore into a database; replacing a database by a backup
    __main__.py  C{python -m fts.backup now | list | restore FILE}

Backups are custom-format dumps (C{pg_dump -Fc}: compressed, restorable
table by table with pg_restore) named C{fts-YYYYmmdd-HHMMSS.dump} (UTC).
"""
