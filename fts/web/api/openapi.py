"""
The OpenAPI 3.0 document of the API, generated from the endpoint
declarations, so it cannot drift from what the routes accept.
"""

from fts.web.api.framework import PAGE_FIELDS, PREFIX

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "problems"],
        "properties": {
            "code": {"type": "string", "description": "Machine-readable error code."},
            "message": {"type": "string", "description": "What went wrong, in words."},
            "problems": {"type": "array", "items": {
                "type": "object", "required": ["field", "problem"],
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            }},
        },
    }},
}

_ERRORS = {
    "401": "No valid API token.",
    "403": "The token's role does not allow this.",
    "422": "Invalid fields or parameters (see problems).",
}


def _error(description):
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _object(fields):
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: f.schema() for f in fields},
        **({"required": [f.name for f in fields if f.required]}
           if any(f.required for f in fields) else {}),
    }


def _operation(endpoint):
    operation = {
        "operationId": endpoint.function.__name__,
        "summary": endpoint.summary,
        "tags": list(endpoint.tags),
        "responses": {str(endpoint.status): {
            "description": "Success.",
            "content": {endpoint.produces: {
                "schema": endpoint.response or (
                    {"type": "object"} if endpoint.produces == "application/json"
                    else {"type": "string", "format": "binary"})}},
        }},
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    parameters = [{"name": f.name, "in": "path", "required": True, "schema": f.schema()}
                  for f in endpoint.params]
    parameters += [{"name": f.name, "in": "query", "required": f.required,
                    "schema": f.schema(), **({"description": f.description}
                                             if f.description else {})}
                   for f in endpoint.query]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.consumes:
        operation["requestBody"] = {"required": True, "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in endpoint.consumes}}
    if endpoint.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _object(endpoint.body)}}}
    if endpoint.role is None:
        operation["security"] = []
    else:
        operation["description"] = (operation.get("description", "") +
                                     f"\n\nRequires the {endpoint.role} role.").strip()
        for code, text in _ERRORS.items():
            operation["responses"][code] = _error(text)
    if endpoint.body is not None or endpoint.query:
        operation["responses"].setdefault("422", _error(_ERRORS["422"]))
    return operation


def document(table, version="0.1.0"):
    """
    The OpenAPI document (a dict) of every endpoint in C{table}.
    """
    paths = {}
    for endpoint in table.endpoints:
        paths.setdefault(PREFIX + endpoint.path, {})[endpoint.method.lower()] = \
            _operation(endpoint)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "FTS API",
            "version": version,
            "description": "Outbound voice campaigns. Authenticate with a token created in"
                           " the panel (API tokens page): Authorization: Bearer <token>."
                           " Lists are paginated with limit and offset and return"
                           " items, total, limit, offset and next_offset. Errors are"
                           " {error: {code, message, problems: [{field, problem}]}}.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
            "parameters": {f.name: {"name": f.name, "in": "query", "schema": f.schema()}
                           for f in PAGE_FIELDS},
        },
        "security": [{"token": []}],
        "paths": paths,
    }
