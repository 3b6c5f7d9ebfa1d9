"""
The audio library's SQL: the C{audio_assets} rows of converted recordings.

The files themselves are written by L{fts.audio.convert} into the sounds
directory; a row records one of them under the name the operator gave it:
its original file name, content hash, formats, measured duration, and its
path relative to the sounds directory, without extension (the form
STREAM FILE takes once joined to the sounds directory).

An asset played by a campaign that is not finalized cannot be deleted: the
campaign store links every asset a campaign's settings name in
C{campaign_audio_assets} (C{ON DELETE RESTRICT}); L{AudioStore.delete}
removes the links of finalized (and deleted) campaigns first, so only
campaigns that may still dial keep an asset.
"""

from pathlib import Path

import attr
import psycopg2.errors
from twisted.internet import defer

__all__ = ["AudioAsset", "AudioError", "AudioExists", "AudioInUse", "AudioStore"]

_COLUMNS = ("id, name, description, original_filename, content_hash, status, error, formats,"
            " duration_ms, sample_rate, size_bytes, path, created_by, created_at, archived_at")


class AudioError(Exception):
    """
    An audio library operation was refused; C{str()} is for the operator.
    """


class AudioInUse(AudioError):
    """
    A campaign that is not finalized plays the asset.
    """


class AudioExists(AudioError):
    """
    The same converted recording is already in the library (its files, and
    so its path, are the same).

    @ivar existing: the L{AudioAsset} already there.
    """

    def __init__(self, message, existing):
        super().__init__(message)
        self.existing = existing


@attr.frozen
class AudioAsset:
    """
    An C{audio_assets} row.

    @ivar formats: the file extensions present (C{("wav", "gsm")}).
    @ivar path: relative to the sounds directory, without extension.
    """

    id: int
    name: str
    description: object
    original_filename: str
    content_hash: str
    status: str
    error: object
    formats: tuple = attr.field(converter=tuple)
    duration_ms: object = None
    sample_rate: object = None
    size_bytes: object = None
    path: str = ""
    created_by: object = None
    created_at: object = None
    archived_at: object = None


def _asset(row):
    return AudioAsset(*row)


class AudioStore:
    """
    The audio library.

    @param pool: the L{fts.db.pool.Pool}.
    @param sounds_dir: the configured sounds directory (C{config.sounds_dir}).
    """

    def __init__(self, pool, sounds_dir):
        self.pool = pool
        self.sounds_dir = Path(sounds_dir)

    @defer.inlineCallbacks
    def create(self, sound, name, original_filename, *, description=None, created_by=None,
               content_hash=None):
        """
        Add a converted recording to the library (status C{ready}).

        @param sound: the L{fts.audio.convert.SoundFile} the conversion
            wrote under the sounds directory.
        @param name: what the operator calls it.
        @param original_filename: the uploaded file's name.
        @param content_hash: the hash of the uploaded bytes, when known;
            default: the hash of the converted samples.
        @return: a Deferred firing with the new L{AudioAsset}.
        @raise AudioExists: the same converted recording is already in the
            library (the error carries that asset).
        @raise AudioError: an empty name, or files outside the sounds
            directory.
        """
        name = (name or "").strip()
        if not name:
            raise AudioError("Give the recording a name.")
        try:
            path = sound.relative_path(self.sounds_dir)
        except ValueError:
            raise AudioError(f"The converted files of {original_filename!r} are not in the"
                             f" sounds directory {self.sounds_dir}.") from None
        rows = yield self.pool.runQuery(
            "INSERT INTO audio_assets (name, description, original_filename, content_hash,"
            " status, formats, duration_ms, sample_rate, size_bytes, path, created_by)"
            " VALUES (%s, %s, %s, %s, 'ready', %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (path) DO NOTHING RETURNING " + _COLUMNS,
            (name, description, original_filename, content_hash or sound.content_hash,
             list(sound.formats), sound.duration_ms, sound.sample_rate, sound.size, path,
             created_by))
        if rows:
            return _asset(rows[0])
        rows = yield self.pool.runQuery(
            "SELECT " + _COLUMNS + " FROM audio_assets WHERE path = %s", (path,))
        if not rows:
            # Deleted between the two statements: try once more.
            return (yield self.create(sound, name, original_filename, description=description,
                                      created_by=created_by, content_hash=content_hash))
        existing = _asset(rows[0])
        raise AudioExists(
            f"{original_filename!r} is the same recording as {existing.name!r}"
            f" (audio asset {existing.id}), already in the library.", existing)

    @defer.inlineCallbacks
    def list(self, include_archived=False):
        """
        Every asset, by name.

        @rtype: Deferred firing with a list of L{AudioAsset}
        """
        where = "" if include_archived else " WHERE archived_at IS NULL"
        rows = yield self.pool.runQuery(
            "SELECT " + _COLUMNS + " FROM audio_assets" + where + " ORDER BY lower(name), id")
        return [_asset(row) for row in rows]

    @defer.inlineCallbacks
    def get(self, asset_id):
        """
        One asset, or C{None}.
        """
        rows = yield self.pool.runQuery(
            "SELECT " + _COLUMNS + " FROM audio_assets WHERE id = %s", (asset_id,))
        return _asset(rows[0]) if rows else None

    def used_by(self, asset_id):
        """
        The campaigns linked to an asset: a Deferred firing with a list of
        C{(campaign_id, name, state)}, by campaign id.
        """
        return self.pool.runQuery(
            "SELECT c.id, c.name, c.state FROM campaign_audio_assets ca"
            " JOIN campaigns c ON c.id = ca.campaign_id"
            " WHERE ca.audio_asset_id = %s ORDER BY c.id", (asset_id,))

    @defer.inlineCallbacks
    def delete(self, asset_id):
        """
        Delete an asset's row.  Links from finalized (or deleted) campaigns
        are removed first; a campaign that is not finalized keeps its
        assets.  The files stay: the caller removes them (see
        L{AudioAsset.path} and C{formats}).

        @return: a Deferred firing with the deleted L{AudioAsset}, or
            C{None} if there was none.
        @raise AudioInUse: a campaign that is not finalized plays it.
        """

        @defer.inlineCallbacks
        def interaction(cursor):
            yield cursor.execute(
                "DELETE FROM campaign_audio_assets ca USING campaigns c"
                " WHERE ca.campaign_id = c.id AND ca.audio_asset_id = %s"
                "   AND c.state IN ('finalized', 'deleted')", (asset_id,))
            yield cursor.execute(
                "DELETE FROM audio_assets WHERE id = %s RETURNING " + _COLUMNS, (asset_id,))
            return cursor.fetchall()

        try:
            rows = yield self.pool.runInteraction(interaction)
        except (psycopg2.errors.ForeignKeyViolation, psycopg2.errors.RestrictViolation):
            users = yield self.used_by(asset_id)
            asset = yield self.get(asset_id)
            what = f"Audio asset {asset_id}" + (f" ({asset.name!r})" if asset else "")
            if not users:
                raise AudioInUse(f"{what} is in use by a campaign.") from None
            cid, cname, state = next((u for u in users if u[2] not in ("finalized", "deleted")),
                                     users[0])
            raise AudioInUse(
                f"{what} is played by campaign {cid} ({cname!r}), which is {state};"
                " it can be deleted once that campaign is finalized.") from None
        return _asset(rows[0]) if rows else None

    @defer.inlineCallbacks
    def paths(self, asset_ids):
        """
        Where each ready asset's files are, for STREAM FILE.

        @param asset_ids: asset ids.
        @return: a Deferred firing with C{{asset_id: absolute base path}};
            ids of missing or unready assets are left out.
        """
        ids = sorted({int(i) for i in asset_ids})
        if not ids:
            return {}
        rows = yield self.pool.runQuery(
            "SELECT id, path FROM audio_assets WHERE id = ANY(%s::bigint[])"
            " AND status = 'ready'", (ids,))
        return {asset_id: str(self.sounds_dir / path) for asset_id, path in rows}
