"""
The call flow of answered campaign calls (FastAGI).

  - L{states}: the states and the decisions between them (pure).
  - L{playlist}: what a call plays, made ready before the call is placed
    (L{prepare}, L{Preparer}, L{PreparedPlaylists}), and L{play}.
  - L{flow}: L{CallFlow}, the FastAGI scripts C{call} and C{h}-extension.

Wiring (in the daemon)::

    playlists = PreparedPlaylists(registry)
    flow = CallFlow(registry, writer.emit, dialer_settings_of, playlists,
                    dial_string=config.dialer.dial_string)
    router = ScriptRouter({"call": flow.run, "hangup": flow.run_h_extension},
                          h_extension=flow.run_h_extension)
"""

from fts.callflow.flow import CallFlow
from fts.callflow.playlist import (
    Playlist,
    PlaylistError,
    PreparedPlaylists,
    Preparer,
    Sound,
    play,
    prepare,
)

__all__ = [
    "CallFlow",
    "Playlist",
    "PlaylistError",
    "PreparedPlaylists",
    "Preparer",
    "Sound",
    "play",
    "prepare",
]
