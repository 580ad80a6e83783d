"""Logging: structlog with dotted event names, JSON off a terminal, readable on one.

Logs go to stderr (stdout belongs to the replay front-end). The standard library's loggers
(neonize, openai, httpx2, aiosqlite) are routed through the same renderer.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

#: Field names whose values are never written, wherever they appear.
_SECRET_FIELDS = frozenset({"api_key", "openai_api_key", "authorization", "password", "token"})
#: Anything shaped like an OpenAI key (sk-..., sk-proj-..., sk-svcacct-...), configured or not.
_KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9_\-]{16,}")
#: What a masked secret is written as.
MASK = "***"


class Redactor:
    """A structlog processor masking secrets in every field of an event, exception text included.

    It masks the values of secret-looking fields, every occurrence of the configured
    ``secrets`` and anything shaped like an OpenAI key. It runs last, after exceptions are
    formatted to text, so a traceback that quotes the key is masked too.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret and key-shaped string replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _KEY_SHAPE.sub(MASK, text) if "sk-" in text else text

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
        """Mask the event's secrets in place."""
        for key, value in event_dict.items():
            event_dict[key] = MASK if key.lower() in _SECRET_FIELDS else self._scrub(value)
        return event_dict

    def _scrub(self, value: Any) -> Any:
        """``value`` with secrets masked; other objects become masked text only if they leak."""
        if isinstance(value, str):
            return self.mask(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        text = str(value)
        masked = self.mask(text)
        return value if masked == text else masked


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    secrets: Iterable[str] = (),
) -> None:
    """Configure structlog and the standard library's root logger once, at start-up.

    ``secrets`` (the API key) are masked wherever they appear in a log line.
    """
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text here, so the redactor sees (and masks) them too.
            structlog.processors.format_exc_info,
            Redactor(secrets),
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that are chatty at INFO: request lines, SQL threads, Go's log bridge.
    quiet = logging.WARNING if level != "DEBUG" else logging.DEBUG
    for name in ("httpx", "httpx2", "httpcore", "openai", "aiosqlite", "asyncio", "Whatsmeow"):
        logging.getLogger(name).setLevel(max(quiet, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    """A structlog logger for module ``name``."""
    return structlog.get_logger(name)
