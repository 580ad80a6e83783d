"""HTTP plumbing: OpenAI-style errors, request recording, injected failures and JSON replies."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .script import Fail
from .state import Core, RecordedRequest

CORE_KEY = web.AppKey("fake_openai_core", Core)
START_KEY = web.RequestKey("fake_openai_start", float)
BODY_KEY = web.RequestKey("fake_openai_body", object)
FILES_KEY = web.RequestKey("fake_openai_files", dict)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_BETA_PATHS = ("/v1/assistants", "/v1/threads")


class ApiError(Exception):
    """An error answered with OpenAI's body `{"error": {"message","type","param","code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the error; `headers` are added to the HTTP response."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    @classmethod
    def from_fail(cls, fail: Fail) -> ApiError:
        """Turn a scripted Fail step into an ApiError."""
        headers = {}
        if fail.retry_after is not None:
            headers["retry-after-ms"] = str(int(fail.retry_after * 1000))
        return cls(
            fail.status,
            fail.message,
            type=fail.type,
            param=fail.param,
            code=fail.code,
            headers=headers,
        )

    def body(self) -> dict[str, Any]:
        """Return the JSON error body."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """Return a 400 invalid_request_error."""
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None) -> ApiError:
    """Return a 404 invalid_request_error."""
    return ApiError(404, message, param=param)


def missing(param: str) -> ApiError:
    """Return the 400 OpenAI answers when a required parameter is absent."""
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def core_of(request: web.Request) -> Core:
    """Return the shared state of the app serving `request`."""
    return request.app[CORE_KEY]


def body_of(request: web.Request) -> dict[str, Any]:
    """Return the request's parsed JSON object (empty dict for no body)."""
    body = request.get(BODY_KEY)
    return body if isinstance(body, dict) else {}


def files_of(request: web.Request) -> dict[str, tuple[str, str, bytes]]:
    """Return uploaded multipart files as {field: (filename, content_type, data)}."""
    files: dict[str, tuple[str, str, bytes]] = request.get(FILES_KEY, {})
    return files


def elapsed_ms(request: web.Request) -> str:
    """Return the server time spent on `request` so far, in ms, for `x-fake-server-ms`."""
    return f"{(time.perf_counter() - request[START_KEY]) * 1000:.1f}"


def reply(request: web.Request, body: Any, schema: str | None, status: int = 200) -> web.Response:
    """Validate `body` against `schema` (when validation is on) and answer it as JSON."""
    if schema is not None:
        core_of(request).check(schema, body)
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
    )


def error_reply(request: web.Request, error: ApiError) -> web.Response:
    """Answer an ApiError with OpenAI's error body."""
    response = reply(request, error.body(), "ErrorResponse", status=error.status)
    response.headers.update(error.headers)
    return response


async def _parse(request: web.Request) -> Any:
    """Parse and stash the body: JSON, multipart form fields, or None."""
    if request.content_type == "application/json" and request.can_read_body:
        raw = await request.read()
        if not raw:
            return None
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise bad_request(
                "We could not parse the JSON body of your request. (HINT: This likely means you "
                "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                "but what was sent was not valid JSON."
            ) from exc
        request[BODY_KEY] = body
        return body
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str, str, bytes]] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[name] = (value.filename, value.content_type, data)
                fields[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "bytes": len(data),
                }
            else:
                fields[name] = str(value)
        request[BODY_KEY] = fields
        request[FILES_KEY] = files
        return fields
    return None


def _guard(core: Core, request: web.Request) -> None:
    """Refuse requests the real service would refuse before routing (auth, beta, switches)."""
    settings = core.settings
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if settings.api_key is not None and auth[7:] != settings.api_key:
        raise ApiError(
            401,
            f"Incorrect API key provided: {auth[7:11]}***. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if request.path.startswith("/v1/conversations") and not settings.conversations_enabled:
        raise _invalid_url(request)
    if request.path.startswith(_BETA_PATHS):
        if not settings.assistants_enabled:
            raise _invalid_url(request)
        if request.headers.get("OpenAI-Beta", "") != "assistants=v2":
            raise bad_request(
                "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please "
                "try again by setting the header 'OpenAI-Beta: assistants=v2'.",
                code="invalid_beta",
            )


def _invalid_url(request: web.Request) -> ApiError:
    """Return the 404 OpenAI answers for a path it does not serve."""
    return not_found(f"Invalid URL ({request.method} {request.path})")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record the request, apply guards and injected failures, and turn errors into JSON."""
    core = core_of(request)
    request[START_KEY] = time.perf_counter()
    record = RecordedRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        body=None,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    core.requests.append(record)
    response: web.StreamResponse
    try:
        record.body = await _parse(request)
        _guard(core, request)
        injected = core.brain.take_failure(request.method, request.path)
        if injected is not None:
            raise ApiError.from_fail(injected)
        response = await handler(request)
    except ApiError as error:
        response = error_reply(request, error)
    except (web.HTTPMethodNotAllowed, web.HTTPNotFound):
        response = error_reply(request, _invalid_url(request))
    if not response.prepared:
        response.headers["x-fake-server-ms"] = elapsed_ms(request)
        response.headers.setdefault("x-request-id", core.new_id("req_", 32))
    record.status = response.status
    record.server_seconds = time.perf_counter() - request[START_KEY]
    return response
