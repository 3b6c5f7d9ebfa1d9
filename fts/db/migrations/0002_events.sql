-- 0002_events: the event writer's contract, recorded where an operator with
-- psql finds it.  No structural change: call_events, calls and
-- campaign_contacts of 0001 hold everything the writer needs (see
-- fts/db/events.py for the one statement that writes a batch).

COMMENT ON COLUMN call_events.kind IS
$$What happened: originate_sent, originate_accepted, originate_failed, answered, amd, key, option, transfer, opt_out, message_complete, hangup, lost (fts/events/model.py lists them with their payloads). Free text (no CHECK) so new kinds need no migration; the writer refuses kinds it does not know before they reach the table.$$;

COMMENT ON COLUMN call_events.payload IS
$$The facts of the event as a JSON object, e.g. {"verdict": "human", "cause": "HUMAN-500-500"} for amd, {"key": "1"} for key, {"cause": 16, "cause_text": "Normal Clearing", "outcome": "answered", "final_outcome": "reached"} for hangup (retry_at, in seconds since the epoch, instead of final_outcome when the contact is retried).$$;

COMMENT ON COLUMN calls.keys IS
    'Every key pressed during the call, in order: appended by the event writer from the key events, in the same transaction as those events.';

COMMENT ON COLUMN campaign_contacts.attempts IS
    'Attempts counted so far: incremented when the PBX accepts an originate (a refused originate does not burn an attempt), by the event writer from the originate_accepted event, in the same statement that sets calls.attempt.';
