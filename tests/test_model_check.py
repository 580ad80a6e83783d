"""The start-up model check (every mode) and the daily shutdown watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.errors import StartupError
from bot.settings import Settings
from helpers.backends.assistants import AssistantsBackend
from helpers.backends.chat import ChatBackend
from helpers.backends.common import OpenAIBackend
from helpers.backends.models import (
    WATCH_INTERVAL_SECONDS,
    ModelInUse,
    ShutdownWatch,
    check_at_start,
)
from helpers.backends.responses import ResponsesBackend
from helpers.openai_client import build_client
from storage.store import Store
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeClock, FakeTransport

BACKENDS: dict[str, type[OpenAIBackend]] = {
    "chat": ChatBackend,
    "responses": ResponsesBackend,
    "assistants": AssistantsBackend,
}
ADMIN = "15559990000"


def day(offset: int) -> str:
    """Today (UTC) plus ``offset`` days, as YYYY-MM-DD."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> AsyncIterator[Callable[..., OpenAIBackend]]:
    """Build a backend of the given mode on the fake; close them after."""
    made: list[OpenAIBackend] = []

    def make(store: Store, mode: str = "chat", **env: Any) -> OpenAIBackend:
        """One backend; ``env`` overrides settings."""
        settings = make_settings(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_MAX_RETRIES="0",
            OPENAI_API_MODE=mode,
            OPENAI_ASSISTANT_ID="asst_test",
            **env,
        )
        backend = BACKENDS[mode](build_client(settings), store, settings, None)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


@pytest.mark.parametrize("mode", ["chat", "responses"])
async def test_a_refused_key_stops_the_start_naming_openai_api_key(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store, mode: str
) -> None:
    """A key the server refuses is a StartupError naming OPENAI_API_KEY (the assistants
    mode's preflight did so already)."""
    fake_openai.settings.api_key = "sk-the-right-one"
    with pytest.raises(StartupError, match="OPENAI_API_KEY was refused"):
        await make_backend(store, mode).preflight()


@pytest.mark.parametrize("mode", ["chat", "responses"])
async def test_an_unknown_model_stops_the_start_naming_the_setting(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store, mode: str
) -> None:
    """A model the server does not know: StartupError naming OPENAI_MODEL and the model."""
    fake_openai.profile(models_strict=True, models={"gpt-transcribe": None})
    with pytest.raises(StartupError, match=r"OPENAI_MODEL: .* no model 'gpt-typo'"):
        await make_backend(store, mode, OPENAI_MODEL="gpt-typo").preflight()
    assert fake_openai.requests_to("/models/gpt-typo", "GET")


async def test_the_transcription_model_is_checked_too(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store
) -> None:
    """An unknown OPENAI_TRANSCRIPTION_MODEL is named; switched off, it is not asked about."""
    fake_openai.profile(models_strict=True, models={"gpt-chat": None})
    with pytest.raises(StartupError, match="OPENAI_TRANSCRIPTION_MODEL"):
        await make_backend(store, OPENAI_MODEL="gpt-chat").preflight()
    await make_backend(store, OPENAI_MODEL="gpt-chat", OPENAI_TRANSCRIPTION_MODEL="off").preflight()


async def test_a_listed_model_that_cannot_be_fetched_alone_passes(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store
) -> None:
    """An id with a slash (OpenRouter's `vendor/model`) 404s on /models/{id}, but is listed."""
    fake_openai.profile(models_strict=True, models={"openai/gpt-x": None, "gpt-transcribe": None})
    await make_backend(store, OPENAI_MODEL="openai/gpt-x").preflight()
    assert fake_openai.requests_to("/models", "GET")


async def test_an_unlisted_model_is_only_a_warning_where_names_are_deployments(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    """With unknown_is_fatal off (Azure: OPENAI_MODEL is a deployment name) it only warns."""
    fake_openai.profile(models_strict=True, models={"gpt-base": None})
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MAX_RETRIES="0")
    client = build_client(settings)
    uses = [ModelInUse("OPENAI_MODEL", "my-deployment")]
    with capture_logs() as logs:
        await check_at_start(client, uses, base="azure", unknown_is_fatal=False)
    await client.close()
    assert [e["model"] for e in logs if e["event"] == "models.not_listed"] == ["my-deployment"]


async def test_a_server_without_models_is_passed_with_one_debug_line(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store
) -> None:
    """404 on /models/{id} and on the list: carry on, one debug line."""
    fake_openai.profile(models_enabled=False)
    with capture_logs() as logs:
        await make_backend(store).preflight()
    assert [e["log_level"] for e in logs if e["event"] == "models.unlisted"] == ["debug"]


@pytest.mark.parametrize("mode", ["chat", "responses", "assistants"])
async def test_a_model_already_shut_down_stops_the_start_with_the_date(
    fake_openai: FakeOpenAI, make_backend: Callable[..., OpenAIBackend], store: Store, mode: str
) -> None:
    """shutdown_date in the past: StartupError naming the setting, the model and the date;
    in assistants mode without OPENAI_MODEL, the assistant's own model is the one checked."""
    fake_openai.profile(models={"gpt-old": day(-1)})
    env = {"OPENAI_MODEL": "gpt-old"} if mode != "assistants" else {}
    if mode == "assistants":
        fake_openai.assistants_store.assistants["asst_test"]["model"] = "gpt-old"
    setting = "OPENAI_ASSISTANT_ID" if mode == "assistants" else "OPENAI_MODEL"
    with pytest.raises(StartupError) as caught:
        await make_backend(store, mode, **env).preflight()
    assert str(caught.value) == (
        f"{setting}: gpt-old was shut down on {day(-1)}; set another model in .env"
    )


# --- the watch -------------------------------------------------------------------------------


def watch(
    fake: FakeOpenAI,
    make_settings: Callable[..., Settings],
    store: Store,
    transport: FakeTransport,
    clock: FakeClock,
    **env: Any,
) -> ShutdownWatch:
    """A watch on the fake, telling ADMIN."""
    settings = make_settings(
        OPENAI_BASE_URL=fake.base_url, OPENAI_MAX_RETRIES="0", ADMIN_NUMBERS=ADMIN, **env
    )
    return ShutdownWatch(
        build_client(settings),
        settings=settings,
        store=store,
        transport=lambda: transport,
        clock=clock,
        base=fake.base_url,
    )


async def test_the_watch_warns_daily_and_tells_the_admins_once(
    fake_openai: FakeOpenAI,
    make_settings: Callable[..., Settings],
    store: Store,
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    """Within 60 days: a warning at start and each day after; one WhatsApp message to the
    admins, not repeated the next day nor after a restart."""
    fake_openai.profile(models={"gpt-soon": day(30)})
    first = watch(fake_openai, make_settings, store, transport, clock, OPENAI_MODEL="gpt-soon")
    with capture_logs() as logs:
        task = asyncio.create_task(first.run())
        await transport.wait_for_sends(1)
        await clock.wait_for_sleepers(1)
        await clock.advance(WATCH_INTERVAL_SECONDS)
        await clock.wait_for_sleepers(1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        restarted = watch(
            fake_openai, make_settings, store, transport, clock, OPENAI_MODEL="gpt-soon"
        )
        await restarted.check_once()
        await restarted.client.close()
    warnings = [e for e in logs if e["event"] == "model.shutdown_soon"]
    assert len(warnings) == 3 and {e["log_level"] for e in warnings} == {"warning"}
    assert warnings[0]["setting"] == "OPENAI_MODEL" and warnings[0]["shutdown_date"] == day(30)
    assert transport.texts() == [
        f"⚠️ OPENAI_MODEL gpt-soon shuts down on {day(30)}; set another model in .env."
    ]
    assert transport.sent[0].to == f"{ADMIN}@s.whatsapp.net"
    await first.client.close()


async def test_the_watch_is_quiet_about_far_or_unannounced_shutdowns(
    fake_openai: FakeOpenAI,
    make_settings: Callable[..., Settings],
    store: Store,
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    """A shutdown more than 60 days away, or none announced: no warning, no message."""
    fake_openai.profile(models={"gpt-far": day(61), "gpt-transcribe": None})
    quiet = watch(fake_openai, make_settings, store, transport, clock, OPENAI_MODEL="gpt-far")
    with capture_logs() as logs:
        assert await quiet.check_once() == []
    assert [e for e in logs if e["log_level"] == "warning"] == []
    assert transport.sent == []
    await quiet.client.close()
