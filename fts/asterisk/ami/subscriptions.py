"""
Event subscriptions: who wants which AMI events.

Subscriptions belong to the long-lived L{fts.asterisk.ami.client.AMIClient},
not to a connection, so they survive reconnects.  Dispatch is on the hot path
(tens of thousands of events per second), so the callbacks for each event
name are resolved once into a tuple and cached until the subscriptions
change.
"""

from twisted.logger import Logger

log = Logger()

__all__ = ["EventSubscriptions"]

_MAX_CACHED_NAMES = 2000


class EventSubscriptions:
    """
    Callbacks by event name (case-insensitive), or for every event.

    A callback that raises is logged and does not stop the others.

    @param name: the AMI server's name, for logs.
    """

    def __init__(self, name="ami"):
        self._name = name
        self._entries = []  # (lowered name or None, callback, token), in order
        # Event name as received -> tuple of callbacks.  Cleared in place on
        # every change, so that the protocol may hold on to it (see
        # AMIProtocol.dataReceived, which reads it directly).
        self._resolved = {}

    def subscribe(self, name, callback):
        """
        Call C{callback(message)} for each event called C{name}, or for
        every event if C{name} is C{None}.

        @return: a no-argument callable that cancels this subscription (it
            may be called more than once).
        """
        key = None if name is None else name.lower()
        token = object()
        self._entries.append((key, callback, token))
        self._resolved.clear()

        def unsubscribe():
            before = len(self._entries)
            self._entries = [e for e in self._entries if e[2] is not token]
            if len(self._entries) != before:
                self._resolved.clear()

        return unsubscribe

    def __len__(self):
        return len(self._entries)

    def callbacks_for(self, name):
        """
        The callbacks an event called C{name} goes to, in subscription order.
        """
        callbacks = self._resolved.get(name)
        if callbacks is None:
            lowered = name.lower()
            callbacks = tuple(
                cb for key, cb, _ in self._entries if key is None or key == lowered
            )
            if len(self._resolved) >= _MAX_CACHED_NAMES:
                self._resolved.clear()
            self._resolved[name] = callbacks
        return callbacks

    @property
    def resolved(self):
        """
        The cache of L{callbacks_for}, by event name: a dict that stays the
        same object for the life of this instance.
        """
        return self._resolved

    def dispatch(self, message):
        """
        Give C{message} to every callback subscribed to it.
        """
        callbacks = self._resolved.get(message.name)
        if callbacks is None:
            callbacks = self.callbacks_for(message.name)
        for callback in callbacks:
            try:
                callback(message)
            except Exception:
                self.callback_failed(message)

    def callback_failed(self, message):
        """
        Log the exception being handled, raised by a subscriber to
        C{message}.
        """
        log.failure(
            "AMI {ami}: a subscriber to {event} failed; other subscribers"
            " still get the event",
            ami=self._name,
            event=message.name,
        )
