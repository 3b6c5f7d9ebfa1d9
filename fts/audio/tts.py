"""
Text-to-speech, rendered before the call is placed.

A message part such as C{"Hello {first_name}, your appointment is on
{day}."} is filled per contact with L{fill} and rendered by a L{TTSCache}
while the contact is being prepared for dialing, so an answered call only
streams a file that already exists.  The cache renders each distinct
(engine, engine options, voice, text) once, stores it as
C{<sounds_dir>/tts/<key>.wav} (plus the configured extra formats), and lets
concurrent requests for the same text share one render.

Engines implement L{ITTSEngine}: L{EspeakNG} (the default; the Debian
package C{espeak-ng}, run as a child process with the text on its standard
input, never on its command line) and L{NoTTS} (C{[tts] engine = none}),
which is never available.  An engine that is not available says why, so
validation can refuse TTS parts with a message telling the operator what to
install instead of failing at call time.
"""

import hashlib
import json
import os
import re
import shutil

import attr
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from fts.audio.convert import check_formats, convert, probe
from fts.core.campaign import placeholders as _placeholders
from fts.core.campaign import render_text

__all__ = [
    "Availability",
    "EspeakNG",
    "ITTSEngine",
    "MissingFieldError",
    "NoTTS",
    "TTSCache",
    "TTSError",
    "TTSUnavailable",
    "engine_named",
    "fill",
    "placeholders",
]

log = Logger()

#: The longest text one render accepts (characters, after filling).
MAX_TEXT = 5000

#: espeak-ng voice names: a language (C{en}, C{pt-br}), a path (C{gmw/en})
#: or a variant (C{en+f3}).  Never starts with C{-}, so never an option.
_VOICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+/-]{0,63}")

ESPEAK_INSTALL = "install espeak-ng (apt-get install espeak-ng)"


class TTSError(Exception):
    """A render failed; the message says which engine and why."""


class TTSUnavailable(TTSError):
    """The engine cannot render at all; the message says what to install."""


class MissingFieldError(ValueError):
    """
    Text uses a placeholder the contact's fields do not have.

    @ivar field: the placeholder's name.
    @ivar part: the 1-based message part number, or C{None}.
    """

    def __init__(self, field, part=None):
        where = f"Message part {part}" if part is not None else "The text"
        super().__init__(
            f"{where} uses {{{field}}}, which the contact list has no column for."
        )
        self.field = field
        self.part = part


@attr.frozen
class Availability:
    """
    Whether an engine can render, and if not, why (a sentence for the
    operator).  True in a boolean context exactly when it can.
    """

    ok: bool
    reason: str = ""

    def __bool__(self):
        return self.ok


class ITTSEngine(Interface):
    """Something that turns text into speech."""

    name = Attribute("The engine's name as configured, e.g. C{'espeak-ng'}.")
    options = Attribute(
        "A JSON-able dict of settings that change the sound (speed ...);"
        " part of the cache key."
    )

    def available():
        """
        @return: an L{Availability}; its reason names what to install.
        """

    def render(text, voice, language):
        """
        Speak C{text}.

        @param voice: the engine's voice name, or C{None} for the
            language's default voice.
        @param language: the campaign's language (C{"en"}, C{"fr"}).
        @return: Deferred firing with the bytes of a WAV file (any rate, any
            channel count; the cache converts it), or failing with
            L{TTSError}.
        """


def placeholders(text):
    """
    The set of field names C{text} uses as C{{name}} placeholders.

    @raise ValueError: malformed braces, with a message for the operator.
    """
    return set(_placeholders(text))


def fill(text, fields, part=None):
    """
    C{text} with its placeholders replaced by the contact's fields.  A field
    the contact has but left empty becomes the empty string.

    @param fields: mapping of column name to value.
    @param part: the 1-based message part number, for the error message.
    @raise MissingFieldError: a placeholder names no field in C{fields}.
    @raise ValueError: malformed braces.
    """
    for name in _placeholders(text):
        if name not in fields:
            raise MissingFieldError(name, part)
    return render_text(text, fields)


# -- engines -------------------------------------------------------------------


@implementer(ITTSEngine)
class NoTTS:
    """C{[tts] engine = none}: text-to-speech is turned off."""

    name = "none"
    options = {}

    def available(self):
        return Availability(
            False,
            "Text-to-speech is turned off ([tts] engine = none); use recorded"
            " audio, or set [tts] engine = espeak-ng and " + ESPEAK_INSTALL + ".",
        )

    def render(self, text, voice, language):
        return fail(TTSUnavailable(self.available().reason))


@implementer(ITTSEngine)
class EspeakNG:
    """
    espeak-ng, run once per render as a child process:
    C{espeak-ng --stdin --stdout -b 1 -v <voice> [-s <speed>]}, the text
    written to its standard input as UTF-8, the WAV (22050 Hz mono) read
    from its standard output.

    @param reactor: provides C{spawnProcess} and C{callLater}.
    @param executable: the program's path; default: C{espeak-ng} on C{PATH}.
    @param speed: words per minute (espeak-ng's default is 175).
    @param timeout: seconds a render may take before it is killed.
    """

    name = "espeak-ng"
    #: Bytes of WAV output accepted from one render (about 20 minutes).
    max_output = 64 * 1024 * 1024

    def __init__(self, reactor, executable=None, speed=None, timeout=30.0):
        self._reactor = reactor
        self._executable = executable
        self._speed = speed
        self._timeout = timeout
        self.options = {} if speed is None else {"speed": int(speed)}

    def _find(self):
        if self._executable:
            path = self._executable
            return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        return shutil.which("espeak-ng")

    def available(self):
        if self._find() is None:
            where = self._executable or "espeak-ng"
            return Availability(
                False, f"Text-to-speech needs {where}, which is not installed; {ESPEAK_INSTALL}."
            )
        return Availability(True)

    def render(self, text, voice, language):
        voice = voice or language
        if not isinstance(voice, str) or not _VOICE.fullmatch(voice):
            return fail(TTSError(f"{voice!r} is not an espeak-ng voice name."))
        executable = self._find()
        if executable is None:
            return fail(TTSUnavailable(self.available().reason))
        args = [executable, "--stdin", "--stdout", "-b", "1", "-v", voice]
        if self._speed is not None:
            args += ["-s", str(int(self._speed))]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if "ESPEAK_DATA_PATH" in os.environ:
            env["ESPEAK_DATA_PATH"] = os.environ["ESPEAK_DATA_PATH"]
        child = _SpeechProcess(text.encode("utf-8"), voice, self.max_output)
        done = Deferred(lambda d: child.kill())
        child.done = done
        self._reactor.spawnProcess(child, executable, args, env=env)
        timer = self._reactor.callLater(self._timeout, child.kill, f"took over {self._timeout:g} s")

        def stop_timer(result):
            if timer.active():
                timer.cancel()
            return result

        return done.addBoth(stop_timer)


class _SpeechProcess(ProcessProtocol):
    """Feeds the text to espeak-ng and collects the WAV it writes."""

    done = None

    def __init__(self, text, voice, max_output):
        self._text = text
        self._voice = voice
        self._max_output = max_output
        self._out = []
        self._size = 0
        self._err = b""
        self._killed = None

    def connectionMade(self):
        self.transport.write(self._text)
        self.transport.closeStdin()

    def outReceived(self, data):
        self._size += len(data)
        if self._size > self._max_output:
            self.kill(f"wrote more than {self._max_output} bytes")
            return
        self._out.append(data)

    def errReceived(self, data):
        self._err = (self._err + data)[-2000:]

    def kill(self, why="was cancelled"):
        if self._killed is None:
            self._killed = why
            try:
                self.transport.signalProcess("KILL")
            except Exception:  # already gone
                pass

    def processEnded(self, reason):
        done, self.done = self.done, None
        if done is None or done.called:
            return
        stderr = self._err.decode("utf-8", "replace").strip()
        if self._killed is not None:
            done.errback(TTSError(f"espeak-ng {self._killed} and was stopped."))
        elif reason.check(ProcessDone) and self._out:
            done.callback(b"".join(self._out))
        else:
            status = getattr(reason.value, "exitCode", None)
            detail = stderr or f"exit status {status}"
            done.errback(
                TTSError(f"espeak-ng could not speak with voice {self._voice!r}: {detail}")
            )


def engine_named(name, reactor, **options):
    """
    The engine configured as C{[tts] engine}: C{"espeak-ng"} or C{"none"}.

    @param options: passed to the engine (C{executable}, C{speed} ...).
    @raise ValueError: an unknown engine name.
    """
    if name == "espeak-ng":
        return EspeakNG(reactor, **options)
    if name == "none":
        return NoTTS()
    raise ValueError(f"Unknown text-to-speech engine {name!r}; use espeak-ng or none.")


# -- the cache -----------------------------------------------------------------


class TTSCache:
    """
    Rendered speech, one file per distinct (engine, options, voice, text),
    under C{<sounds_dir>/tts/}.

    Lookup order: the in-memory table of recent renders; a render already in
    progress for the same key (shared: every caller gets the same result);
    the files on disk (a restart keeps the cache); the engine.  Failures are
    not remembered: the next request tries again.

    @param sounds_dir: the configured sounds directory.
    @param engine: an L{ITTSEngine}.
    @param reactor: delivers thread results.
    @param threadpool: runs disk reads and conversion (see
        L{fts.audio.convert.make_threadpool}).
    @param formats: as C{[sounds] formats}.
    @param remembered: how many recent renders are kept in memory.
    @ivar renders: how many times the engine was asked to render.
    """

    def __init__(self, sounds_dir, engine, reactor, threadpool, formats=("wav",),
                 remembered=10000):
        self.directory = os.path.join(os.fspath(sounds_dir), "tts")
        self.engine = engine
        self._reactor = reactor
        self._threadpool = threadpool
        self._formats = check_formats(formats)
        self._remembered = remembered
        self._done = {}
        self._waiting = {}
        self.renders = 0

    def available(self):
        """The engine's L{Availability}."""
        return self.engine.available()

    def key(self, text, voice=None, language="en"):
        """
        The hex SHA-256 naming the render of C{text}: over the engine's
        name and options, the voice actually used, and the text.
        """
        identity = {
            "engine": self.engine.name,
            "options": self.engine.options,
            "voice": voice or language,
            "text": text,
        }
        blob = json.dumps(identity, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def render(self, text, voice=None, language="en"):
        """
        The speech for C{text} (already filled), rendering it if needed.

        @return: Deferred firing with a L{fts.audio.convert.SoundFile}
            (C{name} is L{key}), or failing with L{TTSUnavailable},
            L{TTSError}, C{ValueError} (empty or too long text).
        """
        if not isinstance(text, str) or not text.strip():
            return fail(ValueError("Nothing to say: the text-to-speech text is empty."))
        if len(text) > MAX_TEXT:
            return fail(ValueError(
                f"The text-to-speech text has {len(text)} characters; at most {MAX_TEXT} are spoken."
            ))
        key = self.key(text, voice, language)
        sound = self._done.pop(key, None)
        if sound is not None:
            self._done[key] = sound  # most recently used last
            return succeed(sound)
        result = Deferred()
        waiters = self._waiting.get(key)
        if waiters is not None:
            waiters.append(result)
            return result
        self._waiting[key] = [result]
        self._produce(key, text, voice, language).addBoth(self._finished, key, text)
        return result

    def _produce(self, key, text, voice, language):
        found = deferToThreadPool(
            self._reactor, self._threadpool, probe, self.directory, key, self._formats
        )

        def render_if_missing(sound):
            if sound is not None:
                return sound
            availability = self.engine.available()
            if not availability:
                raise TTSUnavailable(availability.reason)
            self.renders += 1
            rendered = self.engine.render(text, voice, language)
            rendered.addCallback(self._store, key, text)
            return rendered

        return found.addCallback(render_if_missing)

    def _store(self, wav, key, text):
        return deferToThreadPool(
            self._reactor, self._threadpool, convert, wav, self.directory, self._formats,
            filename=f"the speech for {_excerpt(text)}", name=key,
        )

    def _finished(self, result, key, text):
        waiters = [d for d in self._waiting.pop(key, []) if not d.called]
        if isinstance(result, Failure):
            if not waiters:
                log.failure("Rendering speech for {text} failed; nobody was waiting",
                            result, text=_excerpt(text))
            for d in waiters:
                d.errback(result)
            return None
        self._done[key] = result
        while len(self._done) > self._remembered:
            del self._done[next(iter(self._done))]
        for d in waiters:
            d.callback(result)
        return None


def _excerpt(text, size=40):
    text = " ".join(text.split())
    return repr(text if len(text) <= size else text[: size - 1] + "\u2026")
