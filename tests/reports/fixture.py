"""
A finished campaign with a known outcome mix, written with plain SQL as the
dialer, the event writer and finalization leave it, for the report tests.

Twelve contacts of a list with five columns (the phone column is "Phone"),
campaign time zone Europe/Paris (UTC+1 in January), max 3 attempts, menu
1 = "Confirm payment", 2 = "Talk to an agent", 9 = "Stop calls" (opt out).
Times below are UTC; every call is accepted one second after its originate.

    contact  calls (attempt outcome, hour in Paris)           final
    Alice    1 answered human, key 1, 42 s, heard all (09)    reached
    Bob      1 busy (09), 2 no answer (10),
             3 answered human, key 2, 95 s, heard all (14)    reached
    Chloe    1 answered machine, 12 s, heard all (09)         reached
    David    1 answered human, key 9 (opt out), 15 s (09)     opted_out
    Emma     1 answered human, keys 5 (invalid) then 1,
             30 s, heard all (10)                             reached
    Farid    1, 2, 3 no answer (09, 11, 14)                   exhausted
    Gina     1 invalid number (09)                            invalid_number
    Hugo     none: on the opt-outs list                       dnc_skipped
    Ines     none                                             not_dialed
    Jules    1 busy (10), a refused originate (not counted,
             12), 2 busy (12)                                 busy
    Kim      1 answered notsure, no key, 20 s, heard all (10) reached
    Lea      1 answered machine, 8 s (10), 2 answered human,
             key 1, 25 s, heard all (13)                      reached

Plus one test call of the campaign, which no report counts.
"""

import json

LIST_COLUMNS = [
    {"name": "first_name", "type": "text"},
    {"name": "Phone", "type": "phone"},
    {"name": "amount", "type": "number"},
    {"name": "due", "type": "date"},
    {"name": "note", "type": "text"},
]

SETTINGS = {
    "menu": {"options": [
        {"key": "1", "action": "record", "label": "Confirm payment", "target": "",
         "message": []},
        {"key": "2", "action": "dial", "label": "Talk to an agent", "target": "PJSIP/100",
         "message": []},
        {"key": "9", "action": "optout", "label": "Stop calls", "target": "",
         "message": []},
    ]},
}

# name, phone, phone as uploaded, fields besides name, final outcome,
# attempts, archive: amd verdict, keys, option, opted out, talk, heard,
# last attempt (UTC, "HH:MM:SS" on 2026-01-12), last outcome
CONTACTS = [
    ("Alice", "33600000001", "06 00 00 00 01", {"amount": 12.5, "due": "2026-02-01"},
     "reached", 1, "human", "1", "1", False, 42, True, "08:05:01", "answered"),
    ("Bob", "33600000002", "06 00 00 00 02",
     {"amount": 100, "due": "2026-02-03", "note": "calls back, usually"},
     "reached", 3, "human", "2", "2", False, 95, True, "13:15:01", "answered"),
    ("Chloé", "33600000003", "+33 6 00 00 00 03",
     {"amount": 7.25, "due": "2026-02-05", "note": 'says "hello"'},
     "reached", 1, "machine", "", None, False, 12, True, "08:20:01", "answered"),
    ("David", "33600000004", "0600000004", {"amount": 0, "due": "2026-02-07"},
     "opted_out", 1, "human", "9", "9", True, 15, False, "08:30:01", "answered"),
    ("Emma", "33600000005", "06.00.00.00.05", {"amount": 49.9, "due": "2026-02-09"},
     "reached", 1, "human", "51", "1", False, 30, True, "09:05:01", "answered"),
    ("Farid", "33600000006", "06 00 00 00 06", {"amount": 15, "due": "2026-02-11"},
     "exhausted", 3, None, "", None, False, 0, False, "13:30:01", "no_answer"),
    ("Gina", "33600000007", "06 00 00 00 07", {"amount": 3, "due": "2026-02-13"},
     "invalid_number", 1, None, "", None, False, 0, False, "08:50:01", "invalid_number"),
    ("Hugo", "33600000008", "06 00 00 00 08", {"amount": 8, "due": "2026-02-15"},
     "dnc_skipped", 0, None, "", None, False, 0, False, None, None),
    ("Inès", "33600000009", "06 00 00 00 09", {"amount": 9, "due": "2026-02-17"},
     "not_dialed", 0, None, "", None, False, 0, False, None, None),
    ("Jules", "33600000010", "06 00 00 00 10", {"amount": 10, "due": "2026-02-19"},
     "busy", 2, None, "", None, False, 0, False, "11:05:01", "busy"),
    ("Kim", "33600000011", "06 00 00 00 11", {"amount": 11, "due": "2026-02-21"},
     "reached", 1, "notsure", "", None, False, 20, True, "09:10:01", "answered"),
    ("Léa", "33600000012", "06 00 00 00 12",
     {"amount": 12, "due": "2026-02-23", "note": "line1\nline2"},
     "reached", 2, "human", "1", "1", False, 33, True, "12:20:01", "answered"),
]

# id, phone, attempt, originated (UTC), outcome, amd, keys, option, opted
# out, talk seconds, heard the whole message
CALLS = [
    (1001, "33600000001", 1, "08:05:00", "answered", "human", "1", "1", False, 42, True),
    (1002, "33600000002", 1, "08:10:00", "busy", None, "", None, False, None, False),
    (1003, "33600000002", 2, "09:40:00", "no_answer", None, "", None, False, None, False),
    (1004, "33600000002", 3, "13:15:00", "answered", "human", "2", "2", False, 95, True),
    (1005, "33600000003", 1, "08:20:00", "answered", "machine", "", None, False, 12, True),
    (1006, "33600000004", 1, "08:30:00", "answered", "human", "9", "9", True, 15, False),
    (1007, "33600000005", 1, "09:05:00", "answered", "human", "51", "1", False, 30, True),
    (1008, "33600000006", 1, "08:40:00", "no_answer", None, "", None, False, None, False),
    (1009, "33600000006", 2, "10:45:00", "no_answer", None, "", None, False, None, False),
    (1010, "33600000006", 3, "13:30:00", "no_answer", None, "", None, False, None, False),
    (1011, "33600000007", 1, "08:50:00", "invalid_number", None, "", None, False, None,
     False),
    (1012, "33600000010", 1, "09:00:00", "busy", None, "", None, False, None, False),
    (1013, "33600000010", None, "11:00:00", "failed", None, "", None, False, None, False),
    (1014, "33600000010", 2, "11:05:00", "busy", None, "", None, False, None, False),
    (1015, "33600000011", 1, "09:10:00", "answered", "notsure", "", None, False, 20, True),
    (1016, "33600000012", 1, "09:20:00", "answered", "machine", "", None, False, 8, False),
    (1017, "33600000012", 2, "12:20:00", "answered", "human", "1", "1", False, 25, True),
]

DAY = "2026-01-12 "

# The list's columns, the number as uploaded and the DNC list name are
# always quoted; the result columns never are.
EXPECTED_CSV = (
    "first_name,Phone,amount,due,note,phone_normalized,final_outcome,attempts,keys,option,"
    "amd,talk_seconds,heard_full_message,last_call_at,dnc_list\r\n"
    '"Alice","06 00 00 00 01","12.5","2026-02-01","",33600000001,reached,1,1,1,human,42,yes,'
    '2026-01-12 09:05:01,""\r\n'
    '"Bob","06 00 00 00 02","100","2026-02-03","calls back, usually",33600000002,reached,3,2,'
    '2,human,95,yes,2026-01-12 14:15:01,""\r\n'
    '"Chloé","+33 6 00 00 00 03","7.25","2026-02-05","says ""hello""",33600000003,reached,1,,,'
    'machine,12,yes,2026-01-12 09:20:01,""\r\n'
    '"David","0600000004","0","2026-02-07","",33600000004,opted_out,1,9,9,human,15,no,'
    '2026-01-12 09:30:01,""\r\n'
    '"Emma","06.00.00.00.05","49.9","2026-02-09","",33600000005,reached,1,51,1,human,30,yes,'
    '2026-01-12 10:05:01,""\r\n'
    '"Farid","06 00 00 00 06","15","2026-02-11","",33600000006,exhausted,3,,,,0,no,'
    '2026-01-12 14:30:01,""\r\n'
    '"Gina","06 00 00 00 07","3","2026-02-13","",33600000007,invalid_number,1,,,,0,no,'
    '2026-01-12 09:50:01,""\r\n'
    '"Hugo","06 00 00 00 08","8","2026-02-15","",33600000008,dnc_skipped,0,,,,0,no,,'
    '"opt-outs"\r\n'
    '"Inès","06 00 00 00 09","9","2026-02-17","",33600000009,not_dialed,0,,,,0,no,,""\r\n'
    '"Jules","06 00 00 00 10","10","2026-02-19","",33600000010,busy,2,,,,0,no,'
    '2026-01-12 12:05:01,""\r\n'
    '"Kim","06 00 00 00 11","11","2026-02-21","",33600000011,reached,1,,,notsure,20,yes,'
    '2026-01-12 10:10:01,""\r\n'
    '"Léa","06 00 00 00 12","12","2026-02-23","line1\nline2",33600000012,reached,2,1,1,'
    'human,33,yes,2026-01-12 13:20:01,""\r\n'
).encode("utf-8")


def _literal(value):
    """
    A SQL literal for the fixture's own values (no user input here).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def setup_sql():
    """
    The statements creating the list, its contacts, the finished campaign,
    its working rows and calls.  The campaign's id is looked up by name.
    """
    contact_values = ",\n".join(
        "(%d, %s, %s, %s)" % (
            row, _literal(c[1]), _literal(c[2]),
            _literal(json.dumps({"first_name": c[0], **c[3]})))
        for row, c in enumerate(CONTACTS, start=2))
    cc_values = ",\n".join(
        "(%s, %s, %d, %s)" % (
            _literal(c[1]), _literal(c[4]), c[5],
            _literal(DAY + c[12] + "+00") if c[12] else "NULL")
        for c in CONTACTS)
    call_values = ",\n".join(
        "(%d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)" % (
            k[0], _literal(k[1]), _literal(k[2]), _literal(DAY + k[3] + "+00"),
            _literal(k[4]), _literal(k[5]), _literal(k[6]), _literal(k[7]),
            _literal(k[8]), _literal(k[9]), _literal(k[10]))
        for k in CALLS)
    return f"""
INSERT INTO contact_lists (name, columns, phone_column, encoding, delimiter, has_header,
                           import_status, total_rows, accepted_rows)
VALUES ('Reminders January', {_literal(json.dumps(LIST_COLUMNS))}, 1, 'utf-8', ',', true,
        'ready', 12, 12);

INSERT INTO contacts (list_id, row_number, phone, phone_original, fields)
SELECT l.id, v.row_number, v.phone, v.original, v.fields::jsonb
  FROM (VALUES {contact_values}) v(row_number, phone, original, fields),
       contact_lists l WHERE l.name = 'Reminders January'
 ORDER BY v.row_number;

INSERT INTO campaigns (name, state, finish_reason, list_id, timezone, starts_at, ends_at,
                       settings, max_attempts)
SELECT 'Payment reminders', 'finished', 'completed', l.id, 'Europe/Paris',
       '2026-01-12 08:00+01', '2026-01-12 18:00+01', {_literal(json.dumps(SETTINGS))}, 3
  FROM contact_lists l WHERE l.name = 'Reminders January';

INSERT INTO campaign_contacts (campaign_id, contact_id, status, attempts, final_outcome,
                               last_attempt_at, next_attempt_at, dnc_list_id)
SELECT c.id, ct.id, 'done', v.attempts, v.final_outcome, v.last_at::timestamptz, NULL,
       CASE WHEN v.final_outcome = 'dnc_skipped'
            THEN (SELECT id FROM dnc_lists WHERE builtin) END
  FROM (VALUES {cc_values}) v(phone, final_outcome, attempts, last_at)
  JOIN contacts ct ON ct.phone = v.phone
  JOIN campaigns c ON c.name = 'Payment reminders'
 ORDER BY ct.id;

INSERT INTO calls (id, campaign_id, contact_id, campaign_contact_id, attempt, channel_id,
                   number_dialed, originated_at, accepted_at, answered_at, ended_at,
                   outcome, amd_verdict, keys, option_key, opted_out, talk_seconds,
                   heard_full_message)
SELECT v.id, cc.campaign_id, cc.contact_id, cc.id, v.attempt, 'fts-' || v.id, v.phone,
       v.at::timestamptz,
       CASE WHEN v.attempt IS NOT NULL THEN v.at::timestamptz + interval '1 second' END,
       CASE WHEN v.outcome = 'answered' THEN v.at::timestamptz + interval '5 seconds' END,
       v.at::timestamptz + interval '40 seconds',
       v.outcome, v.amd, v.keys, v.option_key, v.opted_out, v.talk, v.heard
  FROM (VALUES {call_values}) v(id, phone, attempt, at, outcome, amd, keys, option_key,
                                opted_out, talk, heard)
  JOIN contacts ct ON ct.phone = v.phone
  JOIN campaign_contacts cc ON cc.contact_id = ct.id;

INSERT INTO calls (id, campaign_id, channel_id, number_dialed, originated_at, ended_at,
                   outcome, amd_verdict, talk_seconds, is_test_call)
SELECT 1100, c.id, 'fts-1100', '33611111111', '2026-01-12 10:00+00', '2026-01-12 10:01+00',
       'answered', 'human', 60, true
  FROM campaigns c WHERE c.name = 'Payment reminders';
"""


def archive_sql():
    """
    What finalization leaves: every contact in campaign_contacts_archive
    (with the 0004 columns), the campaign finalizing.
    """
    values = ",\n".join(
        "(%s, %s, %s, %d, %s, %s, %s, %s, %s, %s, %s)" % (
            _literal(c[1]), _literal(c[4]), _literal(c[6]), c[5], _literal(c[7]),
            _literal(c[8]), _literal(c[9]), _literal(c[10]), _literal(c[11]),
            _literal(DAY + c[12] + "+00") if c[12] else "NULL", _literal(c[13]))
        for c in CONTACTS)
    return f"""
INSERT INTO campaign_contacts_archive (
    campaign_id, contact_id, row_number, phone, phone_original, fields, final_outcome,
    amd_verdict, attempts, keys, option_key, opted_out, talk_seconds, heard_full_message,
    last_attempt_at, first_attempt_at, dnc_list_id, dnc_list_name, last_outcome, answered)
SELECT cc.campaign_id, ct.id, ct.row_number, ct.phone, ct.phone_original, ct.fields,
       v.final_outcome, v.amd, v.attempts, v.keys, v.option_key, v.opted_out, v.talk,
       v.heard, v.last_at::timestamptz, NULL, cc.dnc_list_id, d.name, v.last_outcome,
       v.amd IS NOT NULL
  FROM (VALUES {values}) v(phone, final_outcome, amd, attempts, keys, option_key,
                           opted_out, talk, heard, last_at, last_outcome)
  JOIN contacts ct ON ct.phone = v.phone
  JOIN campaign_contacts cc ON cc.contact_id = ct.id
  LEFT JOIN dnc_lists d ON d.id = cc.dnc_list_id;

UPDATE campaigns SET state = 'finalizing' WHERE name = 'Payment reminders';
"""


PURGE_SQL = """
DELETE FROM calls WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'Payment reminders');
DELETE FROM campaign_contacts
 WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'Payment reminders');
UPDATE campaigns SET state = 'finalized', finalized_at = now()
 WHERE name = 'Payment reminders';
"""
