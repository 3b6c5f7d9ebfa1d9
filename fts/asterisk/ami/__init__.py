"""
The Asterisk Manager Interface (AMI) side of FTS.

  - L{frames}: sans-IO parser and serializer of AMI messages;
  - L{protocol}: one client connection (actions, event lists, login,
    keepalive, Originate results);
  - L{client}: the named, reconnecting client service (subscriptions,
    connection state, reconnect callbacks), with L{guard} between it and
    ClientService;
  - L{actions}, L{originate}: Originate headers, list and Originate results;
  - L{subscriptions}, L{state}, L{errors}.
"""
