"""The models the bot uses: checked once at start-up, and watched for announced shutdowns.

``GET /models/{id}`` answers whether the key works, whether the server knows the model, and
(on OpenAI) the model's ``shutdown_date``. A refused key, an unknown model or a model already
shut down stop the start with exit 2; a shutdown within ``SHUTDOWN_NOTICE_DAYS`` is warned
about at start, once a day while running, and told once to the admins on WhatsApp.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import openai
import structlog
from openai import AsyncOpenAI

from bot.clock import Clock
from bot.errors import StartupError
from bot.settings import Settings
from bot.transport import Transport
from helpers.backends.errors import server_words
from storage.store import Store

log = structlog.get_logger("helpers.backends.models")

#: Warn this many days (or fewer) before a model shuts down.
SHUTDOWN_NOTICE_DAYS = 60
#: How often the running bot looks again.
WATCH_INTERVAL_SECONDS = 24 * 3600.0
#: A look that takes longer is given up until the next one (it never holds up the start).
CHECK_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class ModelInUse:
    """A model the bot will call, and the setting that chose it."""

    setting: str
    model: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """A model with an announced shutdown date."""

    use: ModelInUse
    on: date

    def notice(self) -> str:
        """The sentence for logs and the admins."""
        return (
            f"{self.use.setting} {self.use.model} shuts down on {self.on.isoformat()}; "
            "set another model in .env"
        )


def models_in_use(settings: Settings, assistant_model: str | None = None) -> list[ModelInUse]:
    """The models this configuration calls (the assistant's own one when it has no override)."""
    found: list[ModelInUse] = []
    if settings.openai_model:
        found.append(ModelInUse("OPENAI_MODEL", settings.openai_model))
    elif assistant_model:
        found.append(ModelInUse("OPENAI_ASSISTANT_ID", assistant_model))
    if settings.openai_transcription_model:
        found.append(ModelInUse("OPENAI_TRANSCRIPTION_MODEL", settings.openai_transcription_model))
    return found


def _shutdown_of(raw: object) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        log.debug("models.bad_shutdown_date", value=str(raw))
        return None


async def lookup(
    client: AsyncOpenAI,
    uses: Sequence[ModelInUse],
    *,
    base: str,
    fatal: bool,
    unknown_is_fatal: bool = True,
) -> list[Shutdown] | None:
    """Ask the server about each model; return the announced shutdowns (None: no /models).

    With ``fatal`` (start-up), a refused key or an unknown model raise ``StartupError``;
    otherwise they are logged. A model absent from the list is only a warning where
    ``unknown_is_fatal`` is off (Azure lists base models, not the deployment names used).
    Connection trouble and server errors are only logged: the server may come back, and
    every turn reports its own failure.
    """
    shutdowns: list[Shutdown] = []
    # One quick look each: a server that is down is reported by the turns, not waited for here.
    client = client.with_options(max_retries=0, timeout=CHECK_TIMEOUT_SECONDS)
    for use in uses:
        try:
            model = await client.models.retrieve(use.model)
        except openai.AuthenticationError as exc:
            problem = f"OPENAI_API_KEY was refused by {base}: {server_words(exc)}"
        except openai.PermissionDeniedError as exc:
            words = server_words(exc)
            problem = f"{use.setting}: the key may not use {use.model!r} at {base}: {words}"
        except openai.NotFoundError as exc:
            listed = await _listed_models(client)
            if listed is None:
                if fatal:  # said once, at start-up
                    log.debug("models.unlisted", base_url=base)
                return None
            if use.model in listed:
                continue  # listed, only not retrievable one by one (ids with "/", OpenRouter)
            if not unknown_is_fatal:
                log.warning("models.not_listed", setting=use.setting, model=use.model)
                continue
            problem = (
                f"{use.setting}: the server at {base} has no model {use.model!r} "
                f"({server_words(exc)}). Set a model it serves."
            )
        except openai.OpenAIError as exc:
            # At start-up the operator should see it; the daily look need not repeat it.
            (log.warning if fatal else log.debug)(
                "models.check_failed", model=use.model, error=str(exc)
            )
            continue
        else:
            day = _shutdown_of(model.shutdown_date)
            if day is not None:
                shutdowns.append(Shutdown(use, day))
            continue
        if fatal:
            raise StartupError(problem)
        log.warning("models.refused", model=use.model, problem=problem)
    return shutdowns


async def current_models(client: AsyncOpenAI, settings: Settings) -> list[ModelInUse]:
    """The models in use now; in ``assistants`` mode without ``OPENAI_MODEL``, the
    assistant's own model (asked of the server: it can be changed there)."""
    assistant_model = None
    if settings.openai_api_mode == "assistants" and not settings.openai_model:
        try:
            assistant = await client.beta.assistants.retrieve(settings.openai_assistant_id or "")
        except openai.OpenAIError as exc:
            log.debug("models.assistant_unknown", error=str(exc))
        else:
            assistant_model = assistant.model
    return models_in_use(settings, assistant_model)


async def _listed_models(client: AsyncOpenAI) -> set[str] | None:
    """The ids ``GET /models`` lists (None: the server has no /models at all)."""
    try:
        return {model.id async for model in client.models.list()}
    except openai.NotFoundError:
        return None
    except openai.OpenAIError:
        return set()


async def check_at_start(
    client: AsyncOpenAI,
    uses: Sequence[ModelInUse],
    *,
    base: str,
    unknown_is_fatal: bool = True,
    today: date | None = None,
) -> list[Shutdown]:
    """The start-up check: refuse what cannot work; return the shutdowns still to come."""
    today = today or datetime.now(UTC).date()
    found = await lookup(client, uses, base=base, fatal=True, unknown_is_fatal=unknown_is_fatal)
    shutdowns = found or []
    for shutdown in shutdowns:
        if shutdown.on <= today:
            raise StartupError(
                f"{shutdown.use.setting}: {shutdown.use.model} was shut down on "
                f"{shutdown.on.isoformat()}; set another model in .env"
            )
    return [s for s in shutdowns if (s.on - today).days <= SHUTDOWN_NOTICE_DAYS]


class ShutdownWatch:
    """Warns once a day about models shutting down soon, and tells the admins once."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        settings: Settings,
        store: Store,
        transport: Callable[[], Transport | None],
        clock: Clock,
        base: str,
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.transport = transport
        self.clock = clock
        self.base = base

    async def run(self, *, check_first: bool = True) -> None:
        """Check now (unless the caller just did), then every ``WATCH_INTERVAL_SECONDS``."""
        try:
            if check_first:
                await self.check_once()
            while True:
                await self.clock.sleep(WATCH_INTERVAL_SECONDS)
                await self.check_once()
        finally:
            log.debug("models.watch_stopped")

    async def check_once(self) -> list[Shutdown]:
        """Warn about each model shutting down within the notice period; tell the admins."""
        today = self.clock.now().date()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                uses = await current_models(self.client, self.settings)
                shutdowns = await lookup(self.client, uses, base=self.base, fatal=False)
        except Exception as exc:  # the watch must outlive any one failed look
            log.warning("models.watch_failed", error=repr(exc))
            return []
        soon = [s for s in shutdowns or [] if (s.on - today).days <= SHUTDOWN_NOTICE_DAYS]
        for shutdown in soon:
            log.warning(
                "model.shutdown_soon",
                setting=shutdown.use.setting,
                model=shutdown.use.model,
                shutdown_date=shutdown.on.isoformat(),
                days_left=(shutdown.on - today).days,
            )
            await self._tell_admins(shutdown)
        return soon

    async def _tell_admins(self, shutdown: Shutdown) -> None:
        """One WhatsApp message per model and date to ``ADMIN_NUMBERS``, ever."""
        transport = self.transport()
        if transport is None or not self.settings.admin_numbers:
            return
        flag = f"model_shutdown_told:{shutdown.use.model}:{shutdown.on.isoformat()}"
        if await self.store.get_flag(flag) is not None:
            return
        for number in self.settings.admin_numbers:
            try:
                await transport.send_text(f"{number}@s.whatsapp.net", f"⚠️ {shutdown.notice()}.")
            except Exception as exc:
                log.warning("models.admin_notice_failed", admin=number, error=repr(exc))
                return  # try again tomorrow
        await self.store.set_flag(flag, self.clock.now().isoformat())
        log.info(
            "models.admins_told", model=shutdown.use.model, admins=len(self.settings.admin_numbers)
        )
