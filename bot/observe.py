"""What the running bot reports to whoever watches it (the admin server's metrics).

The pipeline calls an ``Observer``; the default one does nothing, so the bot pays nothing for
metrics unless the admin server is on (``bot.admin.metrics.PrometheusObserver``).
"""

from __future__ import annotations

from dataclasses import dataclass


class Observer:
    """Hooks the pipeline calls as messages go through it; this one ignores them all."""

    def message(self, outcome: str, reason: str | None = None, count: int = 1) -> None:
        """``count`` messages reached ``outcome`` (received, answered, ignored, failed)."""

    def reply_latency(self, mode: str, seconds: float) -> None:
        """One OpenAI reply (the whole turn, tool rounds included) took ``seconds``."""

    def tokens(self, mode: str, model: str, prompt: int, completion: int) -> None:
        """Tokens one request spent."""


@dataclass(slots=True)
class Liveness:
    """The WhatsApp side as the admin server shows it."""

    #: Connected now (console and replay count as connected).
    connected: bool = False
    #: While not linked: the QR code's data, or a phone pairing code.
    pairing_qr: str | None = None
    pairing_code: str | None = None
    #: How many times the session came back after a disconnect.
    reconnects: int = 0
