"""
Tests for L{fts.callflow.playlist}: making a campaign's message parts
playable for one contact before the call is placed, and playing them.
"""

from pathlib import Path

import attr

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from fts.asterisk.agi.errors import AGIHangup
from fts.asterisk.agi.session import AGISession
from fts.asterisk.agi.wire import AGIParser, Environment
from fts.audio.spoken import SayCommand
from fts.audio.tts import TTSCache, TTSError
from fts.callflow.playlist import (
    Playlist,
    PlaylistError,
    PreparedPlaylists,
    Preparer,
    Sound,
    audio_asset_ids,
    play,
    prepare,
)
from fts.core.campaign import (
    Action,
    AmdMode,
    AudioPart,
    FieldPart,
    KeyOption,
    SayMode,
    TextPart,
)
from fts.dialer.registry import ActiveCall, CallRegistry
from tests.audio.support import ImmediateThreads, ManualThreadPool

from .support import (
    ASSETS,
    HELLO,
    INVALID,
    MACHINE,
    MENU,
    NO_KEY,
    OPTED_OUT,
    THANKS,
    TRANSFERRING,
    InstantSpeech,
    campaign_settings,
)

FIELDS = {"first_name": "Ana", "amount": "12.50", "account": "4411-22", "day": "2030-02-03"}


class FailingSpeech(InstantSpeech):
    """An engine whose every render fails."""

    def render(self, text, voice, language):
        self.said.append(text)
        return fail(TTSError("espeak-ng could not speak: no voice"))


class PrepareTests(SynchronousTestCase):
    """
    L{prepare} turns every part into playable items, in order.
    """

    def setUp(self):
        self.speech = InstantSpeech()
        self.sounds = Path(self.mktemp())
        self.tts = TTSCache(self.sounds, self.speech, ImmediateThreads(),
                            ManualThreadPool(immediate=True))

    def prepare(self, settings, fields=FIELDS, tts=None, assets=ASSETS, language="en"):
        return prepare(settings, fields, tts or self.tts, assets, language)

    def test_audio_parts(self):
        """
        Audio assets become sounds with their base paths, in order.
        """
        playlist = self.successResultOf(self.prepare(campaign_settings()))
        self.assertEqual(playlist.message, (Sound(ASSETS[HELLO]), Sound(ASSETS[MENU])))
        self.assertEqual(playlist.language, "en")

    def test_text_to_speech_filled_per_contact(self):
        """
        A TTS part is filled with the contact's fields and rendered into the
        sounds directory's tts folder.
        """
        settings = campaign_settings(message=(TextPart("Hello {first_name}."),))
        playlist = self.successResultOf(self.prepare(settings))
        self.assertEqual(self.speech.said, ["Hello Ana."])
        (sound,) = playlist.message
        key = self.tts.key("Hello Ana.", None, "en")
        self.assertEqual(sound, Sound(str(self.sounds / "tts" / key)))
        self.assertTrue(Path(sound.path + ".wav").exists())

    def test_spoken_fields(self):
        """
        Spoken fields become the SAY commands that speak them.
        """
        settings = campaign_settings(message=(
            FieldPart("account", SayMode.DIGITS), FieldPart("amount", SayMode.MONEY)))
        playlist = self.successResultOf(self.prepare(settings))
        self.assertEqual(playlist.message, (
            SayCommand("SAY DIGITS", "441122"), SayCommand("SAY NUMBER", 12),
            SayCommand("STREAM FILE", "dollars"), SayCommand("STREAM FILE", "and"),
            SayCommand("SAY NUMBER", 50), SayCommand("STREAM FILE", "cents")))

    def test_other_sequences(self):
        """
        Option messages, the invalid-key and no-key prompts, and (for the
        machine-message mode) the machine message are prepared too.
        """
        settings = campaign_settings(amd=AmdMode.MACHINE_MESSAGE)
        playlist = self.successResultOf(self.prepare(settings))
        self.assertEqual(playlist.machine_message, (Sound(ASSETS[MACHINE]),))
        self.assertEqual(playlist.option_message("1"), (Sound(ASSETS[THANKS]),))
        self.assertEqual(playlist.option_message("4"), (Sound(ASSETS[TRANSFERRING]),))
        self.assertEqual(playlist.option_message("9"), (Sound(ASSETS[OPTED_OUT]),))
        self.assertEqual(playlist.option_message("2"), ())
        self.assertEqual(playlist.option_message("7"), ())
        self.assertEqual(playlist.invalid_key, (Sound(ASSETS[INVALID]),))
        self.assertEqual(playlist.no_key, (Sound(ASSETS[NO_KEY]),))

    def test_unplayable_sequences_skipped(self):
        """
        The machine message is not rendered unless the AMD mode plays it,
        nor menu prompts without options.
        """
        settings = campaign_settings(amd=AmdMode.HANGUP, options=())
        playlist = self.successResultOf(self.prepare(settings, assets={
            HELLO: ASSETS[HELLO], MENU: ASSETS[MENU]}))
        self.assertEqual((playlist.machine_message, playlist.invalid_key, playlist.no_key,
                          playlist.options), ((), (), (), ()))

    def test_missing_asset(self):
        """
        An asset that is not in the library fails, naming the part.
        """
        assets = dict(ASSETS)
        del assets[MENU]
        error = self.failureResultOf(self.prepare(campaign_settings(), assets=assets),
                                     PlaylistError).value
        self.assertEqual(error.part, "message part 2")
        self.assertEqual(str(error), "Message part 2: audio asset 2 is not in the library"
                                     " (deleted, or not converted yet)")

    def test_missing_placeholder_field(self):
        """
        A TTS placeholder the contact has no field for fails, naming the
        part and the placeholder, before anything is rendered.
        """
        options = (KeyOption("9", Action.OPTOUT, message=(TextPart("Bye {nickname}"),)),)
        settings = campaign_settings(options=options)
        error = self.failureResultOf(self.prepare(settings), PlaylistError).value
        self.assertEqual(error.part, "option 9 message part 1")
        self.assertIn("{nickname}", str(error))
        self.assertEqual(self.speech.said, [])

    def test_missing_spoken_field(self):
        """
        A spoken field the contact does not have fails, naming it.
        """
        settings = campaign_settings(message=(AudioPart(HELLO), FieldPart("balance")))
        error = self.failureResultOf(self.prepare(settings), PlaylistError).value
        self.assertEqual(str(error), "Message part 2: the contact has no field 'balance'")

    def test_unspeakable_value(self):
        """
        A value that cannot be spoken the way asked fails with the reason.
        """
        settings = campaign_settings(message=(FieldPart("first_name", SayMode.NUMBER),))
        error = self.failureResultOf(self.prepare(settings), PlaylistError).value
        self.assertEqual(error.part, "message part 1")
        self.assertIn("'Ana' is not a number", str(error))

    def test_tts_off(self):
        """
        A TTS part with text-to-speech turned off fails.
        """
        settings = campaign_settings(message=(TextPart("Hello"),))
        d = prepare(settings, FIELDS, None, ASSETS, "en")
        self.assertEqual(str(self.failureResultOf(d, PlaylistError).value),
                         "Message part 1: text-to-speech is turned off")

    def test_tts_failure(self):
        """
        A render that fails gives a PlaylistError naming the part and the
        engine's message.
        """
        tts = TTSCache(self.sounds, FailingSpeech(), ImmediateThreads(),
                       ManualThreadPool(immediate=True))
        settings = campaign_settings(message=(AudioPart(HELLO), TextPart("Hi {first_name}")))
        error = self.failureResultOf(self.prepare(settings, tts=tts), PlaylistError).value
        self.assertEqual(str(error), "Message part 2: text-to-speech failed: espeak-ng could"
                                     " not speak: no voice")

    def test_asset_ids(self):
        """
        L{audio_asset_ids} lists the assets a call of the campaign may play.
        """
        self.assertEqual(audio_asset_ids(campaign_settings()),
                         [HELLO, MENU, THANKS, INVALID, NO_KEY, OPTED_OUT, TRANSFERRING])
        self.assertEqual(audio_asset_ids(campaign_settings(amd=AmdMode.MACHINE_MESSAGE)),
                         [HELLO, MENU, THANKS, MACHINE, INVALID, NO_KEY, OPTED_OUT,
                          TRANSFERRING])


class PreparerTests(SynchronousTestCase):
    """
    L{Preparer}: the dialer's hook.
    """

    def test_asset_paths_read_once(self):
        """
        Asset paths are read from the library once, then every contact is
        prepared from memory.
        """
        asked = []

        def paths(ids):
            asked.append(list(ids))
            return succeed({i: ASSETS[i] for i in ids})

        preparer = Preparer(None, paths, language="en")
        first = self.successResultOf(preparer.prepare(campaign_settings(), {}))
        second = self.successResultOf(preparer.prepare(campaign_settings(), {}))
        self.assertEqual(first, second)
        self.assertEqual(asked, [[HELLO, MENU, THANKS, INVALID, NO_KEY, OPTED_OUT, TRANSFERRING]])
        preparer.prepare(campaign_settings(amd=AmdMode.MACHINE_MESSAGE), {})
        self.assertEqual(asked[1:], [[MACHINE]])

    def test_campaign_language(self):
        """
        A campaign with a language of its own is played in it, and spoken
        by that language's espeak-ng voice (pt_BR -> pt-br); without one,
        the configured language and voice.
        """
        speech = InstantSpeech()
        voices = []
        original = speech.render

        def render(text, voice, language):
            voices.append((voice, language))
            return original(text, voice, language)

        speech.render = render
        tts = TTSCache(Path(self.mktemp()), speech, ImmediateThreads(),
                       ManualThreadPool(immediate=True))
        preparer = Preparer(tts, lambda ids: succeed({i: ASSETS[i] for i in ids}),
                            language="en", voice="en-us")
        hello = (TextPart("Hello {first_name}"),)
        own = self.successResultOf(preparer.prepare(
            attr.evolve(campaign_settings(message=hello), language="pt_BR"), FIELDS))
        default = self.successResultOf(preparer.prepare(
            campaign_settings(message=hello), FIELDS))
        self.assertEqual((own.language, default.language), ("pt_BR", "en"))
        self.assertEqual(voices, [("pt-br", "pt_BR"), ("en-us", "en")])

    def test_library_unreadable(self):
        """
        When the library cannot be read the preparation fails with that
        error.
        """
        preparer = Preparer(None, lambda ids: fail(RuntimeError("database down")))
        self.failureResultOf(preparer.prepare(campaign_settings(), {}), RuntimeError)


class PreparedPlaylistsTests(SynchronousTestCase):
    """
    L{PreparedPlaylists} keeps a playlist per call in flight.
    """

    def test_attach_and_forget_at_end(self):
        """
        A playlist attached to a call is found by the call, and dropped
        when the call leaves the registry.
        """
        registry = CallRegistry()
        shelf = PreparedPlaylists(registry)
        call = ActiveCall.claimed(Clock(), 5, 1, 2, 3, "15550001111")
        registry.add(call)
        playlist = Playlist("en", (Sound("/a"),))
        shelf.attach(call, playlist)
        self.assertIs(shelf(call), playlist)
        registry.end(call)
        self.assertIsNone(shelf(call))
        self.assertEqual(len(shelf), 0)


class PlayTests(SynchronousTestCase):
    """
    L{play} on a real AGI session, with Asterisk's replies written by hand.
    """

    def setUp(self):
        self.clock = Clock()
        self.transport = StringTransport()
        env = Environment({"agi_channel": "Local/1@x-1;1", "agi_uniqueid": "fts-1"})
        self.session = AGISession(env, self.transport, self.clock)

    def reply(self, line):
        self.session._received(_parse(line))

    def written(self):
        data = self.transport.value().decode()
        self.transport.clear()
        return data.splitlines()

    def test_plays_in_order_with_escape_digits(self):
        """
        Sounds and SAY commands are sent one after the other with the
        escape digits; all played means complete.
        """
        d = play(self.session, (Sound("/s/a"), SayCommand("SAY NUMBER", 12),
                                SayCommand("STREAM FILE", "dollars")), "12")
        self.assertEqual(self.written(), ['STREAM FILE /s/a "12"'])
        self.reply("200 result=0 endpos=800")
        self.assertEqual(self.written(), ['SAY NUMBER 12 "12"'])
        self.reply("200 result=0")
        self.assertEqual(self.written(), ['STREAM FILE dollars "12"'])
        self.reply("200 result=0 endpos=100")
        self.assertEqual(self.successResultOf(d), (None, True))

    def test_key_stops(self):
        """
        A key stops the sequence and is returned.
        """
        d = play(self.session, (Sound("/s/a"), Sound("/s/b")), "12")
        self.reply("200 result=50 endpos=80")
        self.assertEqual(self.successResultOf(d), ("2", False))
        self.assertEqual(self.written(), ['STREAM FILE /s/a "12"'])

    def test_part_that_fails_is_skipped(self):
        """
        A part Asterisk fails to play on a live channel (-1 and no hang-up:
        a missing file) is skipped and the sequence is not complete.
        """
        d = play(self.session, (Sound("/s/missing"), Sound("/s/b")))
        self.reply("200 result=-1 endpos=0")
        self.clock.advance(1.5)
        self.assertEqual(self.written(), ['STREAM FILE /s/missing ""', 'STREAM FILE /s/b ""'])
        self.reply("200 result=0 endpos=80")
        self.assertEqual(self.successResultOf(d), (None, False))

    def test_hangup_fails(self):
        """
        A hang-up during a part fails with AGIHangup.
        """
        d = play(self.session, (Sound("/s/a"), Sound("/s/b")))
        self.reply("200 result=-1 endpos=80")
        self.reply("HANGUP")
        self.failureResultOf(d, AGIHangup)


def _parse(line):
    parser = AGIParser()
    parser.feed(b"agi_network: yes\n\n")
    (item,) = parser.feed(line.encode() + b"\n")
    return item
