"""The Google tools exist only in turns of GOOGLE_TOOLS_USERS, in every mode and in groups."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.factory import build_backend
from helpers.google import google_tools
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from helpers.tools.registry import ToolCall
from storage.store import Store
from tests.fake_openai import FakeOpenAI, Text
from tests.fakes import FakeClock
from tests.google_kit import OTHER_JID, OWNER, OWNER_JID, make_google, requests, turn

GROUP = "120363000000000001@g.us"
GOOGLE_NAMES = {t.name for t in google_tools(["gmail", "calendar"])}
MODES = ["chat", "responses", "assistants"]


def names(definitions: list[dict[str, Any]]) -> set[str]:
    """Tool names in definitions of any API's shape."""
    return {d["function"]["name"] if "function" in d else d["name"] for d in definitions}


@pytest.fixture
def box_for(
    make_settings: Callable[..., Settings], store: Store
) -> Callable[..., tuple[ToolBox, Any]]:
    """A ToolBox with the built-in and Google tools, as the app wires it."""

    def make(**env: Any) -> tuple[ToolBox, Any]:
        settings = make_settings(GOOGLE_TOOLS="gmail,calendar", ADMIN_NUMBERS=OWNER, **env)
        clock = FakeClock()
        google, http = make_google(
            store, clock, users=settings.google_tools_users or settings.admin_numbers
        )
        box = ToolBox(
            build_registry(settings),
            clock=clock,
            timezone="UTC",
            timeout=5,
            max_rounds=3,
            services={"store": store, "google": google},
            audiences=google.audiences(),
        )
        return box, http

    return make


@pytest.mark.parametrize("api", MODES)
async def test_the_owner_gets_the_google_tools_and_others_do_not(
    api: Any, box_for: Callable[..., tuple[ToolBox, Any]]
) -> None:
    """Private chats: ADMIN_NUMBERS (the default users) see every Google tool, others none."""
    box, _ = box_for()
    owner = names(await box.offered(api, turn(OWNER_JID)))
    other = names(await box.offered(api, turn(OTHER_JID)))
    assert owner >= GOOGLE_NAMES
    assert not GOOGLE_NAMES & other
    assert "current_datetime" in other  # the built-in tools stay for everyone


async def test_in_a_group_the_list_follows_the_sender_not_the_chat(
    box_for: Callable[..., tuple[ToolBox, Any]],
) -> None:
    """In one group, the owner's turn offers the tools and another member's does not."""
    box, _ = box_for()
    assert names(await box.offered("chat", turn(OWNER_JID, GROUP))) >= GOOGLE_NAMES
    assert not GOOGLE_NAMES & names(await box.offered("chat", turn(OTHER_JID, GROUP)))


async def test_google_tools_users_replaces_the_admins(
    box_for: Callable[..., tuple[ToolBox, Any]],
) -> None:
    """With GOOGLE_TOOLS_USERS set, an admin not listed gets no Google tools."""
    box, _ = box_for(GOOGLE_TOOLS_USERS="15550002222")
    assert names(await box.offered("chat", turn(OTHER_JID))) >= GOOGLE_NAMES
    assert not GOOGLE_NAMES & names(await box.offered("chat", turn(OWNER_JID)))


async def test_the_owner_is_recognised_under_their_lid(
    box_for: Callable[..., tuple[ToolBox, Any]], store: Store
) -> None:
    """A person filed under a LID whose phone number is an admin gets the tools."""
    lid = "100000015550001111@lid"
    key = await store.canonical_sender([lid])
    await store.canonical_sender([lid, OWNER_JID])  # the phone number learnt later
    box, _ = box_for()
    assert key == lid
    assert names(await box.offered("chat", turn(lid))) >= GOOGLE_NAMES


async def test_a_call_to_a_hidden_tool_does_not_run(
    box_for: Callable[..., tuple[ToolBox, Any]], store: Store
) -> None:
    """A model naming send_email in a stranger's turn gets 'unknown tool'; nothing is stored."""
    box, http = box_for()
    args = json.dumps({"to": ["x@example.com"], "subject": "s", "body": "b"})
    calls = [ToolCall("c1", "send_email", args), ToolCall("c2", "current_datetime", "{}")]
    hidden, shown = await box.run(calls, turn(OTHER_JID))
    assert not hidden.ok and "unknown tool" in (hidden.error or "")
    assert shown.ok
    assert await store.pending_action(OTHER_JID, OTHER_JID) is None
    assert requests(http) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("sender", "offered"), [(OWNER_JID, True), (OTHER_JID, False)])
async def test_the_request_to_openai_carries_the_senders_tool_list(
    mode: str,
    sender: str,
    offered: bool,
    fake_openai: FakeOpenAI,
    make_settings: Callable[..., Settings],
    box_for: Callable[..., tuple[ToolBox, Any]],
    store: Store,
) -> None:
    """Chat and Responses requests and the Assistants run override list exactly the tools."""
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_MAX_RETRIES=0,
        OPENAI_ASSISTANT_ID="asst_test",
        OPENAI_API_MODE=mode,
    )
    box, _ = box_for()
    backend = build_backend(settings, store, box)
    fake_openai.script(Text("ok"))
    await backend.preflight()
    try:
        await backend.reply(Turn(sender, sender, sender, "Someone", "what's on tomorrow?"))
    finally:
        await backend.aclose()
    path = {"chat": "/chat/completions", "responses": "/responses", "assistants": "/runs"}[mode]
    [request] = fake_openai.requests_to(path, method="POST")
    sent = names(request.body["tools"])
    assert ("send_email" in sent) is offered
    assert (sent >= GOOGLE_NAMES) is offered
    assert "current_datetime" in sent
