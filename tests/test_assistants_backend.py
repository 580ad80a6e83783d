"""The ``assistants`` backend, driven through the real SDK against the local fake OpenAI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from bot.errors import ReplyError, StartupError
from bot.settings import Settings
from helpers.backends.assistants import AssistantsBackend
from helpers.backends.base import Turn, TurnImage, Usage
from helpers.backends.chat import system_prompt
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from storage.store import Store
from tests.backend_kit import answered, toolbox
from tests.conftest import ASSISTANT_ID
from tests.fake_openai import Citation, Fail, FakeOpenAI, RunEnds, Text, ToolCalls

pytestmark = [
    # One test calls the Assistants API on the SDK itself, as another client would.
    pytest.mark.filterwarnings(
        r"ignore:The Assistants API is deprecated:DeprecationWarning:tests\.test_assistants_backend"
    ),
]

CHAT = "15550001111@s.whatsapp.net"
OTHER_CHAT = "15550002222@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
SENDER = "15550001111@s.whatsapp.net"
PNG = b"\x89PNG\r\n\x1a\nfake-chart"

MakeBackend = Callable[..., AssistantsBackend]


def turn(text: str, chat: str = CHAT, **extra: Any) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=chat, chat_jid=chat, sender=SENDER, sender_name="Ann", text=text, **extra)


def thread_texts(fake: FakeOpenAI, thread_id: str) -> list[tuple[str, str]]:
    """A thread's messages on the fake as (role, text), oldest first."""
    return [
        (m["role"], " ".join(p["text"]["value"] for p in m["content"] if p["type"] == "text"))
        for m in fake.thread_messages(thread_id)
    ]


def runs_of(fake: FakeOpenAI, thread_id: str) -> list[dict[str, Any]]:
    """The run objects of a thread on the fake, oldest first."""
    return [control.run for control in fake.assistants_store.thread(thread_id).runs]


@pytest.fixture(params=["true", "false"], ids=["streamed", "polled"])
def stream(request: pytest.FixtureRequest) -> str:
    """OPENAI_STREAM: streamed runs, or runs polled every 10 ms."""
    return str(request.param)


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> AsyncIterator[MakeBackend]:
    """Build AssistantsBackends on the fake (no SDK retries, 10 ms polls); close them after."""
    made: list[AssistantsBackend] = []

    def make(store: Store, tools: ToolBox | None = None, **env: Any) -> AssistantsBackend:
        """One backend on ``store``; ``env`` overrides settings."""
        settings = make_settings(
            **{
                "OPENAI_BASE_URL": fake_openai.base_url,
                "OPENAI_API_MODE": "assistants",
                "OPENAI_ASSISTANT_ID": ASSISTANT_ID,
                "OPENAI_MAX_RETRIES": "0",
                "OPENAI_POLL_INTERVAL_MS": "10",
                **env,
            }
        )
        backend = AssistantsBackend(build_client(settings), store, settings, tools)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


# --- threads ---------------------------------------------------------------------------------


async def test_thread_is_created_once_and_survives_a_restart(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, tmp_path: Path
) -> None:
    """One thread per chat: made on the first turn, reused later and by a restarted bot."""
    async with Store.open(tmp_path / "bot.db") as store:
        backend = make_backend(store)
        first = await backend.reply(turn("hello"))
        second = await backend.reply(turn("again"))
        thread_id = await store.thread_for(CHAT, "assistants")
    async with Store.open(tmp_path / "bot.db") as reopened:
        restarted = make_backend(reopened)
        third = await restarted.reply(turn("after restart"))
        assert await reopened.thread_for(CHAT, "assistants") == thread_id
    assert [first.text, second.text, third.text] == [
        "echo: hello",
        "echo: again",
        "echo: after restart",
    ]
    assert thread_id is not None and thread_id.startswith("thread_")
    assert len(fake_openai.requests_to("/threads", "POST")) == 1
    assert thread_texts(fake_openai, thread_id) == [
        ("user", "hello"),
        ("assistant", "echo: hello"),
        ("user", "again"),
        ("assistant", "echo: again"),
        ("user", "after restart"),
        ("assistant", "echo: after restart"),
    ]


async def test_two_chats_get_two_threads(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Each chat has its own thread; neither sees the other's messages."""
    backend = make_backend(store)
    await backend.reply(turn("mine", CHAT))
    await backend.reply(turn("theirs", OTHER_CHAT))
    mine = await store.thread_for(CHAT, "assistants")
    theirs = await store.thread_for(OTHER_CHAT, "assistants")
    assert mine is not None and theirs is not None and mine != theirs
    assert thread_texts(fake_openai, mine) == [("user", "mine"), ("assistant", "echo: mine")]
    assert thread_texts(fake_openai, theirs) == [("user", "theirs"), ("assistant", "echo: theirs")]
    metadata = [r.json["metadata"] for r in fake_openai.requests_to("/threads", "POST")]
    assert metadata == [{"chat": CHAT}, {"chat": OTHER_CHAT}]


async def test_reply_with_usage_streamed_or_polled(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A turn streams (or polls) its run and returns the text and the run's exact usage."""
    backend = make_backend(store, OPENAI_STREAM=stream)
    reply = await backend.reply(turn("how are you"))
    assert reply.text == "echo: how are you" and reply.media == ()
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    (run,) = runs_of(fake_openai, thread_id)
    usage = run["usage"]
    assert usage["total_tokens"] > 0
    assert reply.usage == (
        Usage(
            run["model"], usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]
        ),
    )
    created = fake_openai.requests_to(f"/threads/{thread_id}/runs", "POST")[0].json
    polls = fake_openai.requests_to(f"/runs/{run['id']}", "GET")
    listed = fake_openai.requests_to(f"/threads/{thread_id}/messages", "GET")
    if stream == "true":
        assert created.get("stream") is True and polls == [] and listed == []
    else:
        assert "stream" not in created and len(polls) >= 1 and len(listed) == 1
    assert created["assistant_id"] == ASSISTANT_ID
    assert created["additional_instructions"] == backend.settings.ai_system_prompt
    assert "tools" not in created  # no ToolBox: the assistant's own tools stay untouched


async def test_group_turn_is_attributed_and_explained(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """In a group the message carries the sender's name and the run explains that format."""
    backend = make_backend(store)
    group_turn = turn("who am I?", GROUP, is_group=True)
    reply = await backend.reply(group_turn)
    assert reply.text == "echo: Ann: who am I?"
    assert fake_openai.calls[-1].instructions == system_prompt(backend.settings, group_turn)
    assert "group chat" in (fake_openai.calls[-1].instructions or "")


# --- tools -----------------------------------------------------------------------------------


async def test_parallel_tool_calls_answered_in_one_submission(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """Every call of a requires_action step runs concurrently and goes back in ONE submission."""
    fake_openai.script(
        ToolCalls([("add", {"a": 2, "b": 3}), ("meet", {"name": "x"}), ("meet", {"name": "y"})]),
        Text("all done"),
    )
    backend = make_backend(store, toolbox(), OPENAI_STREAM=stream)
    reply = await backend.reply(turn("use your tools"))
    assert reply.text == "all done"
    (submission,) = fake_openai.requests_to("/submit_tool_outputs")
    assert [o["output"] for o in submission.json["tool_outputs"]] == ["5", "met x", "met y"]
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    (control,) = fake_openai.assistants_store.thread(thread_id).runs
    asked = [call["id"] for call in control.steps[0]["step_details"]["tool_calls"]]
    assert [o["tool_call_id"] for o in submission.json["tool_outputs"]] == asked
    assert [(c.tool, c.ok) for c in reply.tool_calls] == [("add", True), *[("meet", True)] * 2]
    assert control.run["status"] == "completed"
    created = fake_openai.requests_to(f"/threads/{thread_id}/runs", "POST")[0].json
    assert [t["function"]["name"] for t in created["tools"]] == ["add", "shout", "meet"]


async def test_unknown_tool_gets_an_error_output(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A call to a tool that does not exist is answered with an error output, not a hang."""
    fake_openai.script(ToolCalls([("teleport", {"to": "Mars"})]), Text("I cannot do that"))
    backend = make_backend(store, toolbox())
    reply = await backend.reply(turn("beam me up"))
    assert reply.text == "I cannot do that"
    (submission,) = fake_openai.requests_to("/submit_tool_outputs")
    (output,) = submission.json["tool_outputs"]
    assert json.loads(output["output"]) == {
        "error": "unknown tool 'teleport'; available tools: add, shout, meet"
    }
    assert [(c.tool, c.ok) for c in reply.tool_calls] == [("teleport", False)]


async def test_tool_calls_without_a_toolbox_get_error_outputs(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A backend without tools still answers an assistant's own function calls (with errors)."""
    fake_openai.script(ToolCalls([("lookup", {}), ("lookup", {})]), Text("never mind"))
    reply = await make_backend(store).reply(turn("look it up"))
    assert reply.text == "never mind"
    (submission,) = fake_openai.requests_to("/submit_tool_outputs")
    outputs = [json.loads(o["output"]) for o in submission.json["tool_outputs"]]
    assert outputs == [{"error": "no tools are available"}] * 2


async def test_tool_rounds_are_bounded(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Past TOOLS_MAX_ROUNDS the model is told to answer; if it still insists the run is cut."""
    backend = make_backend(store, toolbox(max_rounds=1))
    fake_openai.script(
        ToolCalls([("add", {"a": 1, "b": 1})]), ToolCalls([("add", {"a": 2, "b": 2})]), Text("2")
    )
    reply = await backend.reply(turn("add things"))
    assert reply.text == "2"
    first, second = fake_openai.requests_to("/submit_tool_outputs")
    assert first.json["tool_outputs"][0]["output"] == "2"
    assert "tool call limit reached" in second.json["tool_outputs"][0]["output"]
    assert [c.tool for c in reply.tool_calls] == ["add"]

    fake_openai.script(*[ToolCalls([("add", {"a": 1, "b": 1})])] * 3)
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("add forever"))
    assert caught.value.cause == "tool_rounds"
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    last = runs_of(fake_openai, thread_id)[-1]
    done = await asyncio.wait_for(fake_openai.wait_for_run(thread_id, last["id"], "cancelled"), 5)
    assert done["status"] == "cancelled"


# --- runs that end badly ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired", "incomplete"])
async def test_terminal_run_status_is_a_reply_error(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str, status: Any
) -> None:
    """A run ending failed, cancelled, expired or incomplete raises ReplyError(run_<status>)."""
    fake_openai.script(RunEnds(status))
    backend = make_backend(store, OPENAI_STREAM=stream)
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("doomed"))
    assert caught.value.cause == f"run_{status}"
    assert (await backend.reply(turn("next"))).text == "echo: next"  # the thread is free again


async def test_run_timeout_cancels_the_run(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A run past OPENAI_RUN_TIMEOUT_SECONDS is cancelled on the server: ReplyError(run_timeout)."""
    backend = make_backend(store, OPENAI_STREAM=stream, OPENAI_RUN_TIMEOUT_SECONDS="0.2")
    gate = fake_openai.hold()
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("take your time"))
    assert caught.value.cause == "run_timeout"
    assert gate.entered_total == 1
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    (run,) = runs_of(fake_openai, thread_id)
    done = await asyncio.wait_for(fake_openai.wait_for_run(thread_id, run["id"], "cancelled"), 5)
    assert done["status"] == "cancelled"
    assert len(fake_openai.requests_to(f"/runs/{run['id']}/cancel", "POST")) == 1


async def test_stream_cut_short_is_followed_by_polling(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A run stream that ends mid-run is followed by polling the run, not taken as its end."""
    backend = make_backend(store)
    await backend.reply(turn("first"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    gate = fake_openai.hold()
    pending = asyncio.create_task(backend.reply(turn("second")))
    await asyncio.wait_for(gate.entered(1), 5)
    run_id = runs_of(fake_openai, thread_id)[-1]["id"]
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="k") as other_client:
        await other_client.beta.threads.delete(thread_id)  # ends the run's stream early
    with pytest.raises(ReplyError) as caught:
        await pending
    assert caught.value.cause == "not_found"
    assert [r.status for r in fake_openai.requests_to(f"/runs/{run_id}", "GET")] == [404]


# --- runs left over from a crash -------------------------------------------------------------


async def test_stale_run_is_cancelled_and_the_turn_succeeds(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A run stuck since a crash blocks the thread: it is cancelled and the turn goes on."""
    backend = make_backend(store, OPENAI_RUN_TIMEOUT_SECONDS="1.0")
    await backend.reply(turn("before the crash"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    stale = fake_openai.leave_stale_run(thread_id)
    reply = await backend.reply(turn("after the crash"))
    assert reply.text == "echo: after the crash"
    assert runs_of(fake_openai, thread_id)[1]["id"] == stale
    assert runs_of(fake_openai, thread_id)[1]["status"] == "cancelled"
    assert len(fake_openai.requests_to(f"/runs/{stale}/cancel", "POST")) == 1
    refused = [r.status for r in fake_openai.requests_to(f"/threads/{thread_id}/messages", "POST")]
    assert refused == [200, 400, 200]


async def test_stale_run_that_finishes_is_waited_out(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A leftover run that completes soon is waited for, not cancelled."""
    backend = make_backend(store)
    await backend.reply(turn("first"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    stale = fake_openai.leave_stale_run(thread_id, complete_after=0.05)
    reply = await backend.reply(turn("second"))
    assert reply.text == "echo: second"
    assert fake_openai.requests_to("/cancel") == []
    leftover = runs_of(fake_openai, thread_id)[1]
    assert (leftover["id"], leftover["status"]) == (stale, "completed")
    assert thread_texts(fake_openai, thread_id)[-3:] == [
        ("assistant", "echo: first"),
        ("user", "second"),
        ("assistant", "echo: second"),
    ]


async def test_failed_tool_submission_leaves_no_stuck_thread(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A run left waiting for tool outputs by a failed turn is cancelled by the next turn."""
    backend = make_backend(store, toolbox())
    fake_openai.script(ToolCalls([("add", {"a": 1, "b": 2})]), Fail(500))
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("add"))
    assert caught.value.cause == "server_error"
    reply = await backend.reply(turn("hello?"))
    assert reply.text == "echo: hello?"
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    assert [r["status"] for r in runs_of(fake_openai, thread_id)] == ["cancelled", "completed"]


# --- start-up --------------------------------------------------------------------------------


async def test_preflight_explains_that_the_assistants_api_is_gone(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A server without /assistants (OpenAI since 2026-08-26) names the fix at start-up."""
    fake_openai.assistants_enabled = False
    with pytest.raises(StartupError) as caught:
        await make_backend(store).preflight()
    message = str(caught.value)
    assert "2026-08-26" in message
    assert "OPENAI_API_MODE=responses" in message
    assert "OPENAI_BASE_URL" in message and fake_openai.base_url in message


async def test_preflight_names_a_wrong_assistant_id(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """An unknown assistant on a server that has the API is a different, precise message."""
    with pytest.raises(StartupError) as caught:
        await make_backend(store, OPENAI_ASSISTANT_ID="asst_nope").preflight()
    message = str(caught.value)
    assert "OPENAI_ASSISTANT_ID" in message and "'asst_nope'" in message
    assert "2026-08-26" not in message


async def test_preflight_server_error_is_a_startup_error(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Any other failure of the preflight is a StartupError too, never a raw SDK exception."""
    fake_openai.fail_next(500, times=3)
    with pytest.raises(StartupError, match="asst_test"):
        await make_backend(store).preflight()


@pytest.mark.parametrize("preflight", [True, False], ids=["after-preflight", "lazily"])
async def test_tool_override_keeps_the_assistants_hosted_tools(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, preflight: bool
) -> None:
    """The per-run tools override is the assistant's hosted tools plus our function tools."""
    fake_openai.add_assistant(assistant_id="asst_coder", tools=[{"type": "code_interpreter"}])
    backend = make_backend(store, toolbox(), OPENAI_ASSISTANT_ID="asst_coder")
    if preflight:
        await backend.preflight()
    await backend.reply(turn("plot it"))
    await backend.reply(turn("again"))
    assert fake_openai.calls[-1].tools == ("code_interpreter", "add", "shout", "meet")
    assert len(fake_openai.requests_to("/assistants/asst_coder", "GET")) == 1


# --- context carried over a mode switch -----------------------------------------------------


async def test_local_history_seeds_the_new_thread_once(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Switching from chat mode: the new thread starts with the chat's history, seeded once."""
    await answered(store, CHAT, "my name is Ann", "Nice to meet you, Ann!", 1)
    await answered(store, CHAT, "I like tea", "Noted: tea.", 2)
    backend = make_backend(store)
    await backend.reply(turn("what do I like?"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    seeded = [
        ("user", "my name is Ann"),
        ("assistant", "Nice to meet you, Ann!"),
        ("user", "I like tea"),
        ("assistant", "Noted: tea."),
    ]
    assert fake_openai.calls[-1].messages == (*seeded, ("user", "what do I like?"))
    await answered(store, CHAT, "what do I like?", "echo: what do I like?", 3)
    await backend.reply(turn("and my name?"))
    assert thread_texts(fake_openai, thread_id) == [
        *seeded,
        ("user", "what do I like?"),
        ("assistant", "echo: what do I like?"),
        ("user", "and my name?"),
        ("assistant", "echo: and my name?"),
    ]
    assert len(fake_openai.requests_to("/threads", "POST")) == 1


async def test_mode_switch_never_reuses_a_conversation_id(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A chat with a responses conversation gets its own thread; the conversation id stays."""
    await store.save_thread(CHAT, "responses", "conv_from_responses_mode")
    await make_backend(store).reply(turn("hi"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None and thread_id.startswith("thread_")
    assert await store.thread_for(CHAT, "responses") == "conv_from_responses_mode"
    assert all("conv_" not in r.path for r in fake_openai.requests)


async def test_vanished_thread_is_replaced_with_a_seeded_one(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A thread the server lost (404) is replaced, seeded with local history, not fatal."""
    backend = make_backend(store)
    await backend.reply(turn("remember 42"))
    await answered(store, CHAT, "remember 42", "echo: remember 42", 1)
    lost = await store.thread_for(CHAT, "assistants")
    assert lost is not None
    del fake_openai.assistants_store.threads[lost]
    reply = await backend.reply(turn("what number?"))
    assert reply.text == "echo: what number?"
    fresh = await store.thread_for(CHAT, "assistants")
    assert fresh is not None and fresh != lost
    assert thread_texts(fake_openai, fresh)[:3] == [
        ("user", "remember 42"),
        ("assistant", "echo: remember 42"),
        ("user", "what number?"),
    ]


# --- what comes back -------------------------------------------------------------------------


async def test_image_file_becomes_media_with_the_text_as_caption(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """An image_file part is downloaded and sent as an image captioned with the reply text."""
    fake_openai.script(Text("Here is your chart.", images=[PNG]))
    reply = await make_backend(store, OPENAI_STREAM=stream).reply(turn("chart please"))
    assert reply.text == ""
    (media,) = reply.media
    assert (media.kind, media.data, media.caption) == ("image", PNG, "Here is your chart.")
    assert media.mimetype == "image/png"


async def test_long_text_is_not_squeezed_into_a_caption(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Text too long for a caption stays the reply text; the image goes without caption."""
    long_text = "A" * 1001  # one word: one stream delta, yet past the caption limit
    fake_openai.script(Text(long_text, images=[PNG]))
    reply = await make_backend(store).reply(turn("essay and chart"))
    assert reply.text == long_text
    assert [(m.data, m.caption) for m in reply.media] == [(PNG, "")]


async def test_citation_markers_are_removed(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """【…†source】 markers go, annotated or not, without leaving double blanks; the cited
    file is named in the Sources list."""
    fake_openai.script(
        Text(
            "Tea is from China【4:0†tea.txt】. See 【7:1†notes】 for more.",
            citations=[Citation("【4:0†tea.txt】")],
        )
    )
    reply = await make_backend(store, OPENAI_STREAM=stream).reply(turn("where is tea from?"))
    assert reply.text == "Tea is from China. See for more.\n\nSources:\n1. source.txt"


async def test_images_in_the_turn_are_uploaded_as_image_files(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A photo the user sent is uploaded (purpose vision) and attached as an image_file part."""
    photo = TurnImage(b"\xff\xd8jpeg-bytes", "image/jpeg")
    await make_backend(store).reply(turn("what is this?", images=(photo,)))
    (upload,) = fake_openai.requests_to("/files", "POST")
    assert upload.body["purpose"] == "vision"
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    content = fake_openai.thread_messages(thread_id)[0]["content"]
    assert content[0] == {"type": "text", "text": {"value": "what is this?", "annotations": []}}
    file_id = content[1]["image_file"]["file_id"]
    assert fake_openai.file_bytes(file_id) == b"\xff\xd8jpeg-bytes"


# --- forget and failures ---------------------------------------------------------------------


async def test_forget_deletes_the_thread_on_the_server(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """/forget deletes the remote thread; the next turn starts a new one."""
    backend = make_backend(store)
    await backend.reply(turn("secret"))
    thread_id = await store.thread_for(CHAT, "assistants")
    assert thread_id is not None
    await backend.forget(CHAT)
    assert thread_id not in fake_openai.assistants_store.threads
    assert [r.status for r in fake_openai.requests_to(f"/threads/{thread_id}", "DELETE")] == [200]
    assert await store.thread_for(CHAT, "assistants") is None
    await backend.reply(turn("new start"))
    assert await store.thread_for(CHAT, "assistants") not in (None, thread_id)


async def test_reset_starts_a_fresh_thread(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """/reset retires the thread (kept on the server); the next turn gets a new, empty one."""
    backend = make_backend(store)
    await backend.reply(turn("old topic"))
    old = await store.thread_for(CHAT, "assistants")
    await backend.reset(CHAT)
    await backend.reply(turn("new topic"))
    new = await store.thread_for(CHAT, "assistants")
    assert old is not None and new is not None and new != old
    assert thread_texts(fake_openai, new) == [
        ("user", "new topic"),
        ("assistant", "echo: new topic"),
    ]


@pytest.mark.parametrize("path", ["/threads", "/messages", "/runs"])
async def test_api_failures_become_reply_errors(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, path: str
) -> None:
    """500s anywhere in a turn surface as ReplyError(server_error), never an SDK exception."""
    backend = make_backend(store)
    if path != "/threads":
        await backend.reply(turn("warm up"))
    fake_openai.fail_next(500, times=3, path=path, method="POST")
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("boom"))
    assert not isinstance(caught.value, openai.OpenAIError)
    assert (caught.value.cause, caught.value.retryable) == ("server_error", True)
    assert isinstance(caught.value.__cause__, openai.InternalServerError)
