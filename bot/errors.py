"""The bot's exception tree.

::

    BotError
     +-- ConfigError        a bad or missing setting; start-up stops with exit code 2
     +-- StartupError       the environment cannot serve the configuration (e.g. the
     |                      Assistants API is missing on the server); exit code 2
     +-- ReplyError         a reply backend could not produce an answer (OpenAI failed,
     |                      a run ended badly); the user gets a short honest message
     +-- StorageError       the SQLite store failed
     +-- TransportError     the WhatsApp side failed to send, download or connect
     +-- ToolError          a tool could not run; its message goes back to the model

OpenAI's exceptions are translated into ``ReplyError`` inside the backend that calls OpenAI.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """One or more settings are missing or invalid; ``problems`` maps each key to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        lines = "\n".join(f"  {key}: {why}" for key, why in sorted(self.problems.items()))
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


class StartupError(BotError):
    """The configuration is valid but the world cannot serve it; the message says the fix."""


class ReplyError(BotError):
    """A reply backend failed to produce an answer for a turn."""

    def __init__(self, message: str, *, cause: str = "unknown", retryable: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.retryable = retryable


class StorageError(BotError):
    """The SQLite store failed."""


class TransportError(BotError):
    """The WhatsApp side failed."""


class ToolError(BotError):
    """A tool failed in a way the model should hear about."""
