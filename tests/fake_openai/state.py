"""Shared server state: settings, ids, recorded requests, stored files, the validator hook."""

from __future__ import annotations

import asyncio
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .script import Brain, ModelCall, Step

Checker = Callable[[str, Any], list[str]]
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class RecordedRequest:
    """One request the fake received, with its status and the server-side time it took."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, form fields (files as {"filename", "content_type", "bytes"}), or None
    headers: dict[str, str]  # names in lower case
    status: int | None = None
    server_seconds: float | None = None

    @property
    def json(self) -> dict[str, Any]:
        """Return the body as a dict (empty when it was not a JSON object)."""
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class Settings:
    """Behaviour switches of one fake server (mutable while it runs)."""

    latency: float = 0.0
    assistants_enabled: bool = True
    context_window: int | None = None  # tokens; None: unlimited
    api_key: str | None = None  # None: any bearer token is accepted
    run_expiry: float = 600.0  # seconds a run waits for tool outputs before it expires
    poll_after_ms: int | None = None  # sent as `openai-poll-after-ms` on run retrievals
    # --- server profiles: one switch per refusal of a compatible server (profiles.py) ---
    conversations_enabled: bool = True  # False: /conversations answers 404 (Ollama, mocks)
    chaining: bool = True  # False: `previous_response_id` is refused (a stateless /responses)
    tools_refusal: str | None = None  # "vllm" (400) | "openrouter" (404) on any `tools`
    strict_alternation: bool = False  # Mistral-style templates: user/assistant strictly alternate
    list_types_refused: bool = False  # Gemini: a list-valued "type" in a tool schema is a 400
    tool_arguments_as_objects: bool = False  # Ollama: tool-call `arguments` as a JSON object
    max_tokens_only: bool = False  # Ollama: `max_completion_tokens` is ignored, `max_tokens` not
    models_enabled: bool = True  # False: no /models at all (404 on the list)
    #: Models the server knows, with their `shutdown_date` (None: none announced). Unless
    #: `models_strict`, any other id is known too, with no shutdown date.
    models: dict[str, str | None] = field(default_factory=dict)
    models_strict: bool = False  # True: /models/{id} answers 404 for ids not in `models`
    upload_latency: float = 0.0  # seconds each POST /files takes (the knowledge benchmark)
    ingestion_polls: int = 0  # retrievals a vector store file stays in_progress


@dataclass
class StoredFile:
    """An uploaded (or generated) file and its bytes."""

    info: dict[str, Any]
    data: bytes


@dataclass
class Core:
    """Everything the route modules share."""

    settings: Settings
    brain: Brain = field(default_factory=Brain)
    requests: list[RecordedRequest] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    checker: Checker | None = None
    schema_violations: list[str] = field(default_factory=list)
    validated: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(default_factory=random.Random)
    #: Prompt tokens last sent per `prompt_cache_key` (a crude prompt cache).
    prompt_cache: dict[str, int] = field(default_factory=dict)
    #: Vector stores by id (``vector_stores.VectorStore``).
    vector_stores: dict[str, Any] = field(default_factory=dict)
    #: Files code interpreter wrote: (container id, file id) -> (filename, bytes).
    container_files: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)

    def cached_tokens(self, body: Mapping[str, Any], prompt_tokens: int) -> int:
        """Tokens "served from cache": the earlier prompt under the same `prompt_cache_key`
        (OpenAI caches shared prefixes; a growing chat shares its whole earlier prompt)."""
        key = body.get("prompt_cache_key")
        if not isinstance(key, str):
            return 0
        cached = min(prompt_tokens, self.prompt_cache.get(key, 0))
        self.prompt_cache[key] = prompt_tokens
        return cached

    def new_id(self, prefix: str, length: int = 24) -> str:
        """Return a realistic id such as `thread_abc...` or `chatcmpl-...`."""
        return prefix + "".join(self.rng.choices(_ALPHABET, k=length))

    def check(self, schema: str, body: Any) -> None:
        """Validate an outgoing body against schema `schema` when validation is on."""
        if self.checker is None:
            return
        self.validated[schema] += 1
        for problem in self.checker(schema, body):
            self.schema_violations.append(problem)

    def store_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        """Store bytes as a file and return its OpenAI file object."""
        info: dict[str, Any] = {
            "id": self.new_id("file-", 22),
            "object": "file",
            "bytes": len(data),
            "created_at": now(),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        self.files[info["id"]] = StoredFile(info=info, data=data)
        return info

    def record_call(self, call: ModelCall) -> None:
        """Remember what a model call saw."""
        self.brain.calls.append(call)

    def next_step(self) -> Step | None:
        """Take the next scripted step (None: reply with the default echo)."""
        step: Step | None = self.brain.steps.pop()
        return step

    async def think(self, step: Step | None) -> None:
        """Spend the model's time: wait at the test gate, then latency plus the step's delay."""
        gate = self.brain.gate
        if gate is not None:
            await gate.pass_through()
        seconds = self.settings.latency + (step.delay if step is not None else 0.0)
        if seconds > 0:
            await asyncio.sleep(seconds)


def now() -> int:
    """Return the current Unix time in whole seconds."""
    return int(time.time())


def page(
    items: list[dict[str, Any]], query: Mapping[str, str], *, default_order: str = "desc"
) -> dict[str, Any]:
    """Return an OpenAI cursor page of `items` (oldest first) for order/limit/after/before."""
    order = query.get("order", default_order)
    ordered = list(reversed(items)) if order == "desc" else list(items)
    ids = [item["id"] for item in ordered]
    after, before = query.get("after"), query.get("before")
    if after in ids:
        ordered = ordered[ids.index(after) + 1 :]
    if before is not None:
        ids = [item["id"] for item in ordered]
        if before in ids:
            ordered = ordered[: ids.index(before)]
    try:
        limit = max(1, min(100, int(query.get("limit", "20"))))
    except ValueError:
        limit = 20
    data = ordered[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(ordered) > limit,
    }
