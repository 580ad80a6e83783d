"""Conversations API state and routes, and the item normalisation Responses shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .state import Core, now, page
from .wire import bad_request, body_of, core_of, missing, not_found, reply

_ID_PREFIX = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
}


@dataclass
class ConversationState:
    """A conversation, its items (oldest first) and the response holding its lock, if any."""

    conversation: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    locked_by: str | None = None


@dataclass
class StoredResponse:
    """A finished response and the items it saw and produced (for `previous_response_id`)."""

    response: dict[str, Any]
    items: list[dict[str, Any]]


@dataclass
class ResponsesStore:
    """Every conversation and stored response of one fake server."""

    conversations: dict[str, ConversationState] = field(default_factory=dict)
    responses: dict[str, StoredResponse] = field(default_factory=dict)

    def conversation(self, conversation_id: str) -> ConversationState:
        """Return a conversation or raise OpenAI's 404."""
        try:
            return self.conversations[conversation_id]
        except KeyError:
            raise not_found(f"Conversation with id '{conversation_id}' not found.") from None


STORE_KEY = web.AppKey("fake_openai_responses", ResponsesStore)


def store_of(request: web.Request) -> ResponsesStore:
    """Return the Responses/Conversations state of the app serving `request`."""
    return request.app[STORE_KEY]


def check_unlocked(state: ConversationState) -> None:
    """Refuse to touch a conversation while a response is in progress on it."""
    if state.locked_by is not None:
        raise bad_request(
            f"Another response ({state.locked_by}) is in progress for conversation "
            f"{state.conversation['id']}. Wait for it to finish before sending another.",
            code="conversation_locked",
        )


def _content(role: str, content: Any, param: str) -> list[dict[str, Any]]:
    """Normalise message content to content parts as the service stores them."""
    if isinstance(content, str):
        if role == "assistant":
            return [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}]
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise missing(param)
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "input_image":
            part = {"detail": "auto", **part}
        elif isinstance(part, dict) and part.get("type") == "output_text":
            part = {"annotations": [], "logprobs": [], **part}
        parts.append(part)
    return parts


def normalize_items(core: Core, raw: Any, param: str = "input") -> list[dict[str, Any]]:
    """Turn request input (a str or a list of items) into stored items with ids."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise bad_request(f"Invalid type for '{param}'.", param=param, code="invalid_type")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise bad_request(f"Invalid type for '{param}[{index}]'.", param=f"{param}[{index}]")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind is None:
            raise missing(f"{param}[{index}].type")
        stored = dict(item, type=kind)
        if kind == "message":
            role = str(item.get("role", "user"))
            stored["role"] = role
            stored["content"] = _content(role, item.get("content"), f"{param}[{index}].content")
        elif kind in ("function_call", "function_call_output") and not item.get("call_id"):
            raise missing(f"{param}[{index}].call_id")
        elif kind == "item_reference":
            raise bad_request("fake_openai does not support item_reference", param=param)
        stored.setdefault("status", "completed")
        stored.setdefault("id", core.new_id(_ID_PREFIX.get(kind, "item_"), 48))
        items.append(stored)
    return items


def item_text(item: dict[str, Any]) -> tuple[str, str]:
    """Return (role, text) for an item, as the model would read it."""
    kind = item.get("type")
    if kind == "message":
        texts = [p.get("text", "") for p in item["content"] if isinstance(p, dict)]
        return str(item["role"]), " ".join(t for t in texts if isinstance(t, str) and t)
    if kind == "function_call":
        return "assistant", f"{item.get('name')}({item.get('arguments')})"
    if kind == "function_call_output":
        output = item.get("output")
        return "tool", output if isinstance(output, str) else str(output)
    return "system", str(kind)


async def create_conversation(request: web.Request) -> web.Response:
    """Answer POST /v1/conversations (metadata, initial items)."""
    core, body = core_of(request), body_of(request)
    conversation: dict[str, Any] = {
        "id": core.new_id("conv_", 48),
        "object": "conversation",
        "created_at": now(),
        "metadata": body.get("metadata") or {},
    }
    state = ConversationState(conversation=conversation)
    state.items = normalize_items(core, body.get("items"), "items")
    store_of(request).conversations[conversation["id"]] = state
    return reply(request, conversation, "ConversationResource")


async def retrieve_conversation(request: web.Request) -> web.Response:
    """Answer GET /v1/conversations/{conversation_id}."""
    state = store_of(request).conversation(request.match_info["conversation_id"])
    return reply(request, state.conversation, "ConversationResource")


async def update_conversation(request: web.Request) -> web.Response:
    """Answer POST /v1/conversations/{conversation_id} (new metadata)."""
    state = store_of(request).conversation(request.match_info["conversation_id"])
    state.conversation["metadata"] = body_of(request).get("metadata") or {}
    return reply(request, state.conversation, "ConversationResource")


async def delete_conversation(request: web.Request) -> web.Response:
    """Answer DELETE /v1/conversations/{conversation_id}."""
    store = store_of(request)
    state = store.conversation(request.match_info["conversation_id"])
    del store.conversations[state.conversation["id"]]
    body = {"id": state.conversation["id"], "object": "conversation.deleted", "deleted": True}
    return reply(request, body, "DeletedConversation")


async def list_items(request: web.Request) -> web.Response:
    """Answer GET /v1/conversations/{conversation_id}/items (newest first by default)."""
    state = store_of(request).conversation(request.match_info["conversation_id"])
    return reply(request, page(state.items, request.query), "ConversationItemList")


async def add_items(request: web.Request) -> web.Response:
    """Answer POST /v1/conversations/{conversation_id}/items (up to 20 items)."""
    state = store_of(request).conversation(request.match_info["conversation_id"])
    check_unlocked(state)
    raw = body_of(request).get("items")
    if not isinstance(raw, list) or not raw:
        raise missing("items")
    if len(raw) > 20:
        raise bad_request(
            f"Invalid 'items': array too long. Expected an array with maximum length 20, but got "
            f"an array with length {len(raw)} instead.",
            param="items",
            code="array_above_max_length",
        )
    items = normalize_items(core_of(request), raw, "items")
    state.items.extend(items)
    body = {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"],
        "last_id": items[-1]["id"],
        "has_more": False,
    }
    return reply(request, body, "ConversationItemList")


def _item(request: web.Request) -> tuple[ConversationState, dict[str, Any]]:
    state = store_of(request).conversation(request.match_info["conversation_id"])
    item_id = request.match_info["item_id"]
    for item in state.items:
        if item["id"] == item_id:
            return state, item
    raise not_found(f"Item with id '{item_id}' not found.")


async def retrieve_item(request: web.Request) -> web.Response:
    """Answer GET /v1/conversations/{conversation_id}/items/{item_id}."""
    _, item = _item(request)
    return reply(request, item, "ConversationItem")


async def delete_item(request: web.Request) -> web.Response:
    """Answer DELETE /v1/conversations/{conversation_id}/items/{item_id}."""
    state, item = _item(request)
    state.items.remove(item)
    return reply(request, state.conversation, "ConversationResource")


def add_routes(app: web.Application, store: ResponsesStore) -> None:
    """Register the conversation routes."""
    app[STORE_KEY] = store
    base = "/v1/conversations/{conversation_id}"
    app.router.add_post("/v1/conversations", create_conversation)
    app.router.add_get(base, retrieve_conversation)
    app.router.add_post(base, update_conversation)
    app.router.add_delete(base, delete_conversation)
    app.router.add_get(base + "/items", list_items)
    app.router.add_post(base + "/items", add_items)
    app.router.add_get(base + "/items/{item_id}", retrieve_item)
    app.router.add_delete(base + "/items/{item_id}", delete_item)
