"""
Helpers for the audio tests: generated sounds, and a thread pool that runs
its work when the test says so.
"""

import io
import wave

import numpy
import soundfile
from twisted.python.failure import Failure


def sine(seconds, rate, frequency=440.0, channels=1, amplitude=0.5):
    """
    A sine wave as float32 frames of shape (n, channels); every channel the
    same.
    """
    n = int(round(seconds * rate))
    t = numpy.arange(n) / rate
    tone = (amplitude * numpy.sin(2 * numpy.pi * frequency * t)).astype("float32")
    return numpy.repeat(tone[:, None], channels, axis=1)


def encoded(frames, rate, fmt="WAV", subtype=None):
    """The bytes of C{frames} written as C{fmt} by libsndfile."""
    buffer = io.BytesIO()
    soundfile.write(buffer, frames, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def wav_bytes(seconds=0.5, rate=16000, frequency=440.0):
    """A mono 16-bit WAV, the shape a TTS engine hands back."""
    return encoded(sine(seconds, rate, frequency), rate, "WAV", "PCM_16")


def read_wav(path):
    """(channels, sample width, rate, int16 samples) of a WAV file."""
    with wave.open(str(path), "rb") as f:
        samples = numpy.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        return f.getnchannels(), f.getsampwidth(), f.getframerate(), samples


def dominant_frequency(samples, rate):
    """The frequency (Hz) of the strongest FFT bin."""
    spectrum = numpy.abs(numpy.fft.rfft(samples.astype("float64")))
    return numpy.argmax(spectrum) * rate / len(samples)


class ManualThreadPool:
    """
    Stands in for L{twisted.python.threadpool.ThreadPool}: work queued by
    C{deferToThreadPool} runs when the test calls L{run} (or at once with
    C{immediate=True}), on the test's thread.
    """

    def __init__(self, immediate=False):
        self.immediate = immediate
        self.queued = []

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
        self.queued.append((onResult, f, args, kwargs))
        if self.immediate:
            self.run()

    def run(self):
        """Run everything queued, including work queued meanwhile."""
        while self.queued:
            onResult, f, args, kwargs = self.queued.pop(0)
            try:
                result = f(*args, **kwargs)
            except BaseException:
                onResult(False, Failure())
            else:
                onResult(True, result)


class ImmediateThreads:
    """A reactor's C{callFromThread}, run at once (the work ran on this thread)."""

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)
