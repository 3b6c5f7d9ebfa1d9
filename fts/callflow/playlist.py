"""
What an answered call plays, made ready before the call is placed.

L{prepare} turns a campaign's message parts (and its machine message, its
option messages and its invalid-key / no-key prompts) into playable items
for one contact:

  - an audio asset becomes a L{Sound}: the base path STREAM FILE takes;
  - a text-to-speech part is filled with the contact's fields and rendered
    by the L{fts.audio.tts.TTSCache} (a cached file, or a render now), and
    becomes a L{Sound};
  - a spoken field becomes the L{fts.audio.spoken.SayCommand}s that say it.

The dialer calls it between the claim and the Originate (through
L{Preparer}), so the answer never waits for synthesis, and a part that
cannot be rendered (an asset gone, a field missing, a value that cannot be
spoken, the TTS engine failing) is found before anyone is dialed, with a
L{PlaylistError} naming the part.

L{play} plays a sequence of items with barge-in on given keys.
"""

import attr
from twisted.internet import defer
from twisted.logger import Logger

from fts.asterisk.agi.errors import AGICommandFailed
from fts.audio.spoken import SayCommand, SpokenValueError, say
from fts.audio.tts import MissingFieldError, fill
from fts.core.campaign import AmdMode, AudioPart, FieldPart, TextPart

__all__ = [
    "Playlist",
    "PlaylistError",
    "PreparedPlaylists",
    "Preparer",
    "Sound",
    "audio_asset_ids",
    "play",
    "prepare",
]

log = Logger()


@attr.frozen
class Sound:
    """
    A sound file to STREAM: its path without extension (absolute, in the
    sounds directory Asterisk reads).
    """

    path: str

    def __str__(self):
        return self.path


def _items(value):
    return tuple(value)


def _pairs(value):
    return tuple((key, tuple(items)) for key, items in dict(value).items())


@attr.frozen
class Playlist:
    """
    Everything one call may play, ready to play.

    Each sequence is a tuple of L{Sound}s and L{SayCommand}s.

    @ivar language: the language Asterisk speaks prompts and SAY * in.
    @ivar message: the main message.
    @ivar machine_message: played to an answering machine (AMD mode
        C{machine_message} only; empty otherwise).
    @ivar options: C{((key, sequence), ...)}: what each option plays before
        its action (the opt-out confirmation, "transferring you now").
    @ivar invalid_key: played before the message is replayed after an
        invalid key.
    @ivar no_key: likewise after no key.
    """

    language: str
    message: tuple = attr.field(default=(), converter=_items)
    machine_message: tuple = attr.field(default=(), converter=_items)
    options: tuple = attr.field(default=(), converter=_pairs)
    invalid_key: tuple = attr.field(default=(), converter=_items)
    no_key: tuple = attr.field(default=(), converter=_items)

    def option_message(self, key):
        """
        What the option for C{key} plays before its action (may be empty).
        """
        for option_key, items in self.options:
            if option_key == key:
                return items
        return ()


class PlaylistError(ValueError):
    """
    A part cannot be made playable.

    @ivar part: where it is, in the operator's words (C{"message part 2"},
        C{"option 9 message part 1"}, C{"machine message part 1"}).
    @ivar reason: why, in words.
    """

    def __init__(self, part, reason):
        super().__init__(f"{part[:1].upper()}{part[1:]}: {reason}")
        self.part = part
        self.reason = reason


def audio_asset_ids(settings):
    """
    The audio assets C{settings} may play, sorted (message, machine message,
    options, replay prompts).
    """
    return sorted({part.asset_id for _, parts in _sections(settings)
                   for part in parts if isinstance(part, AudioPart)})


def _sections(settings):
    """
    C{(name, parts)} of every sequence a call of C{settings} can play.
    Machine message and menu prompts only when they can be played.
    """
    menu = settings.menu
    yield "message", settings.message
    if AmdMode(settings.amd.mode) is AmdMode.MACHINE_MESSAGE:
        yield "machine message", settings.amd.machine_message
    if menu.options:
        for option in menu.options:
            yield f"option {option.key} message", option.message
        yield "invalid-key message", menu.invalid_key.message
        yield "no-key message", menu.no_key.message


def prepare(settings, contact_fields, tts_cache, asset_paths, language, *, voice=None,
            pbx_timezone="UTC", currency="USD"):
    """
    Make every sequence of C{settings} playable for one contact.

    @param settings: the campaign's L{fts.core.campaign.CampaignSettings}.
    @param contact_fields: the contact's fields (column name to value).
    @param tts_cache: an L{fts.audio.tts.TTSCache} (C{render(text, voice,
        language)}), or C{None} when text-to-speech is off.
    @param asset_paths: C{{asset_id: base path}} of the audio assets (see
        L{fts.db.audio.AudioStore.paths}).
    @param language: the language prompts are spoken in (C{"en"}).
    @param voice: the TTS voice, or C{None} for the language's default.
    @param pbx_timezone: the Asterisk server's time zone (SAY DATE/TIME).
    @param currency: how money fields are spoken.
    @return: a Deferred firing with a L{Playlist}, or failing with
        L{PlaylistError} for the first part (in play order) that cannot be
        made playable.
    """
    contact_fields = contact_fields or {}
    layout = []
    pending = []
    try:
        for name, parts in _sections(settings):
            for number, part in enumerate(parts, 1):
                where = f"{name} part {number}"
                pending.append(_render(part, where, contact_fields, tts_cache, asset_paths,
                                       language, voice, pbx_timezone, currency))
            layout.append((name, len(parts)))
    except PlaylistError as e:
        for d in pending:
            d.addErrback(lambda f: None)
        return defer.fail(e)

    def assemble(results):
        done = {}
        start = 0
        for name, count in layout:
            done[name] = tuple(item for items in results[start:start + count] for item in items)
            start += count
        return Playlist(
            language=language,
            message=done["message"],
            machine_message=done.get("machine message", ()),
            options={o.key: done[f"option {o.key} message"] for o in settings.menu.options},
            invalid_key=done.get("invalid-key message", ()),
            no_key=done.get("no-key message", ()),
        )

    gathered = defer.gatherResults(pending, consumeErrors=True)
    gathered.addErrback(lambda f: f.value.subFailure if f.check(defer.FirstError) else f)
    return gathered.addCallback(assemble)


def _render(part, where, fields, tts_cache, asset_paths, language, voice, pbx_timezone,
            currency):
    """
    One part as a Deferred firing with a tuple of items (the Deferred has
    already fired unless text-to-speech is rendering).

    @raise PlaylistError: the part cannot be played (found without waiting).
    """
    if isinstance(part, AudioPart):
        path = asset_paths.get(part.asset_id)
        if not path:
            raise PlaylistError(where, f"audio asset {part.asset_id} is not in the library"
                                " (deleted, or not converted yet)")
        return defer.succeed((Sound(path),))
    if isinstance(part, FieldPart):
        if part.field not in fields:
            raise PlaylistError(where, f"the contact has no field {part.field!r}")
        try:
            commands = say(fields[part.field], part.mode, language, pbx_timezone=pbx_timezone,
                           currency=currency, field=part.field)
        except (SpokenValueError, ValueError) as e:
            raise PlaylistError(where, str(e)) from None
        return defer.succeed(commands)
    if isinstance(part, TextPart):
        try:
            text = fill(part.text, fields)
        except MissingFieldError as e:
            raise PlaylistError(where, f"the text uses {{{e.field}}}, which the contact has"
                                " no field for") from None
        except ValueError as e:
            raise PlaylistError(where, str(e)) from None
        if tts_cache is None:
            raise PlaylistError(where, "text-to-speech is turned off")
        try:
            d = tts_cache.render(text, voice, language)
        except Exception as e:
            d = defer.fail(e)

        def rendered(sound):
            return (Sound(sound.base_path),)

        def failed(failure):
            raise PlaylistError(where, "text-to-speech failed: %s" % (failure.getErrorMessage(),))

        return d.addCallbacks(rendered, failed)
    raise PlaylistError(where, f"unknown kind of message part {part!r}")


class Preparer:
    """
    The dialer's hook: make a claimed call's playlist before its Originate.

    Asset paths are read from the library once per asset and kept (an asset
    never changes its files, and cannot be deleted while a campaign that is
    not finalized uses it), so preparing a call costs no database round
    trip once its campaign's assets are known.

    @param tts_cache: an L{fts.audio.tts.TTSCache}, or C{None}.
    @param asset_paths: C{asset_paths(ids) -> Deferred({id: base path})}
        (L{fts.db.audio.AudioStore.paths}).
    @param language: the language calls are played in.
    @param voice: the TTS voice (C{[tts] voice}), or C{None}.
    """

    def __init__(self, tts_cache, asset_paths, language="en", voice=None, pbx_timezone="UTC",
                 currency="USD"):
        self.tts_cache = tts_cache
        self._asset_paths = asset_paths
        self.language = language
        self.voice = voice
        self.pbx_timezone = pbx_timezone
        self.currency = currency
        self._paths = {}

    def prepare(self, settings, contact_fields):
        """
        The L{Playlist} of one contact.

        @return: a Deferred firing with it, or failing with L{PlaylistError}
            (or the asset store's error when the library cannot be read).
        """
        missing = [i for i in audio_asset_ids(settings) if i not in self._paths]
        if missing:
            d = defer.maybeDeferred(self._asset_paths, missing)
            d.addCallback(self._paths.update)
        else:
            d = defer.succeed(None)
        # A campaign in its own language is spoken by that language's
        # default voice (Asterisk writes pt_BR, espeak-ng pt-br); otherwise
        # the configured language and voice.
        if settings.language:
            language = settings.language
            voice = language.lower().replace("_", "-")
        else:
            language, voice = self.language, self.voice
        return d.addCallback(lambda _: prepare(
            settings, contact_fields, self.tts_cache, self._paths, language,
            voice=voice, pbx_timezone=self.pbx_timezone, currency=self.currency))

    def forget_assets(self):
        """
        Drop the cached asset paths (they are read again when needed).
        """
        self._paths.clear()


class PreparedPlaylists:
    """
    The playlists of the calls in flight, by call id.

    L{fts.dialer.registry.ActiveCall} has slots and no attribute for one, so
    they are kept here; calling the object with an C{ActiveCall} gives its
    playlist (the call flow's C{playlist_of}).  Entries go when the call
    leaves the registry.
    """

    def __init__(self, registry=None):
        self._by_call = {}
        if registry is not None:
            registry.on_end(self.discard)

    def __len__(self):
        return len(self._by_call)

    def attach(self, call, playlist):
        self._by_call[call.call_id] = playlist

    def discard(self, call):
        self._by_call.pop(call.call_id, None)

    def __call__(self, call):
        return self._by_call.get(call.call_id)


@defer.inlineCallbacks
def play(session, items, escape_digits=""):
    """
    Play C{items} in order on an AGI session, stopping at a key among
    C{escape_digits}.

    An item Asterisk cannot play on a live channel (a missing file) is
    logged and skipped; a hang-up fails the Deferred with
    L{fts.asterisk.agi.errors.AGIHangup}.

    @return: a Deferred firing with C{(digit, complete)}: the key that
        interrupted (or C{None}), and whether every item played to its end.
    """
    complete = True
    for item in items:
        try:
            if type(item) is Sound:
                digit, _ = yield session.stream_file(item.path, escape_digits)
            elif type(item) is SayCommand and item.verb == "STREAM FILE":
                digit, _ = yield session.stream_file(item.value, escape_digits)
            else:
                digit = yield item.send(session, escape_digits)
        except AGICommandFailed as e:
            env = session.environment
            log.warn("could not play {item} on channel {channel} (uniqueid {uniqueid}): "
                     "{error}; going on with the next part", item=str(item),
                     channel=env.channel, uniqueid=env.uniqueid, error=e)
            complete = False
            continue
        if digit:
            return digit, False
    return None, complete
