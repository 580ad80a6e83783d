"""Prometheus metrics (``GET /metrics``): counters the pipeline feeds, gauges read at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.observe import Observer

__all__ = ["CONTENT_TYPE_LATEST", "PrometheusObserver"]

#: Buckets for one OpenAI reply, in seconds (a tool round or two can take tens of seconds).
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120)


class PrometheusObserver(Observer):
    """Counts what the pipeline reports into its own registry (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter(
            "bot_messages",
            "Messages by outcome (received, answered, ignored, failed) and reason",
            ["outcome", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "bot_openai_reply_seconds",
            "Time for one OpenAI reply (tool rounds included), by mode",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.token_count = Counter(
            "bot_openai_tokens",
            "Tokens spent, by mode, model and kind",
            ["mode", "model", "kind"],
            registry=r,
        )
        self.in_flight = Gauge(
            "bot_turns_in_flight", "Chats with a turn being answered", registry=r
        )
        self.queue_depth = Gauge(
            "bot_queue_depth", "Messages waiting, by queue (intake, chats)", ["queue"], registry=r
        )
        self.reconnects = Gauge(
            "bot_whatsapp_reconnects", "Times the WhatsApp session came back", registry=r
        )
        self.connected = Gauge(
            "bot_whatsapp_connected", "1 while WhatsApp is connected", registry=r
        )
        self.reminders_pending = Gauge(
            "bot_reminders_pending", "Reminders not yet delivered", registry=r
        )

    def message(self, outcome: str, reason: str | None = None, count: int = 1) -> None:
        """Count ``count`` messages reaching ``outcome``."""
        self.messages.labels(outcome, reason or "").inc(count)

    def reply_latency(self, mode: str, seconds: float) -> None:
        """Observe one reply's latency."""
        self.latency.labels(mode).observe(seconds)

    def tokens(self, mode: str, model: str, prompt: int, completion: int) -> None:
        """Count one request's tokens."""
        self.token_count.labels(mode, model, "prompt").inc(prompt)
        self.token_count.labels(mode, model, "completion").inc(completion)

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
