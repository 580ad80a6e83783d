"""Choosing the reply backend for ``OPENAI_API_MODE``."""

from __future__ import annotations

from bot.settings import Settings
from helpers.backends.base import ReplyBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from storage.store import Store


def build_backend(settings: Settings, store: Store, tools: ToolBox | None) -> ReplyBackend:
    """The backend for the configured mode, with its own ``AsyncOpenAI`` client."""
    client = build_client(settings)
    if settings.openai_api_mode == "assistants":
        from helpers.backends.assistants import AssistantsBackend

        return AssistantsBackend(client, store, settings, tools)
    if settings.openai_api_mode == "responses":
        from helpers.backends.responses import ResponsesBackend

        return ResponsesBackend(client, store, settings, tools)
    from helpers.backends.chat import ChatBackend

    return ChatBackend(client, store, settings, tools)
