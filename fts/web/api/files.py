"""
Files uploaded to the API as a request body (contact lists, DNC numbers,
audio): the file name from the query, and the body saved into the staging
directory off the reactor, with the problems of either as a 422 on the
field at fault.
"""

from fts.web import uploads
from fts.web.api.framework import invalid
from fts.web.pages.lists import staging_directory


def csv_filename(query):
    """
    The cleaned C{filename} of the query (C{upload.csv} when absent).

    @raise ApiError: 422 on C{filename} when it does not name a CSV file.
    """
    filename = uploads.clean_filename(query.get("filename")) or "upload.csv"
    problem = uploads.csv_type_problem(filename)
    if problem:
        raise invalid([("filename", problem)])
    return filename


async def receive(web, request, filename, max_bytes, suffix):
    """
    Save the request's body into the staging directory (in a thread).

    @return: the L{uploads.save_body} result.
    @raise ApiError: 422 on C{body} when it is too large or unreadable.
    """
    staging = uploads.staging_path(staging_directory(web), suffix)
    try:
        return await web.run_blocking(uploads.save_body, request.content, staging,
                                      max_bytes, filename)
    except uploads.UploadError as e:
        raise invalid([("body", str(e))], str(e))
