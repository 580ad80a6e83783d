"""Debounce, owner hand-off, read receipts and typing, long replies split in order."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.backends.base import Reply, Turn
from storage.store import Store
from tests import wa_events as wa
from tests.backends import ScriptedBackend
from tests.fakes import FakeClock
from tests.harness import harness

USER = "15550001111"


async def test_quick_messages_become_one_turn(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Messages within DEBOUNCE_SECONDS of each other are answered as one turn, in order."""
    clock = FakeClock()
    async with harness(make_settings(DEBOUNCE_SECONDS=1.5), store, clock=clock) as h:
        h.pipeline.submit(to_incoming(wa.private_text("hi", sender=USER)))
        await clock.wait_for_sleepers(1)
        h.pipeline.submit(to_incoming(wa.private_text("are you", sender=USER)))
        await h.pipeline.stored()
        await clock.advance(1.0)
        h.pipeline.submit(to_incoming(wa.private_text("there?", sender=USER)))
        await h.pipeline.stored()
        await clock.advance(0.6)  # first window over, but new messages came: wait again
        assert h.backend.turns == []
        await clock.wait_for_sleepers(1)
        await clock.advance(1.5)
        await h.pipeline.join()
        assert [t.text for t in h.backend.turns] == ["hi\nare you\nthere?"]
        assert len(h.backend.turns[0].message_ids) == 3
        assert h.transport.texts() == ["re: hi\nare you\nthere?"]
        messages = await store.messages(f"{USER}@s.whatsapp.net")
        assert {m.state for m in messages} == {"answered"}


async def test_owner_writing_pauses_the_bot_in_that_chat(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A message typed on the phone silences the bot there for HANDOFF_MINUTES."""
    clock = FakeClock()
    async with harness(make_settings(HANDOFF_MINUTES=30), store, clock=clock) as h:
        await h.send(
            wa.private_text("I'll take this one", sender=USER, from_me=True, timestamp=clock.now())
        )
        await h.send(wa.private_text("thanks!", sender=USER, timestamp=clock.now()))
        await h.send(wa.private_text("other chat", sender="15550002222", timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["other chat"]
        await clock.advance(31 * 60)
        await h.send(wa.private_text("back to the bot", sender=USER, timestamp=clock.now()))
        assert [t.text for t in h.backend.turns] == ["other chat", "back to the bot"]
    # The owner's message is filed under the customer's chat, and the bot's own identity is
    # never taken for the customer's.
    [owner] = [m for m in await store.messages(f"{USER}@s.whatsapp.net") if m.reason == "from_me"]
    assert owner.text == "I'll take this one"
    assert await store.aliases(f"{USER}@s.whatsapp.net") == [f"{USER}@s.whatsapp.net"]


async def test_the_bots_own_echo_is_not_a_handoff(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A from-me message with an id the bot sent is its own echo: no hand-off."""
    async with harness(make_settings(HANDOFF_MINUTES=30), store) as h:
        await h.send(wa.private_text("question", sender=USER))
        echo_id = h.transport.sent[0].wa_id
        await h.send(wa.private_text("re: question", sender=USER, from_me=True, msg_id=echo_id))
        await h.send(wa.private_text("follow-up", sender=USER))
        assert [t.text for t in h.backend.turns] == ["question", "follow-up"]


class LongBackend(ScriptedBackend):
    """Answers with a long Markdown document."""

    async def reply(self, turn: Turn) -> Reply:
        """A reply far over MAX_MESSAGE_CHARS."""
        await super().reply(turn)
        paragraphs = [f"**Part {i}.** " + "word " * 60 for i in range(12)]
        return Reply(text="\n\n".join(paragraphs))


async def test_long_markdown_arrives_formatted_and_split_in_order(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A long answer becomes several WhatsApp messages under the limit, in order, formatted."""
    async with harness(make_settings(MAX_MESSAGE_CHARS=1000), store, backend=LongBackend()) as h:
        await h.send(wa.private_text("tell me everything", sender=USER))
        parts = h.transport.texts()
        assert len(parts) >= 4
        assert all(len(p) <= 1000 for p in parts)
        joined = "\n\n".join(parts)
        assert "**" not in joined and "*Part 0.*" in joined
        order = [joined.index(f"*Part {i}.*") for i in range(12)]
        assert order == sorted(order)
        [reply] = [text for kind, text in await store.replies(f"{USER}@s.whatsapp.net")]
        assert reply.startswith("**Part 0.**")  # stored as the model wrote it
