"""
The audio library: recordings with their measured duration, a player to
hear each one, upload (converted for Asterisk in a thread, never on the
reactor thread) and delete (refused, with the reason, while a campaign
that may still dial plays it), and whether text-to-speech is available.

Sounds are served by asset id only: the file is the one the asset's row
names under the sounds directory; nothing in the request becomes a path.
Rows go through C{web.audio} (L{fts.db.audio.AudioStore}); converted
files are written under C{<sounds_dir>/library/}.
"""

import functools
from pathlib import Path

from twisted.logger import Logger
from twisted.web.static import File

from fts.audio import convert as audio_convert
from fts.db.audio import AudioError, AudioExists, AudioInUse
from fts.web import security, uploads
from fts.web.forms import Form
from fts.web.guard import page
from fts.web.pages import pending
from fts.web.pages.list_views import sentence
from fts.web.pages.lists import staging_directory
from fts.web.routes import RouteTable

log = Logger()
routes = RouteTable()

#: Where uploaded recordings go, under the sounds directory.
LIBRARY = "library"

NOTICES = {
    "audio-uploaded": "The recording has been converted and added to the library.",
    "audio-deleted": "The recording has been deleted.",
}


def sounds_dir(web):
    """
    The sounds directory: C{web.sounds_dir}, else the audio store's.
    """
    if web.sounds_dir is not None:
        return Path(web.sounds_dir)
    return Path(web.audio.sounds_dir)


def asset_json(asset):
    return {"id": asset.id, "name": asset.name, "description": asset.description,
            "original_filename": asset.original_filename, "status": asset.status,
            "duration_ms": asset.duration_ms, "sample_rate": asset.sample_rate,
            "formats": list(asset.formats), "size_bytes": asset.size_bytes,
            "content_hash": asset.content_hash, "created_at": asset.created_at,
            "sound_url": f"/audio/{asset.id}/sound.wav"}


def tts_status(web):
    """
    C{(configured, available, reason)} of text-to-speech.
    """
    if web.tts is None:
        return False, False, "Text-to-speech is not configured in this daemon."
    availability = web.tts.available()
    return True, bool(availability), availability.reason


async def _index(web, request, caller, status=200, errors=None, values=None, error=None):
    assets = await web.audio.list()
    configured, available, reason = tts_status(web)
    return web.render(request, caller, "audio.html", status=status, section="audio",
                      assets=assets, errors=errors or {}, values=values or {}, error=error,
                      tts_configured=configured, tts_available=available, tts_reason=reason,
                      tts_engine=getattr(getattr(web.tts, "engine", None), "name", None),
                      limit=uploads.human_size(uploads.AUDIO_MAX_BYTES),
                      extensions=", ".join(e.lstrip(".") for e in uploads.AUDIO_EXTENSIONS))


@routes.route("/audio")
@page()
async def audio_page(web, request, caller):
    if web.audio is None:
        return await pending.show(web, request, caller, "audio")
    return await _index(web, request, caller)


async def convert_upload(web, saved, formats):
    """
    Convert a saved upload into the library directory, in a thread.

    @return: the L{fts.audio.convert.SoundFile}.
    @raise fts.audio.convert.AudioError: not a recording FTS can use.
    """
    job = functools.partial(audio_convert.convert, filename=saved.filename)
    return await web.run_blocking(job, saved.path, sounds_dir(web) / LIBRARY, formats)


@routes.route("/audio/upload", methods=("POST",))
@uploads.upload_page(security.OPERATOR)
async def upload_audio(web, request, caller):
    """
    Add a recording: the name and file are checked, the file converted in a
    thread (8 kHz mono WAV plus the configured formats) and measured, then
    recorded in the library.
    """
    if web.audio is None:
        return await pending.show(web, request, caller, "audio")
    form = Form(request)
    name = form.text("name", "Name", max_length=200)
    description = form.text("description", "Description", required=False, max_length=1000)
    saved = None
    staging = uploads.staging_path(staging_directory(web), ".upload")
    try:
        saved = await web.run_blocking(uploads.save_part, request.content,
                                       uploads.boundary_of(request), "file", staging,
                                       uploads.AUDIO_MAX_BYTES)
    except uploads.UploadError as e:
        form.error("file", str(e))
    sound = None
    try:
        if saved is not None:
            problem = uploads.audio_type_problem(saved.filename)
            if problem:
                form.error("file", problem)
        if form.ok:
            try:
                sound = await convert_upload(web, saved, web.sound_formats)
            except audio_convert.AudioError as e:
                form.error("file", str(e))
    finally:
        if saved is not None:
            await web.run_blocking(uploads.remove, saved.path)
    if form.ok:
        try:
            asset = await web.audio.create(sound, name, saved.filename,
                                           description=description or None,
                                           created_by=caller.account.id)
        except AudioExists as e:
            form.error("file", str(e))
        except AudioError as e:
            form.error("file", str(e))
            if not sound.reused:
                await web.run_blocking(lambda: [uploads.remove(p) for p in sound.paths.values()])
    if not form.ok:
        return await _index(web, request, caller, 400, form.errors, form.values)
    await web.audit.record(caller.actor, "audio.upload", "audio_asset", asset.id,
                           {"name": name, "file": saved.filename,
                            "duration_ms": asset.duration_ms})
    return web.see_other(request, "/audio?notice=audio-uploaded")


def asset_file(web, asset, fmt="wav"):
    """
    The file of an asset in one format, or L{None} if it is not inside the
    sounds directory or missing (never a path from a request: the asset's
    own row names it).
    """
    base = sounds_dir(web).resolve()
    path = (base / (asset.path + audio_convert.FORMATS[fmt])).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path


class _Sound(File):
    """
    One sound file, as C{audio/wav}, with byte ranges (browsers seek in
    the player with them).
    """

    def __init__(self, path):
        super().__init__(str(path), defaultType="audio/wav")
        self.type = "audio/wav"
        self.encoding = None

    def directoryListing(self):
        return self.forbidden


async def sound_response(web, request, asset_id):
    """
    The WAV of an asset as a resource, or L{None} when there is none.
    """
    asset = await web.audio.get(asset_id)
    if asset is None or asset.status != "ready":
        return None
    path = await web.run_blocking(asset_file, web, asset)
    if path is None:
        log.warn("audio asset {asset_id} ({name}): its file {path}.wav is missing",
                 asset_id=asset_id, name=asset.name, path=asset.path)
        return None
    request.setHeader(b"content-disposition", b'inline; filename="audio-%d.wav"' % asset_id)
    return _Sound(path)


@routes.route("/audio/<int:asset_id>/sound.wav")
@page()
async def audio_sound(web, request, caller, asset_id):
    """
    The recording as 8 kHz WAV, for the page's player.
    """
    if web.audio is None:
        return await pending.show(web, request, caller, "audio")
    sound = await sound_response(web, request, asset_id)
    if sound is None:
        return web.error_page(request, caller, 404, "There is no such recording.")
    return sound


def remove_files(web, asset):
    """
    Remove an asset's files (blocking).
    """
    base = sounds_dir(web).resolve()
    for fmt in asset.formats:
        extension = audio_convert.FORMATS.get(fmt)
        if extension is None:
            continue
        path = (base / (asset.path + extension)).resolve()
        if base in path.parents:
            uploads.remove(path)


@routes.route("/audio/<int:asset_id>/delete", methods=("POST",))
@page(security.OPERATOR)
async def delete_audio(web, request, caller, asset_id):
    if web.audio is None:
        return await pending.show(web, request, caller, "audio")
    try:
        asset = await web.audio.delete(asset_id)
    except AudioInUse as e:
        return await _index(web, request, caller, 409, error=sentence(e))
    if asset is None:
        return web.error_page(request, caller, 404, "There is no such recording.")
    await web.run_blocking(remove_files, web, asset)
    await web.audit.record(caller.actor, "audio.delete", "audio_asset", asset_id,
                           {"name": asset.name})
    return web.see_other(request, "/audio?notice=audio-deleted")
