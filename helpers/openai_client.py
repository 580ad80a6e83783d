"""Building the one ``AsyncOpenAI`` client from settings, and the one place warnings are tamed."""

from __future__ import annotations

import hashlib
import warnings
from urllib.parse import urlsplit

import httpx2
import openai
import structlog
from openai import AsyncOpenAI

from bot.settings import Settings

log = structlog.get_logger("helpers.openai_client")

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: A server behind OPENAI_BASE_URL may need no key; the SDK insists on one all the same.
NO_KEY_PLACEHOLDER = "no-key-needed"
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")


def build_client(settings: Settings) -> AsyncOpenAI:
    """An ``AsyncOpenAI`` client with the configured key, base URL, timeout and retries."""
    key = (
        settings.openai_api_key.get_secret_value()
        if settings.openai_api_key
        else NO_KEY_PLACEHOLDER
    )
    silence_assistants_deprecation()
    return AsyncOpenAI(
        api_key=key,
        base_url=settings.openai_base_url or OPENAI_DEFAULT_BASE_URL,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        http_client=http_client(settings),
    )


def http_client(settings: Settings) -> httpx2.AsyncClient | None:
    """The SDK's aiohttp transport for ``OPENAI_HTTP_CLIENT=aiohttp`` (None: its default,
    httpx2). Both give the SDK the same API, retries and timeouts; bench/README.md compares
    their speed."""
    if settings.openai_http_client != "aiohttp":
        return None
    try:
        return openai.DefaultAioHttpClient(timeout=settings.openai_timeout_seconds)
    except RuntimeError as exc:  # aiohttp is not installed (the SDK's "aiohttp" extra)
        log.warning("openai.aiohttp_missing", fallback="httpx", error=str(exc))
        return None


def is_openai(settings: Settings) -> bool:
    """Whether the server is OpenAI's own API (features other servers may refuse are safe)."""
    host = urlsplit(settings.openai_base_url or OPENAI_DEFAULT_BASE_URL).hostname or ""
    return host == "api.openai.com"


def is_openai_or_azure(settings: Settings) -> bool:
    """Whether the server is OpenAI's or Azure OpenAI's (reasoning models refuse max_tokens)."""
    host = urlsplit(settings.openai_base_url or OPENAI_DEFAULT_BASE_URL).hostname or ""
    return is_openai(settings) or host.endswith(
        (".openai.azure.com", ".cognitiveservices.azure.com")
    )


def prompt_cache_key(chat: str) -> str:
    """A stable, opaque key per chat: OpenAI routes requests with one key to one cache."""
    return "chat-" + hashlib.sha256(chat.encode()).hexdigest()[:32]


def silence_assistants_deprecation() -> None:
    """Hide the SDK's per-call DeprecationWarning for the Assistants API.

    The ``assistants`` mode exists on purpose for servers that still serve that API; the
    start-up preflight tells the operator when the server does not. Nothing else is silenced.
    """
    # The SDK marks these methods with typing_extensions.deprecated, which attributes each
    # warning to the caller: matching our one calling module hides exactly these. A few
    # methods are wrapped twice (around @required_args); their inner warning is attributed
    # to the SDK's own helper module, so that one is matched by its message too.
    warnings.filterwarnings(
        "ignore",
        category=DeprecationWarning,
        module=r"helpers\.backends\.(assistants|assistant_files|common)|bot\.cli\.assistant",
    )
    warnings.filterwarnings(
        "ignore",
        message=r"The Assistants API is deprecated",
        category=DeprecationWarning,
        module=r"openai\._utils\._utils",
    )
