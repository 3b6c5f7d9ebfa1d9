"""
API: the audio library (list, upload with the sound file as the request
body, read one, download its WAV, delete).
"""

from fts.audio import convert as audio_convert
from fts.db.audio import AudioError, AudioExists, AudioInUse
from fts.web import security, uploads
from fts.web.api import files
from fts.web.api.framework import API, ApiError, Download, Field, Reply, invalid, page_of
from fts.web.pages.audio import asset_json, convert_upload, remove_files, sound_response

ASSET_ID = Field("asset_id", "integer", required=True)
TAGS = ["audio"]


def _store(web):
    if web.audio is None:
        raise ApiError(503, "unavailable", "The audio library is not available in this"
                                           " daemon.")
    return web.audio


@API.endpoint("GET", "/audio", "Every recording, by name", role=security.VIEWER, tags=TAGS)
async def list_audio(web, request, caller):
    items = [asset_json(a) for a in await _store(web).list()]
    return page_of(items, len(items), len(items), 0)


@API.endpoint("POST", "/audio/upload", "Add a recording", role=security.OPERATOR,
              status=201, tags=TAGS,
              consumes=["audio/wav", "audio/mpeg", "application/octet-stream"],
              query=[Field("name", "string", required=True, max_length=200),
                     Field("description", "string", max_length=1000),
                     Field("filename", "string", required=True, max_length=200,
                           description="The file's name; its extension says its type"
                                       " (.wav, .mp3, .flac, .ogg …).")],
              description="The request body is the sound file. It is converted to 8 kHz"
                          " mono (plus the configured formats) and measured; answers 409"
                          " with the existing recording when it is already in the"
                          " library.")
async def upload_audio(web, request, caller, query):
    store = _store(web)
    name = query["name"].strip()
    filename = uploads.clean_filename(query["filename"]) or "upload"
    problems = [] if name else [("name", "is required")]
    problem = uploads.audio_type_problem(filename)
    if problem:
        problems.append(("filename", problem))
    if problems:
        raise invalid(problems)
    saved = await files.receive(web, request, filename, uploads.AUDIO_MAX_BYTES, ".upload")
    try:
        sound = await convert_upload(web, saved, web.sound_formats)
    except audio_convert.AudioError as e:
        raise invalid([("body", str(e))], str(e))
    finally:
        await web.run_blocking(uploads.remove, saved.path)
    try:
        asset = await store.create(sound, name, filename,
                                   description=(query.get("description") or "").strip()
                                   or None, created_by=caller.account.id)
    except AudioExists as e:
        raise ApiError(409, "exists", str(e), [("body", f"same as audio asset"
                                                        f" {e.existing.id}")])
    except AudioError as e:
        raise invalid([("name", str(e))], str(e))
    await web.audit.record(caller.actor, "audio.upload", "audio_asset", asset.id,
                           {"name": name, "file": filename, "duration_ms": asset.duration_ms})
    return Reply(201, asset_json(asset))


async def _get(web, asset_id):
    asset = await _store(web).get(asset_id)
    if asset is None:
        raise ApiError(404, "not_found", "There is no such recording.")
    return asset


@API.endpoint("GET", "/audio/{asset_id}", "One recording", role=security.VIEWER,
              params=[ASSET_ID], tags=TAGS)
async def get_audio(web, request, caller, asset_id):
    return asset_json(await _get(web, asset_id))


@API.endpoint("GET", "/audio/{asset_id}/sound.wav", "The recording as 8 kHz mono WAV",
              role=security.VIEWER, params=[ASSET_ID], tags=TAGS, produces="audio/wav")
async def get_audio_sound(web, request, caller, asset_id):
    await _get(web, asset_id)
    sound = await sound_response(web, request, asset_id)
    if sound is None:
        raise ApiError(404, "not_found", "The recording's file is missing.")

    async def send(request):
        return sound

    return Download(send)


@API.endpoint("DELETE", "/audio/{asset_id}", "Delete a recording", role=security.OPERATOR,
              params=[ASSET_ID], tags=TAGS,
              description="Answers 409 while a campaign that is not finalized plays it.")
async def delete_audio(web, request, caller, asset_id):
    store = _store(web)
    await _get(web, asset_id)
    try:
        asset = await store.delete(asset_id)
    except AudioInUse as e:
        raise ApiError(409, "conflict", str(e))
    if asset is None:
        raise ApiError(404, "not_found", "There is no such recording.")
    await web.run_blocking(remove_files, web, asset)
    await web.audit.record(caller.actor, "audio.delete", "audio_asset", asset_id,
                           {"name": asset.name})
    return {"id": asset_id, "deleted": True}
