"""
The JSON API's machinery: endpoints declared once, from which come the
Klein routes, token authentication and role checks, request validation,
structured errors, pagination, and the OpenAPI document.

    @api.endpoint("POST", "/users", role=ADMIN, summary="Create a user",
                  body=[Field("username", "string", required=True), ...])
    async def create_user(web, request, caller, body): ...

A handler returns a JSON-able value (HTTP 200), or C{Reply(status, value)};
it raises L{ApiError} for an error.  Every error is
C{{"error": {"code": …, "message": …, "problems": [{"field": …, "problem": …}]}}}.
"""

import json
import re
from datetime import date, datetime

import attr
from twisted.logger import Logger

from fts.web import security
from fts.web.routes import Route

log = Logger()

PREFIX = "/api/v1"
JSON = b"application/json"
_TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float),
          "array": list, "object": dict}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ApiError(Exception):
    """
    An error answered as JSON: HTTP C{status}, a machine-readable C{code},
    a sentence, and the C{problems} as C{(field, problem)} pairs.
    """

    def __init__(self, status, code, message, problems=()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems)


def invalid(problems, message="The request has invalid fields; nothing was changed."):
    return ApiError(422, "invalid", message, problems)


@attr.s(frozen=True, slots=True)
class Reply:
    status = attr.ib()
    value = attr.ib()


@attr.s(frozen=True, slots=True)
class Download:
    """
    A non-JSON answer (a CSV report, a sound file): C{send(request)}, a
    coroutine, sets the headers, writes the body and returns what Klein
    renders.  The endpoint declares its C{produces} media type.
    """

    send = attr.ib()


@attr.s(frozen=True, slots=True)
class Field:
    """
    One field of a JSON body or one query parameter: its JSON type, whether
    it is required, and its limits (checked, and written into OpenAPI).
    """

    name = attr.ib()
    type = attr.ib(default="string")
    required = attr.ib(default=False)
    description = attr.ib(default="")
    enum = attr.ib(default=None)
    max_length = attr.ib(default=None)
    minimum = attr.ib(default=None)
    maximum = attr.ib(default=None)
    nullable = attr.ib(default=False)
    items = attr.ib(default=None)

    def schema(self):
        schema = {"type": self.type}
        if self.description:
            schema["description"] = self.description
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.nullable:
            schema["nullable"] = True
        if self.items is not None:
            schema["items"] = {"type": self.items}
        return schema

    def check(self, value):
        """
        The problem with C{value}, in words, or L{None}.
        """
        if value is None:
            return None if self.nullable else "must not be null"
        expected = _TYPES[self.type]
        if isinstance(value, bool) and self.type in ("integer", "number"):
            return f"must be {self.type_words()}"
        if not isinstance(value, expected):
            return f"must be {self.type_words()}"
        if self.type == "string":
            if self.max_length is not None and len(value) > self.max_length:
                return f"must be at most {self.max_length} characters"
            if _CONTROL.search(value):
                return "must not contain control characters"
        if self.enum is not None and value not in self.enum:
            return "must be one of: " + ", ".join(map(str, self.enum))
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum}"
        return None

    def type_words(self):
        return {"string": "text", "integer": "a whole number", "boolean": "true or false",
                "number": "a number", "array": "a list", "object": "an object"}[self.type]

    def parse_query(self, text):
        """
        A query-string value converted to this field's type; raises
        ValueError with the problem.
        """
        if self.type == "integer":
            try:
                return int(text)
            except ValueError:
                raise ValueError("must be a whole number")
        if self.type == "boolean":
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError("must be true or false")
        return text


def read_body(request, fields):
    """
    The request's JSON object (an empty body is C{{}}) checked against
    C{fields}: unknown fields,
    missing required ones and wrong values are all reported at once.

    @return: a dict of the fields present.
    @raise ApiError: 415 (not JSON), 400 (malformed), 422 (invalid fields).
    """
    raw = request.content.read() if request.content is not None else b""
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if raw.strip() and kind != JSON:
        raise ApiError(415, "unsupported_media_type",
                       "Send the request body as application/json.")
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {e}.")
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The body must be a JSON object.")
    known = {f.name: f for f in fields}
    problems = [(name, "is not a known field") for name in sorted(body) if name not in known]
    for field in fields:
        if field.name not in body:
            if field.required:
                problems.append((field.name, "is required"))
            continue
        problem = field.check(body[field.name])
        if problem:
            problems.append((field.name, problem))
    if problems:
        raise invalid(problems)
    return body


def read_query(request, fields):
    """
    The query parameters named by C{fields}, converted and checked.

    @raise ApiError: 422 listing every bad parameter.
    """
    values, problems = {}, []
    args = request.args or {}
    for field in fields:
        raw = args.get(field.name.encode("ascii"))
        if not raw:
            if field.required:
                problems.append((field.name, "is required"))
            continue
        try:
            value = field.parse_query(raw[0].decode("utf-8"))
        except UnicodeDecodeError:
            problems.append((field.name, "is not valid UTF-8"))
            continue
        except ValueError as e:
            problems.append((field.name, str(e)))
            continue
        problem = field.check(value)
        if problem:
            problems.append((field.name, problem))
        else:
            values[field.name] = value
    if problems:
        raise invalid(problems, "The query has invalid parameters.")
    return values


PAGE_FIELDS = (
    Field("limit", "integer", minimum=1, maximum=500,
          description="Items per page (default 50)."),
    Field("offset", "integer", minimum=0, description="Items to skip (default 0)."),
)


def page_of(items, total, limit, offset):
    """
    The pagination envelope every list endpoint returns.
    """
    following = offset + len(items)
    return {"items": items, "total": total, "limit": limit, "offset": offset,
            "next_offset": following if following < total else None}


def to_json(value):
    """
    JSON text of C{value}; datetimes as ISO 8601.
    """
    def default(o):
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        if attr.has(type(o)):
            return attr.asdict(o, recurse=False)
        return str(o)

    return json.dumps(value, default=default, sort_keys=True).encode("utf-8")


def error_response(request, status, code, message, problems=()):
    request.setResponseCode(status)
    request.setHeader(b"content-type", JSON)
    request.setHeader(b"cache-control", b"no-store")
    return to_json({"error": {"code": code, "message": message,
                              "problems": [{"field": f, "problem": p}
                                           for f, p in problems]}}) + b"\n"


@attr.s(frozen=True, slots=True)
class Endpoint:
    """
    One declared endpoint of the API.

    @ivar path: OpenAPI style, under L{PREFIX} (C{"/users/{user_id}"}).
    @ivar role: the least role that may call it, or L{None}: no token needed.
    @ivar params: path parameters, as L{Field}s (C{integer} or C{string}).
    """

    method = attr.ib()
    path = attr.ib()
    function = attr.ib()
    summary = attr.ib()
    role = attr.ib()
    params = attr.ib(default=())
    query = attr.ib(default=())
    body = attr.ib(default=None)
    response = attr.ib(default=None)
    status = attr.ib(default=200)
    tags = attr.ib(default=())
    description = attr.ib(default="")
    consumes = attr.ib(default=())
    produces = attr.ib(default="application/json")

    def werkzeug_url(self):
        url = PREFIX + self.path
        for field in self.params:
            converter = "int" if field.type == "integer" else "string"
            url = url.replace("{%s}" % field.name, f"<{converter}:{field.name}>")
        return url


@attr.s(slots=True)
class ApiTable:
    """
    The API's endpoints, installed on the panel's Klein app as routes.
    """

    endpoints = attr.ib(factory=list)

    def endpoint(self, method, path, summary, role, params=(), query=(), body=None,
                 response=None, status=200, tags=(), description="", consumes=(),
                 produces="application/json"):
        """
        Declare C{f(web, request, caller, **values)} as an endpoint.

        @param consumes: media types of a raw request body (an upload) the
            handler reads itself from C{request.content}; for OpenAPI.
        @param produces: the media type of the answer; not JSON when the
            handler returns a L{Download}.
        """

        def declare(f):
            self.endpoints.append(Endpoint(method, path, f, summary, role, tuple(params),
                                           tuple(query), body, response, status,
                                           tuple(tags), description, tuple(consumes),
                                           produces))
            return f

        return declare

    def routes(self):
        return [Route(e.werkzeug_url(), (e.method,), _serve(e)) for e in self.endpoints]

    def install(self, app):
        for route in self.routes():
            app.route(route.url, methods=list(route.methods),
                      endpoint=route.endpoint)(route.function)


def _serve(endpoint):
    async def serve(web, request, **params):
        request.setHeader(b"cache-control", b"no-store")
        try:
            caller = None
            if endpoint.role is not None:
                if web.authenticator is None:
                    raise ApiError(503, "unavailable", "The database is not connected.")
                caller = await web.authenticator.api_caller(request)
                if caller is None:
                    request.setHeader(b"www-authenticate", b'Bearer realm="fts"')
                    raise ApiError(401, "unauthenticated",
                                   "Send a valid API token: Authorization: Bearer <token>.")
                if not caller.can(endpoint.role):
                    raise ApiError(403, "forbidden",
                                   f"This needs the {endpoint.role} role; this token"
                                   f" acts as {caller.role}. Nothing was changed.")
            kwargs = dict(params)
            if endpoint.query:
                kwargs["query"] = read_query(request, endpoint.query)
            if endpoint.body is not None:
                kwargs["body"] = read_body(request, endpoint.body)
            result = await endpoint.function(web, request, caller, **kwargs)
        except ApiError as e:
            return error_response(request, e.status, e.code, e.message, e.problems)
        if isinstance(result, Download):
            return await result.send(request)
        status, value = (result.status, result.value) if isinstance(result, Reply) \
            else (endpoint.status, result)
        request.setResponseCode(status)
        request.setHeader(b"content-type", JSON)
        return to_json(value) + b"\n"

    serve.__name__ = "api_" + endpoint.function.__name__
    serve.__module__ = endpoint.function.__module__
    serve.endpoint = endpoint
    return serve


#: The API's endpoints; every module of L{fts.web.api} declares into it.
API = ApiTable()
