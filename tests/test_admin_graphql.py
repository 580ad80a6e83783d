"""The GraphQL records API: queries over real SQLite, mutations through the real pipeline."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from storage.store import UsageRow
from tests import wa_events as wa
from tests.admin_kit import Admin, admin_server
from tests.fake_openai import FakeOpenAI, Text

ROOT = Path(__file__).resolve().parents[1]
ALICE = "15550001111"
ALICE_JID = f"{ALICE}@s.whatsapp.net"

MESSAGES = """query($chat: String!, $first: Int!, $after: String) {
  messages(chat: $chat, first: $first, after: $after) {
    nodes { direction text state reason promptTokens completionTokens toolCalls { tool } }
    pageInfo { endCursor hasNextPage }
  }
}"""


async def _talk(
    admin: Admin, fake: FakeOpenAI, *texts: str, sender: str = ALICE, answered: bool = True
) -> None:
    """Send ``texts`` from ``sender`` one by one; the model would answer "re: <text>"."""
    for text in texts:
        if answered:
            fake.script(Text(f"re: {text}"))
        admin.bot.pipeline.submit(to_incoming(wa.private_text(text, sender=sender)))
        await admin.bot.pipeline.join()


def test_schema_file_is_what_the_code_prints() -> None:
    """docs/schema.graphql is up to date with the schema (``python main.py schema --write``)."""
    printed = subprocess.run(
        [sys.executable, "main.py", "schema"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert printed == (ROOT / "docs" / "schema.graphql").read_text()
    assert "messages(chat: String!, first: Int! = 50, after: String = null)" in printed


async def test_ping_status_and_chats(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """ping, status and a chats page show the chat a message created, with its counts."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _talk(admin, fake_openai, "hello")
        data = await admin.gql(
            "{ ping status { connected jid mode turnsInFlight storageFailing }"
            " chats(first: 10) { nodes { id kind title mode paused messageCount lastMessageAt }"
            " pageInfo { hasNextPage } } turnsInFlight }"
        )
    assert data["ping"] == "pong"
    assert data["status"] == {
        "connected": True,
        "jid": admin.transport.identity.jid,
        "mode": "chat",
        "turnsInFlight": 0,
        "storageFailing": False,
    }
    [chat] = data["chats"]["nodes"]
    assert chat["id"] == ALICE_JID and chat["kind"] == "private" and chat["messageCount"] == 1
    assert chat["paused"] is False and chat["mode"] == "chat" and chat["lastMessageAt"]
    assert data["chats"]["pageInfo"]["hasNextPage"] is False and data["turnsInFlight"] == 0


async def test_chats_page_and_search(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """Chats come one page at a time with a cursor; search narrows them by number."""
    async with admin_server(make_settings, fake_openai) as admin:
        for n in range(3):
            await _talk(admin, fake_openai, "hi", sender=f"1555000200{n}")
        query = (
            "query($after: String, $search: String!) { chats(first: 2, after: $after,"
            " search: $search) { nodes { id } pageInfo { endCursor hasNextPage } } }"
        )
        first = (await admin.gql(query, search=""))["chats"]
        second = (await admin.gql(query, search="", after=first["pageInfo"]["endCursor"]))["chats"]
        found = (await admin.gql(query, search="0002001"))["chats"]
    assert [c["id"] for c in first["nodes"]] == [
        "15550002000@s.whatsapp.net",
        "15550002001@s.whatsapp.net",
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [c["id"] for c in second["nodes"]] == ["15550002002@s.whatsapp.net"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert [c["id"] for c in found["nodes"]] == ["15550002001@s.whatsapp.net"]


async def test_messages_pages_both_directions_with_tokens(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """A conversation pages newest first, messages in and replies out, replies with tokens."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _talk(admin, fake_openai, "one", "two")
        page = (await admin.gql(MESSAGES, chat=ALICE_JID, first=3))["messages"]
        rest = await admin.gql(
            MESSAGES, chat=ALICE_JID, first=3, after=page["pageInfo"]["endCursor"]
        )
    nodes = page["nodes"] + rest["messages"]["nodes"]
    assert [(n["direction"], n["text"]) for n in nodes] == [
        ("out", "re: two"),
        ("in", "two"),
        ("out", "re: one"),
        ("in", "one"),
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert rest["messages"]["pageInfo"]["hasNextPage"] is False
    assert nodes[1]["state"] == "answered" and nodes[0]["completionTokens"] > 0


async def test_usage_by_model_with_estimated_cost(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """usage(groupBy: MODEL) sums tokens and prices them from USAGE_PRICES (null if unpriced)."""
    async with admin_server(
        make_settings, fake_openai, USAGE_PRICES="priced=1/2, other=0.5/0.5"
    ) as admin:
        store = admin.bot.store
        ids = [await store.add_message(_stored(f"m{n}")) for n in range(2)]
        now = datetime.now(UTC)
        for model, mid in (("priced", ids[0]), ("unpriced", ids[1])):
            await store.record_turn(
                chat=ALICE_JID,
                sender=ALICE_JID,
                message_ids=[mid],  # type: ignore[list-item]
                reply_text="x",
                usage=[UsageRow("chat", model, 1_000_000, 500_000, 1_500_000)],
                at=now,
            )
        data = await admin.gql(
            "query($from: DateTime!) { usage(groupBy: MODEL, from: $from) {"
            " key requests promptTokens completionTokens totalTokens estimatedCostUsd } }",
            **{"from": (now - timedelta(hours=1)).isoformat()},
        )
        days = await admin.gql("{ usage(groupBy: DAY) { key totalTokens estimatedCostUsd } }")
    assert data["usage"] == [
        {"key": "priced", "requests": 1, "promptTokens": 1_000_000, "completionTokens": 500_000,
         "totalTokens": 1_500_000, "estimatedCostUsd": 2.0},
        {"key": "unpriced", "requests": 1, "promptTokens": 1_000_000, "completionTokens": 500_000,
         "totalTokens": 1_500_000, "estimatedCostUsd": None},
    ]  # fmt: skip
    assert days["usage"] == [
        {"key": now.date().isoformat(), "totalTokens": 3_000_000, "estimatedCostUsd": None}
    ]


def _stored(wa_id: str) -> object:
    from storage.store import NewMessage

    now = datetime.now(UTC)
    return NewMessage(
        chat=ALICE_JID, chat_jid=ALICE_JID, wa_id=wa_id, sender=ALICE_JID, sender_name="Alice",
        kind="text", text="q", is_group=False, sent_at=now, received_at=now,
    )  # fmt: skip


async def test_pause_and_resume_a_chat(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """pause(chat) leaves the chat's next message unanswered; resume(chat) answers again."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _talk(admin, fake_openai, "first")
        assert (await admin.gql(f'mutation {{ pause(chat: "{ALICE}") }}'))["pause"] == ALICE_JID
        await _talk(admin, fake_openai, "while paused", answered=False)
        await admin.gql(f'mutation {{ resume(chat: "{ALICE_JID}") }}')
        await _talk(admin, fake_openai, "after")
        nodes = (await admin.gql(MESSAGES, chat=ALICE_JID, first=10))["messages"]["nodes"]
    assert admin.transport.texts() == ["re: first", "re: after"]
    paused = next(n for n in nodes if n["text"] == "while paused")
    assert (paused["state"], paused["reason"]) == ("ignored", "chat_paused")


async def test_pause_all_and_reset(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """pause without a chat pauses the bot; reset(chat) drops the chat's context."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _talk(admin, fake_openai, "remember me")
        assert (await admin.gql("mutation { pause }"))["pause"] == "all"
        assert (await admin.gql("{ status { paused } }"))["status"]["paused"] is True
        await admin.gql("mutation { resume }")
        await admin.gql(f'mutation {{ reset(chat: "{ALICE_JID}") }}')
        assert await admin.bot.store.context(ALICE_JID, 10) == []


async def test_send_writes_as_the_owner_and_hands_off(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """send(chat, text) goes out to the chat, and the bot then leaves the chat to the owner."""
    async with admin_server(make_settings, fake_openai) as admin:
        await _talk(admin, fake_openai, "hello")
        sent = await admin.gql(f'mutation {{ send(chat: "{ALICE_JID}", text: "Owner here") }}')
        await _talk(admin, fake_openai, "and now?", answered=False)
        nodes = (await admin.gql(MESSAGES, chat=ALICE_JID, first=10))["messages"]["nodes"]
    assert sent["send"] and admin.transport.texts() == ["re: hello", "Owner here"]
    later = next(n for n in nodes if n["text"] == "and now?")
    assert (later["state"], later["reason"]) == ("ignored", "handoff")


async def test_ask_runs_the_pipeline_and_returns_the_reply(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """ask(sender, text) is answered through the real pipeline and backend, like the console."""
    async with admin_server(make_settings, fake_openai) as admin:
        fake_openai.script(Text("Forty-two."))
        data = await admin.gql(
            'mutation { ask(sender: "15550009999", text: "meaning of life?") {'
            " state reason reply } }"
        )
    assert data["ask"] == {"state": "answered", "reason": None, "reply": "Forty-two."}
    assert fake_openai.calls[-1].last_user_text == "meaning of life?"
