-- 0003_dialer: tell the dialer at once when a campaign changes.
--
-- The dialer (fts/dialer) keeps the running campaigns in memory.  Whoever
-- changes a campaign -- this daemon's panel, the standby daemon's panel, the
-- API, a sweeper, psql -- the active dialer must learn it within
-- milliseconds (pause takes effect "within one second"), without polling.
-- A NOTIFY on commit does that: the dialer LISTENs on its dedicated
-- leadership connection and reloads the campaign named in the payload.
-- NOTIFY is transactional (sent only on commit) and folds duplicates within
-- one transaction, so bulk edits cost one message per campaign.

CREATE FUNCTION fts_notify_campaign_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fts_campaigns',
                      CASE WHEN TG_OP = 'DELETE' THEN OLD.campaign_id ELSE NEW.campaign_id END::text);
    RETURN NULL;
END;
$$;

CREATE FUNCTION fts_notify_campaign_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fts_campaigns',
                      CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END::text);
    RETURN NULL;
END;
$$;

-- Only changes the dialer acts on: state, schedule, pacing, retries, dialing
-- settings.  updated_at alone (the touch trigger) does not wake it.
CREATE TRIGGER campaigns_notify_dialer
    AFTER INSERT OR DELETE OR UPDATE OF state, starts_at, ends_at, timezone, local_hours_from,
        local_hours_to, settings, max_channels, cps, priority, ring_timeout_s,
        max_call_duration_s, max_attempts, dial_string, caller_id_number, caller_id_name
    ON campaigns
    FOR EACH ROW EXECUTE FUNCTION fts_notify_campaign_row_change();

CREATE TRIGGER campaign_windows_notify_dialer
    AFTER INSERT OR UPDATE OR DELETE ON campaign_windows
    FOR EACH ROW EXECUTE FUNCTION fts_notify_campaign_change();

COMMENT ON FUNCTION fts_notify_campaign_row_change() IS
    'NOTIFY fts_campaigns, <campaign id> when a campaign the dialer reads changes (see fts/dialer/pacer.py).';
