"""Settings: read once from a mapping (the environment), validated completely, frozen.

``load_settings(os.environ)`` either returns a ``Settings`` or raises one ``ConfigError`` naming
every bad or missing key with the reason in plain words. Nothing else in the bot reads the
environment: the entry point loads ``.env`` with python-dotenv and hands ``os.environ`` in, and
pydantic-settings is told to read nothing but that mapping.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.admin.config import Address, Price, parse_address, parse_prices
from bot.errors import ConfigError

ApiMode = Literal["chat", "assistants", "responses"]
LogFormat = Literal["auto", "json", "console"]
GroupMode = Literal["off", "mention", "all"]
ResponsesState = Literal["auto", "conversation", "previous_response", "local"]
ToolsSupport = Literal["auto", "on", "off"]
HttpClient = Literal["httpx", "aiohttp"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

#: Upper bound for time windows: large enough for any use, small enough for datetime maths.
TEN_YEARS = 10 * 365 * 24 * 3600.0

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant chatting on WhatsApp. Answer concisely and in the language "
    "the person writes in."
)

#: Prefixes of our keys: an unknown key starting with one is probably a typo of ours.
_OUR_PREFIXES = tuple(
    f"{word.upper()}_"
    for word in (
        "openai",
        "whatsapp",
        "bot",
        "max",
        "tools",
        "group",
        "log",
        "ai",
        "admin",
        "google",
        "database",
        "rate",
        "daily",
        "debounce",
        "handoff",
        "file",
        "usage",
    )
)


def redact_url(value: str) -> str:
    """``value`` with any password in a URL (e.g. a postgres DSN) replaced by ``***``."""
    parsed = urlparse(value)
    if not parsed.scheme or parsed.password is None:
        return value
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


# --- parsers for what pydantic has no type for: each returns the value or raises ValueError ----


def _api_key(raw: str) -> str:
    value = raw.strip()
    if not all(" " < ch < "\x7f" for ch in value):
        # Never echo the key: an HTTP header cannot carry it, and it is a secret.
        raise ValueError("contains a space, a non-printable or a non-ASCII character (not shown)")
    return value


def _model_or_off(raw: str) -> str | None:
    value = raw.strip()
    return None if value.lower() == "off" else value


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


#: Hosted tools of the Responses API the bot knows how to use.
HOSTED_TOOLS = ("web_search", "code_interpreter", "image_generation")


def _hosted_tool(raw: str) -> str:
    value = raw.strip().lower()
    if value not in HOSTED_TOOLS:
        raise ValueError(f"{raw!r} is not a hosted tool; known: {', '.join(HOSTED_TOOLS)}")
    return value


def _vector_store(raw: str) -> str:
    if not re.fullmatch(r"vs_[A-Za-z0-9_\-]+", raw):
        raise ValueError(f"{raw!r} is not a vector store id (like vs_abc123)")
    return raw


def _timezone(raw: str) -> str:
    value = raw.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{raw!r} is not an IANA timezone like Europe/Berlin") from None
    return value


def _csv(item: Callable[[str], str] | None = None) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return tuple(item(p) for p in parts) if item else tuple(parts)

    return parse


def _strip(raw: Any) -> Any:
    return raw.strip() if isinstance(raw, str) else raw


def _lower(raw: Any) -> Any:
    return raw.strip().lower() if isinstance(raw, str) else raw


def _upper(raw: Any) -> Any:
    return raw.strip().upper() if isinstance(raw, str) else raw


# --- field types -------------------------------------------------------------------------------

Text = Annotated[str, BeforeValidator(_strip)]
Choice = BeforeValidator(_lower)
Csv = Annotated[tuple[str, ...], BeforeValidator(_csv())]
Numbers = Annotated[tuple[str, ...], BeforeValidator(_csv(_number_or_jid))]


class Settings(BaseSettings):
    """Every setting of the bot, validated and frozen. Build it with ``load_settings``."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        allow_inf_nan=False,
        alias_generator=str.upper,
        validate_default=False,  # defaults are already what they should be
    )

    openai_api_key: Annotated[SecretStr | None, BeforeValidator(_api_key)] = None
    openai_base_url: Annotated[str | None, BeforeValidator(_url)] = None
    openai_model: Text = "gpt-5.4-mini"  # no announced shutdown (README: "Choosing a model")
    openai_api_mode: Annotated[ApiMode, Choice] = "chat"
    openai_assistant_id: Text | None = None
    openai_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    openai_max_retries: int = Field(2, ge=0, le=10)
    openai_run_timeout_seconds: float = Field(120.0, gt=0, le=3600)
    openai_stream: bool = True
    openai_poll_interval_ms: int = Field(100, ge=10, le=10_000)
    openai_max_completion_tokens: int | None = Field(None, ge=1)
    openai_transcription_model: Annotated[str | None, BeforeValidator(_model_or_off)] = (
        "gpt-transcribe"
    )
    openai_responses_state: Annotated[ResponsesState, Choice] = "auto"
    openai_tools: Annotated[ToolsSupport, Choice] = "auto"
    openai_http_client: Annotated[HttpClient, Choice] = "aiohttp"
    # --- knowledge, files and hosted tools (issue 14) ---
    openai_vector_store_ids: Annotated[tuple[str, ...], BeforeValidator(_csv(_vector_store))] = ()
    openai_hosted_tools: Annotated[tuple[str, ...], BeforeValidator(_csv(_hosted_tool))] = ()
    openai_image_model: Text | None = None
    openai_file_search_max_results: int = Field(5, ge=1, le=50)
    max_document_mb: float = Field(20.0, gt=0, le=512)
    file_retention_days: float = Field(7.0, ge=0, le=3650)
    ai_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_conversation_history: int = Field(20, ge=0, le=1000)
    max_concurrent_replies: int = Field(32, ge=1, le=10_000)
    database_path: Annotated[Path, BeforeValidator(_strip), AfterValidator(Path.expanduser)] = Path(
        "data/bot.db"
    )
    whatsapp_session: Text = "data/whatsapp.sqlite3"
    whatsapp_pair_phone: Annotated[str | None, BeforeValidator(_phone)] = None
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"
    log_format: Annotated[LogFormat, Choice] = "auto"
    # --- the operator's admin HTTP server (off unless ADMIN_HTTP_ADDR is set) ---
    admin_http_addr: Annotated[Address | None, BeforeValidator(parse_address)] = None
    admin_token: Annotated[SecretStr | None, BeforeValidator(_strip)] = None
    usage_prices: Annotated[tuple[Price, ...], BeforeValidator(parse_prices)] = ()

    @model_validator(mode="after")
    def _admin_needs_token(self) -> Settings:
        """An admin server others can reach must ask for a token."""
        addr = self.admin_http_addr
        if addr is not None and not addr.loopback and self.admin_token is None:
            problems = {"ADMIN_TOKEN": f"is required when ADMIN_HTTP_ADDR ({addr}) is not loopback"}
            raise PydanticCustomError("conflict", "conflicting settings", {"problems": problems})
        return self

    bot_old_message_grace_seconds: float = Field(300.0, ge=0, le=TEN_YEARS)
    bot_recovery_window_seconds: float = Field(3600.0, ge=0, le=TEN_YEARS)
    bot_shutdown_timeout_seconds: float = Field(15.0, ge=0, le=3600)
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    tools_modules: Annotated[tuple[str, ...], BeforeValidator(_csv(_module))] = ()
    tools_disabled: Csv = ()
    tools_timeout_seconds: float = Field(20.0, gt=0, le=600)
    tools_max_rounds: int = Field(5, ge=1, le=50)
    group_mode: Annotated[GroupMode, Choice] = "mention"
    group_allowlist: Annotated[tuple[str, ...], BeforeValidator(_csv(_group))] = ()
    bot_trigger_prefix: Text | None = None
    bot_command_prefix: Text = "/"
    admin_numbers: Numbers = ()
    allowed_numbers: Numbers = ()
    blocked_numbers: Numbers = ()
    # Google mail and calendar tools (issue 11): off unless GOOGLE_TOOLS names gmail/calendar.
    google_tools: Annotated[
        tuple[Annotated[str, Field(pattern=r"^(gmail|calendar)$")], ...],
        BeforeValidator(_csv(str.lower)),
    ] = ()
    google_tools_users: Numbers = ()
    google_token_file: Annotated[Path | None, BeforeValidator(_strip)] = None
    google_client_secrets_file: Annotated[Path | None, BeforeValidator(_strip)] = None
    google_confirm_minutes: float = Field(5.0, gt=0, le=1440)
    rate_limit_per_minute: int = Field(0, ge=0)
    daily_token_budget: int = Field(0, ge=0)
    debounce_seconds: float = Field(1.5, ge=0, le=60)
    max_message_chars: int = Field(4000, ge=200, le=65_536)
    max_input_chars: int = Field(16_000, ge=100, le=1_000_000)
    max_reply_parts: int = Field(10, ge=1, le=100)
    handoff_minutes: float = Field(30.0, ge=0, le=TEN_YEARS / 60)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the mapping ``load_settings`` hands in: no second read of the environment."""
        return (init_settings,)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Settings that contradict each other, named by key."""
        problems: dict[str, str] = {}
        overlap = set(self.admin_numbers) & set(self.blocked_numbers)
        if overlap:
            problems["BLOCKED_NUMBERS"] = f"blocks admin(s) {', '.join(sorted(overlap))}"
        if any(ch.isalnum() for ch in self.bot_command_prefix):
            problems["BOT_COMMAND_PREFIX"] = (
                f"must not contain letters or digits, got {self.bot_command_prefix!r}"
            )
        if problems:
            raise PydanticCustomError("conflict", "conflicting settings", {"problems": problems})
        return self

    def secret_values(self) -> list[str]:
        """Every secret set (the API key, the admin token): what logging must never show."""
        found = (self.openai_api_key, self.admin_token)
        return [s.get_secret_value() for s in found if s is not None and s.get_secret_value()]

    def __repr_args__(self) -> Any:
        """Fields for ``repr``: the key masked (SecretStr), passwords in URLs masked."""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) else value


#: key -> field name, for every key the bot reads (the key is the name in capitals).
_FIELD_OF: dict[str, str] = {name.upper(): name for name in Settings.model_fields}

#: Every key the bot reads, for documentation checks.
KNOWN_KEYS = frozenset(_FIELD_OF)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build ``Settings`` from ``env``; raise one ``ConfigError`` listing every problem."""
    # Unset or blank keys keep the field's default.
    raw: dict[str, Any] = {key: env[key] for key in KNOWN_KEYS if env.get(key) and env[key].strip()}
    problems: dict[str, str] = {}
    mode = raw.get("OPENAI_API_MODE", "chat").strip().lower()
    if mode == "assistants" and "OPENAI_MODEL" not in raw:
        raw["OPENAI_MODEL"] = ""  # no per-run override: the assistant's own model answers
    if mode == "assistants" and "OPENAI_ASSISTANT_ID" not in raw:
        problems["OPENAI_ASSISTANT_ID"] = "is required when OPENAI_API_MODE=assistants (asst_...)"
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=True):
            if error["type"] == "conflict":
                problems.update(error.get("ctx", {})["problems"])
            else:
                key = str(error["loc"][0]) if error["loc"] else "settings"
                problems.setdefault(key, _reason(key, error, raw.get(key, "")))
    if "OPENAI_API_KEY" not in raw and (
        "OPENAI_BASE_URL" not in raw or "OPENAI_BASE_URL" in problems
    ):
        problems["OPENAI_API_KEY"] = (
            "is required (or set OPENAI_BASE_URL to an OpenAI-compatible server that needs no key)"
        )
    if problems:
        # ``from None``: pydantic's error would quote the input, the key included.
        raise ConfigError(problems) from None
    return settings


def unknown_key_hints(env: Mapping[str, str]) -> dict[str, str]:
    """Unknown keys that look like ours (``OPENAI_APIKEY``) -> the key probably meant."""
    hints: dict[str, str] = {}
    for key in env:
        if key in KNOWN_KEYS or not key.upper().startswith(_OUR_PREFIXES):
            continue
        close = difflib.get_close_matches(key.upper(), KNOWN_KEYS, n=1, cutoff=0.8)
        if close:
            hints[key] = close[0]
    return hints


def _reason(key: str, error: ErrorDetails, raw: str) -> str:
    """Pydantic's error for ``key`` in the operator's words, without pydantic's jargon."""
    kind, ctx = error["type"], error.get("ctx", {})
    field = Settings.model_fields[_FIELD_OF[key]] if key in _FIELD_OF else None
    shown = "(not shown)" if key == "OPENAI_API_KEY" else repr(raw)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"must be a whole number, got {shown}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number, got {shown}"
    if kind == "finite_number":
        return f"must be a finite number, got {shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false, got {shown}"
    if kind == "literal_error" and field is not None:
        choices = [str(choice) for choice in get_args(field.annotation)]
        return f"must be one of {', '.join(choices)}; got {shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal") and field:
        return f"must be {_bounds(field)}, got {raw.strip()}"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {shown}"


def _bounds(field: FieldInfo) -> str:
    """A field's numeric range in words: ``between 0 and 10`` or ``>= 1``."""
    low: Any = None
    high: Any = None
    op = ">="
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            low, op = (meta.ge, ">=") if isinstance(meta, annotated_types.Ge) else (meta.gt, ">")
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"{op} {low:g}" if low is not None else f"<= {high:g}"
