"""
Tests for the audio library pages: upload (converted and measured), the
player's sound served by asset id only, delete, and refusals.
"""

import re

from twisted.internet import defer

from tests.audio.support import encoded, sine
from tests.contacts.support import campaign
from tests.web.library_support import XSS, LibraryTestCase, sound


def error_at(page, field):
    found = re.search(rf'id="e-{field}">([^<]*)<', page.text)
    return found.group(1).replace("&#39;", "'") if found else None


class AudioPagesTests(LibraryTestCase):
    def library_files(self):
        library = self.sounds_dir / "library"
        return sorted(p.name for p in library.iterdir()) if library.exists() else []

    @defer.inlineCallbacks
    def test_upload_play_delete(self):
        """
        An operator uploads a recording: it is converted, measured and
        listed with a player whose sound a viewer may fetch (audio/wav, by
        asset id); the same recording again is refused naming the first;
        deleting removes its files, but not while a campaign plays it.
        """
        client = yield self.logged_in("operator")
        result = yield client.upload("/audio/upload", {"name": XSS, "description": "hi"},
                                     {"file": ("hello.wav", sound(0.5))})
        self.assertEqual(result.header("location"), "/audio?notice=audio-uploaded")
        [asset] = yield self.audio.list()
        self.assertEqual((asset.name, asset.duration_ms, asset.original_filename),
                         (XSS, 500, "hello.wav"))
        self.assertEqual(self.library_files(), [asset.path.split("/")[-1] + ".wav"])
        self.assertEqual(self.staged(), [])

        viewer = yield self.logged_in("viewer")
        page = yield viewer.get("/audio")
        self.assertIn(f'<audio controls preload="none" src="/audio/{asset.id}/sound.wav"',
                      page.text)
        self.assertIn("500 ms", page.text)
        self.assertNotIn(XSS, page.text)
        self.assertNotIn("/audio/upload", page.text)
        played = yield viewer.get(f"/audio/{asset.id}/sound.wav")
        self.assertEqual(played.code, 200)
        self.assertEqual(played.header("content-type"), "audio/wav")
        self.assertEqual(played.body[:4], b"RIFF")
        part = yield viewer.get(f"/audio/{asset.id}/sound.wav", headers={"Range": "bytes=0-3"})
        self.assertEqual((part.code, part.body), (206, b"RIFF"))
        self.assertEqual((yield viewer.post(f"/audio/{asset.id}/delete")).code, 403)

        again = yield client.upload("/audio/upload", {"name": "Again"},
                                    {"file": ("again.wav", sound(0.5))})
        self.assertEqual(again.code, 400)
        self.assertIn("is the same recording as", error_at(again, "file"))
        self.assertEqual(len((yield self.audio.list())), 1)

        contacts = yield self.store.contacts.create_list("L")
        cid = yield campaign(self.pool, contacts.id, "running")
        yield self.pool.runOperation(
            "INSERT INTO campaign_audio_assets (campaign_id, audio_asset_id) VALUES (%s, %s)",
            (cid, asset.id))
        refused = yield client.post(f"/audio/{asset.id}/delete")
        self.assertEqual(refused.code, 409)
        self.assertIn(f"is played by campaign {cid}", refused.text)
        self.assertEqual(len(self.library_files()), 1)
        yield self.pool.runOperation("DELETE FROM campaign_audio_assets")
        deleted = yield client.post(f"/audio/{asset.id}/delete")
        self.assertEqual(deleted.header("location"), "/audio?notice=audio-deleted")
        self.assertEqual(self.library_files(), [])
        self.assertEqual((yield viewer.get(f"/audio/{asset.id}/sound.wav")).code, 404)

    @defer.inlineCallbacks
    def test_bad_uploads(self):
        """
        No name, a file type that is not sound, bytes that are not audio and
        an empty file are each said at their field; nothing is stored.
        """
        client = yield self.logged_in("operator")
        cases = [
            ({"name": ""}, ("hello.wav", sound()), "name", "Name is required."),
            ({"name": "x"}, ("hello.m4a", sound()), "file", "not a sound file"),
            ({"name": "x"}, ("hello.wav", b"this is not audio" * 20), "file",
             "'hello.wav' is not an audio file FTS can read"),
            ({"name": "x"}, ("hello.wav", b""), "file", "hello.wav is empty"),
        ]
        for fields, upload, where, message in cases:
            result = yield client.upload("/audio/upload", fields, {"file": upload})
            self.assertEqual(result.code, 400, message)
            self.assertIn(message, error_at(result, where))
        self.assertEqual((yield self.count("audio_assets")), 0)
        self.assertEqual(self.library_files(), [])
        self.assertEqual(self.staged(), [])

    @defer.inlineCallbacks
    def test_sound_by_id_only(self):
        """
        The sound route takes an asset id, never a path: traversal attempts
        and unknown ids are 404, and an asset whose file is missing too.
        """
        client = yield self.logged_in("operator")
        mp3 = encoded(sine(0.3, 22050), 22050, "MP3")
        yield client.upload("/audio/upload", {"name": "Tune"}, {"file": ("tune.mp3", mp3)})
        [asset] = yield self.audio.list()
        secret = self.data_dir / "secret.wav"
        secret.write_bytes(b"RIFFsecret")
        for path in ("/audio/../secret.wav", "/audio/%2e%2e/secret.wav",
                     f"/audio/{asset.id}/..%2f..%2fsecret.wav", "/audio/x/sound.wav",
                     "/audio/999/sound.wav", f"/audio/{asset.id}%2f..%2f..%2fsecret/sound.wav"):
            result = yield client.get(path)
            self.assertEqual(result.code, 404, path)
            self.assertNotIn(b"secret", result.body)
        for fmt in asset.formats:
            (self.sounds_dir / f"{asset.path}.{fmt}").unlink()
        self.assertEqual((yield client.get(f"/audio/{asset.id}/sound.wav")).code, 404)
