-- 0001_initial: the whole FTS schema (PRODUCT.md sections 1-9).
--
-- Applied by fts/db/migrate.py inside one transaction it opens itself, under
-- an advisory lock; it records the version in schema_version.  So this file
-- has no BEGIN/COMMIT and does not touch schema_version.  PostgreSQL >= 13.
--
-- Conventions used throughout:
-- * Keys are bigint identity columns (GENERATED ALWAYS, except calls.id, see
--   there).  Every point in time is timestamptz.
-- * Vocabularies are text columns with CHECK constraints, never enum types:
--   a later migration extends one with DROP CONSTRAINT / ADD CONSTRAINT.
--   Constraint names are explicit so those migrations can name them.
-- * Every foreign key whose parent rows can be deleted has an index on the
--   referencing column (otherwise each parent delete scans the child table).
--   The few references deliberately left without a foreign key say why.
-- * Who did something is recorded as an actor: kind (user | api_token |
--   system), the user/token ids (SET NULL when those are deleted) and
--   actor_name, a copy of the username / token name / component name that
--   survives the deletion.
-- * Phone numbers are compared in their normalised form (digits only, default
--   country code applied) produced by fts/core for contacts and DNC entries
--   alike; the original text is kept where the operator typed or uploaded it.


-- ---------------------------------------------------------------------------
-- Shared trigger functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION fts_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION fts_touch_updated_at() IS
    'BEFORE UPDATE trigger: keeps updated_at current on the operator-edited tables (not used on the hot dialer tables).';


-- ---------------------------------------------------------------------------
-- Users, sessions, API tokens, login throttling, audit (PRODUCT 9)
-- ---------------------------------------------------------------------------

CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text NOT NULL,
    display_name        text,
    email               text,
    role                text NOT NULL,
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    disabled_at         timestamptz,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_check CHECK (username <> '' AND username = btrim(username)),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'operator', 'viewer'))
);
-- "Admin" and "admin" would be two accounts an operator cannot tell apart.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION fts_touch_updated_at();
COMMENT ON TABLE users IS
    'Panel/API users. Roles: admin (everything), operator (campaigns, lists, audio), viewer (read-only). Disable rather than delete, so audit rows keep their user.';
COMMENT ON COLUMN users.password_hash IS
    'Self-describing encoded hash string (algorithm, parameters, salt, digest) as the password library produces it; never the password.';
COMMENT ON COLUMN users.disabled_at IS
    'Set when the account is disabled; a disabled user cannot log in and its sessions and tokens are refused.';

CREATE TABLE sessions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    text NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    address       inet,
    user_agent    text,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_expiry_check CHECK (expires_at > created_at)
) WITH (fillfactor = 90);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
COMMENT ON TABLE sessions IS
    'Server-side panel sessions. The cookie carries a random token; only its hash is stored. Logout deletes the row. fillfactor 90: last_seen_at is updated on every request and is not indexed, so those updates stay HOT.';
COMMENT ON COLUMN sessions.token_hash IS
    'Hex SHA-256 of the session cookie token (the token itself is never stored, so a database leak does not hand out sessions).';
COMMENT ON COLUMN sessions.csrf_token IS
    'Per-session CSRF token, stored as is: it is rendered into forms and compared with the submitted one.';

CREATE TABLE api_tokens (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash        text NOT NULL,
    token_prefix      text NOT NULL,
    role              text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    last_used_at      timestamptz,
    last_used_address inet,
    revoked_at        timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_name_check CHECK (name <> ''),
    CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'operator', 'viewer'))
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
COMMENT ON TABLE api_tokens IS
    'JSON API bearer tokens. Only the hash is stored; the token is shown once at creation.';
COMMENT ON COLUMN api_tokens.role IS
    'Scope of the token: at most the role of its user (checked by the application when the token is created and on every use, since the user role may be lowered later).';
COMMENT ON COLUMN api_tokens.token_prefix IS
    'First characters of the token, shown in the panel so an operator can tell tokens apart.';

CREATE TABLE login_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text NOT NULL,
    address     inet,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    succeeded   boolean NOT NULL
);
CREATE INDEX login_attempts_username_idx ON login_attempts (lower(username), attempted_at);
CREATE INDEX login_attempts_address_idx ON login_attempts (address, attempted_at);
-- Rows arrive in time order, so a BRIN index serves the cleanup job's
-- "DELETE ... WHERE attempted_at < $1" for almost nothing.
CREATE INDEX login_attempts_attempted_at_brin ON login_attempts USING brin (attempted_at);
COMMENT ON TABLE login_attempts IS
    'Every login attempt, for throttling per username and per client address (count failures in a recent window). The username is kept as typed, even when no such user exists, so guessing is throttled too. Old rows are deleted by the cleanup job.';

CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_kind    text NOT NULL,
    user_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    api_token_id  bigint REFERENCES api_tokens (id) ON DELETE SET NULL,
    actor_name    text NOT NULL,
    address       inet,
    action        text NOT NULL,
    object_type   text,
    object_id     text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT audit_log_actor_kind_check CHECK (actor_kind IN ('user', 'api_token', 'system')),
    CONSTRAINT audit_log_details_check CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, at);
CREATE INDEX audit_log_user_id_idx ON audit_log (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_api_token_id_idx ON audit_log (api_token_id) WHERE api_token_id IS NOT NULL;
COMMENT ON TABLE audit_log IS
    'Append-only record of every change made through the panel, the API or by the system (who, what, on which object, details). Campaign life-cycle transitions have their own table, campaign_transitions.';
COMMENT ON COLUMN audit_log.actor_name IS
    'Username, token name or system component (e.g. "job:finalize") at the time of the action; kept when the user or token is later deleted.';
COMMENT ON COLUMN audit_log.object_id IS
    'Text, because not every object has a numeric id (a job name, a DNC phone number).';


-- ---------------------------------------------------------------------------
-- Contact lists (PRODUCT 1)
-- ---------------------------------------------------------------------------

CREATE TABLE contact_lists (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL,
    description        text,
    archived_at        timestamptz,
    source_filename    text,
    upload_path        text,
    file_size          bigint,
    encoding           text,
    delimiter          text,
    has_header         boolean,
    phone_column       integer,
    columns            jsonb NOT NULL DEFAULT '[]'::jsonb,
    total_rows         integer NOT NULL DEFAULT 0,
    accepted_rows      integer NOT NULL DEFAULT 0,
    rejected_rows      integer NOT NULL DEFAULT 0,
    duplicate_rows     integer NOT NULL DEFAULT 0,
    import_status      text NOT NULL DEFAULT 'uploaded',
    import_bytes_done  bigint NOT NULL DEFAULT 0,
    import_started_at  timestamptz,
    import_finished_at timestamptz,
    import_error       text,
    created_by         bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT contact_lists_name_check CHECK (name <> ''),
    CONSTRAINT contact_lists_encoding_check CHECK (encoding IN ('utf-8', 'latin-1')),
    CONSTRAINT contact_lists_delimiter_check CHECK (delimiter IN (',', ';', E'\t')),
    CONSTRAINT contact_lists_phone_column_check CHECK (phone_column >= 0),
    CONSTRAINT contact_lists_columns_check CHECK (jsonb_typeof(columns) = 'array'),
    CONSTRAINT contact_lists_counts_check CHECK (
        total_rows >= 0 AND accepted_rows >= 0 AND rejected_rows >= 0 AND duplicate_rows >= 0
        AND accepted_rows + rejected_rows + duplicate_rows <= total_rows),
    CONSTRAINT contact_lists_import_status_check CHECK (
        import_status IN ('uploaded', 'importing', 'imported', 'ready', 'failed', 'cancelled')),
    CONSTRAINT contact_lists_ready_check CHECK (
        import_status NOT IN ('importing', 'imported', 'ready')
        OR (encoding IS NOT NULL AND delimiter IS NOT NULL AND has_header IS NOT NULL
            AND phone_column IS NOT NULL))
);
CREATE TRIGGER contact_lists_touch BEFORE UPDATE ON contact_lists
    FOR EACH ROW EXECUTE FUNCTION fts_touch_updated_at();
COMMENT ON TABLE contact_lists IS
    'An uploaded CSV of contacts, reusable by many campaigns. Cannot be deleted while a campaign that is not finalized uses it (trigger contact_lists_in_use).';
COMMENT ON COLUMN contact_lists.upload_path IS
    'Where the uploaded file is kept until the import is accepted, relative to the data directory.';
COMMENT ON COLUMN contact_lists.encoding IS
    'Detected, then confirmed by the operator; NULL until detected.';
COMMENT ON COLUMN contact_lists.phone_column IS
    '0-based index into columns of the phone number column.';
COMMENT ON COLUMN contact_lists.columns IS
    'One object per CSV column, in file order: {"name": "first_name", "type": "text|number|date|time|timezone|phone"}. Names are the TTS placeholders ({first_name}) and the column names of the CSV export.';
COMMENT ON COLUMN contact_lists.total_rows IS
    'Data rows read so far (header excluded); accepted + rejected + duplicate = total once the import is done.';
COMMENT ON COLUMN contact_lists.import_status IS
    'uploaded: file stored, format detected, waiting for the operator to confirm encoding/delimiter/header/columns; importing: rows streaming in (progress = import_bytes_done / file_size); imported: done, waiting for the operator to accept the rows despite the rejects; ready: usable by campaigns; failed: import_error says why; cancelled: abandoned by the operator.';

CREATE TABLE contacts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id        bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    row_number     integer NOT NULL,
    phone          text NOT NULL,
    phone_original text NOT NULL,
    fields         jsonb NOT NULL DEFAULT '{}'::jsonb,
    timezone       text,
    CONSTRAINT contacts_phone_check CHECK (phone ~ '^[0-9]+$'),
    CONSTRAINT contacts_fields_check CHECK (jsonb_typeof(fields) = 'object'),
    -- Duplicates are dialed once because they never become contacts: the
    -- importer inserts with ON CONFLICT (list_id, phone) DO NOTHING and
    -- records each row that conflicted in contact_import_rejects with
    -- reason_code 'duplicate' and duplicate_of_row.  The rule is then a
    -- property of the data (no campaign can see a duplicate), campaign_contacts
    -- needs no dedup step, and the duplicate is still reported to the operator.
    CONSTRAINT contacts_list_phone_key UNIQUE (list_id, phone)
);
COMMENT ON TABLE contacts IS
    'The accepted, de-duplicated rows of a contact list: one row per distinct normalised phone number per list.';
COMMENT ON COLUMN contacts.row_number IS
    '1-based record number in the source file, counting the header when there is one, so it matches the row number a spreadsheet shows.';
COMMENT ON COLUMN contacts.phone IS
    'Normalised: digits only, default country code applied, length checked. Compared with dnc_entries.phone at dial time.';
COMMENT ON COLUMN contacts.fields IS
    'Every other named column of the row, keyed by column name, typed per contact_lists.columns (numbers as JSON numbers, dates/times as ISO-8601 strings).';
COMMENT ON COLUMN contacts.timezone IS
    'IANA zone name from the timezone-typed column, when the list has one; enables recipient-local calling hours.';

CREATE TABLE contact_import_rejects (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id          bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    row_number       integer NOT NULL,
    column_index     integer,
    column_name      text,
    value            text,
    reason_code      text NOT NULL,
    reason           text NOT NULL,
    duplicate_of_row integer,
    raw              text,
    CONSTRAINT contact_import_rejects_reason_code_check CHECK (reason_code IN (
        'invalid_phone', 'column_count', 'bad_date', 'bad_time', 'bad_number',
        'bad_timezone', 'bad_encoding', 'duplicate', 'other')),
    CONSTRAINT contact_import_rejects_duplicate_check CHECK (
        (reason_code = 'duplicate') = (duplicate_of_row IS NOT NULL))
);
CREATE INDEX contact_import_rejects_list_idx ON contact_import_rejects (list_id, row_number);
COMMENT ON TABLE contact_import_rejects IS
    'The rejected-rows report of an import (downloadable): every row not imported, with the column, value and reason. Duplicates are here too (reason_code duplicate), pointing at the row that was kept.';
COMMENT ON COLUMN contact_import_rejects.raw IS
    'The raw record as read (decoded with replacement characters when the encoding was bad), so the report can be re-imported after fixing.';


-- ---------------------------------------------------------------------------
-- Do-not-call lists (PRODUCT 2)
-- ---------------------------------------------------------------------------

CREATE TABLE dnc_lists (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    description text,
    builtin     boolean NOT NULL DEFAULT false,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dnc_lists_name_key UNIQUE (name),
    CONSTRAINT dnc_lists_name_check CHECK (name <> '')
);
-- At most one built-in list (the opt-outs list seeded below).
CREATE UNIQUE INDEX dnc_lists_one_builtin ON dnc_lists (builtin) WHERE builtin;
COMMENT ON TABLE dnc_lists IS
    'Named do-not-call lists. Exactly one is built in: "opt-outs", where every opt-out key press and API opt-out lands; every campaign honours it whether or not campaign_dnc_lists names it. It cannot be deleted or un-built-in (trigger dnc_lists_builtin_guard).';

CREATE FUNCTION fts_dnc_lists_builtin_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.builtin THEN
        RAISE EXCEPTION 'the built-in DNC list "%" cannot be deleted', OLD.name
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.builtin IS DISTINCT FROM NEW.builtin THEN
        RAISE EXCEPTION 'the built-in flag of DNC list "%" cannot be changed', OLD.name
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
CREATE TRIGGER dnc_lists_builtin_guard BEFORE UPDATE OR DELETE ON dnc_lists
    FOR EACH ROW EXECUTE FUNCTION fts_dnc_lists_builtin_guard();

-- The seed: the one built-in list (the trigger guards only UPDATE/DELETE).
INSERT INTO dnc_lists (name, description, builtin)
VALUES ('opt-outs', 'Numbers that opted out by key press or through the API. Honoured by every campaign.', true);

CREATE TABLE dnc_entries (
    list_id            bigint NOT NULL REFERENCES dnc_lists (id) ON DELETE CASCADE,
    phone              text NOT NULL,
    phone_original     text,
    source             text NOT NULL,
    added_at           timestamptz NOT NULL DEFAULT now(),
    added_by           text,
    source_campaign_id bigint,
    source_call_id     bigint,
    note               text,
    CONSTRAINT dnc_entries_pkey PRIMARY KEY (list_id, phone),
    CONSTRAINT dnc_entries_phone_check CHECK (phone ~ '^[0-9]+$'),
    CONSTRAINT dnc_entries_source_check CHECK (source IN ('upload', 'manual', 'api', 'opt_out_key', 'api_opt_out'))
);
-- The dial-time check: "is this number in any list the campaign honours".
CREATE INDEX dnc_entries_phone_idx ON dnc_entries (phone, list_id);
COMMENT ON TABLE dnc_entries IS
    'Numbers of a DNC list, normalised like contacts.phone. The natural key (list_id, phone) is the primary key: no surrogate id, whose index would cost space and insert time on lists of millions of numbers.';
COMMENT ON COLUMN dnc_entries.added_by IS
    'Actor name (username, "api:<token name>", "opt-out key"), text rather than a user id: DNC lists can be millions of rows and a foreign key to users would need one more index just to delete a user.';
COMMENT ON COLUMN dnc_entries.source_campaign_id IS
    'For opt-outs: the campaign and call where the key was pressed. Plain ids, no foreign keys: the opt-out must outlive the purge of that campaign''s working rows.';

CREATE TABLE dnc_imports (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id          bigint NOT NULL REFERENCES dnc_lists (id) ON DELETE CASCADE,
    source_filename  text,
    file_size        bigint,
    status           text NOT NULL DEFAULT 'importing',
    bytes_done       bigint NOT NULL DEFAULT 0,
    total_rows       integer NOT NULL DEFAULT 0,
    added_rows       integer NOT NULL DEFAULT 0,
    already_present_rows integer NOT NULL DEFAULT 0,
    rejected_rows    integer NOT NULL DEFAULT 0,
    error            text,
    created_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT dnc_imports_status_check CHECK (status IN ('importing', 'done', 'failed', 'cancelled'))
);
CREATE INDEX dnc_imports_list_id_idx ON dnc_imports (list_id);
COMMENT ON TABLE dnc_imports IS
    'One CSV upload into a DNC list: progress and counts (streamed like contact imports).';

CREATE TABLE dnc_import_rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id   bigint NOT NULL REFERENCES dnc_imports (id) ON DELETE CASCADE,
    row_number  integer NOT NULL,
    value       text,
    reason      text NOT NULL
);
CREATE INDEX dnc_import_rejects_import_idx ON dnc_import_rejects (import_id, row_number);
COMMENT ON TABLE dnc_import_rejects IS
    'Rows of a DNC upload that were not added (invalid number, bad encoding), for the report.';


-- ---------------------------------------------------------------------------
-- Audio and text-to-speech (PRODUCT 3)
-- ---------------------------------------------------------------------------

CREATE TABLE audio_assets (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    description       text,
    original_filename text NOT NULL,
    content_hash      text NOT NULL,
    status            text NOT NULL DEFAULT 'converting',
    error             text,
    formats           text[] NOT NULL DEFAULT '{}',
    duration_ms       integer,
    sample_rate       integer,
    size_bytes        bigint,
    path              text NOT NULL,
    created_by        bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    archived_at       timestamptz,
    CONSTRAINT audio_assets_name_check CHECK (name <> ''),
    CONSTRAINT audio_assets_status_check CHECK (status IN ('converting', 'ready', 'failed')),
    CONSTRAINT audio_assets_ready_check CHECK (
        status <> 'ready' OR (duration_ms IS NOT NULL AND sample_rate IS NOT NULL
                              AND cardinality(formats) > 0)),
    CONSTRAINT audio_assets_formats_check CHECK (formats <@ ARRAY['wav', 'gsm', 'ulaw', 'alaw', 'sln16', 'g722', 'mp3']),
    CONSTRAINT audio_assets_duration_check CHECK (duration_ms >= 0),
    -- Relative, no "..": a row can never point Asterisk outside the sounds dir.
    CONSTRAINT audio_assets_path_check CHECK (
        path <> '' AND path !~ '^/' AND path !~ '(^|/)\.\.(/|$)'),
    CONSTRAINT audio_assets_path_key UNIQUE (path)
);
CREATE INDEX audio_assets_content_hash_idx ON audio_assets (content_hash);
COMMENT ON TABLE audio_assets IS
    'Uploaded recordings, converted for Asterisk (8 kHz mono 16-bit WAV, plus gsm/ulaw where configured) by a child process; the duration is measured, never typed.';
COMMENT ON COLUMN audio_assets.content_hash IS
    'Hex SHA-256 of the uploaded bytes; lets the panel say "this file is already in the library". Not unique: the same recording may be uploaded under two names on purpose.';
COMMENT ON COLUMN audio_assets.formats IS
    'File extensions present next to path in the sounds directory (Asterisk picks the best one for the channel codec).';
COMMENT ON COLUMN audio_assets.path IS
    'Relative to the configured sounds directory and without extension, as Playback/STREAM FILE take it.';

CREATE TABLE tts_renders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    content_hash text NOT NULL,
    engine       text NOT NULL,
    voice        text NOT NULL DEFAULT '',
    text         text NOT NULL,
    options      jsonb NOT NULL DEFAULT '{}'::jsonb,
    path         text NOT NULL,
    formats      text[] NOT NULL DEFAULT '{wav}',
    duration_ms  integer NOT NULL,
    size_bytes   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tts_renders_content_hash_key UNIQUE (content_hash),
    CONSTRAINT tts_renders_path_check CHECK (
        path <> '' AND path !~ '^/' AND path !~ '(^|/)\.\.(/|$)'),
    CONSTRAINT tts_renders_duration_check CHECK (duration_ms >= 0)
);
COMMENT ON TABLE tts_renders IS
    'Cache of rendered text-to-speech, one file per distinct (engine, voice, options, text): INSERT ... ON CONFLICT (content_hash) DO NOTHING makes concurrent renders of the same text harmless. The cleanup job deletes entries (and files) unused for a while.';
COMMENT ON COLUMN tts_renders.content_hash IS
    'Hex SHA-256 over engine, voice, options and the final text (placeholders already substituted).';
COMMENT ON COLUMN tts_renders.last_used_at IS
    'Not indexed on purpose (updates stay HOT); refresh it at most about once a day per row, not on every call.';


-- ---------------------------------------------------------------------------
-- Campaigns (PRODUCT 4)
-- ---------------------------------------------------------------------------

CREATE TABLE campaigns (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL,
    description           text,
    state                 text NOT NULL DEFAULT 'draft',
    finish_reason         text,
    is_template           boolean NOT NULL DEFAULT false,
    list_id               bigint REFERENCES contact_lists (id) ON DELETE SET NULL,
    caller_id_number      text,
    caller_id_name        text,
    timezone              text NOT NULL DEFAULT 'UTC',
    starts_at             timestamptz,
    ends_at               timestamptz,
    local_hours_from      time,
    local_hours_to        time,
    settings              jsonb NOT NULL DEFAULT '{}'::jsonb,
    max_channels          integer NOT NULL DEFAULT 10,
    cps                   numeric(7, 3) NOT NULL DEFAULT 1,
    priority              integer NOT NULL DEFAULT 10,
    ring_timeout_s        integer NOT NULL DEFAULT 30,
    max_call_duration_s   integer NOT NULL DEFAULT 600,
    max_attempts          integer NOT NULL DEFAULT 3,
    dial_string           text,
    recycled_from_id      bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    recycle_filter        jsonb,
    created_by            bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    state_changed_at      timestamptz NOT NULL DEFAULT now(),
    first_started_at      timestamptz,
    finished_at           timestamptz,
    finalized_at          timestamptz,
    CONSTRAINT campaigns_name_check CHECK (name <> ''),
    CONSTRAINT campaigns_state_check CHECK (state IN (
        'draft', 'scheduled', 'running', 'paused', 'finished', 'finalizing', 'finalized', 'deleted')),
    CONSTRAINT campaigns_finish_reason_check CHECK (finish_reason IN ('completed', 'expired', 'cancelled')),
    -- A finish reason exactly when the campaign has finished (deleted keeps
    -- whatever it had: finalized campaigns are deleted, drafts may be too).
    CONSTRAINT campaigns_finish_reason_state_check CHECK (
        state = 'deleted'
        OR (state IN ('finished', 'finalizing', 'finalized')) = (finish_reason IS NOT NULL)),
    CONSTRAINT campaigns_template_check CHECK (
        NOT is_template
        OR (state IN ('draft', 'deleted') AND list_id IS NULL AND starts_at IS NULL AND ends_at IS NULL)),
    -- Once confirmed and until finalized a campaign has its list and dates.
    -- (A finalized campaign may lose its list: the list can then be deleted.)
    CONSTRAINT campaigns_scheduled_check CHECK (
        state NOT IN ('scheduled', 'running', 'paused', 'finished', 'finalizing')
        OR (list_id IS NOT NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL)),
    CONSTRAINT campaigns_dates_check CHECK (ends_at > starts_at),
    CONSTRAINT campaigns_local_hours_check CHECK ((local_hours_from IS NULL) = (local_hours_to IS NULL)),
    -- Rejects a zone name PostgreSQL does not know, with its own clear error.
    CONSTRAINT campaigns_timezone_check CHECK (
        (TIMESTAMPTZ '2000-01-01 00:00+00' AT TIME ZONE timezone) IS NOT NULL),
    CONSTRAINT campaigns_settings_check CHECK (jsonb_typeof(settings) = 'object'),
    CONSTRAINT campaigns_max_channels_check CHECK (max_channels >= 1),
    CONSTRAINT campaigns_cps_check CHECK (cps > 0),
    CONSTRAINT campaigns_priority_check CHECK (priority BETWEEN 1 AND 100),
    CONSTRAINT campaigns_ring_timeout_check CHECK (ring_timeout_s BETWEEN 5 AND 300),
    CONSTRAINT campaigns_max_call_duration_check CHECK (max_call_duration_s BETWEEN 10 AND 86400),
    CONSTRAINT campaigns_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 100),
    CONSTRAINT campaigns_recycle_check CHECK ((recycled_from_id IS NULL) = (recycle_filter IS NULL))
);
CREATE INDEX campaigns_state_idx ON campaigns (state) WHERE state NOT IN ('finalized', 'deleted');
CREATE INDEX campaigns_list_id_idx ON campaigns (list_id);
CREATE INDEX campaigns_recycled_from_idx ON campaigns (recycled_from_id) WHERE recycled_from_id IS NOT NULL;
CREATE TRIGGER campaigns_touch BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION fts_touch_updated_at();
COMMENT ON TABLE campaigns IS
    'Campaigns and templates (is_template: no list, no dates, stays draft). The life cycle is enforced in one place, fts/core; the store writes the new state and its campaign_transitions row in one transaction. Deleting a finalized campaign sets state deleted and removes its rows and files; a draft may simply be deleted (cascades).';
COMMENT ON COLUMN campaigns.state IS
    'draft -> scheduled -> running <-> paused -> finished -> finalizing -> finalized -> deleted.';
COMMENT ON COLUMN campaigns.timezone IS
    'IANA zone of starts_at/ends_at as the operator entered them and of the weekly windows.';
COMMENT ON COLUMN campaigns.local_hours_from IS
    'Optional recipient-local calling hours (with local_hours_to), applied to contacts that have a timezone: a contact is dialed only when both the campaign window and its local hours allow. Crossing midnight when to <= from.';
COMMENT ON COLUMN campaigns.settings IS
    'The structured parts nothing filters or sorts on, validated by fts/core: {"message": [{"kind": "audio|tts|field", ...}, ...], "options": {"1": {"action": "record|repeat|queue|dial|opt_out|hangup", "label": ..., ...}, ...}, "no_key": {"replays": N, ...}, "invalid_key": {...}, "amd": {"mode": "off|hangup|machine_message|as_human", "params": {...}, ...}, "retry": {"busy": {"retry": true, "after_s": 600}, "no_answer": ..., "failed": ..., "machine": ..., "answered_no_key": ...}, "notify": {...}}. Columns below hold what the dialer reads on every decision.';
COMMENT ON COLUMN campaigns.cps IS
    'Calls per second for this campaign; fractional values (0.2 = one every 5 s) allowed.';
COMMENT ON COLUMN campaigns.priority IS
    'Relative weight 1-100: share of the global capacity when several campaigns compete.';
COMMENT ON COLUMN campaigns.dial_string IS
    'Dial string template (e.g. "PJSIP/{number}@trunk"); NULL = the configured default.';
COMMENT ON COLUMN campaigns.recycle_filter IS
    'For a recycled campaign: which final outcomes (and pressed keys) of recycled_from_id were selected, e.g. {"final_outcomes": ["busy", "no_answer"], "keys": ["2"]}.';

-- A contact list in use by a campaign that is not finalized cannot be deleted
-- (PRODUCT 1).  campaigns.list_id is ON DELETE SET NULL so that finalized
-- campaigns release their list; this trigger refuses the others with a
-- message naming the campaign (campaigns_scheduled_check would refuse too,
-- but with an unhelpful message, and drafts would silently lose their list).
CREATE FUNCTION fts_contact_lists_in_use() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    blocking record;
BEGIN
    SELECT id, name, state INTO blocking
      FROM campaigns
     WHERE list_id = OLD.id AND state NOT IN ('finalized', 'deleted')
     ORDER BY id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'contact list % ("%") is used by campaign % ("%"), which is %; it can be deleted once that campaign is finalized',
            OLD.id, OLD.name, blocking.id, blocking.name, blocking.state
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER contact_lists_in_use BEFORE DELETE ON contact_lists
    FOR EACH ROW EXECUTE FUNCTION fts_contact_lists_in_use();

CREATE TABLE campaign_windows (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL,
    from_time   time NOT NULL,
    to_time     time NOT NULL,
    CONSTRAINT campaign_windows_weekday_check CHECK (weekday BETWEEN 0 AND 6)
);
CREATE INDEX campaign_windows_campaign_idx ON campaign_windows (campaign_id, weekday, from_time);
COMMENT ON TABLE campaign_windows IS
    'Weekly calling windows in the campaign timezone; several per day allowed. A window crosses midnight when to_time <= from_time (it ends the next day; from = to means 24 hours). Non-overlap is checked by fts/core, where the midnight arithmetic lives.';
COMMENT ON COLUMN campaign_windows.weekday IS
    '0 = Monday ... 6 = Sunday, as Python date.weekday() (not PostgreSQL''s dow, where 0 is Sunday).';

CREATE TABLE campaign_dnc_lists (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    dnc_list_id bigint NOT NULL REFERENCES dnc_lists (id) ON DELETE RESTRICT,
    PRIMARY KEY (campaign_id, dnc_list_id)
);
CREATE INDEX campaign_dnc_lists_dnc_list_idx ON campaign_dnc_lists (dnc_list_id);
COMMENT ON TABLE campaign_dnc_lists IS
    'DNC lists a campaign honours, besides the built-in opt-outs list which is always honoured (the claim query checks it explicitly). RESTRICT: a DNC list cannot vanish under a campaign; the store removes the links of finalized campaigns before deleting a list.';

CREATE TABLE campaign_audio_assets (
    campaign_id    bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    audio_asset_id bigint NOT NULL REFERENCES audio_assets (id) ON DELETE RESTRICT,
    PRIMARY KEY (campaign_id, audio_asset_id)
);
CREATE INDEX campaign_audio_assets_asset_idx ON campaign_audio_assets (audio_asset_id);
COMMENT ON TABLE campaign_audio_assets IS
    'Audio assets the campaign message/options play (also named inside campaigns.settings). Rewritten by the store with every settings save; it exists so a recording in use cannot be deleted and the library can show where a recording is used.';

CREATE TABLE campaign_transitions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    from_state    text,
    to_state      text NOT NULL,
    trigger       text NOT NULL,
    reason        text,
    actor_kind    text NOT NULL,
    user_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    api_token_id  bigint REFERENCES api_tokens (id) ON DELETE SET NULL,
    actor_name    text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaign_transitions_actor_kind_check CHECK (actor_kind IN ('user', 'api_token', 'system'))
);
CREATE INDEX campaign_transitions_campaign_idx ON campaign_transitions (campaign_id, at);
CREATE INDEX campaign_transitions_user_idx ON campaign_transitions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX campaign_transitions_token_idx ON campaign_transitions (api_token_id) WHERE api_token_id IS NOT NULL;
COMMENT ON TABLE campaign_transitions IS
    'Audit of every life-cycle transition: from, to, the named trigger (confirm, start, pause, resume, cancel, complete, expire, finalize_begin, finalize_done, delete, ...), a reason, and who/what caused it. from_state is NULL for the creation row.';


-- ---------------------------------------------------------------------------
-- Per-campaign contact progress (PRODUCT 5) -- the hot table
-- ---------------------------------------------------------------------------

CREATE TABLE campaign_contacts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id       bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id        bigint NOT NULL REFERENCES contacts (id),
    status            text NOT NULL DEFAULT 'pending',
    attempts          smallint NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz DEFAULT now(),
    last_outcome      text,
    last_attempt_at   timestamptz,
    final_outcome     text,
    dnc_list_id       bigint REFERENCES dnc_lists (id) ON DELETE SET NULL,
    in_flight_call_id bigint,
    claimed_at        timestamptz,
    claimed_by        text,
    finished_at       timestamptz,
    CONSTRAINT campaign_contacts_campaign_contact_key UNIQUE (campaign_id, contact_id),
    CONSTRAINT campaign_contacts_status_check CHECK (status IN ('pending', 'in_flight', 'done')),
    CONSTRAINT campaign_contacts_pending_check CHECK (status <> 'pending' OR next_attempt_at IS NOT NULL),
    CONSTRAINT campaign_contacts_done_check CHECK ((status = 'done') = (final_outcome IS NOT NULL)),
    CONSTRAINT campaign_contacts_attempts_check CHECK (attempts >= 0),
    CONSTRAINT campaign_contacts_last_outcome_check CHECK (last_outcome IN (
        'answered', 'busy', 'no_answer', 'congestion', 'chanunavail', 'invalid_number',
        'failed', 'cancelled', 'unknown')),
    CONSTRAINT campaign_contacts_final_outcome_check CHECK (final_outcome IN (
        'reached', 'opted_out', 'busy', 'no_answer', 'failed', 'invalid_number',
        'dnc_skipped', 'outside_hours_skipped', 'not_dialed', 'exhausted')),
    -- Every DNC skip names its list (PRODUCT 2).  dnc_list_id may become NULL
    -- later only if that list is deleted, which campaign_dnc_lists (RESTRICT)
    -- prevents while the campaign is not finalized.
    CONSTRAINT campaign_contacts_dnc_check CHECK (dnc_list_id IS NULL OR final_outcome = 'dnc_skipped')
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);
-- Next contacts to dial: serves
--   WHERE campaign_id = $1 AND status = 'pending' AND next_attempt_at <= now()
--   ORDER BY next_attempt_at, id LIMIT n FOR UPDATE SKIP LOCKED
-- as an ordered index scan that stops after n rows.  Partial, so it holds only
-- the rows still to dial (shrinks as the campaign progresses).
CREATE INDEX campaign_contacts_pending_idx ON campaign_contacts (campaign_id, next_attempt_at, id)
    WHERE status = 'pending';
-- Rows claimed or in a call: "is anything of this campaign in flight" (the
-- finalization wait), reconciliation after a restart, stale claims by a dead
-- dialer instance (oldest claimed_at first).
CREATE INDEX campaign_contacts_in_flight_idx ON campaign_contacts (campaign_id, claimed_at)
    WHERE status = 'in_flight';
-- Foreign-key support: deleting contacts (a contact list) checks this table.
CREATE INDEX campaign_contacts_contact_idx ON campaign_contacts (contact_id);
-- Foreign-key support for deleting a DNC list; tiny (skipped rows only).
CREATE INDEX campaign_contacts_dnc_list_idx ON campaign_contacts (dnc_list_id) WHERE dnc_list_id IS NOT NULL;
COMMENT ON TABLE campaign_contacts IS
$$One row per (campaign, contact): where that contact stands in that campaign. Filled set-based (INSERT ... SELECT FROM contacts) when the campaign is confirmed; purged after finalization copies the per-contact results to campaign_contacts_archive.

Life of a row: pending -(claim)-> in_flight -(call ended)-> pending again (retry, new next_attempt_at) or done (final_outcome set). The claim statement also does the dial-time DNC check and marks a listed number done/dnc_skipped in the same statement. It reserves in_flight_call_id from the calls id sequence, so the dialer inserts the calls row with that id before sending the Originate.

HOT updates: an UPDATE is HOT (no index writes, no index bloat) only when no indexed column changes -- and columns in partial-index predicates count. Indexed here: id, campaign_id, contact_id (never change), status, next_attempt_at, claimed_at and dnc_list_id, which change only at the claim and at the end of an attempt; those two updates must move the row between the pending and in-flight indexes, so they can never be HOT. Every other update (attempts, last_outcome, last_attempt_at, in_flight_call_id) touches unindexed columns only and can be HOT when the page has room. Claims take consecutive rows, so whole pages are updated at once: measured over 300 claim/accept/end cycles of 100 rows, the share of HOT "originate accepted" updates was 18 % at fillfactor 100, 65 % at 80, 76 % at 70, 88 % at 50 (heap +17 % at 70). 70 is the compromise. Cheaper still: leave this row alone when the originate is accepted (calls.attempt records it) and fold attempts into the end-of-attempt update. Do not add indexes on other columns without weighing this. Finalization reads all rows of a campaign through campaign_contacts_campaign_contact_key.$$;
COMMENT ON COLUMN campaign_contacts.status IS
    'pending: waiting to be dialed (due at next_attempt_at); in_flight: claimed by a dialer, call being placed or up; done: final_outcome is set.';
COMMENT ON COLUMN campaign_contacts.attempts IS
    'Attempts counted so far. An attempt counts when the PBX accepts the originate (a refused originate burns none); calls.attempt is the authoritative record (unique per campaign contact), this column a copy the dialer updates at accept time or with the end-of-attempt update, and that reconciliation after a crash recomputes as max(calls.attempt).';
COMMENT ON COLUMN campaign_contacts.next_attempt_at IS
    'When the contact may be dialed next (retry delay, next calling window, recipient-local hours). Campaign confirmation inserts all rows in one statement, so they share now() and are dialed in id (= file) order.';
COMMENT ON COLUMN campaign_contacts.last_outcome IS
    'Per-attempt outcome of the latest attempt (calls.outcome vocabulary).';
COMMENT ON COLUMN campaign_contacts.final_outcome IS
    'Per-contact final outcome (PRODUCT.md vocabulary), set when status becomes done; not_dialed/exhausted/outside_hours_skipped are set by finalization for the rows still pending.';
COMMENT ON COLUMN campaign_contacts.dnc_list_id IS
    'The skip record of PRODUCT 2: when final_outcome = dnc_skipped, the DNC list that matched at dial time (the built-in opt-outs list first when several match). Set by the claim statement itself, atomically with the skip, so no separate dnc_skips table is needed; finalization copies it, with the list name, into campaign_contacts_archive.';
COMMENT ON COLUMN campaign_contacts.in_flight_call_id IS
    'The calls.id of the attempt in flight. No foreign key on purpose: it would need an index here (an index on a column updated at every attempt defeats HOT) for calls deletes to check it; calls.campaign_contact_id is the enforced link.';
COMMENT ON COLUMN campaign_contacts.claimed_by IS
    'dialer_instances.instance_id of the daemon that claimed the row (no foreign key: instance rows are cleaned up, claims outlive them until reconciled).';


-- ---------------------------------------------------------------------------
-- Calls: one row per attempt (PRODUCT 5, 6)
-- ---------------------------------------------------------------------------

CREATE TABLE calls (
    -- BY DEFAULT (not ALWAYS): the claim statement reserves the id with
    -- nextval(pg_get_serial_sequence('calls', 'id')) and the dialer inserts
    -- the row with that id.
    id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    campaign_id         bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id          bigint REFERENCES contacts (id) ON DELETE SET NULL,
    campaign_contact_id bigint REFERENCES campaign_contacts (id) ON DELETE SET NULL,
    attempt             smallint,
    channel_id          text NOT NULL,
    pbx_name            text,
    number_dialed       text NOT NULL,
    caller_id_number    text,
    originated_at       timestamptz NOT NULL DEFAULT now(),
    accepted_at         timestamptz,
    answered_at         timestamptz,
    ended_at            timestamptz,
    outcome             text,
    originate_reason    smallint,
    hangup_cause        smallint,
    hangup_cause_text   text,
    amd_verdict         text,
    amd_cause           text,
    keys                text NOT NULL DEFAULT '',
    option_key          text,
    opted_out           boolean NOT NULL DEFAULT false,
    talk_seconds        integer,
    heard_full_message  boolean NOT NULL DEFAULT false,
    transfer_target     text,
    transfer_result     text,
    is_test_call        boolean NOT NULL DEFAULT false,
    CONSTRAINT calls_channel_id_key UNIQUE (channel_id),
    -- "An attempt can never be counted twice."  attempt stays NULL until the
    -- PBX accepts the originate; a refused originate (outcome failed, PBX
    -- down, AMI error) keeps NULL and so burns no attempt number, and the
    -- retry's row can take the number.  NULLs are distinct in a unique index.
    -- The index also serves the foreign key from campaign_contacts.
    CONSTRAINT calls_campaign_contact_attempt_key UNIQUE (campaign_contact_id, attempt),
    CONSTRAINT calls_attempt_check CHECK (attempt >= 1),
    CONSTRAINT calls_owner_check CHECK (is_test_call OR campaign_id IS NOT NULL),
    CONSTRAINT calls_campaign_check CHECK (campaign_contact_id IS NULL OR campaign_id IS NOT NULL),
    CONSTRAINT calls_outcome_check CHECK (outcome IN (
        'answered', 'busy', 'no_answer', 'congestion', 'chanunavail', 'invalid_number',
        'failed', 'cancelled', 'unknown')),
    CONSTRAINT calls_ended_check CHECK (ended_at IS NULL OR outcome IS NOT NULL),
    CONSTRAINT calls_amd_verdict_check CHECK (amd_verdict IN ('human', 'machine', 'notsure', 'off')),
    CONSTRAINT calls_option_key_check CHECK (option_key ~ '^[0-9*#]$'),
    CONSTRAINT calls_keys_check CHECK (keys ~ '^[0-9*#]*$'),
    CONSTRAINT calls_talk_seconds_check CHECK (talk_seconds >= 0)
) WITH (fillfactor = 85);
CREATE INDEX calls_campaign_idx ON calls (campaign_id, id);
CREATE INDEX calls_contact_idx ON calls (contact_id) WHERE contact_id IS NOT NULL;
-- Calls not yet ended: reconciliation with CoreShowChannels after a restart,
-- "calls in flight" on the dashboard.  ended_at changes once per call, so
-- this costs one non-HOT update per call; the other updates stay HOT.
CREATE INDEX calls_in_flight_idx ON calls (campaign_id) WHERE ended_at IS NULL;
COMMENT ON TABLE calls IS
    'One row per attempt (and per test call). Inserted before the Originate is sent (so a crash leaves the channel id to look for), updated as the call progresses. fillfactor 85 keeps those updates HOT: indexed columns (campaign_contact_id, attempt, ended_at, contact_id) change at most once each.';
COMMENT ON COLUMN calls.campaign_id IS
    'NULL only for a test call not tied to a campaign.';
COMMENT ON COLUMN calls.attempt IS
    'The attempt number this call counts as (1-based), set when the PBX accepts the originate; NULL while not accepted or when refused (see calls_campaign_contact_attempt_key). After a crash, an attempt whose fate is unknown gets outcome unknown and the retry policy decides whether to set it.';
COMMENT ON COLUMN calls.channel_id IS
    'ChannelId chosen by FTS and sent with the Originate (e.g. "fts-<calls.id>"); every AMI event and the FastAGI session are correlated through it.';
COMMENT ON COLUMN calls.originated_at IS
    'When the Originate was sent; accepted_at when the PBX accepted it (Response: Success); answered_at/ended_at from the call itself.';
COMMENT ON COLUMN calls.originate_reason IS
    'Reason code of OriginateResponse (0 failed, 1 no such extension, 3 no answer, 4 answered, 5 busy, 8 congestion, ...).';
COMMENT ON COLUMN calls.hangup_cause IS
    'Q.850 cause of the Hangup event (16 normal clearing, 17 busy, 19 no answer, ...), with its text in hangup_cause_text.';
COMMENT ON COLUMN calls.amd_verdict IS
    'human | machine | notsure from AMDSTATUS; off when AMD was not run. amd_cause is AMDCAUSE (e.g. "TOOLONG-5000").';
COMMENT ON COLUMN calls.keys IS
    'Every key pressed during the call, in order.';
COMMENT ON COLUMN calls.option_key IS
    'The key whose option was run (its action is in the campaign settings and in call_events).';
COMMENT ON COLUMN calls.transfer_result IS
    'DIALSTATUS of the transfer (ANSWER, BUSY, NOANSWER, CHANUNAVAIL, CONGESTION, CANCEL) or the queue result.';


-- ---------------------------------------------------------------------------
-- Event log (PRODUCT 6)
-- ---------------------------------------------------------------------------

CREATE TABLE call_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL,
    call_id         bigint,
    campaign_id     bigint,
    kind            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_events_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT call_events_kind_check CHECK (kind <> ''),
    CONSTRAINT call_events_payload_check CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX call_events_call_idx ON call_events (call_id) WHERE call_id IS NOT NULL;
CREATE INDEX call_events_campaign_idx ON call_events (campaign_id, id) WHERE campaign_id IS NOT NULL;
COMMENT ON TABLE call_events IS
$$Append-only log of every event of every call, written in batches by the event writer (INSERT ... SELECT FROM unnest(...) ON CONFLICT (idempotency_key) DO NOTHING), possibly replayed from the on-disk spool after an outage.

Built for fast inserts: four narrow indexes (id, idempotency key, call, campaign) and no foreign keys -- a replayed event must never be rejected because the call or campaign it names was purged or not yet written (a rejected event would be a lost event), and FK checks would cost a lookup per row. Rows are never updated, so the default fillfactor (100) is right. Purged per campaign after finalization (call_events_campaign_idx). Not partitioned: the unique idempotency key would then have to include the partition key; revisit if purges become too slow.$$;
COMMENT ON COLUMN call_events.idempotency_key IS
    'Chosen by the emitter so a replay or a duplicate emission maps to the same key, e.g. "<channel_id>:<kind>:<sequence>". Keys that start with something increasing (the channel id embeds calls.id) keep the unique index inserts near its right edge.';
COMMENT ON COLUMN call_events.kind IS
    'originate_sent, originate_accepted, originate_failed, answered, amd, key, option, transfer, opt_out, hangup, lost, ... Free text (no CHECK) so new kinds need no migration; the writer validates it.';
COMMENT ON COLUMN call_events.occurred_at IS
    'When it happened (stamped by the emitter); recorded_at is when it reached the table, later after a spool replay.';


-- ---------------------------------------------------------------------------
-- Finalization, reports (PRODUCT 7)
-- ---------------------------------------------------------------------------

CREATE TABLE campaign_contacts_archive (
    campaign_id        bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id         bigint NOT NULL,
    row_number         integer,
    phone              text NOT NULL,
    phone_original     text,
    fields             jsonb NOT NULL DEFAULT '{}'::jsonb,
    final_outcome      text NOT NULL,
    amd_verdict        text,
    attempts           smallint NOT NULL DEFAULT 0,
    first_attempt_at   timestamptz,
    last_attempt_at    timestamptz,
    keys               text NOT NULL DEFAULT '',
    option_key         text,
    opted_out          boolean NOT NULL DEFAULT false,
    talk_seconds       integer NOT NULL DEFAULT 0,
    heard_full_message boolean NOT NULL DEFAULT false,
    dnc_list_id        bigint,
    dnc_list_name      text,
    archived_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaign_contacts_archive_pkey PRIMARY KEY (campaign_id, contact_id),
    CONSTRAINT campaign_contacts_archive_final_outcome_check CHECK (final_outcome IN (
        'reached', 'opted_out', 'busy', 'no_answer', 'failed', 'invalid_number',
        'dnc_skipped', 'outside_hours_skipped', 'not_dialed', 'exhausted')),
    CONSTRAINT campaign_contacts_archive_amd_check CHECK (amd_verdict IN ('human', 'machine', 'notsure', 'off'))
);
COMMENT ON TABLE campaign_contacts_archive IS
$$Per-contact final results of a finalized campaign, kept after the working rows (campaign_contacts, calls, call_events) are purged: what the final CSV, the report and recycling read. Self-contained on purpose: phone, original text, fields and the DNC list name are copies, and contact_id/dnc_list_id are plain ids without foreign keys, so the archive survives deleting the contact list or the DNC list. Removed only when the campaign is deleted. Finalization writes it set-based (INSERT ... SELECT ... ON CONFLICT DO NOTHING), so a finalization interrupted by a crash resumes.$$;
COMMENT ON COLUMN campaign_contacts_archive.contact_id IS
    'Id of the contact in the campaign list: recycling builds the new campaign''s rows from it while that list still exists.';
COMMENT ON COLUMN campaign_contacts_archive.amd_verdict IS
    'For reached contacts, the verdict of the answered attempt (human/machine/notsure/off).';

CREATE TABLE report_snapshots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    built_at    timestamptz NOT NULL DEFAULT now(),
    data        jsonb NOT NULL,
    csv_path    text,
    csv_bytes   bigint,
    csv_rows    bigint,
    CONSTRAINT report_snapshots_kind_check CHECK (kind IN ('live', 'final')),
    CONSTRAINT report_snapshots_data_check CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT report_snapshots_csv_path_check CHECK (
        csv_path IS NULL OR (csv_path <> '' AND csv_path !~ '^/' AND csv_path !~ '(^|/)\.\.(/|$)'))
);
CREATE INDEX report_snapshots_campaign_idx ON report_snapshots (campaign_id, kind, built_at DESC);
-- One final report per campaign (finalization is idempotent: ON CONFLICT).
CREATE UNIQUE INDEX report_snapshots_one_final ON report_snapshots (campaign_id) WHERE kind = 'final';
COMMENT ON TABLE report_snapshots IS
    'Campaign reports: live snapshots rebuilt periodically while the campaign runs (the cleanup job keeps the latest few), and the one final snapshot that outlives the purge. data holds totals and rates (reached, human/machine, opted out, per option, per failure reason, per attempt number, per hour of day) and the column names of the CSV.';
COMMENT ON COLUMN report_snapshots.csv_path IS
    'The CSV export, relative to the data directory (a file, not bytea: a million-contact CSV is tens of MB).';


-- ---------------------------------------------------------------------------
-- Jobs (PRODUCT 8)
-- ---------------------------------------------------------------------------

CREATE TABLE job_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name       text NOT NULL,
    campaign_id    bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    parent_run_id  bigint REFERENCES job_runs (id) ON DELETE SET NULL,
    triggered_by   text NOT NULL DEFAULT 'schedule',
    triggered_by_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
    scheduled_for  timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    outcome        text NOT NULL DEFAULT 'pending',
    attempt        smallint NOT NULL DEFAULT 1,
    instance_id    text,
    args           jsonb NOT NULL DEFAULT '{}'::jsonb,
    result         jsonb,
    error          text,
    duration_ms    bigint GENERATED ALWAYS AS (
        (extract(epoch FROM (finished_at - started_at)) * 1000)::bigint) STORED,
    CONSTRAINT job_runs_outcome_check CHECK (outcome IN (
        'pending', 'running', 'success', 'failure', 'timeout', 'interrupted', 'cancelled')),
    CONSTRAINT job_runs_triggered_by_check CHECK (triggered_by IN ('schedule', 'manual', 'api', 'chain', 'retry')),
    CONSTRAINT job_runs_attempt_check CHECK (attempt >= 1),
    CONSTRAINT job_runs_started_check CHECK (outcome IN ('pending', 'cancelled') OR started_at IS NOT NULL),
    CONSTRAINT job_runs_finished_check CHECK ((outcome IN ('pending', 'running')) = (finished_at IS NULL)),
    CONSTRAINT job_runs_args_check CHECK (jsonb_typeof(args) = 'object')
);
CREATE INDEX job_runs_history_idx ON job_runs (job_name, id DESC);
CREATE INDEX job_runs_due_idx ON job_runs (scheduled_for) WHERE outcome = 'pending';
CREATE INDEX job_runs_campaign_idx ON job_runs (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX job_runs_parent_idx ON job_runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX job_runs_user_idx ON job_runs (triggered_by_user_id) WHERE triggered_by_user_id IS NOT NULL;
-- Overlap safety across daemons: one running run per job (and campaign).
-- A crash leaves a 'running' row; the next leader marks it 'interrupted'
-- (its instance_id is not the live one) before scheduling that job again.
CREATE UNIQUE INDEX job_runs_one_running ON job_runs (job_name, coalesce(campaign_id, 0))
    WHERE outcome = 'running';
COMMENT ON TABLE job_runs IS
$$Every run of a named job (sweepers, scheduled starts, report building, notify, backup, cleanup), including runs not yet due: a retry after a delay or the next step of a chain is a 'pending' row with scheduled_for, so it survives a restart. Chaining (expire -> wait -> finalize -> notify): the next step's parent_run_id points at the run whose result fed its args.$$;
COMMENT ON COLUMN job_runs.outcome IS
    'pending (due at scheduled_for), running, success, failure, timeout, interrupted (the daemon stopped or died during the run), cancelled (a pending run dropped from the panel).';
COMMENT ON COLUMN job_runs.attempt IS
    '1 for the first try; a retry is a new row with attempt + 1 and the same args.';
COMMENT ON COLUMN job_runs.instance_id IS
    'dialer_instances.instance_id of the daemon that ran it.';

CREATE TABLE job_state (
    name          text PRIMARY KEY,
    schedule      text,
    enabled       boolean NOT NULL DEFAULT true,
    paused        boolean NOT NULL DEFAULT false,
    last_run_id   bigint REFERENCES job_runs (id) ON DELETE SET NULL,
    last_run_at   timestamptz,
    last_outcome  text,
    next_run_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_state_last_outcome_check CHECK (last_outcome IN (
        'success', 'failure', 'timeout', 'interrupted', 'cancelled'))
);
CREATE INDEX job_state_last_run_idx ON job_state (last_run_id) WHERE last_run_id IS NOT NULL;
CREATE TRIGGER job_state_touch BEFORE UPDATE ON job_state
    FOR EACH ROW EXECUTE FUNCTION fts_touch_updated_at();
COMMENT ON TABLE job_state IS
    'One row per named job: its schedule as configured (for display), last/next run, and the operator switches. enabled mirrors the configuration; paused is set from the panel/API and survives restarts.';


-- ---------------------------------------------------------------------------
-- Daemon instances and leadership (ARCHITECTURE: hot standby)
-- ---------------------------------------------------------------------------

CREATE TABLE dialer_instances (
    instance_id   text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    version       text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    is_leader     boolean NOT NULL DEFAULT false,
    leader_since  timestamptz,
    status        jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT dialer_instances_leader_check CHECK (NOT is_leader OR leader_since IS NOT NULL),
    CONSTRAINT dialer_instances_status_check CHECK (jsonb_typeof(status) = 'object')
) WITH (fillfactor = 70);
COMMENT ON TABLE dialer_instances IS
$$The fts daemons connected to this database, for /health and the system page. Informational only: leadership is the PostgreSQL advisory lock, which dies with the holder's session; is_leader is what the holder says while it heartbeats. On taking the lock an instance runs UPDATE dialer_instances SET is_leader = (instance_id = $me), leader_since = ... in one statement, so a crashed leader's stale flag is cleared. Treat a row whose heartbeat_at is older than a few heartbeat intervals as dead. fillfactor 70: heartbeats update every row every few seconds (no indexed column changes, so HOT).$$;
COMMENT ON COLUMN dialer_instances.status IS
    'Last health snapshot published with the heartbeat (PBX connection states, calls in flight, cps), so either instance can show the other''s state.';
