"""Server profiles: the refusals of OpenAI-compatible servers, one switch each, and /models.

Each switch lives in ``Settings`` (state.py). The messages are the servers' own words, as
their documentation and issue trackers show them, so the bot's handling meets real text.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .state import Core, page
from .wire import ApiError, bad_request, core_of, not_found, reply

#: vLLM started without --enable-auto-tool-choice (400).
VLLM_TOOLS = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)
#: OpenRouter, for a model no provider serves with tools (404).
OPENROUTER_TOOLS = (
    "No endpoints found that support tool use. To learn more about provider routing, "
    "visit: https://openrouter.ai/docs/provider-routing"
)
#: A Mistral-style chat template (vLLM answers its jinja error as a 400).
ALTERNATION = "Conversation roles must alternate user/assistant/user/assistant/..."
#: Gemini's OpenAI-compatible endpoint on `"type": [..]`.
LIST_TYPE = (
    'Invalid JSON payload received. Unknown name "type" at '
    "'tools[{index}].function.parameters.properties[{name}]': Proto field is not repeating, "
    "cannot start list."
)
NO_CHAINING = "previous_response_id is not supported by this server"
MODEL_CREATED = 1_700_000_000


def check_chat_request(core: Core, body: dict[str, Any]) -> None:
    """Refuse a Chat Completions body the way the configured server profile would."""
    settings = core.settings
    tools = body.get("tools") or []
    if tools and settings.tools_refusal == "vllm":
        raise bad_request(VLLM_TOOLS)
    if tools and settings.tools_refusal == "openrouter":
        raise ApiError(404, OPENROUTER_TOOLS, code="404")
    if settings.list_types_refused:
        for index, tool in enumerate(tools):
            parameters = (tool.get("function") or {}).get("parameters") or {}
            for name, schema in _properties(parameters):
                if isinstance(schema.get("type"), list):
                    raise bad_request(LIST_TYPE.format(index=index, name=name))
    if settings.strict_alternation:
        check_alternation(body.get("messages") or [])


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (name, schema) under ``properties``, nested ones and anyOf branches included."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        found.append((name, sub))
        found += _properties(sub)
        for branch in sub.get("anyOf") or []:
            if isinstance(branch, dict):
                found.append((name, branch))
                found += _properties(branch)
        items = sub.get("items")
        if isinstance(items, dict):
            found.append((name, items))
            found += _properties(items)
    return found


def check_alternation(messages: list[Any]) -> None:
    """After the system messages, user and assistant strictly in turn, user first (tool
    calls and their results sit inside the assistant's turn, as Mistral's template has it)."""
    roles = [
        m.get("role")
        for m in messages
        if isinstance(m, dict)
        and m.get("role") not in ("system", "developer", "tool")
        and not (m.get("role") == "assistant" and m.get("tool_calls"))
    ]
    for index, role in enumerate(roles):
        if role != ("user" if index % 2 == 0 else "assistant"):
            raise bad_request(ALTERNATION)


def check_chaining(core: Core, body: dict[str, Any]) -> None:
    """Refuse ``previous_response_id`` on a server that keeps no responses."""
    if body.get("previous_response_id") and not core.settings.chaining:
        raise bad_request(NO_CHAINING, param="previous_response_id")


def tool_arguments(core: Core, arguments: str) -> Any:
    """Tool-call arguments as this server sends them: a JSON string, or (Ollama) an object."""
    if core.settings.tool_arguments_as_objects:
        return json.loads(arguments)
    return arguments


def model_object(model_id: str, shutdown_date: str | None) -> dict[str, Any]:
    """An OpenAI Model object."""
    return {
        "id": model_id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": "system",
        "shutdown_date": shutdown_date,
    }


def _require_models(request: web.Request) -> Core:
    core = core_of(request)
    if not core.settings.models_enabled:
        raise not_found(f"Invalid URL ({request.method} {request.path})")
    return core


async def list_models(request: web.Request) -> web.Response:
    """Answer GET /v1/models."""
    core = _require_models(request)
    data = [model_object(i, date) for i, date in core.settings.models.items()]
    listed = page(data, {"order": "asc", "limit": "100"})
    return reply(request, {"object": "list", "data": listed["data"]}, "ListModelsResponse")


async def retrieve_model(request: web.Request) -> web.Response:
    """Answer GET /v1/models/{model}: 404 for an unknown one on a strict server."""
    core = _require_models(request)
    model_id = request.match_info["model"]
    if "/" in model_id:
        # OpenRouter's `vendor/model` ids are listed but have no /models/{id} of their own.
        raise not_found(f"Invalid URL ({request.method} {request.path})")
    known = core.settings.models
    if model_id not in known and core.settings.models_strict:
        raise ApiError(
            404,
            f"The model '{model_id}' does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return reply(request, model_object(model_id, known.get(model_id)), "Model")


def add_routes(app: web.Application) -> None:
    """Register the model routes."""
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", retrieve_model)
