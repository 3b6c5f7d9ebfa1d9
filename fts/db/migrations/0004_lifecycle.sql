-- 0004_lifecycle: what campaign finalization needs beyond 0001.
--
-- Applied by fts/db/migrate.py in its own transaction (no BEGIN/COMMIT here).
--
-- 1. campaign_finalizations: the progress of each campaign's finalization,
--    so that a daemon killed at any step resumes where it was and finishes
--    exactly once (fts/lifecycle/finalizer.py, SQL in fts/db/finalization.py).
-- 2. campaign_contacts_archive gains last_outcome and answered: the two facts
--    recycling needs (fts.core.recycling.selects) that 0001 did not keep once
--    calls are purged.


CREATE TABLE campaign_finalizations (
    campaign_id         bigint PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    step                text NOT NULL DEFAULT 'waiting',
    wait_deadline       timestamptz NOT NULL,
    hung_up_calls       integer NOT NULL DEFAULT 0,
    released_claims     integer NOT NULL DEFAULT 0,
    outside_hours_zones text[],
    first_row_id        bigint,
    last_row_id         bigint,
    archived_chunks     bigint[] NOT NULL DEFAULT '{}',
    archived_rows       bigint NOT NULL DEFAULT 0,
    report_built_at     timestamptz,
    purged_events       bigint NOT NULL DEFAULT 0,
    purged_calls        bigint NOT NULL DEFAULT 0,
    purged_contacts     bigint NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    CONSTRAINT campaign_finalizations_step_check CHECK (step IN (
        'waiting', 'archiving', 'reporting', 'purging', 'finalizing', 'done')),
    CONSTRAINT campaign_finalizations_done_check CHECK ((step = 'done') = (finished_at IS NOT NULL)),
    CONSTRAINT campaign_finalizations_rows_check CHECK (
        (first_row_id IS NULL) = (last_row_id IS NULL) AND first_row_id <= last_row_id)
);
COMMENT ON TABLE campaign_finalizations IS
$$Progress of a campaign's finalization, one row per campaign, inserted in the same transaction as the finished -> finalizing transition. Steps, in order: waiting (no call of the campaign in flight, or the bounded wait is over and the stuck calls were hung up and recorded), archiving (campaign_contacts_archive filled in chunks of campaign_contacts ids, possibly several at once; each chunk's INSERT and its entry in archived_chunks are one statement), reporting (the final report built), purging (call_events, calls, campaign_contacts of the campaign deleted in chunks), finalizing (the finalizing -> finalized transition, written in the same transaction as step = done), done. Every step is idempotent, so a step interrupted by a crash is simply run again.$$;
COMMENT ON COLUMN campaign_finalizations.wait_deadline IS
    'When the wait for calls in flight gives up and hangs up the remaining calls (set once, when finalization begins, so a restart does not extend it).';
COMMENT ON COLUMN campaign_finalizations.outside_hours_zones IS
    'Contact timezones whose recipient-local hours never met a campaign window while the campaign ran: contacts there that were never dialed end as outside_hours_skipped. Computed once before archiving (NULL until then; empty when the campaign has no recipient hours).';
COMMENT ON COLUMN campaign_finalizations.first_row_id IS
    'Lowest and highest campaign_contacts.id of the campaign (with last_row_id), read once when archiving starts: the archive and the purge walk this id range in chunks.';
COMMENT ON COLUMN campaign_finalizations.archived_chunks IS
    'The chunks archived so far, each as its lowest campaign_contacts id (chunk k covers first_row_id + k * size up to the next one); a resumed archive skips them.';


ALTER TABLE campaign_contacts_archive
    ADD COLUMN last_outcome text,
    ADD COLUMN answered boolean,
    ADD CONSTRAINT campaign_contacts_archive_last_outcome_check CHECK (last_outcome IN (
        'answered', 'busy', 'no_answer', 'congestion', 'chanunavail', 'invalid_number',
        'failed', 'cancelled', 'unknown'));
COMMENT ON COLUMN campaign_contacts_archive.last_outcome IS
    'Per-attempt outcome of the contact''s last attempt (calls.outcome vocabulary); NULL if never dialed. With answered, what recycling selects on (fts.core.recycling.selects).';
COMMENT ON COLUMN campaign_contacts_archive.answered IS
    'Whether any attempt was answered (by a human or a machine). NULL on rows archived before this column existed; read as final_outcome IN (reached, opted_out) then.';
