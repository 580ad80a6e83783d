"""Create or update the assistant on an Assistants-API server (sync), or compare it (show).

``sync`` creates the assistant when OPENAI_ASSISTANT_ID is empty (and prints the id to put in
``.env``), else updates it: name, instructions (AI_SYSTEM_PROMPT), model (OPENAI_MODEL), the
function tools of the bot's registry, hosted tools (file_search with the knowledge store,
code_interpreter when OPENAI_HOSTED_TOOLS names it) and the store in ``tool_resources``.
``show`` prints what the server has and what differs from the settings. Exit 0 done (``show``:
nothing differs), 1 the server refused or something differs, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, TextIO

import openai
from dotenv import load_dotenv

from bot.cli import EXIT_CONFIG, CliContext
from bot.settings import Settings
from helpers.knowledge import KnowledgeBase
from helpers.openai_client import build_client
from helpers.tools.builtin import build_registry
from storage.store import Store

EXIT_FAILED = 1
DEFAULT_NAME = "WhatsApp bot"
#: Hosted tools the Assistants API has (web_search and image_generation are Responses-only).
ASSISTANT_HOSTED = ("code_interpreter",)


def parser() -> argparse.ArgumentParser:
    """The command line of ``main.py assistant``."""
    top = argparse.ArgumentParser(prog="main.py assistant", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="action", required=True)
    sync = sub.add_parser("sync", help="create or update the assistant from the settings")
    sync.add_argument("--name", default=DEFAULT_NAME, help="the assistant's name")
    show = sub.add_parser("show", help="what the server has, and what differs")
    show.add_argument("--name", default=DEFAULT_NAME, help="the name it should have")
    return top


def main(argv: list[str], ctx: CliContext) -> int:
    """Run ``main.py assistant ACTION``."""
    args = parser().parse_args(argv)  # bad usage: SystemExit(2), an exit code
    if args.action == "sync":
        load_dotenv(ctx.env_file, override=False)  # as ctx.settings() does, to look first
        mode = os.environ.get("OPENAI_API_MODE", "").strip().lower()
        if mode == "assistants" and not os.environ.get("OPENAI_ASSISTANT_ID", "").strip():
            # Creating the assistant: there is no id yet, which assistants mode requires.
            # The tools are the same as in responses mode (search_knowledge is chat-only).
            os.environ["OPENAI_API_MODE"] = "responses"
    settings = ctx.settings()
    ctx.configure_logging(settings)
    return asyncio.run(run(args, settings, sys.stdout, sys.stderr))


async def wanted(knowledge: KnowledgeBase, name: str) -> dict[str, Any]:
    """The assistant the settings describe."""
    settings = knowledge.settings
    hosted = [t for t in ASSISTANT_HOSTED if t in settings.openai_hosted_tools]
    tools: list[dict[str, Any]] = [{"type": t} for t in hosted]
    resources: dict[str, Any] = {}
    stores = await knowledge.store_ids()
    if stores:
        tools.insert(0, {"type": "file_search"})
        resources = {"file_search": {"vector_store_ids": stores[:1]}}
    tools += build_registry(settings).for_assistants()
    return {
        "name": name,
        "instructions": settings.ai_system_prompt,
        "model": settings.openai_model,
        "tools": tools,
        "tool_resources": resources,
    }


def differences(have: Any, want: dict[str, Any]) -> list[str]:
    """What the server's assistant lacks or has otherwise, one line each."""
    lines = []
    for key in ("name", "instructions", "model"):
        if getattr(have, key) != want[key]:
            lines.append(f"{key}: server {getattr(have, key)!r}, settings {want[key]!r}")
    have_tools = sorted(_tool_key(t.model_dump(exclude_none=True)) for t in have.tools)
    want_tools = sorted(_tool_key(t) for t in want["tools"])
    if have_tools != want_tools:
        lines.append(f"tools: server {have_tools}, settings {want_tools}")
    search = getattr(getattr(have, "tool_resources", None), "file_search", None)
    have_stores = list(getattr(search, "vector_store_ids", None) or [])
    want_stores = want["tool_resources"].get("file_search", {}).get("vector_store_ids", [])
    if have_stores != want_stores:
        lines.append(f"knowledge store: server {have_stores}, settings {want_stores}")
    return lines


def _tool_key(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    return f"function:{function['name']}" if isinstance(function, dict) else str(tool["type"])


async def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Carry out one parsed assistant command."""
    assistant_id = settings.openai_assistant_id
    if args.action == "show" and not assistant_id:
        print("OPENAI_ASSISTANT_ID is empty: run `main.py assistant sync` to create one", file=err)
        return EXIT_CONFIG
    client = build_client(settings)
    try:
        async with Store.open(settings.database_path) as store:
            want = await wanted(KnowledgeBase(client, store, settings), args.name)
        if args.action == "show":
            assert assistant_id is not None
            have = await client.beta.assistants.retrieve(assistant_id)
            _print(have, out)
            lines = differences(have, want)
            print("differs from the settings:" if lines else "matches the settings", file=out)
            for line in lines:
                print(f"  {line}", file=out)
            return EXIT_FAILED if lines else 0
        if assistant_id:
            made = await client.beta.assistants.update(assistant_id, **want)
            print(f"updated {made.id}", file=out)
        else:
            made = await client.beta.assistants.create(**want)
            print(f"created {made.id}: put OPENAI_ASSISTANT_ID={made.id} in .env", file=out)
        return 0
    except openai.OpenAIError as exc:
        print(f"the server refused: {exc}", file=err)
        return EXIT_FAILED
    finally:
        await client.close()


def _print(have: Any, out: TextIO) -> None:
    print(f"id: {have.id}\nname: {have.name}\nmodel: {have.model}", file=out)
    print(f"instructions: {(have.instructions or '')[:200]!r}", file=out)
    names = [_tool_key(t.model_dump(exclude_none=True)) for t in have.tools]
    print(f"tools: {', '.join(names)}", file=out)
