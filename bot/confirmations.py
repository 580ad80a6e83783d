"""A person's "yes" to an action a tool prepared: run it, before and without any OpenAI call.

Sending mail, deleting an event and inviting people wait in storage (``pending_actions``)
for the same person's "yes" in the same chat within GOOGLE_CONFIRM_MINUTES. The pipeline
asks ``Confirmations.handle`` first for every turn: a "yes" or "no" while that person has an
action pending here is answered here; anything else goes on to the model. The model has no
way to confirm: no tool confirms, and a "yes" in the model's own words is never read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.clock import Clock
from bot.delivery import Delivery
from bot.errors import ToolError
from bot.intake import Envelope
from bot.outbox import Outbox
from helpers.google.service import GoogleTools, Outcome
from storage.store import ToolCallRow

log = structlog.get_logger("bot.confirmations")

YES = frozenset({"yes", "y", "yes please", "yes go ahead", "go ahead", "confirm", "ja", "sí", "si"})
NO = frozenset({"no", "n", "cancel", "no thanks", "stop", "nein"})
_PUNCTUATION = re.compile(r"[^\w\s]")


def answer_word(text: str) -> str | None:
    """``"yes"`` or ``"no"`` when the whole text says that (mentions aside), else None."""
    words = [w for w in text.lower().split() if not w.startswith("@")]  # "@Bot yes" in groups
    said = " ".join(_PUNCTUATION.sub(" ", " ".join(words)).split())
    if said in YES:
        return "yes"
    if said in NO:
        return "no"
    return None


@dataclass(frozen=True, slots=True)
class Handled:
    """What the bot answers a yes/no with, and the executed tool call to record."""

    text: str
    tool_calls: tuple[ToolCallRow, ...] = ()


class Confirmations:
    """Runs or cancels a person's pending action on their "yes" or "no"."""

    def __init__(self, google: GoogleTools, clock: Clock, *, tell_model: bool = False) -> None:
        """``tell_model``: the conversation lives on the server (assistants, responses), which
        never sees a yes answered here; the next turn of the chat carries a note of it."""
        self.google = google
        self.store = google.store
        self.clock = clock
        self.tell_model = tell_model
        self._notes: dict[str, list[str]] = {}

    def take_notes(self, chat: str) -> list[str]:
        """Notes for the model of what yes/no answers in ``chat`` did since its last turn."""
        return self._notes.pop(chat, [])

    async def answer(self, chat: str, sender: str, text: str) -> Handled | None:
        """The reply to ``text`` from ``sender`` in ``chat``, or None when it is not an
        answer to an action of theirs pending here (then the model answers it)."""
        word = answer_word(text)
        if word is None:
            return None
        pending = await self.store.pending_action(chat, sender)
        if pending is None or not await self.store.take_pending_action(pending.id):
            return None
        if self.clock.now() > pending.expires_at:
            log.info("confirmation.expired", tool=pending.tool)
            return Handled(
                f"That request has expired, so I did nothing ({pending.summary}). "
                "Ask me again if you still want it."
            )
        if word == "no":
            log.info("confirmation.cancelled", tool=pending.tool)
            return Handled(f"OK, cancelled: I did not {pending.summary}.")
        started = self.clock.monotonic()
        outcome: Outcome | ToolError
        try:
            outcome = await self.google.execute(pending.tool, pending.arguments)
        except ToolError as exc:
            outcome = exc
        except Exception as exc:
            log.exception("confirmation.action_crashed", tool=pending.tool)
            outcome = ToolError(f"it failed unexpectedly ({type(exc).__name__})")
        duration_ms = round((self.clock.monotonic() - started) * 1000, 3)
        await self.google.record(chat, sender, pending.tool, pending.summary, outcome)
        if isinstance(outcome, ToolError):
            log.warning("confirmation.failed", tool=pending.tool, error=str(outcome))
            row = ToolCallRow(pending.tool, duration_ms, False, str(outcome))
            return Handled(f"Sorry, that did not work: {outcome}", (row,))
        log.info("confirmation.done", tool=pending.tool)
        return Handled(outcome.text, (ToolCallRow(pending.tool, duration_ms, True, None),))

    async def handle(self, batch: Sequence[Envelope], delivery: Delivery, outbox: Outbox) -> bool:
        """Answer the turn ``batch`` here if it confirms or cancels; True when it did."""
        last = batch[-1]
        text = "\n".join(e.message.text for e in batch)
        handled = await self.answer(last.chat, last.sender, text)
        if handled is None:
            return False
        if self.tell_model:
            self._notes.setdefault(last.chat, []).append(
                f"[Note from the bot, not written by the user: to the action you asked about, "
                f"{last.message.sender_name or 'the user'} replied {text.strip()!r} and the bot "
                f"answered: {handled.text}]"
            )
        await delivery.deliver(
            last.message,
            outbox.text_parts(handled.text),
            chat=last.chat,
            sender=last.sender,
            message_ids=[e.row_id for e in batch],
            reply_text=handled.text,
            tool_calls=handled.tool_calls,
        )
        return True
