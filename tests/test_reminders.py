"""Reminders: set through the model, delivered on time, late after a restart, per chat only."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from bot.errors import ConfigError
from bot.reminders import ReminderService
from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.chat import ChatBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from helpers.tools.registry import ToolCall
from storage.store import Store
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock, FakeTransport

ALICE = "15550001111@s.whatsapp.net"
BOB = "15550002222@s.whatsapp.net"


def turn_for(chat: str) -> Turn:
    """A private turn of ``chat``."""
    return Turn(chat=chat, chat_jid=chat, sender=chat, sender_name="x", text="remind me")


def box(settings: Settings, store: Store, clock: FakeClock, **services: object) -> ToolBox:
    """The built-in tools bound to the store and clock."""
    return ToolBox(
        build_registry(settings),
        clock=clock,
        timezone=settings.timezone,
        timeout=5,
        max_rounds=3,
        services={"store": store, **services},
    )


async def test_a_reminder_set_by_the_model_arrives_on_time(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], store: Store
) -> None:
    """The model sets a reminder; the service sends it when the clock reaches its time."""
    clock, transport = FakeClock(), FakeTransport()
    service = ReminderService(store, lambda: transport, clock)
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url, TIMEZONE="Europe/Berlin")
    due = clock.now() + timedelta(hours=2)
    fake_openai.script(
        ToolCalls([("set_reminder", {"when": due.isoformat(), "text": "call mum"})]),
        Text("I'll remind you."),
    )
    backend = ChatBackend(
        build_client(settings), store, settings, box(settings, store, clock, reminders=service)
    )
    reply = await backend.reply(turn_for(ALICE))
    await backend.aclose()
    assert reply.text == "I'll remind you."
    assert [r.tool for r in reply.tool_calls] == ["set_reminder"]
    runner = asyncio.create_task(service.run())
    try:
        await clock.wait_for_sleepers(1)
        await clock.advance(3600)
        await clock.wait_for_sleepers(1)
        assert transport.sent == []
        for _ in range(120):  # the service wakes at least once a minute
            if transport.sent:
                break
            await clock.advance(60)
            await clock.wait_for_sleepers(1)
        [sent] = transport.sent
        assert (sent.to, sent.text) == (ALICE, "⏰ Reminder: call mum")
        assert timedelta(0) <= clock.now() - due <= timedelta(seconds=60)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert await store.reminders_for(ALICE) == []


async def test_a_reminder_missed_while_offline_is_sent_late_on_start(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """A reminder due during downtime goes out at start-up, marked late."""
    clock, transport = FakeClock(), FakeTransport()
    reminder = await store.add_reminder(
        chat=ALICE,
        chat_jid=ALICE,
        sender=ALICE,
        text="water plants",
        due_at=clock.now() - timedelta(hours=3),
    )
    service = ReminderService(store, lambda: transport, clock)  # a fresh process after a restart
    assert await service.deliver_due() == 1
    [sent] = transport.sent
    assert sent.text.startswith("⏰ Reminder: water plants") and "offline" in sent.text
    stored = await store.reminder(reminder.id)
    assert stored is not None and (stored.state, stored.late) == ("sent", True)
    assert await service.deliver_due() == 0


async def test_tools_act_only_on_their_own_chat(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Bob cannot list or cancel Alice's reminders, whatever the model passes."""
    clock = FakeClock()
    tools = box(make_settings(), store, clock)
    due = (clock.now() + timedelta(days=1)).isoformat()
    [made] = await tools.run(
        [ToolCall("c1", "set_reminder", json.dumps({"when": due, "text": "secret"}))],
        turn_for(ALICE),
    )
    alice_id = json.loads(made.output)["id"]
    listed, cancelled, sneaky = await tools.run(
        [
            ToolCall("c2", "list_reminders", "{}"),
            ToolCall("c3", "cancel_reminder", json.dumps({"reminder_id": alice_id})),
            ToolCall("c4", "list_reminders", json.dumps({"chat": ALICE})),
        ],
        turn_for(BOB),
    )
    assert json.loads(listed.output) == {"reminders": []}
    assert not cancelled.ok and "no pending reminder" in cancelled.output
    assert not sneaky.ok  # a "chat" argument is not part of the schema
    assert [r.text for r in await store.reminders_for(ALICE)] == ["secret"]


async def test_a_reminder_in_the_past_is_refused(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """set_reminder with a past time returns an error the model can read."""
    clock = FakeClock()
    tools = box(make_settings(), store, clock)
    past = (clock.now() - timedelta(minutes=5)).isoformat()
    [result] = await tools.run(
        [ToolCall("c1", "set_reminder", json.dumps({"when": past, "text": "x"}))], turn_for(ALICE)
    )
    assert not result.ok and "in the past" in result.output


def test_plugins_load_from_tools_modules_and_broken_ones_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    """TOOLS_MODULES adds an operator's tools; a broken module stops start-up, named."""
    package = tmp_path / "acme"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tools.py").write_text(
        "from helpers.tools import ToolContext, tool\n\n"
        "@tool\nasync def shout(ctx: ToolContext, text: str) -> str:\n"
        '    """Repeat loudly."""\n    return text.upper()\n'
    )
    (package / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = build_registry(make_settings(TOOLS_MODULES="acme.tools"))
        assert "shout" in registry.names() and "set_reminder" in registry.names()
        with pytest.raises(ConfigError) as info:
            build_registry(make_settings(TOOLS_MODULES="acme.tools,acme.broken"))
        assert "acme.broken" in info.value.problems["TOOLS_MODULES"]
        with pytest.raises(ConfigError) as info:
            build_registry(make_settings(TOOLS_DISABLED="set_remindr"))
        assert "set_remindr" in info.value.problems["TOOLS_DISABLED"]
    finally:
        for name in [m for m in sys.modules if m == "acme" or m.startswith("acme.")]:
            del sys.modules[name]


def test_the_readme_plugin_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    """The example plugin in README.md is a working TOOLS_MODULES module."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("# myplugins/lookup.py", 1)[1].split("```", 1)[0]
    package = tmp_path / "myplugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lookup.py").write_text(code.split("\n", 1)[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = build_registry(make_settings(TOOLS_MODULES="myplugins.lookup"))
        [definition] = [d for d in registry.for_responses() if d["name"] == "exchange_rate"]
        assert definition["parameters"]["properties"]["target"]["enum"] == ["EUR", "USD", "GBP"]
        assert definition["parameters"]["required"] == ["base", "target"]
    finally:
        for name in [m for m in sys.modules if m.startswith("myplugins")]:
            del sys.modules[name]


async def test_a_failed_send_is_retried_later_not_in_a_loop(store: Store) -> None:
    """While WhatsApp is unreachable, a due reminder is retried every 30 s, not in a spin."""
    clock, transport = FakeClock(), FakeTransport(fail_sends=1000)
    await store.add_reminder(
        chat=ALICE, chat_jid=ALICE, sender=ALICE, text="t", due_at=clock.now() - timedelta(1)
    )
    runner = asyncio.create_task(ReminderService(store, lambda: transport, clock).run())
    try:
        await clock.wait_for_sleepers(1)
        assert 1000 - transport.fail_sends == 1
        await clock.advance(29)
        assert 1000 - transport.fail_sends == 1
        await clock.advance(1)
        await clock.wait_for_sleepers(1)
        assert 1000 - transport.fail_sends == 2
        transport.fail_sends = 0
        await clock.advance(30)
        await clock.wait_for_sleepers(1)
        [sent] = transport.sent
        assert sent.text.startswith("⏰ Reminder: t")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_arguments_as_an_object_and_a_huge_id_are_tool_errors_not_tracebacks(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    """Arguments sent as a JSON object work; an id beyond 64 bits is an error the model reads."""
    clock = FakeClock()
    tools = box(make_settings(), store, clock)
    due = (clock.now() + timedelta(days=1)).isoformat()
    with structlog.testing.capture_logs() as logs:
        made, huge = await tools.run(
            [
                ToolCall("c1", "set_reminder", {"when": due, "text": "tea"}),
                ToolCall("c2", "cancel_reminder", json.dumps({"reminder_id": 10**30})),
            ],
            turn_for(ALICE),
        )
    assert made.ok and json.loads(made.output)["text"] == "tea"
    assert not huge.ok
    assert huge.error == "invalid arguments at 'reminder_id': the number is out of range"
    assert [e.get("exc_info") for e in logs if e["event"] == "tool.failed"] == [None]


async def test_a_reminder_is_marked_sent_before_it_goes_and_reopened_if_refused(
    store: Store,
) -> None:
    """At most once: the reminder is already `sent` while WhatsApp takes it (a crash then
    cannot send it twice); a send WhatsApp refuses puts it back to pending for the retry."""
    clock = FakeClock()
    reminder = await store.add_reminder(
        chat=ALICE, chat_jid=ALICE, sender=ALICE, text="call mum", due_at=clock.now()
    )
    states: list[str] = []

    class Watching(FakeTransport):
        """Notes the reminder's stored state at the moment of each send."""

        async def send_text(self, to: str, text: str, *, quoted: object = None) -> str:
            stored = await store.reminder(reminder.id)
            states.append(stored.state if stored else "gone")
            return await super().send_text(to, text)

    transport = Watching(fail_sends=1)
    service = ReminderService(store, lambda: transport, clock)
    assert await service.deliver_due() == 0  # refused
    again = await store.reminder(reminder.id)
    assert again is not None and again.state == "pending"
    assert await service.deliver_due() == 1
    assert states == ["sent", "sent"]
    assert [s.text for s in transport.sent] == ["⏰ Reminder: call mum"]
    assert await service.deliver_due() == 0
