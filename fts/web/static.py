"""
The panel's own static files (hand-written CSS and a little JavaScript, no
build step), read once at start from C{fts/web/static}.

Only files found there at start are served, by exact name: no path from a
request ever reaches the file system.  URLs carry a content hash
(C{/static/app.css?v=1a2b3c4d}) so browsers may cache them for long.
"""

import hashlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"

TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".txt": b"text/plain; charset=utf-8",
}


class StaticFiles:
    """
    Name -> (content type, bytes, version) of every file in the folder.
    """

    def __init__(self, folder=STATIC):
        self.files = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                kind = TYPES.get(path.suffix)
                if path.is_file() and kind is not None:
                    data = path.read_bytes()
                    version = hashlib.sha256(data).hexdigest()[:10]
                    self.files[path.name] = (kind, data, version)

    def url(self, name):
        """
        The URL of file C{name}, with its version.
        """
        kind, data, version = self.files[name]
        return f"/static/{name}?v={version}"

    def serve(self, request, name):
        found = self.files.get(name)
        if found is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"No such file.\n"
        kind, data, version = found
        request.setHeader(b"content-type", kind)
        request.setHeader(b"cache-control", b"public, max-age=86400")
        request.setHeader(b"etag", b'"' + version.encode("ascii") + b'"')
        return data
