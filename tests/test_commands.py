"""Commands typed by people: help, reset, stats, forget (confirmed), admin-only controls."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from storage.store import Store
from tests import wa_events as wa
from tests.harness import harness

ADMIN = "15550009999"
USER = "15550001111"
USER_JID = f"{USER}@s.whatsapp.net"


async def test_help_lists_commands_and_hides_admin_ones(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """/help shows the user commands; admins also see theirs; unknown commands get help."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(wa.private_text("/help", sender=USER))
        await h.send(wa.private_text("/help", sender=ADMIN))
        await h.send(wa.private_text("/dance", sender=USER))
        user_help, admin_help, unknown = h.transport.texts()
        assert "/reset" in user_help and "/status" not in user_help
        assert "/status" in admin_help and "/pause" in admin_help
        assert unknown.startswith("I don't know /dance") and "/help" in unknown
        assert h.backend.turns == []  # commands never reach the model


async def test_reset_starts_a_fresh_context(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """/reset tells the backend and drops earlier messages from the context."""
    async with harness(make_settings(), store) as h:
        await h.send(wa.private_text("remember 42", sender=USER))
        assert len(await store.context(USER_JID, 10)) == 2
        await h.send(wa.private_text("/reset", sender=USER))
        assert h.backend.resets == [USER_JID]
        assert await store.context(USER_JID, 10) == []
        assert len(await store.messages(USER_JID)) == 2  # history kept, just not used


async def test_stats_counts_this_chat(make_settings: Callable[..., Settings], store: Store) -> None:
    """/stats reports today's and this month's messages and tokens for the chat."""
    async with harness(make_settings(), store) as h:
        await h.send(wa.private_text("one", sender=USER), wa.private_text("two", sender=USER))
        await h.send(wa.private_text("/stats", sender=USER))
        stats = h.transport.texts()[-1]
        assert "Today: 2 messages, 14 tokens" in stats
        assert "This month: 2 messages, 14 tokens" in stats


async def test_stats_shows_tokens_served_from_the_prompt_cache(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Cached prompt tokens the server reported are stored with the usage and shown."""
    async with harness(make_settings(), store) as h:
        h.backend.cached_tokens = 2
        await h.send(wa.private_text("one", sender=USER), wa.private_text("two", sender=USER))
        await h.send(wa.private_text("/stats", sender=USER))
        stats = h.transport.texts()[-1]
        assert "Today: 2 messages, 14 tokens (4 from the prompt cache)" in stats
        assert [row.cached_tokens for row in await store.usage_rows(USER_JID)] == [2, 2]


async def test_forget_needs_confirmation_then_deletes(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """/forget asks first; /forget confirm deletes local data and the server-side state."""
    async with harness(make_settings(), store) as h:
        await h.send(wa.private_text("secret stuff", sender=USER))
        await h.send(wa.private_text("/forget confirm", sender=USER))
        assert "To go ahead" in h.transport.texts()[-1]  # no earlier request: asks first
        assert h.backend.forgotten == []
        await h.send(wa.private_text("/forget confirm", sender=USER))
        assert h.backend.forgotten == [USER_JID]
        assert "deleted" in h.transport.texts()[-1]
        assert await store.messages(USER_JID) == []
        assert await store.replies(USER_JID) == []
        # Today's token count stays, so /forget cannot reset the daily budget.
        assert [u.total_tokens for u in await store.usage_rows(USER_JID)] == [7]


async def test_forget_in_a_group_is_for_admins(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Any member could wipe a group's shared history: in groups /forget is admin-only."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(wa.group_text("/forget", sender=USER))
        assert "only the bot's admins" in h.transport.texts()[-1]
        await h.send(wa.group_text("/forget", sender=ADMIN))
        assert "To go ahead" in h.transport.texts()[-1]


async def test_admin_only_commands_refuse_politely(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A non-admin gets a refusal for /status and /pause; an admin gets the status."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(wa.private_text("/status", sender=USER))
        await h.send(wa.private_text("/pause", sender=USER))
        await h.send(wa.private_text("/status", sender=ADMIN, addressing="lid"))
        refusal_status, refusal_pause, status = h.transport.texts()
        assert "only for the bot's admins" in refusal_status
        assert "only for the bot's admins" in refusal_pause
        assert "Mode: chat" in status and "Chats:" in status
        assert await store.get_flag("paused") is None


async def test_pause_and_resume_the_bot_and_one_chat(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """/pause silences everyone but admins; /pause <number> silences one chat."""
    async with harness(make_settings(ADMIN_NUMBERS=ADMIN), store) as h:
        await h.send(wa.private_text("/pause", sender=ADMIN))
        await h.send(wa.private_text("anyone there?", sender=USER))
        await h.send(wa.private_text("/resume", sender=ADMIN))
        await h.send(wa.private_text("now?", sender=USER))
        await h.send(wa.private_text(f"/pause {USER}", sender=ADMIN))
        await h.send(wa.private_text("and now?", sender=USER))
        await h.send(wa.private_text("other chat", sender="15550002222"))
        assert [t.text for t in h.backend.turns] == ["now?", "other chat"]
        reasons = [m.reason for m in await store.messages(USER_JID) if m.state == "ignored"]
        assert reasons == ["paused", "chat_paused"]
