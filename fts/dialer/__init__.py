"""
The dialer: claims contacts, originates calls through the PBXes, follows
them to their end, and records everything as events.

  - L{fts.dialer.line}: the boundary with a PBX (L{IPBXLine}, requests,
    progress, errors); L{fts.dialer.amiline.AMILine} is the line over AMI.
  - L{fts.dialer.registry}: the calls in flight, in memory (the counts the
    limits are checked against; where the call flow finds its call by
    channel id).
  - L{fts.dialer.campaigns}: what the dialer keeps per campaign (bucket,
    claimed contacts, backoff, calling-window cache).
  - L{fts.dialer.pacer}: the L{Dialer} (event-driven pump, placing,
    outcomes, controls).
  - L{fts.dialer.reconcile}: restart, reconnect and periodic reconciliation.
  - L{fts.dialer.service}: the C{dialer} service (leadership, standby,
    graceful stop).
  - L{fts.dialer.test_calls}: test calls to one number for the panel and
    the API (L{TestCallPlacer}, over L{Dialer.test_call}).

SQL: L{fts.db.dialing}.  Wiring (in fts/service.py), one AMI client per
C{[ami:NAME]} (or one to the built-in simulator)::

    lines = [AMILine(client, reactor, capacity=server.max_channels,
                     cps=server.cps, context=server.originate_context)
             for client, server in clients]
    service = DialerService(
        reactor, lambda: database.pool, events, lines, config.dialer,
        health=health, instance_id=instance_id(config),
        transition=campaigns.transition,        # fts.db.campaigns.CampaignStore
        prepare_call=lambda call, settings: preparer.prepare(
            settings, call.fields).addCallback(
                lambda playlist: playlists.attach(call, playlist)))
    campaigns.on_transition(lambda cid, move: service.dialer.campaign_changed(cid))
    # call flow: service.dialer.registry, service.dialer.campaign_settings
    # lifecycle: hangup=service.dialer.hangup,
    #            service.dialer.on_call_ended(lifecycle.notify_call_ended)
    # panel/API: service.dialer.start/pause/resume/cancel/test_call
"""
