"""
Audio for campaigns: converting uploads to what Asterisk plays
(L{fts.audio.convert}), text-to-speech rendered ahead of the call
(L{fts.audio.tts}), and the AGI commands that speak a contact's field
(L{fts.audio.spoken}).
"""
