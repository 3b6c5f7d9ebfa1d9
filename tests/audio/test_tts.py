"""
Tests for L{fts.audio.tts}.
"""

import shutil
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from fts.audio.convert import SoundFile
from fts.audio.tts import (
    Availability,
    EspeakNG,
    ITTSEngine,
    MissingFieldError,
    NoTTS,
    TTSCache,
    TTSError,
    TTSUnavailable,
    engine_named,
    fill,
    placeholders,
)
from tests.audio.support import ImmediateThreads, ManualThreadPool, read_wav, wav_bytes

ESPEAK = shutil.which("espeak-ng")


class PlaceholderTests(SynchronousTestCase):
    """Finding and filling {field} placeholders."""

    def test_placeholders_are_the_field_names(self):
        """placeholders() gives the set of names used, ignoring literal braces."""
        self.assertEqual(
            placeholders("Hi {first_name}, {{not}} {amount} and {first_name}"),
            {"first_name", "amount"},
        )

    def test_fill_substitutes_fields(self):
        """fill() puts the contact's values in place; an empty value becomes nothing."""
        text = "Hello {first_name}{last_name}, you owe {amount}."
        self.assertEqual(
            fill(text, {"first_name": "Ana", "last_name": None, "amount": 12}),
            "Hello Ana, you owe 12.",
        )

    def test_missing_field_names_the_part_and_the_field(self):
        """A placeholder with no column is an error naming the part and the field."""
        error = self.assertRaises(
            MissingFieldError, fill, "Hello {first_name}", {"phone": "555"}, part=2
        )
        self.assertEqual(
            str(error), "Message part 2 uses {first_name}, which the contact list has no column for."
        )
        self.assertEqual((error.field, error.part), ("first_name", 2))

    def test_malformed_braces(self):
        """Unbalanced braces are a ValueError saying how to write a literal brace."""
        error = self.assertRaises(ValueError, fill, "Hello {first_name", {"first_name": "x"})
        self.assertIn("{{", str(error))


class EngineTests(SynchronousTestCase):
    """The engines' availability and their interface."""

    def test_engines_provide_the_interface(self):
        """Both engines implement ITTSEngine."""
        verifyObject(ITTSEngine, NoTTS())
        verifyObject(ITTSEngine, EspeakNG(Clock()))

    def test_none_is_never_available(self):
        """The 'none' engine is unavailable, says so, and refuses to render."""
        engine = engine_named("none", Clock())
        availability = engine.available()
        self.assertFalse(availability)
        self.assertIn("[tts] engine = none", availability.reason)
        self.failureResultOf(engine.render("hi", None, "en"), TTSUnavailable)

    def test_missing_espeak_says_what_to_install(self):
        """Without the espeak-ng binary the reason says what to install."""
        engine = EspeakNG(Clock(), executable="/nonexistent/espeak-ng")
        availability = engine.available()
        self.assertFalse(availability)
        self.assertIn("install espeak-ng (apt-get install espeak-ng)", availability.reason)
        self.failureResultOf(engine.render("hi", None, "en"), TTSUnavailable)

    def test_unknown_engine(self):
        """An unknown engine name is an error listing the known ones."""
        error = self.assertRaises(ValueError, engine_named, "festival", Clock())
        self.assertIn("espeak-ng or none", str(error))

    def test_availability_is_its_truth(self):
        """An Availability is true exactly when the engine can render."""
        self.assertTrue(Availability(True))
        self.assertFalse(Availability(False, "why"))


class _Transport:
    def __init__(self):
        self.written = b""
        self.stdin_closed = False
        self.signals = []

    def write(self, data):
        self.written += data

    def closeStdin(self):
        self.stdin_closed = True

    def signalProcess(self, signal):
        self.signals.append(signal)


class _ProcessClock(Clock):
    """A Clock that records spawnProcess calls instead of starting anything."""

    def __init__(self):
        super().__init__()
        self.spawned = []

    def spawnProcess(self, protocol, executable, args, env=None, **kwargs):
        transport = _Transport()
        self.spawned.append((protocol, executable, args, env, transport))
        protocol.makeConnection(transport)
        return transport


class EspeakProcessTests(SynchronousTestCase):
    """How espeak-ng is run, checked without running it."""

    def setUp(self):
        self.reactor = _ProcessClock()
        self.engine = EspeakNG(self.reactor, executable=shutil.which("true") or "/bin/true",
                               speed=160, timeout=30)

    def test_text_goes_to_stdin_not_the_command_line(self):
        """The text is written to standard input; the arguments hold only options and the voice."""
        text = "--help; rm -rf / $(reboot) {x}"
        d = self.engine.render(text, None, "fr")
        [(protocol, executable, args, env, transport)] = self.reactor.spawned
        self.assertEqual(args[1:], ["--stdin", "--stdout", "-b", "1", "-v", "fr", "-s", "160"])
        self.assertEqual(transport.written, text.encode("utf-8"))
        self.assertTrue(transport.stdin_closed)
        protocol.outReceived(b"RIFF...")
        protocol.processEnded(Failure(ProcessDone(0)))
        self.assertEqual(self.successResultOf(d), b"RIFF...")

    def test_voice_that_looks_like_an_option_is_refused(self):
        """A voice name starting with '-' is refused before anything runs."""
        self.failureResultOf(self.engine.render("hi", "-w/etc/x", "en"), TTSError)
        self.assertEqual(self.reactor.spawned, [])

    def test_failure_reports_stderr(self):
        """A non-zero exit fails with espeak-ng's own message."""
        d = self.engine.render("hi", "xx", "en")
        protocol = self.reactor.spawned[0][0]
        protocol.errReceived(b"Error: The specified espeak-ng voice does not exist.\n")
        protocol.processEnded(Failure(ProcessTerminated(exitCode=1)))
        error = self.failureResultOf(d, TTSError).value
        self.assertIn("voice 'xx'", str(error))
        self.assertIn("does not exist", str(error))

    def test_slow_render_is_killed(self):
        """A render that outlives the timeout is killed and fails."""
        d = self.engine.render("hi", None, "en")
        protocol, *_, transport = self.reactor.spawned[0]
        self.reactor.advance(30)
        self.assertEqual(transport.signals, ["KILL"])
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        self.assertIn("took over 30 s", str(self.failureResultOf(d, TTSError).value))

    def test_finished_render_cancels_the_timer(self):
        """Once espeak-ng has ended, no timeout is left pending."""
        d = self.engine.render("hi", None, "en")
        protocol = self.reactor.spawned[0][0]
        protocol.outReceived(b"RIFF")
        protocol.processEnded(Failure(ProcessDone(0)))
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_cancel_kills_the_process(self):
        """Cancelling the render kills espeak-ng."""
        d = self.engine.render("hi", None, "en")
        protocol, *_, transport = self.reactor.spawned[0]
        d.cancel()
        self.assertEqual(transport.signals, ["KILL"])
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        self.failureResultOf(d)


@implementer(ITTSEngine)
class ControlledEngine:
    """A TTS engine whose renders the test completes by hand."""

    name = "controlled"

    def __init__(self, options=None, available=True):
        self.options = options or {}
        self._available = available
        self.requests = []

    def available(self):
        return Availability(True) if self._available else Availability(False, "install it")

    def render(self, text, voice, language):
        d = Deferred()
        self.requests.append((text, voice, language, d))
        return d


class CacheTests(SynchronousTestCase):
    """TTSCache renders each distinct text once and shares renders in progress."""

    def setUp(self):
        self.sounds = Path(self.mktemp())
        self.engine = ControlledEngine()
        self.cache = self.make_cache(self.engine)

    def make_cache(self, engine, **kwargs):
        return TTSCache(self.sounds, engine, ImmediateThreads(), ManualThreadPool(immediate=True),
                        **kwargs)

    def test_miss_renders_and_stores_under_tts(self):
        """A new text is rendered, converted to 8 kHz and stored as tts/<key>.wav."""
        d = self.cache.render("Hello Ana", None, "en")
        self.assertEqual([r[:3] for r in self.engine.requests], [("Hello Ana", None, "en")])
        self.engine.requests[0][3].callback(wav_bytes(0.5, 16000))
        sound = self.successResultOf(d)
        key = self.cache.key("Hello Ana", None, "en")
        self.assertEqual(sound.name, key)
        self.assertEqual(sound.paths["wav"], self.sounds / "tts" / (key + ".wav"))
        self.assertEqual(read_wav(sound.paths["wav"])[:3], (1, 2, 8000))
        self.assertEqual(sound.duration_ms, 500)

    def test_hit_does_not_render_again(self):
        """The same text again is answered at once, without the engine."""
        first = self.cache.render("Hello", None, "en")
        self.engine.requests[0][3].callback(wav_bytes())
        second = self.cache.render("Hello", None, "en")
        self.assertIs(self.successResultOf(second), self.successResultOf(first))
        self.assertEqual((len(self.engine.requests), self.cache.renders), (1, 1))

    def test_files_on_disk_survive_a_restart(self):
        """A new cache over the same directory finds earlier renders on disk."""
        d = self.cache.render("Hello", "en-us", "en")
        self.engine.requests[0][3].callback(wav_bytes())
        stored = self.successResultOf(d)
        engine = ControlledEngine()
        again = self.successResultOf(self.make_cache(engine).render("Hello", "en-us", "en"))
        self.assertEqual(again, stored)
        self.assertEqual(engine.requests, [])

    def test_concurrent_requests_share_one_render(self):
        """Requests for a text being rendered wait for that render instead of starting another."""
        waiting = [self.cache.render("Your code is 1234", None, "en") for _ in range(3)]
        other = self.cache.render("Something else", None, "en")
        self.assertEqual(len(self.engine.requests), 2)
        for d in waiting + [other]:
            self.assertNoResult(d)
        self.engine.requests[0][3].callback(wav_bytes())
        sounds = [self.successResultOf(d) for d in waiting]
        self.assertEqual(len({id(s) for s in sounds}), 1)
        self.assertIsInstance(sounds[0], SoundFile)
        self.assertNoResult(other)

    def test_cancelled_waiter_does_not_stop_the_others(self):
        """One caller giving up leaves the shared render going for the rest."""
        first = self.cache.render("Hi", None, "en")
        second = self.cache.render("Hi", None, "en")
        first.cancel()
        self.failureResultOf(first)
        self.engine.requests[0][3].callback(wav_bytes())
        self.successResultOf(second)

    def test_failures_reach_every_waiter_and_are_not_cached(self):
        """A failed render fails every waiter; the next request tries again."""
        waiting = [self.cache.render("Hi", None, "en") for _ in range(2)]
        self.engine.requests[0][3].errback(TTSError("espeak-ng crashed"))
        for d in waiting:
            self.failureResultOf(d, TTSError)
        d = self.cache.render("Hi", None, "en")
        self.assertEqual(len(self.engine.requests), 2)
        self.engine.requests[1][3].callback(wav_bytes())
        self.successResultOf(d)

    def test_failure_nobody_waits_for_is_logged(self):
        """A render that fails after every caller gave up is logged, not lost."""
        d = self.cache.render("Hi", None, "en")
        d.cancel()
        self.failureResultOf(d)
        self.engine.requests[0][3].errback(TTSError("espeak-ng crashed"))
        self.assertEqual(len(self.flushLoggedErrors(TTSError)), 1)

    def test_unavailable_engine(self):
        """With no engine available the render fails with the engine's reason."""
        cache = self.make_cache(ControlledEngine(available=False))
        error = self.failureResultOf(cache.render("Hi", None, "en"), TTSUnavailable).value
        self.assertEqual(str(error), "install it")

    def test_empty_and_oversized_text(self):
        """Empty text and text beyond the limit are refused without rendering."""
        self.failureResultOf(self.cache.render("  ", None, "en"), ValueError)
        self.failureResultOf(self.cache.render("x" * 5001, None, "en"), ValueError)
        self.assertEqual(self.engine.requests, [])

    def test_key_depends_on_what_changes_the_sound(self):
        """The key changes with the text, the voice and the engine's options, and nothing else."""
        key = self.cache.key
        self.assertEqual(key("Hi", None, "en"), key("Hi", "en", "fr"))
        self.assertNotEqual(key("Hi", None, "en"), key("Hi ", None, "en"))
        self.assertNotEqual(key("Hi", None, "en"), key("Hi", None, "fr"))
        faster = TTSCache(self.sounds, ControlledEngine({"speed": 200}), None, None)
        self.assertNotEqual(key("Hi", None, "en"), faster.key("Hi", None, "en"))
        self.assertEqual(len(key("Hi")), 64)

    def test_memory_table_is_bounded(self):
        """Only the most recent renders are kept in memory; older ones are found on disk."""
        cache = self.make_cache(self.engine, remembered=1)
        for index, text in enumerate(["one", "two"]):
            d = cache.render(text, None, "en")
            self.engine.requests[index][3].callback(wav_bytes(0.1))
            self.successResultOf(d)
        self.successResultOf(cache.render("one", None, "en"))
        self.assertEqual(len(self.engine.requests), 2)


class EspeakTests(TestCase):
    """The real espeak-ng, through the cache."""

    def setUp(self):
        if ESPEAK is None:
            raise self.skipTest("espeak-ng is not installed (apt-get install espeak-ng)")
        from twisted.internet import reactor

        self.reactor = reactor
        self.pool = ManualThreadPool(immediate=True)
        self.sounds = Path(self.mktemp())

    def test_renders_speech_at_8k(self):
        """espeak-ng speaks a filled text; the cache stores it as 8 kHz mono and reuses it."""
        cache = TTSCache(self.sounds, EspeakNG(self.reactor), self.reactor, self.pool,
                         formats="wav,ulaw")
        text = fill("Hello {first_name}, your appointment is tomorrow.", {"first_name": "Alice"})

        def rendered(sound):
            channels, width, rate, samples = read_wav(sound.paths["wav"])
            self.assertEqual((channels, width, rate), (1, 2, 8000))
            self.assertGreater(sound.duration_ms, 1000)
            self.assertGreater(int(abs(samples).max()), 1000)
            self.assertTrue(sound.paths["ulaw"].exists())
            return cache.render(text, None, "en").addCallback(
                lambda again: self.assertEqual((again, cache.renders), (sound, 1))
            )

        return cache.render(text, None, "en").addCallback(rendered)

    def test_unknown_voice_fails_with_espeaks_reason(self):
        """A voice espeak-ng does not have fails the render, naming the voice."""
        engine = EspeakNG(self.reactor)
        d = engine.render("Hello", "xx-nope", "en")
        d = self.assertFailure(d, TTSError)
        return d.addCallback(lambda e: self.assertIn("'xx-nope'", str(e)))

    def test_text_is_spoken_not_parsed_as_options(self):
        """Text that looks like options is spoken as text."""
        engine = EspeakNG(self.reactor)
        return engine.render("--version -w /tmp/x", None, "en").addCallback(
            lambda wav: self.assertTrue(wav.startswith(b"RIFF"))
        )
