"""Settings: read once from a mapping (the environment), validated completely, frozen.

``load_settings(os.environ)`` either returns a ``Settings`` or raises one ``ConfigError`` naming
every bad or missing key with the reason. Nothing else in the bot reads the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

T = TypeVar("T")

ApiMode = Literal["chat", "assistants", "responses"]
LogFormat = Literal["auto", "json", "console"]
GroupMode = Literal["off", "mention", "all"]
ResponsesState = Literal["auto", "conversation", "previous_response", "local"]
ToolsSupport = Literal["auto", "on", "off"]

#: Upper bound for time windows: large enough for any use, small enough for datetime maths.
TEN_YEARS = 10 * 365 * 24 * 3600.0

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant chatting on WhatsApp. Answer concisely and in the language "
    "the person writes in."
)


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(value: str) -> str:
    """``value`` with any password in a URL (e.g. a postgres DSN) replaced by ``***``."""
    parsed = urlparse(value)
    if not parsed.scheme or parsed.password is None:
        return value
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the bot, validated. Build it with ``load_settings``."""

    openai_api_key: Secret | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = "gpt-5.4-mini"  # default chosen by compat: no announced shutdown
    openai_api_mode: ApiMode = "chat"
    openai_assistant_id: str | None = None
    openai_timeout_seconds: float = 60.0
    openai_max_retries: int = 2
    openai_run_timeout_seconds: float = 120.0
    openai_stream: bool = True
    openai_poll_interval_ms: int = 100
    openai_max_completion_tokens: int | None = None
    openai_transcription_model: str | None = "gpt-transcribe"
    openai_responses_state: ResponsesState = "auto"
    openai_tools: ToolsSupport = "auto"
    openai_http_client: str = "httpx"  # added by compat: httpx | aiohttp
    ai_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_conversation_history: int = 20
    max_concurrent_replies: int = 32
    database_path: Path = Path("data/bot.db")
    whatsapp_session: str = "data/whatsapp.sqlite3"
    whatsapp_pair_phone: str | None = None
    log_level: str = "INFO"
    log_format: LogFormat = "auto"
    bot_old_message_grace_seconds: float = 300.0
    bot_recovery_window_seconds: float = 3600.0
    bot_shutdown_timeout_seconds: float = 15.0
    timezone: str = "UTC"
    tools_modules: tuple[str, ...] = ()
    tools_disabled: tuple[str, ...] = ()
    tools_timeout_seconds: float = 20.0
    tools_max_rounds: int = 5
    group_mode: GroupMode = "mention"
    group_allowlist: tuple[str, ...] = ()
    bot_trigger_prefix: str | None = None
    bot_command_prefix: str = "/"
    admin_numbers: tuple[str, ...] = ()
    allowed_numbers: tuple[str, ...] = ()
    blocked_numbers: tuple[str, ...] = ()
    rate_limit_per_minute: int = 0
    daily_token_budget: int = 0
    debounce_seconds: float = 1.5
    max_message_chars: int = 4000
    max_input_chars: int = 16_000
    max_reply_parts: int = 10
    handoff_minutes: float = 30.0

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={redact_url(value)!r}" if isinstance(value, str) else f"{name}={value!r}"
            for name in self.__dataclass_fields__
            if name != "openai_api_key"
            for value in (getattr(self, name),)
        )
        key = "'***'" if self.openai_api_key is not None else "None"
        return f"Settings(openai_api_key={key}, {shown})"


# --- parsers: each returns the value or raises ValueError(reason) -------------------------


def _model_or_off(raw: str) -> str | None:
    value = raw.strip()
    return None if value.lower() == "off" else value


def _str(raw: str) -> str:
    return raw


def _nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return parse


def _float(
    low: float, high: float | None = None, *, strict_low: bool = False
) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"must be a finite number, got {raw!r}")
        too_low = value <= low if strict_low else value < low
        if too_low or (high is not None and value > high):
            op = ">" if strict_low else ">="
            bound = f"between {low} and {high}" if high is not None else f"{op} {low}"
            raise ValueError(f"must be {bound}, got {value:g}")
        return value

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {raw!r}")
        return value

    return parse


def _url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"must be an http(s) URL such as https://api.openai.com/v1, got {raw!r}")
    return value


def _phone(raw: str) -> str:
    digits = re.sub(r"[\s\-()+]", "", raw)
    if not re.fullmatch(r"\d{6,15}", digits):
        raise ValueError(
            f"must be a phone number in international format, digits only (e.g. 15551234567), "
            f"got {raw!r}"
        )
    return digits


def _csv(item: Callable[[str], str] | None = None) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return tuple(item(p) for p in parts) if item else tuple(parts)

    return parse


def _number_or_jid(raw: str) -> str:
    """A phone number, a LID, or a JID; stored as the bare user part (digits)."""
    user = raw.strip().partition("@")[0].partition(":")[0].lstrip("+")
    user = re.sub(r"[\s\-()]", "", user)
    if not re.fullmatch(r"\d{5,20}", user):
        raise ValueError(f"{raw!r} is not a phone number, LID or JID")
    return user


def _group(raw: str) -> str:
    user = raw.strip().partition("@")[0]
    if not re.fullmatch(r"[\d\-]{5,40}", user):
        raise ValueError(f"{raw!r} is not a group JID (like 120363000000000000@g.us)")
    return f"{user}@g.us"


def _module(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", raw):
        raise ValueError(f"{raw!r} is not a dotted module name")
    return raw


def _timezone(raw: str) -> str:
    value = raw.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{raw!r} is not an IANA timezone like Europe/Berlin") from None
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return value


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("must not be empty")
    return Path(raw.strip()).expanduser()


#: key -> (field name, parser). Unset or empty keys keep the field's default.
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "OPENAI_API_KEY": ("openai_api_key", lambda raw: Secret(_nonempty(raw))),
    "OPENAI_BASE_URL": ("openai_base_url", _url),
    "OPENAI_MODEL": ("openai_model", _nonempty),
    "OPENAI_API_MODE": ("openai_api_mode", _choice("chat", "assistants", "responses")),
    "OPENAI_ASSISTANT_ID": ("openai_assistant_id", _nonempty),
    "OPENAI_TIMEOUT_SECONDS": ("openai_timeout_seconds", _float(0, 3600, strict_low=True)),
    "OPENAI_MAX_RETRIES": ("openai_max_retries", _int(0, 10)),
    "OPENAI_RUN_TIMEOUT_SECONDS": ("openai_run_timeout_seconds", _float(0, 3600, strict_low=True)),
    "OPENAI_STREAM": ("openai_stream", _bool),
    "OPENAI_POLL_INTERVAL_MS": ("openai_poll_interval_ms", _int(10, 10_000)),
    "OPENAI_MAX_COMPLETION_TOKENS": ("openai_max_completion_tokens", _int(1)),
    "OPENAI_TRANSCRIPTION_MODEL": ("openai_transcription_model", _model_or_off),
    "OPENAI_RESPONSES_STATE": (
        "openai_responses_state",
        _choice("auto", "conversation", "previous_response", "local"),
    ),
    "OPENAI_TOOLS": ("openai_tools", _choice("auto", "on", "off")),
    "OPENAI_HTTP_CLIENT": ("openai_http_client", _choice("httpx", "aiohttp")),  # added by compat
    "AI_SYSTEM_PROMPT": ("ai_system_prompt", _str),
    "MAX_CONVERSATION_HISTORY": ("max_conversation_history", _int(0, 1000)),
    "MAX_CONCURRENT_REPLIES": ("max_concurrent_replies", _int(1, 10_000)),
    "DATABASE_PATH": ("database_path", _path),
    "WHATSAPP_SESSION": ("whatsapp_session", _nonempty),
    "WHATSAPP_PAIR_PHONE": ("whatsapp_pair_phone", _phone),
    "LOG_LEVEL": ("log_level", _log_level),
    "LOG_FORMAT": ("log_format", _choice("auto", "json", "console")),
    "BOT_OLD_MESSAGE_GRACE_SECONDS": ("bot_old_message_grace_seconds", _float(0, TEN_YEARS)),
    "BOT_RECOVERY_WINDOW_SECONDS": ("bot_recovery_window_seconds", _float(0, TEN_YEARS)),
    "BOT_SHUTDOWN_TIMEOUT_SECONDS": ("bot_shutdown_timeout_seconds", _float(0, 3600)),
    "TIMEZONE": ("timezone", _timezone),
    "TOOLS_MODULES": ("tools_modules", _csv(_module)),
    "TOOLS_DISABLED": ("tools_disabled", _csv()),
    "TOOLS_TIMEOUT_SECONDS": ("tools_timeout_seconds", _float(0, 600, strict_low=True)),
    "TOOLS_MAX_ROUNDS": ("tools_max_rounds", _int(1, 50)),
    "GROUP_MODE": ("group_mode", _choice("off", "mention", "all")),
    "GROUP_ALLOWLIST": ("group_allowlist", _csv(_group)),
    "BOT_TRIGGER_PREFIX": ("bot_trigger_prefix", _nonempty),
    "BOT_COMMAND_PREFIX": ("bot_command_prefix", _nonempty),
    "ADMIN_NUMBERS": ("admin_numbers", _csv(_number_or_jid)),
    "ALLOWED_NUMBERS": ("allowed_numbers", _csv(_number_or_jid)),
    "BLOCKED_NUMBERS": ("blocked_numbers", _csv(_number_or_jid)),
    "RATE_LIMIT_PER_MINUTE": ("rate_limit_per_minute", _int(0)),
    "DAILY_TOKEN_BUDGET": ("daily_token_budget", _int(0)),
    "DEBOUNCE_SECONDS": ("debounce_seconds", _float(0, 60)),
    "MAX_MESSAGE_CHARS": ("max_message_chars", _int(200, 65_536)),
    "MAX_INPUT_CHARS": ("max_input_chars", _int(100, 1_000_000)),
    "MAX_REPLY_PARTS": ("max_reply_parts", _int(1, 100)),
    "HANDOFF_MINUTES": ("handoff_minutes", _float(0, TEN_YEARS / 60)),
}

#: Every key the bot reads, for documentation checks.
KNOWN_KEYS = frozenset(_FIELDS)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build ``Settings`` from ``env``; raise one ``ConfigError`` listing every problem."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, (name, parse) in _FIELDS.items():
        raw = env.get(key)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            problems[key] = str(exc)

    mode = values.get("openai_api_mode", "chat")
    if "openai_api_key" not in values and "openai_base_url" not in values:
        problems["OPENAI_API_KEY"] = (
            "is required (or set OPENAI_BASE_URL to an OpenAI-compatible server that needs no key)"
        )
    if mode == "assistants" and "openai_model" not in values:
        values["openai_model"] = ""  # no per-run override: the assistant's own model answers
    if mode == "assistants" and "openai_assistant_id" not in values:
        problems["OPENAI_ASSISTANT_ID"] = "is required when OPENAI_API_MODE=assistants (asst_...)"
    admins = set(values.get("admin_numbers", ()))
    blocked = set(values.get("blocked_numbers", ()))
    if admins & blocked:
        problems["BLOCKED_NUMBERS"] = f"blocks admin(s) {', '.join(sorted(admins & blocked))}"
    prefix = values.get("bot_command_prefix", "/")
    if prefix and any(ch.isalnum() for ch in prefix):
        problems["BOT_COMMAND_PREFIX"] = f"must not contain letters or digits, got {prefix!r}"

    if problems:
        raise ConfigError(problems)
    return Settings(**values)
