"""
E-mail notifications: a campaign finished, a campaign was finalized, each
with the report summary and the CSV attached.

    message.py   the message itself (the email package): text + attachments
    mailer.py    L{Mailer}: sends over SMTP with Twisted's mail client
                 (STARTTLS and authentication per the [mail] configuration)
    campaign.py  L{CampaignNotifier}: the job steps notify_finished and
                 notify_finalized

Nothing here blocks: the SMTP conversation runs on the reactor, and a failure
fails the job step, which the job runner retries.
"""
