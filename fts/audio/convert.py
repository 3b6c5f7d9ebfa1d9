"""
Converting sound files to what Asterisk plays: 8 kHz, mono, 16-bit PCM.

L{convert} decodes anything libsndfile reads (WAV, FLAC, OGG/Vorbis/Opus,
MP3, AIFF, AU, CAF, ...), averages the channels to mono, resamples to
8000 Hz with soxr (its "HQ" quality), and writes the result into a sounds
directory as C{<name>.wav} (16-bit PCM, a plain 44-byte header, which
Asterisk's format_wav reads), plus, when asked:

    - C{gsm}: C{<name>.gsm}, raw GSM 06.10 frames (33 bytes per 20 ms), as
      Asterisk's format_gsm reads them;
    - C{ulaw}: C{<name>.ulaw}, raw G.711 mu-law, one byte per sample
      (format_pcm);
    - C{alaw}: C{<name>.alaw}, raw G.711 A-law (format_pcm).

The WAV is always written: it is the lossless copy the duration is measured
on and the panel previews.  Asterisk, given the name without extension,
picks whichever file costs the channel's codec least.

The name is the SHA-256 of the converted samples, so uploading the same
recording again finds its files already there and writes nothing.  Every
file is written atomically: into a hidden temporary file in the same
directory, flushed and fsync'd, then renamed over the final name, and the
directory fsync'd; Asterisk (or a reader on another host sharing the
directory) never sees half a file under a name it would play.

Threads: decoding and resampling are CPU work inside C libraries
(libsndfile, soxr) with no asynchronous interface, and a long MP3 takes a
noticeable fraction of a second.  So L{convert} is a plain blocking function
that must never run on the reactor thread, and L{convert_in_thread} runs it
in a thread pool.  This is the one place FTS uses threads.
"""

import hashlib
import io
import os
import re
import tempfile
import wave
from pathlib import Path

import attr
import numpy
import soundfile
import soxr
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

__all__ = [
    "AudioError",
    "DEFAULT_MAX_SECONDS",
    "FORMATS",
    "SAMPLE_RATE",
    "SoundFile",
    "check_formats",
    "convert",
    "convert_in_thread",
    "make_threadpool",
    "probe",
    "write_atomically",
]

#: What Asterisk plays on a narrowband channel.
SAMPLE_RATE = 8000

#: The longest recording L{convert} accepts unless told otherwise (30 min).
DEFAULT_MAX_SECONDS = 1800

#: The formats L{convert} writes, and their file extensions.
FORMATS = {"wav": ".wav", "gsm": ".gsm", "ulaw": ".ulaw", "alaw": ".alaw"}

_RAW_SUBTYPES = {"gsm": "GSM610", "ulaw": "ULAW", "alaw": "ALAW"}

#: Frames decoded at a time: bounds memory for long uploads.
_BLOCK = 1 << 16

#: A file name stem: no separators, no dots, so never outside the directory.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class AudioError(ValueError):
    """
    A sound file FTS cannot use; the message names the file and says why, in
    words for the operator.

    @ivar filename: the name the file was uploaded (or is known) as.
    """

    def __init__(self, filename, message):
        super().__init__(message)
        self.filename = filename


@attr.frozen
class SoundFile:
    """
    A converted sound in the sounds directory.

    @ivar name: the file name without extension (the content hash, unless
        the caller chose the name).
    @ivar content_hash: hex SHA-256 of the converted 16-bit little-endian
        samples.
    @ivar duration_ms: how long it plays, measured on the converted samples.
    @ivar sample_rate: always L{SAMPLE_RATE}.
    @ivar paths: format (C{"wav"}, C{"gsm"} ...) to the file's absolute path.
    @ivar size: bytes of all its files together.
    @ivar reused: every file was already there; nothing was written.
    """

    name: str
    content_hash: str
    duration_ms: int
    sample_rate: int
    paths: dict = attr.field(hash=False)
    size: int
    reused: bool = attr.field(default=False, eq=False)

    @property
    def formats(self):
        """The formats present, C{"wav"} first."""
        return tuple(self.paths)

    @property
    def directory(self):
        """The directory holding the files."""
        return self.paths["wav"].parent

    @property
    def base_path(self):
        """The absolute path without extension, as STREAM FILE takes it."""
        return str(self.directory / self.name)

    def relative_path(self, sounds_dir):
        """
        The path relative to C{sounds_dir}, without extension and with C{/}
        separators (the form the database stores).

        @raise ValueError: the files are not under C{sounds_dir}.
        """
        return (self.directory / self.name).relative_to(sounds_dir).as_posix()


def check_formats(formats):
    """
    The formats to write, in order, C{"wav"} first and always present.

    @param formats: names from L{FORMATS}, or one comma-separated string
        (as the C{[sounds] formats} setting holds them).
    @raise ValueError: an unknown format, naming it.
    """
    if isinstance(formats, str):
        formats = formats.split(",")
    wanted = ["wav"]
    for fmt in formats:
        fmt = fmt.strip().lower()
        if not fmt:
            continue
        if fmt not in FORMATS:
            raise ValueError(
                f"Unknown sound format {fmt!r}; FTS writes {', '.join(FORMATS)}."
            )
        if fmt not in wanted:
            wanted.append(fmt)
    return tuple(wanted)


def convert(source, directory, formats=("wav",), *, filename=None,
            max_seconds=DEFAULT_MAX_SECONDS, name=None):
    """
    Convert a sound for Asterisk and store it in C{directory}.  Blocking:
    call it through L{convert_in_thread} from the reactor.

    @param source: a path to the file, or its bytes.
    @param directory: where to write (created if missing).
    @param formats: see L{check_formats}; WAV is always written.
    @param filename: the name errors use (default: the path's name, or
        "the upload" for bytes).
    @param max_seconds: the longest recording accepted.
    @param name: the file name stem to use instead of the content hash (the
        text-to-speech cache names files by its own key).
    @return: the L{SoundFile}.
    @raise AudioError: the source is missing, empty, not audio, undecodable,
        silent-length (no samples), or longer than C{max_seconds}.
    @raise ValueError: an unknown format or a bad C{name}.
    @raise OSError: the directory cannot be written.
    """
    formats = check_formats(formats)
    if filename is None:
        filename = "the upload" if _is_bytes(source) else Path(source).name
    if name is not None and not _NAME.fullmatch(name):
        raise ValueError(f"Bad sound file name {name!r}: use letters, digits, _ and -.")
    samples = _decode(source, filename, max_seconds)
    pcm = samples.astype("<i2").tobytes()
    content_hash = hashlib.sha256(pcm).hexdigest()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or content_hash
    paths = {}
    written = []
    for fmt in formats:
        path = directory / (stem + FORMATS[fmt])
        paths[fmt] = path
        if not path.exists():
            write_atomically(path, _encode(samples, pcm, fmt))
            written.append(fmt)
    return SoundFile(
        name=stem,
        content_hash=content_hash,
        duration_ms=_milliseconds(len(samples)),
        sample_rate=SAMPLE_RATE,
        paths=paths,
        size=sum(p.stat().st_size for p in paths.values()),
        reused=not written,
    )


def probe(directory, name, formats=("wav",)):
    """
    The L{SoundFile} already stored as C{name} in C{directory} with every
    one of C{formats}, or C{None} if any file is missing.  Blocking (it reads
    the WAV).

    @raise AudioError: the WAV is there but is not one L{convert} wrote.
    """
    formats = check_formats(formats)
    directory = Path(directory)
    paths = {fmt: directory / (name + FORMATS[fmt]) for fmt in formats}
    if not all(p.exists() for p in paths.values()):
        return None
    wav = paths["wav"]
    try:
        with wave.open(str(wav), "rb") as f:
            if (f.getnchannels(), f.getsampwidth(), f.getframerate()) != (1, 2, SAMPLE_RATE):
                raise AudioError(wav.name, f"{wav.name!r} is not 8 kHz mono 16-bit.")
            pcm = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(wav.name, f"{wav.name!r} is not a readable WAV file: {e}.") from None
    return SoundFile(
        name=name,
        content_hash=hashlib.sha256(pcm).hexdigest(),
        duration_ms=_milliseconds(len(pcm) // 2),
        sample_rate=SAMPLE_RATE,
        paths=paths,
        size=sum(p.stat().st_size for p in paths.values()),
        reused=True,
    )


def convert_in_thread(reactor, threadpool, source, directory, formats=("wav",), **kwargs):
    """
    L{convert} in C{threadpool}, so the reactor keeps running meanwhile.

    @param reactor: the reactor the result is delivered on.
    @param threadpool: a started L{ThreadPool} (see L{make_threadpool}).
    @return: Deferred firing with the L{SoundFile}, or failing with
        L{AudioError} (bad input) or C{OSError} (disk).
    """
    return deferToThreadPool(
        reactor, threadpool, convert, source, directory, formats, **kwargs
    )


def make_threadpool(reactor, maxthreads=2, name="fts-audio"):
    """
    A thread pool for L{convert_in_thread}, started when the reactor runs
    and stopped when it shuts down.  A couple of threads are plenty: uploads
    and text-to-speech renders are rare next to calls, and each conversion
    runs many times faster than real time.
    """
    pool = ThreadPool(minthreads=0, maxthreads=maxthreads, name=name)
    reactor.callWhenRunning(pool.start)
    reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
    return pool


def write_atomically(path, data):
    """
    Write C{data} to C{path} so that a reader sees either no file or all of
    it: a temporary file in the same directory, fsync, rename, fsync of the
    directory.  The file is readable by everyone (Asterisk runs as another
    user).  On failure nothing is left behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(path.parent)


# -- decoding ------------------------------------------------------------------


def _is_bytes(source):
    return isinstance(source, (bytes, bytearray, memoryview))


def _decode(source, filename, max_seconds):
    """
    The source's audio as int16 mono samples at L{SAMPLE_RATE}.
    """
    if _is_bytes(source):
        if not len(source):
            raise AudioError(filename, f"{filename!r} is empty (0 bytes).")
        stream = io.BytesIO(source)
    else:
        try:
            stream = open(source, "rb")
        except OSError as e:
            raise AudioError(filename, f"{filename!r} cannot be read: {e.strerror}.") from None
        if os.fstat(stream.fileno()).st_size == 0:
            stream.close()
            raise AudioError(filename, f"{filename!r} is empty (0 bytes).")
    with stream:
        try:
            reader = soundfile.SoundFile(stream)
        except soundfile.LibsndfileError as e:
            raise _unreadable(filename, e) from None
        with reader:
            return _resample(reader, filename, max_seconds)


def _resample(reader, filename, max_seconds):
    rate = reader.samplerate
    limit = int(max_seconds * rate)
    if reader.frames > limit:
        raise _too_long(filename, reader.frames / rate, max_seconds)
    resampler = None
    if rate != SAMPLE_RATE:
        resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    chunks = []
    frames = 0
    while True:
        try:
            block = reader.read(_BLOCK, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as e:
            raise AudioError(
                filename,
                f"{filename!r} is damaged after {frames / rate:.1f} s and cannot be decoded: {e}.",
            ) from None
        last = len(block) < _BLOCK
        frames += len(block)
        if frames > limit:
            raise _too_long(filename, frames / rate, max_seconds)
        mono = block.mean(axis=1, dtype="float32") if block.shape[1] > 1 else block[:, 0]
        if resampler is not None:
            mono = resampler.resample_chunk(mono, last=last)
        chunks.append(_to_int16(mono))
        if last:
            break
    if frames == 0:
        raise AudioError(filename, f"{filename!r} holds no sound (0 samples).")
    return numpy.concatenate(chunks)


def _to_int16(samples):
    # libsndfile scales 16-bit PCM by 1/32768 when reading as float, so this
    # is exact for 8 kHz 16-bit input; resampling may overshoot: clip.
    scaled = numpy.rint(numpy.nan_to_num(samples) * 32768.0)
    return numpy.clip(scaled, -32768, 32767).astype(numpy.int16)


def _unreadable(filename, error):
    reason = (error.error_string or "").strip().rstrip(".")
    if error.code == 1:  # SF_ERR_UNRECOGNISED_FORMAT
        return AudioError(
            filename,
            f"{filename!r} is not an audio file FTS can read. It reads WAV, FLAC,"
            " OGG (Vorbis, Opus), MP3, AIFF, AU, CAF and the other formats of"
            f" libsndfile {soundfile.__libsndfile_version__}; convert AAC, M4A or"
            " WMA files to one of these first.",
        )
    return AudioError(filename, f"{filename!r} cannot be decoded: {reason}.")


def _too_long(filename, seconds, max_seconds):
    return AudioError(
        filename,
        f"{filename!r} lasts {_minutes(seconds)}; the longest recording allowed"
        f" is {_minutes(max_seconds)}.",
    )


def _minutes(seconds):
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def _milliseconds(samples):
    return (samples * 1000 + SAMPLE_RATE // 2) // SAMPLE_RATE


# -- encoding ------------------------------------------------------------------


def _encode(samples, pcm, fmt):
    buffer = io.BytesIO()
    if fmt == "wav":
        with wave.open(buffer, "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(SAMPLE_RATE)
            f.writeframes(pcm)
    else:
        soundfile.write(buffer, samples, SAMPLE_RATE, format="RAW", subtype=_RAW_SUBTYPES[fmt])
    return buffer.getvalue()


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
