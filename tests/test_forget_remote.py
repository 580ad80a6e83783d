"""/forget removes server-side threads and conversations too, retired ones included."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.factory import build_backend
from storage.store import Store
from tests.fake_openai import FakeOpenAI

CHAT = "15550001111@s.whatsapp.net"
TURN = Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="A", text="hi")


async def test_forget_deletes_every_remote_context_of_the_chat(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """A conversation retired by /reset and the current one are both deleted on the server."""
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_MODE="responses", OPENAI_MAX_RETRIES=0
    )
    backend = build_backend(settings, store, None)
    await backend.reply(TURN)
    first = await store.thread_for(CHAT, "responses")
    await backend.reset(CHAT)
    await backend.reply(TURN)
    second = await store.thread_for(CHAT, "responses")
    assert first and second and first != second
    chat_backend = build_backend(make_settings(OPENAI_BASE_URL=fake_openai.base_url), store, None)
    await chat_backend.forget(CHAT)  # in chat mode, after a switch: still cleaned up
    deleted = {r.path.rsplit("/", 1)[1] for r in fake_openai.requests_to("", method="DELETE")}
    assert {first, second} <= deleted
    assert await store.thread_for(CHAT, "responses") is None
    await backend.aclose()
    await chat_backend.aclose()
