"""
Files sent to the panel (C{multipart/form-data} forms) and to the API (raw
request bodies), saved to disk in blocks: an upload is never held in memory.

Twisted keeps a request body past 100 kB in a temporary file, and the
routes under L{UPLOAD_LIMITS} are not parsed as forms (L{fts.web.limits}),
so an upload route finds the raw body in C{request.content}.
L{upload_page} reads the small text fields at the start of a multipart body
(the CSRF token, a name) into C{request.args}, so the usual guard
(L{fts.web.guard.page}) checks the session, the CSRF token and the role
before anything is saved; the route then copies the file part to a staging
file with L{save_part} (or a raw body with L{save_body}) off the reactor
thread, and moves it where it belongs once it is checked.

Browsers send form fields in document order: upload forms put their
C{csrf_token} and text fields before the file input.  Fields after the
file part are not read.
"""

import functools
import os
import re
import shutil
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath

import attr
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import (
    NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder,
)

from fts.web.guard import page

MiB = 1024 * 1024

#: The largest contact-list CSV accepted (millions of rows fit).
LIST_MAX_BYTES = 2048 * MiB
#: The largest DNC CSV accepted.
DNC_MAX_BYTES = 512 * MiB
#: The largest recording accepted (30 minutes of WAV at 44.1 kHz stereo is
#: about 320 MB; compressed formats are much smaller).
AUDIO_MAX_BYTES = 400 * MiB

#: Path prefix -> largest body, for L{fts.web.limits.BodyLimits}: these
#: routes take large bodies, and their forms are not parsed in memory.
UPLOAD_LIMITS = {
    b"/lists/upload": LIST_MAX_BYTES,
    b"/dnc/upload/": DNC_MAX_BYTES,
    b"/audio/upload": AUDIO_MAX_BYTES,
    b"/api/v1/contact-lists/upload": LIST_MAX_BYTES,
    b"/api/v1/dnc-lists/upload/": DNC_MAX_BYTES,
    b"/api/v1/audio/upload": AUDIO_MAX_BYTES,
}

#: Bytes read at a time from the request body.
BLOCK = 256 * 1024
#: How much of a multipart body may precede its file part (text fields).
LEADING_BYTES = 64 * 1024

CSV_EXTENSIONS = ("", ".csv", ".txt", ".tsv", ".tab")
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64")


class UploadError(ValueError):
    """
    An upload cannot be used; C{str()} says why, for the operator.
    """


@attr.s(frozen=True, slots=True)
class Saved:
    """
    A file saved from a request: where, under which name it was sent, and
    its size in bytes.
    """

    path = attr.ib()
    filename = attr.ib()
    size = attr.ib()


def human_size(count):
    """
    C{1536} -> C{"1.5 kB"}; C{2 * 1024**3} -> C{"2 GB"}.
    """
    value = float(count)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{count} bytes"


_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(name):
    """
    The name part of a file name a client sent (some send a whole Windows
    or POSIX path), without control characters, at most 200 characters;
    L{None} for nothing usable.  Only ever shown and stored as text: files
    are saved under names FTS makes.
    """
    if not name:
        return None
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = _UNSAFE.sub("", name).strip()
    if name in ("", ".", ".."):
        return None
    return name[:200]


def extension(filename):
    return os.path.splitext(filename or "")[1].lower()


def csv_type_problem(filename):
    """
    Why a file named C{filename} is not taken as a CSV file, or L{None}
    (the content is checked afterwards: L{fts.core.contacts.sniff}).
    """
    ext = extension(filename)
    if ext in WORKBOOK_EXTENSIONS:
        return (f"{filename} is a spreadsheet workbook, not a CSV file: save it as CSV"
                " (UTF-8) and upload that.")
    if ext not in CSV_EXTENSIONS:
        return f"{filename} is not a CSV file: upload a .csv, .txt or .tsv file."
    return None


def audio_type_problem(filename):
    """
    Why a file named C{filename} is not taken as a recording, or L{None}
    (the conversion checks the content).
    """
    ext = extension(filename)
    if ext not in AUDIO_EXTENSIONS:
        shown = ", ".join(e.lstrip(".").upper() for e in AUDIO_EXTENSIONS[:6])
        return (f"{filename} is not a sound file FTS reads: upload {shown} or another"
                " format sox/libsndfile reads (convert AAC, M4A or WMA first).")
    return None


def staging_path(directory, suffix=".part"):
    """
    A new, unused file name in C{directory} (created if missing).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{uuid.uuid4().hex}{suffix}"


def remove(path):
    """
    Remove a file if it is there (blocking; for thread pools).
    """
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def move(source, destination):
    """
    Move a saved upload to where it belongs (blocking): a rename on the
    same file system, else a copy.
    """
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(destination))


# -- multipart bodies ---------------------------------------------------------


def boundary_of(request):
    """
    The multipart boundary of a request.

    @raise UploadError: the body is not C{multipart/form-data}.
    """
    raw = request.getHeader(b"content-type") or b""
    kind, options = parse_options_header(raw.decode("latin-1"))
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise UploadError("Send the file with the upload form (multipart/form-data).")
    return boundary.encode("latin-1")


def _events(content, boundary, limit=None):
    """
    The multipart events of a request body read from its start, in blocks.
    Yields werkzeug's C{Field}, C{File}, C{Data} and C{Epilogue} events.

    @param limit: stop reading after this many bytes (L{None}: all).
    @raise UploadError: the body is not well-formed multipart.
    """
    decoder = MultipartDecoder(boundary)
    content.seek(0)
    read = 0
    ended = False
    while True:
        try:
            event = decoder.next_event()
        except ValueError:
            raise UploadError("The upload was cut off or is not a valid form; try again.")
        if event is NEED_DATA:
            if ended:
                raise UploadError("The upload was cut off or is not a valid form; try again.")
            if limit is not None and read >= limit:
                return
            block = content.read(BLOCK if limit is None else min(BLOCK, limit - read))
            read += len(block)
            if not block:
                ended = True
                decoder.receive_data(None)
            else:
                decoder.receive_data(block)
            continue
        yield event
        if isinstance(event, Epilogue):
            return


def leading_fields(content, boundary, limit=LEADING_BYTES, max_value=10_000):
    """
    The text fields that come before the first file part of a multipart
    body, as C{{name: bytes}} (blocking, but reads at most C{limit} bytes).
    """
    fields, current, value = {}, None, b""
    try:
        for event in _events(content, boundary, limit):
            if isinstance(event, File):
                break
            if isinstance(event, Field):
                current, value = event.name, b""
            elif isinstance(event, Data) and current is not None:
                value += event.data
                if len(value) > max_value:
                    current = None
                elif not event.more_data:
                    fields.setdefault(current, value)
                    current = None
    except UploadError:
        pass
    return fields


def save_part(content, boundary, field, destination, max_bytes):
    """
    Copy the file part named C{field} of a multipart body to
    C{destination}, in blocks (blocking: run it in a thread).

    @return: the L{Saved} file.
    @raise UploadError: no such file part, an empty file, a file over
        C{max_bytes}, or a malformed body; C{destination} is then removed.
    """
    found = None
    try:
        with open(destination, "wb") as out:
            size = 0
            for event in _events(content, boundary):
                if found is None:
                    if isinstance(event, File) and event.name == field:
                        found = clean_filename(event.filename) or "upload"
                    continue
                if not isinstance(event, Data):
                    break
                size += len(event.data)
                if size > max_bytes:
                    raise UploadError(f"The file is larger than {human_size(max_bytes)},"
                                      " the most accepted here.")
                out.write(event.data)
                if not event.more_data:
                    break
        if found is None:
            raise UploadError("Choose a file to upload.")
        if size == 0:
            raise UploadError(f"{found} is empty (0 bytes).")
    except BaseException:
        remove(destination)
        raise
    return Saved(Path(destination), found, size)


def save_body(content, destination, max_bytes, filename=None):
    """
    Copy a whole request body to C{destination}, in blocks (blocking).

    @raise UploadError: empty, or over C{max_bytes}; C{destination} is
        then removed.
    """
    size = 0
    try:
        with open(destination, "wb") as out:
            content.seek(0)
            while True:
                block = content.read(BLOCK)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise UploadError(f"The body is larger than {human_size(max_bytes)},"
                                      " the most accepted here.")
                out.write(block)
        if size == 0:
            raise UploadError("The request body is empty: send the file as the body.")
    except BaseException:
        remove(destination)
        raise
    return Saved(Path(destination), clean_filename(filename) or "upload", size)


def upload_page(role):
    """
    L{fts.web.guard.page} for a route taking a multipart upload: the text
    fields before the file (C{csrf_token} among them) are read into
    C{request.args} first, then the guard runs as for any form.
    """

    def decorate(f):
        guarded = page(role)(f)

        @functools.wraps(f)
        async def read_fields_first(web, request, **kwargs):
            content = request.content
            if request.method == b"POST" and content is not None:
                try:
                    boundary = boundary_of(request)
                except UploadError:
                    boundary = None
                if boundary is not None:
                    args = request.args if request.args is not None else {}
                    for name, value in leading_fields(content, boundary).items():
                        args.setdefault(name.encode("utf-8"), [value])
                    request.args = args
            return await guarded(web, request, **kwargs)

        read_fields_first.required_role = role
        return read_fields_first

    return decorate
