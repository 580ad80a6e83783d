"""chat mode on servers with limits: tools refused, strict alternation, output-limit names,
tool arguments as objects; on OpenAI, the prompt cache key and cached tokens; the transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from structlog.testing import capture_logs

from bot.errors import ReplyError
from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.chat import ChatBackend
from helpers.openai_client import build_client, http_client, prompt_cache_key
from helpers.tools.box import ToolBox
from storage.store import Store
from tests.backend_kit import answered, toolbox
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fake_openai.profiles import OPENROUTER_TOOLS, VLLM_TOOLS

CHAT = "15550001111@s.whatsapp.net"
MakeBackend = Callable[..., ChatBackend]


def turn(text: str) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="Ann", text=text)


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The JSON bodies of every POST /chat/completions, oldest first."""
    return [r.json for r in fake.requests_to("/chat/completions", "POST")]


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> AsyncIterator[MakeBackend]:
    """Build ChatBackends on the fake (no SDK retries); close them after."""
    made: list[ChatBackend] = []

    def make(store: Store, tools: ToolBox | None = None, **env: Any) -> ChatBackend:
        """One backend on ``store``; ``env`` overrides settings."""
        settings = make_settings(
            OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MAX_RETRIES="0", **env
        )
        backend = ChatBackend(build_client(settings), store, settings, tools)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


# --- tools ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "words"), [("vllm", VLLM_TOOLS), ("openrouter", OPENROUTER_TOOLS)]
)
async def test_a_server_refusing_tools_is_answered_without_them_and_warned_about_once(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, server: str, words: str
) -> None:
    """OPENAI_TOOLS=auto: a refusal of `tools` (vLLM 400, OpenRouter 404) is answered without
    tools, remembered for the model (later turns send none), with one warning in its words."""
    fake_openai.profile(tools_refusal=server)
    backend = make_backend(store, toolbox())
    with capture_logs() as logs:
        first = await backend.reply(turn("hello"))
        second = await backend.reply(turn("again"))
    assert [first.text, second.text] == ["echo: hello", "echo: again"]
    assert ["tools" in body for body in bodies(fake_openai)] == [True, False, False]
    [warning] = [e for e in logs if e["event"] == "chat.tools_unsupported"]
    assert warning["server_said"] == words and warning["log_level"] == "warning"


async def test_tools_off_sends_none_and_tools_on_surfaces_the_refusal(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """OPENAI_TOOLS=off never sends tools; =on sends them and reports the refusal."""
    fake_openai.profile(tools_refusal="vllm")
    off = make_backend(store, toolbox(), OPENAI_TOOLS="off")
    assert (await off.reply(turn("hi"))).text == "echo: hi"
    assert "tools" not in bodies(fake_openai)[-1]
    on = make_backend(store, toolbox(), OPENAI_TOOLS="on")
    with pytest.raises(ReplyError, match="enable-auto-tool-choice"):
        await on.reply(turn("hi"))


async def test_tool_arguments_sent_as_objects_still_run_the_tool(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A server sending tool-call arguments as a JSON object (Ollama): the tool runs."""
    fake_openai.profile(tool_arguments_as_objects=True)
    fake_openai.script(ToolCalls([("add", {"a": 20, "b": 22})]), Text("42"))
    reply = await make_backend(store, toolbox()).reply(turn("20+22?"))
    assert reply.text == "42" and [c.ok for c in reply.tool_calls] == [True]
    echoed = bodies(fake_openai)[-1]["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert echoed == '{"a": 20, "b": 22}'
    assert bodies(fake_openai)[-1]["messages"][-1]["content"] == "42"


# --- strict alternation --------------------------------------------------------------------


async def test_debounced_turns_are_joined_for_a_strict_template(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Consecutive user messages in the history go as one user message."""
    fake_openai.profile(strict_alternation=True)
    await answered(store, CHAT, ["hi", "are you there?"], "yes", 1)
    reply = await make_backend(store).reply(turn("good"))
    assert reply.text == "echo: good"
    assert fake_openai.calls[-1].messages[1:] == (
        ("user", "hi\nare you there?"),
        ("assistant", "yes"),
        ("user", "good"),
    )


async def test_a_context_never_starts_with_an_answer(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A history cut that begins with an answer drops it: the context starts with a user."""
    fake_openai.profile(strict_alternation=True)
    await answered(store, CHAT, "one", "first answer", 1)
    await answered(store, CHAT, "two", "second answer", 2)
    backend = make_backend(store, MAX_CONVERSATION_HISTORY="3")
    assert (await backend.reply(turn("three"))).text == "echo: three"
    assert fake_openai.calls[-1].messages[1:] == (
        ("user", "two"),
        ("assistant", "second answer"),
        ("user", "three"),
    )


# --- the output limit ----------------------------------------------------------------------


async def test_the_output_limit_reaches_a_server_that_knows_only_max_tokens(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A non-OpenAI server gets `max_tokens` (Ollama ignores `max_completion_tokens`)."""
    fake_openai.profile(max_tokens_only=True)
    fake_openai.script(Text("one two three four five six"))
    backend = make_backend(store, OPENAI_MAX_COMPLETION_TOKENS="3")
    assert (await backend.reply(turn("count"))).text == "one two three"
    assert bodies(fake_openai)[-1]["max_tokens"] == 3


async def test_openai_gets_max_completion_tokens_and_a_refused_name_is_swapped(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, make_settings: Any
) -> None:
    """OpenAI and Azure get `max_completion_tokens` (reasoning models refuse `max_tokens`);
    a server refusing the name it got is asked again with the other, once, and remembered."""
    for url in ("https://api.openai.com/v1", "https://x.openai.azure.com/openai/v1"):
        settings = make_settings(OPENAI_BASE_URL=url)
        assert ChatBackend(build_client(settings), store, settings).limit_param == (
            "max_completion_tokens"
        )
    fake_openai.fail_next(
        400,
        message="Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        code="unsupported_parameter",
        path="/chat/completions",
    )
    backend = make_backend(store, OPENAI_MAX_COMPLETION_TOKENS="50")
    assert (await backend.reply(turn("hi"))).text == "echo: hi"
    await backend.reply(turn("again"))
    limits = [("max_tokens" in b, b.get("max_completion_tokens")) for b in bodies(fake_openai)]
    assert limits == [(True, None), (False, 50), (False, 50)]


# --- prompt cache ------------------------------------------------------------------------------


async def test_openai_requests_carry_a_stable_cache_key_and_cached_tokens_are_reported(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """On OpenAI each chat's requests share one opaque prompt_cache_key (no phone number in
    it), and the cached prompt tokens the server reports are in the usage; other servers get
    no key (some refuse unknown fields)."""
    await make_backend(store).reply(turn("elsewhere"))
    assert "prompt_cache_key" not in bodies(fake_openai)[-1]
    fake_openai.reset()
    backend = make_backend(store)
    backend.on_openai = True  # the fake stands in for api.openai.com
    first = await backend.reply(turn("hello"))
    await answered(store, CHAT, "hello", first.text, 1)
    second = await backend.reply(turn("again"))
    keys = {body["prompt_cache_key"] for body in bodies(fake_openai)}
    assert keys == {prompt_cache_key(CHAT)} and "15550001111" not in keys.pop()
    assert first.usage[0].cached_tokens == 0
    assert 0 < second.usage[0].cached_tokens <= second.usage[0].prompt_tokens


# --- errors ------------------------------------------------------------------------------------


async def test_a_server_error_names_the_method_the_path_and_the_servers_words(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A 503 becomes a ReplyError saying where it happened and why, in the server's words."""
    fake_openai.fail_next(503, message="upstream model is loading", path="/chat/completions")
    with pytest.raises(ReplyError) as caught:
        await make_backend(store).reply(turn("hi"))
    assert str(caught.value).startswith(
        "OpenAI server error 503 on POST /v1/chat/completions: upstream model is loading"
    )


# --- HTTP transport ----------------------------------------------------------------------------


async def test_the_aiohttp_transport_is_chosen_by_setting_and_answers(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, make_settings: Any
) -> None:
    """OPENAI_HTTP_CLIENT=aiohttp gives the SDK its aiohttp transport; replies flow through it."""
    assert http_client(make_settings(OPENAI_HTTP_CLIENT="httpx")) is None  # the SDK's own
    for settings in (make_settings(), make_settings(OPENAI_HTTP_CLIENT="aiohttp")):
        chosen = http_client(settings)  # aiohttp is the default: faster in bench/README.md
        assert isinstance(chosen, type(openai.DefaultAioHttpClient()))
        await chosen.aclose()
    backend = make_backend(store, OPENAI_HTTP_CLIENT="aiohttp")
    assert (await backend.reply(turn("over aiohttp"))).text == "echo: over aiohttp"


def test_aiohttp_missing_falls_back_to_httpx_with_a_warning(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without aiohttp installed the bot warns once and uses httpx2 instead of crashing."""

    def missing(**_: object) -> None:
        raise RuntimeError("To use the aiohttp client you must have installed the package")

    monkeypatch.setattr(openai, "DefaultAioHttpClient", missing)
    with capture_logs() as logs:
        assert http_client(make_settings(OPENAI_HTTP_CLIENT="aiohttp")) is None
    assert [e["event"] for e in logs] == ["openai.aiohttp_missing"]
