"""
Tests for L{fts.audio.convert}.
"""

import errno
import hashlib
import os
from pathlib import Path

import numpy
import soundfile
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase, TestCase

from fts.audio import convert as convert_module
from fts.audio.convert import (
    AudioError,
    SoundFile,
    check_formats,
    convert,
    convert_in_thread,
    probe,
    write_atomically,
)
from tests.audio.support import (
    ImmediateThreads,
    ManualThreadPool,
    dominant_frequency,
    encoded,
    read_wav,
    sine,
)

HAS_MP3 = "MP3" in soundfile.available_formats()


class ConversionTests(SynchronousTestCase):
    """Decoding, downmixing and resampling to 8 kHz mono 16-bit."""

    def setUp(self):
        self.sounds = Path(self.mktemp())

    def test_cd_quality_stereo_becomes_8k_mono_16bit(self):
        """A 44.1 kHz stereo WAV becomes an 8 kHz mono 16-bit WAV of the same tone."""
        frames = sine(1.2345, 44100, 440, channels=2)
        source = self.sounds.parent / "tone.wav"
        source.write_bytes(encoded(frames, 44100, "WAV", "PCM_16"))
        sound = convert(source, self.sounds)
        channels, width, rate, samples = read_wav(sound.paths["wav"])
        self.assertEqual((channels, width, rate), (1, 2, 8000))
        self.assertEqual((sound.sample_rate, sound.formats), (8000, ("wav",)))
        self.assertLessEqual(abs(dominant_frequency(samples, 8000) - 440), 2)

    def test_duration_is_measured_within_a_millisecond(self):
        """The duration is the real one, within 1 ms of the source's."""
        frames = sine(1.2345, 44100, channels=2)
        sound = convert(encoded(frames, 44100), self.sounds)
        self.assertLessEqual(abs(sound.duration_ms - len(frames) / 44.1), 1)

    def test_downmix_averages_channels(self):
        """Channels are averaged: a tone in one channel and its inverse in the other cancel out."""
        tone = sine(0.5, 22050)[:, 0]
        frames = numpy.stack([tone, -tone], axis=1)
        sound = convert(encoded(frames, 22050, "WAV", "FLOAT"), self.sounds)
        samples = read_wav(sound.paths["wav"])[3]
        self.assertLessEqual(int(numpy.abs(samples).max()), 1)

    def test_tones_above_4khz_are_filtered_out(self):
        """Resampling removes what 8 kHz cannot carry instead of folding it back as noise."""
        sound = convert(encoded(sine(1.0, 44100, 6000), 44100), self.sounds)
        # The first and last few ms carry the tone's abrupt start and end,
        # which are broadband; in between, the 6 kHz tone (about 11585 RMS in)
        # leaves nothing but rounding.
        samples = read_wav(sound.paths["wav"])[3][200:-200].astype("float64")
        self.assertLess(numpy.sqrt(numpy.mean(samples**2)), 1)

    def test_8k_mono_16bit_is_kept_sample_for_sample(self):
        """Audio already in Asterisk's format is stored unchanged, named by the hash of its samples."""
        pcm = (sine(0.3, 8000)[:, 0] * 32767).astype("<i2")
        sound = convert(encoded(pcm, 8000, "WAV", "PCM_16"), self.sounds)
        self.assertEqual(read_wav(sound.paths["wav"])[3].tolist(), pcm.tolist())
        self.assertEqual(sound.content_hash, hashlib.sha256(pcm.tobytes()).hexdigest())
        self.assertEqual(sound.name, sound.content_hash)
        self.assertEqual(sound.duration_ms, 300)

    def test_flac_and_ogg_are_read(self):
        """FLAC and OGG/Vorbis uploads convert like WAV."""
        frames = sine(0.5, 48000, 1000)
        for fmt, subtype in (("FLAC", "PCM_16"), ("OGG", "VORBIS")):
            sound = convert(encoded(frames, 48000, fmt, subtype), self.sounds)
            self.assertLessEqual(abs(sound.duration_ms - 500), 1, fmt)
            samples = read_wav(sound.paths["wav"])[3]
            self.assertLessEqual(abs(dominant_frequency(samples, 8000) - 1000), 3)

    def test_mp3_is_read(self):
        """An MP3 upload converts, with its real duration."""
        if not HAS_MP3:
            raise self.skipTest(
                f"libsndfile {soundfile.__libsndfile_version__} has no MP3 support (needs >= 1.1)"
            )
        data = encoded(sine(2.0, 44100, 440, channels=2), 44100, "MP3")
        sound = convert(data, self.sounds, filename="message.mp3")
        self.assertLessEqual(abs(sound.duration_ms - 2000), 1)
        samples = read_wav(sound.paths["wav"])[3]
        self.assertLessEqual(abs(dominant_frequency(samples, 8000) - 440), 2)

    def test_extra_formats(self):
        """gsm, ulaw and alaw are written next to the WAV in the raw forms Asterisk reads."""
        pcm = (sine(1.0, 8000)[:, 0] * 32767).astype("<i2")
        sound = convert(encoded(pcm, 8000, "WAV", "PCM_16"), self.sounds, "wav,gsm,ulaw,alaw")
        self.assertEqual(sound.formats, ("wav", "gsm", "ulaw", "alaw"))
        base = self.sounds / sound.name
        self.assertEqual(sound.paths["ulaw"], base.with_suffix(".ulaw"))
        gsm = sound.paths["gsm"].read_bytes()
        self.assertEqual(len(gsm), 8000 // 160 * 33)
        self.assertEqual({gsm[i] >> 4 for i in range(0, len(gsm), 33)}, {0xD})
        self.assertEqual(sound.paths["ulaw"].stat().st_size, 8000)
        ulaw, _ = soundfile.read(
            sound.paths["ulaw"], samplerate=8000, channels=1, format="RAW", subtype="ULAW",
            dtype="int16",
        )
        self.assertGreater(numpy.corrcoef(ulaw, pcm)[0, 1], 0.999)
        self.assertEqual(sound.size, sum(p.stat().st_size for p in sound.paths.values()))

    def test_paths_for_asterisk_and_the_database(self):
        """The sound knows its path without extension, absolute and relative to the sounds directory."""
        sound = convert(encoded(sine(0.1, 8000), 8000), self.sounds / "audio")
        self.assertEqual(sound.base_path, str(self.sounds / "audio" / sound.name))
        self.assertEqual(sound.relative_path(self.sounds), "audio/" + sound.name)

    def test_chosen_name(self):
        """A caller may name the files; the content hash is still the audio's."""
        sound = convert(encoded(sine(0.1, 8000), 8000), self.sounds, name="greeting-1")
        self.assertEqual(sound.paths["wav"], self.sounds / "greeting-1.wav")
        self.assertNotEqual(sound.content_hash, "greeting-1")

    def test_files_are_world_readable(self):
        """Asterisk, running as another user, can read the files."""
        sound = convert(encoded(sine(0.1, 8000), 8000), self.sounds)
        self.assertEqual(sound.paths["wav"].stat().st_mode & 0o777, 0o644)


class IdempotenceTests(SynchronousTestCase):
    """Converting the same audio again writes nothing."""

    def test_same_audio_again_is_a_no_op(self):
        """A second upload of the same recording reuses the files already there."""
        sounds = Path(self.mktemp())
        data = encoded(sine(0.5, 44100, channels=2), 44100)
        first = convert(data, sounds, ("wav", "gsm"))
        stamps = {p: p.stat().st_mtime_ns for p in first.paths.values()}
        second = convert(data, sounds, ("wav", "gsm"), filename="again.wav")
        self.assertEqual((first.reused, second.reused), (False, True))
        self.assertEqual(second, first)
        self.assertEqual({p: p.stat().st_mtime_ns for p in second.paths.values()}, stamps)
        self.assertEqual(sorted(os.listdir(sounds)), sorted(p.name for p in first.paths.values()))

    def test_missing_format_is_added(self):
        """Asking for a format that is not there yet writes only that one."""
        sounds = Path(self.mktemp())
        data = encoded(sine(0.5, 8000), 8000)
        convert(data, sounds)
        again = convert(data, sounds, ("wav", "ulaw"))
        self.assertFalse(again.reused)
        self.assertTrue(again.paths["ulaw"].exists())

    def test_probe_finds_stored_sound(self):
        """probe() describes a stored sound as convert() did, or says it is missing."""
        sounds = Path(self.mktemp())
        sound = convert(encoded(sine(0.7, 16000), 16000), sounds, ("wav", "alaw"))
        self.assertEqual(probe(sounds, sound.name, ("wav", "alaw")), sound)
        self.assertIsNone(probe(sounds, sound.name, ("wav", "gsm")))
        self.assertIsNone(probe(sounds, "0" * 64))


class AtomicWriteTests(SynchronousTestCase):
    """Files appear whole under their final name, or not at all."""

    def test_final_name_appears_only_when_complete(self):
        """Until the rename, the data is in a hidden temporary file and the final name does not exist."""
        target = Path(self.mktemp())
        target.parent.mkdir(parents=True, exist_ok=True)
        data = b"x" * 100000
        seen = []
        real_replace = os.replace

        def replace(src, dst):
            seen.append((Path(src).name, Path(src).read_bytes() == data, Path(dst).exists()))
            real_replace(src, dst)

        self.patch(convert_module.os, "replace", replace)
        write_atomically(target, data)
        [(temporary, complete, final_existed)] = seen
        self.assertTrue(temporary.startswith("." + target.name))
        self.assertTrue(temporary.endswith(".tmp"))
        self.assertEqual((complete, final_existed), (True, False))
        self.assertEqual(target.read_bytes(), data)
        self.assertEqual(os.listdir(target.parent), [target.name])

    def test_failed_write_leaves_nothing(self):
        """A write that fails (disk full at fsync) leaves neither the final file nor a temporary one."""
        sounds = Path(self.mktemp())

        def fsync(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        self.patch(convert_module.os, "fsync", fsync)
        error = self.assertRaises(OSError, convert, encoded(sine(0.2, 8000), 8000), sounds)
        self.assertEqual(error.errno, errno.ENOSPC)
        self.assertEqual(os.listdir(sounds), [])


class BadInputTests(SynchronousTestCase):
    """Input that is not usable audio is refused with a message naming the file."""

    def setUp(self):
        self.sounds = Path(self.mktemp())

    def assertRefused(self, source, fragment, **kwargs):
        error = self.assertRaises(AudioError, convert, source, self.sounds, **kwargs)
        self.assertIn(fragment, str(error))
        self.assertFalse(self.sounds.exists() and os.listdir(self.sounds))
        return error

    def test_not_audio(self):
        """A text file is not audio; the message lists what is read."""
        error = self.assertRefused(b"name,phone\nAlice,555\n", "'contacts.csv' is not an audio file",
                                   filename="contacts.csv")
        self.assertIn("MP3", str(error))
        self.assertEqual(error.filename, "contacts.csv")

    def test_empty_bytes(self):
        """An empty upload is refused as empty."""
        self.assertRefused(b"", "'the upload' is empty (0 bytes).")

    def test_empty_file(self):
        """An empty file is refused as empty, named by its file name."""
        path = Path(self.mktemp())
        path.write_bytes(b"")
        self.assertRefused(path, f"'{path.name}' is empty")

    def test_missing_file(self):
        """A file that does not exist is refused, naming it."""
        self.assertRefused(Path("/nonexistent/intro.wav"), "'intro.wav' cannot be read: No such file")

    def test_no_samples(self):
        """A valid WAV with no samples holds no sound."""
        self.assertRefused(encoded(numpy.zeros((0, 1), "float32"), 8000, "WAV", "PCM_16"),
                           "holds no sound", filename="blank.wav")

    def test_too_long(self):
        """A recording longer than the limit is refused, saying both lengths."""
        data = encoded(sine(125, 8000), 8000)
        self.assertRefused(data, "'hold.wav' lasts 2 min 5 s; the longest recording allowed is 2 min.",
                           filename="hold.wav", max_seconds=120)

    def test_malformed_header(self):
        """A WAV whose header is damaged cannot be decoded, and the reason is given."""
        header = (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x55\x00\x01\x00"
                  b"\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
        self.assertRefused(header, "'odd.wav' cannot be decoded: ", filename="odd.wav")

    def test_truncated_file_still_converts_what_is_there(self):
        """A WAV cut short (an interrupted upload) converts the samples that arrived."""
        data = encoded(sine(1.0, 8000), 8000, "WAV", "PCM_16")
        sound = convert(data[: 44 + 8000], self.sounds)
        self.assertEqual(sound.duration_ms, 500)

    def test_unknown_format(self):
        """Asking for a format FTS does not write is an error naming it."""
        error = self.assertRaises(ValueError, check_formats, "wav,mp3")
        self.assertIn("'mp3'", str(error))

    def test_wav_is_always_written(self):
        """WAV is always among the formats, first."""
        self.assertEqual(check_formats(["ulaw", "gsm", "ulaw"]), ("wav", "ulaw", "gsm"))
        self.assertEqual(check_formats(" GSM , "), ("wav", "gsm"))

    def test_bad_name(self):
        """A chosen name cannot leave the directory."""
        self.assertRaises(ValueError, convert, encoded(sine(0.1, 8000), 8000), self.sounds,
                          name="../etc/passwd")


class ThreadTests(SynchronousTestCase):
    """convert_in_thread hands the work to the thread pool and the result to the reactor."""

    def test_work_runs_in_the_pool(self):
        """Nothing is converted on the caller's thread; the Deferred fires once the pool ran it."""
        pool = ManualThreadPool()
        sounds = Path(self.mktemp())
        d = convert_in_thread(ImmediateThreads(), pool, encoded(sine(0.2, 8000), 8000), sounds)
        self.assertNoResult(d)
        self.assertFalse(sounds.exists())
        pool.run()
        self.assertIsInstance(self.successResultOf(d), SoundFile)

    def test_errors_arrive_in_the_deferred(self):
        """Bad input fails the Deferred with the AudioError."""
        pool = ManualThreadPool(immediate=True)
        d = convert_in_thread(ImmediateThreads(), pool, b"", self.mktemp())
        self.failureResultOf(d, AudioError)


class RealThreadTests(TestCase):
    """With a real thread pool and reactor."""

    def test_converts_in_a_real_thread(self):
        """A real pool converts and delivers the result on the reactor thread."""
        from twisted.internet import reactor

        pool = ThreadPool(minthreads=0, maxthreads=1, name="test-audio")
        pool.start()
        self.addCleanup(pool.stop)
        d = convert_in_thread(reactor, pool, encoded(sine(0.5, 44100), 44100), self.mktemp())
        return d.addCallback(lambda sound: self.assertEqual(sound.duration_ms, 500))
