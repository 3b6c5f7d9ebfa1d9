"""
Tests for L{fts.db.audio}: the audio library's rows, on a real PostgreSQL.
"""

from pathlib import Path

from twisted.internet import defer

from fts.audio.convert import SoundFile
from fts.db.audio import AudioExists, AudioInUse, AudioStore, AudioError
from tests.dialer import support
from tests.support.db import DatabaseTestCase


def sound(directory, name="a" * 64, formats=("wav", "gsm")):
    """
    A converted sound as L{fts.audio.convert.convert} describes it (the
    files themselves do not matter to the store).
    """
    extensions = {"wav": ".wav", "gsm": ".gsm"}
    return SoundFile(name=name, content_hash=name, duration_ms=2500, sample_rate=8000,
                     paths={f: Path(directory) / (name + extensions[f]) for f in formats},
                     size=40000)


class AudioStoreTests(DatabaseTestCase):
    """
    Creating, reading and deleting audio assets.
    """

    @defer.inlineCallbacks
    def setUp(self):
        yield DatabaseTestCase.setUp(self)
        self.sounds_dir = Path("/var/lib/fts/sounds")
        self.audio = AudioStore(self.pool, self.sounds_dir)

    @defer.inlineCallbacks
    def test_create(self):
        """
        A converted sound becomes a ready asset with its measured duration,
        formats and path relative to the sounds directory.
        """
        asset = yield self.audio.create(sound(self.sounds_dir / "audio"), "Greeting",
                                        "greeting.mp3", content_hash="f" * 64)
        self.assertEqual((asset.name, asset.original_filename, asset.content_hash, asset.status,
                          asset.formats, asset.duration_ms, asset.sample_rate, asset.size_bytes,
                          asset.path),
                         ("Greeting", "greeting.mp3", "f" * 64, "ready", ("wav", "gsm"), 2500,
                          8000, 40000, "audio/" + "a" * 64))
        self.assertEqual((yield self.audio.get(asset.id)), asset)

    @defer.inlineCallbacks
    def test_same_recording_twice(self):
        """
        The same converted recording again is refused, naming the asset
        already in the library.
        """
        first = yield self.audio.create(sound(self.sounds_dir), "One", "one.wav")
        error = yield self.assertFailure(
            self.audio.create(sound(self.sounds_dir), "Two", "two.wav"), AudioExists)
        self.assertEqual(error.existing, first)
        self.assertIn("'two.wav' is the same recording as 'One'", str(error))

    @defer.inlineCallbacks
    def test_outside_sounds_directory(self):
        """
        Files outside the sounds directory are refused.
        """
        error = yield self.assertFailure(
            self.audio.create(sound("/tmp/elsewhere"), "X", "x.wav"), AudioError)
        self.assertIn("not in the sounds directory", str(error))

    @defer.inlineCallbacks
    def test_list_and_paths(self):
        """
        Assets list by name; paths gives absolute base paths of ready
        assets and leaves out unknown ids.
        """
        b = yield self.audio.create(sound(self.sounds_dir, "b" * 64), "beta", "b.wav")
        a = yield self.audio.create(sound(self.sounds_dir, "c" * 64), "Alpha", "a.wav")
        listed = yield self.audio.list()
        self.assertEqual([x.id for x in listed], [a.id, b.id])
        paths = yield self.audio.paths([a.id, b.id, 999])
        self.assertEqual(paths, {a.id: "/var/lib/fts/sounds/" + "c" * 64,
                                 b.id: "/var/lib/fts/sounds/" + "b" * 64})
        self.assertEqual((yield self.audio.paths([])), {})

    @defer.inlineCallbacks
    def link(self, asset_id, state):
        campaign_id, _ = yield support.campaign(self.pool, "c-" + state, state=state)
        yield self.pool.runOperation(
            "INSERT INTO campaign_audio_assets VALUES (%s, %s)", (campaign_id, asset_id))
        return campaign_id

    @defer.inlineCallbacks
    def test_delete_unused(self):
        """
        An unused asset is deleted; the deleted row is returned (the caller
        removes the files); deleting again finds nothing.
        """
        asset = yield self.audio.create(sound(self.sounds_dir), "One", "one.wav")
        self.assertEqual((yield self.audio.delete(asset.id)), asset)
        self.assertIsNone((yield self.audio.get(asset.id)))
        self.assertIsNone((yield self.audio.delete(asset.id)))

    @defer.inlineCallbacks
    def test_delete_in_use(self):
        """
        An asset a running campaign plays cannot be deleted; the message
        names the campaign.
        """
        asset = yield self.audio.create(sound(self.sounds_dir), "One", "one.wav")
        campaign_id = yield self.link(asset.id, "running")
        error = yield self.assertFailure(self.audio.delete(asset.id), AudioInUse)
        self.assertEqual(str(error), "Audio asset %d ('One') is played by campaign %d"
                         " ('c-running'), which is running; it can be deleted once that"
                         " campaign is finalized." % (asset.id, campaign_id))
        self.assertIsNotNone((yield self.audio.get(asset.id)))

    @defer.inlineCallbacks
    def test_delete_after_finalized(self):
        """
        Links from finalized campaigns do not keep an asset.
        """
        asset = yield self.audio.create(sound(self.sounds_dir), "One", "one.wav")
        campaign_id = yield self.link(asset.id, "draft")
        yield self.pool.runOperation(
            "UPDATE campaigns SET state = 'finalized', finish_reason = 'completed',"
            " finalized_at = now() WHERE id = %s", (campaign_id,))
        self.assertEqual((yield self.audio.delete(asset.id)), asset)
        self.assertEqual((yield self.audio.used_by(asset.id)), [])
