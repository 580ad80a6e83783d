"""FakeOpenAI: a local, stateful, scriptable OpenAI HTTP server for tests and benchmarks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import random
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from aiohttp import web

from . import assistants, chat, conversations, files, profiles, responses, runs, vector_stores
from .assistants import AssistantsStore, make_assistant
from .conversations import ResponsesStore
from .script import (
    DEFAULT_FAIL_MESSAGE,
    Fail,
    FailRule,
    Gate,
    ModelCall,
    RunEnds,
    Step,
    Text,
    ToolCalls,
)
from .state import Core, RecordedRequest, Settings
from .wire import CORE_KEY, middleware

T = TypeVar("T")


class FakeOpenAI:
    """A fake OpenAI API on 127.0.0.1: point `AsyncOpenAI(base_url=fake.base_url)` at it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        assistants_enabled: bool = True,
        assistant_ids: Iterable[str] = (),
        validate: bool = False,
        context_window: int | None = None,
        api_key: str | None = None,
        run_expiry: float = 600.0,
        poll_after_ms: int | None = None,
        seed: int | None = None,
    ) -> None:
        """Configure the server; nothing listens until `start()` (or `async with`)."""
        self.host, self.port = host, port
        self.settings = Settings(
            latency=latency,
            assistants_enabled=assistants_enabled,
            context_window=context_window,
            api_key=api_key,
            run_expiry=run_expiry,
            poll_after_ms=poll_after_ms,
        )
        self.core = Core(settings=self.settings, rng=random.Random(seed))
        self.assistants_store = AssistantsStore()
        self.responses_store = ResponsesStore()
        self._validate = validate
        self._assistant_ids = tuple(assistant_ids)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one) and create the preset assistants."""
        if self._validate and self.core.checker is None:
            from .spec import shared_validator, spec_path

            # Without the published spec (a user's clone) the fake serves unchecked; the
            # tests that assert on the checks skip with the reason (spec.require_spec).
            if spec_path() is not None:
                self.core.checker = shared_validator().errors
        self._loop = asyncio.get_running_loop()
        for assistant_id in self._assistant_ids:
            self.add_assistant(assistant_id=assistant_id)
        app = web.Application(middlewares=[middleware], client_max_size=64 * 1024**2)
        app[CORE_KEY] = self.core
        chat.add_routes(app)
        assistants.add_routes(app, self.assistants_store)
        runs.add_routes(app)
        conversations.add_routes(app, self.responses_store)
        responses.add_routes(app)
        files.add_routes(app)
        vector_stores.add_routes(app)
        profiles.add_routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop every run, open the test gate and close the server."""
        if self.core.brain.gate is not None:
            self.core.brain.gate.release()
        for state in self.assistants_store.threads.values():
            for control in state.runs:
                if control.task is not None and not control.task.done():
                    control.task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[FakeOpenAI]:
        """Run a fake on its own event loop in a daemon thread (for synchronous users)."""
        fake = cls(**kwargs)
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(fake.start())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        thread.start()
        try:
            ready.result(timeout=30)
            yield fake
        finally:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()

    # --- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return the API root to give the SDK, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.host}:{self.port}/v1"

    # --- scripting -------------------------------------------------------------------------

    def script(self, *steps: Step) -> None:
        """Queue steps (Text, ToolCalls, Fail, RunEnds) for the next model calls, in order."""
        for step in steps:
            if not isinstance(step, Text | ToolCalls | Fail | RunEnds):
                raise TypeError(f"not a scripted step: {step!r}")
        self.core.brain.steps.push(*steps)

    def script_transcripts(self, *items: str | Fail) -> None:
        """Queue transcripts (or Fail steps) for the next audio transcriptions."""
        self.core.brain.transcripts.push(*items)

    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        *,
        code: str | None = None,
        message: str = DEFAULT_FAIL_MESSAGE,
        type: str | None = None,
        path: str | None = None,
        method: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next `times` requests (optionally only those whose path contains `path`)."""
        kind = type or ("server_error" if status >= 500 else "invalid_request_error")
        fail = Fail(status, code, message, kind, retry_after=retry_after)
        self.core.brain.fail_rules.append(FailRule(fail, times, path, method))

    def hold(self) -> Gate:
        """Hold every model call at a gate until `gate.release()` (await `gate.entered(n)`)."""
        gate = Gate()
        self.core.brain.gate = gate
        return gate

    @property
    def pending_steps(self) -> list[Step]:
        """Return the scripted steps not consumed yet."""
        return list(self.core.brain.steps.pending())

    @property
    def latency(self) -> float:
        """Seconds each model call (completion, response, run processing) takes."""
        return self.settings.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.settings.latency = seconds

    @property
    def assistants_enabled(self) -> bool:
        """Whether /assistants and /threads exist (False: 404, as on OpenAI since 2026-08-26)."""
        return self.settings.assistants_enabled

    @assistants_enabled.setter
    def assistants_enabled(self, enabled: bool) -> None:
        self.settings.assistants_enabled = enabled

    def profile(self, **switches: Any) -> None:
        """Turn on server-profile switches (see ``Settings``), e.g. ``chaining=False``."""
        for name, value in switches.items():
            if not hasattr(self.settings, name):
                raise TypeError(f"no such profile switch: {name}")
            setattr(self.settings, name, value)

    # --- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first."""
        return self.core.requests

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Return the requests whose path ends with `path` (e.g. "/chat/completions")."""
        return [
            r
            for r in self.core.requests
            if r.path.endswith(path) and (method is None or r.method == method.upper())
        ]

    @property
    def calls(self) -> list[ModelCall]:
        """Every model call (what it saw and which step it used), oldest first."""
        return self.core.brain.calls

    @property
    def schema_violations(self) -> list[str]:
        """Schema problems found in bodies the server sent (only with validate=True)."""
        return self.core.schema_violations

    @property
    def validated(self) -> dict[str, int]:
        """How many bodies/events were validated per schema name (only with validate=True)."""
        return dict(self.core.validated)

    async def wait_for_run(self, thread_id: str, run_id: str, *statuses: str) -> dict[str, Any]:
        """Wait (in the server's loop) until a run reaches one of `statuses`; return the run."""
        control = self.assistants_store.thread(thread_id).run(run_id)
        return await control.wait_for(frozenset(statuses))

    def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes of a stored file."""
        return self.core.files[file_id].data

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        """Return a thread's message objects, oldest first."""
        return list(self.assistants_store.thread(thread_id).messages)

    def conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        """Return a conversation's items, oldest first."""
        return list(self.responses_store.conversation(conversation_id).items)

    def reset(self) -> None:
        """Forget queued steps, failure rules, recorded requests and model calls (not state)."""
        brain = self.core.brain
        brain.steps.clear()
        brain.transcripts.clear()
        brain.fail_rules.clear()
        brain.calls.clear()
        brain.gate = None
        self.core.requests.clear()

    # --- state set-up ----------------------------------------------------------------------

    def add_assistant(
        self,
        *,
        assistant_id: str | None = None,
        model: str = "gpt-4o-mini",
        instructions: str | None = None,
        tools: Iterable[dict[str, Any]] = (),
    ) -> str:
        """Create an assistant directly (no HTTP) and return its id."""
        params = {"model": model, "instructions": instructions, "tools": list(tools)}
        assistant = make_assistant(self.core, params, assistant_id)
        self.assistants_store.assistants[assistant["id"]] = assistant
        return str(assistant["id"])

    def leave_stale_run(
        self,
        thread_id: str,
        *,
        complete_after: float | None = None,
        assistant_id: str | None = None,
    ) -> str:
        """Leave an in_progress run (as after a crash); it echoes after `complete_after` seconds."""
        return self._in_loop(
            lambda: runs.start_stale_run(
                self.core, self.assistants_store, thread_id, assistant_id, complete_after
            )
        )

    def _in_loop(self, action: Callable[[], T]) -> T:
        """Call `action` on the server's loop (directly if already there)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("start the fake first")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return action()

        async def call() -> T:
            return action()

        coroutine: Coroutine[Any, Any, T] = call()
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)
