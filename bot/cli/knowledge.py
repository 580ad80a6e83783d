"""Manage the knowledge base the bot answers from (add, list, remove, sync, status).

``add PATH...`` uploads files or folders (unchanged files are skipped, changed ones replaced),
``sync FOLDER`` makes the store mirror a folder, ``remove NAME`` deletes one file, ``list``
shows what is stored, ``status`` asks the server for each file's ingestion status. Exit 0
when everything landed, 1 when some file failed (listed), 2 for bad usage or refused files.
Runs beside the bot: a separate process on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from bot.cli import EXIT_CONFIG, CliContext
from bot.settings import Settings
from helpers.knowledge import DEFAULT_CONCURRENCY, KnowledgeBase, Outcome, Planned, plan
from helpers.openai_client import build_client
from storage.store import Store

EXIT_FAILED = 1


def parser() -> argparse.ArgumentParser:
    """The command line of ``main.py knowledge``."""
    top = argparse.ArgumentParser(prog="main.py knowledge", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="action", required=True)
    for name, what in (("add", "files or folders to add"), ("sync", "the folder to mirror")):
        cmd = sub.add_parser(name, help=f"{name} {what}")
        cmd.add_argument("paths", nargs="+" if name == "add" else 1, metavar="PATH")
        cmd.add_argument("--no-wait", action="store_true", help="do not wait for ingestion")
        cmd.add_argument(
            "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="uploads at once"
        )
    sub.add_parser("remove", help="remove one file by name").add_argument("name")
    sub.add_parser("list", help="the files in the knowledge base")
    sub.add_parser("status", help="each file's ingestion status, as the server reports it now")
    return top


def main(argv: list[str], ctx: CliContext) -> int:
    """Run ``main.py knowledge ACTION ...``."""
    args = parser().parse_args(argv)  # bad usage: SystemExit(2), an exit code
    settings = ctx.settings()
    ctx.configure_logging(settings)
    return asyncio.run(run(args, settings, sys.stdout, sys.stderr))


async def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Carry out one parsed knowledge command."""
    if args.action in ("add", "sync"):
        if args.concurrency < 1:
            print("--concurrency must be 1 or more", file=err)
            return EXIT_CONFIG
        if args.action == "sync" and not _is_folder(args.paths[0]):
            print(f"{args.paths[0]}: not a folder", file=err)
            return EXIT_CONFIG
        files, problems = await asyncio.to_thread(plan, args.paths)
        if problems:
            print("Nothing was uploaded; fix these first:", file=err)
            for problem in problems:
                print(f"  {problem}", file=err)
            return EXIT_CONFIG
    client = build_client(settings)
    try:
        async with Store.open(settings.database_path) as store:
            base = KnowledgeBase(client, store, settings)
            if args.action == "list":
                return await _list(base, out)
            if args.action == "status":
                return await _status(base, out)
            if args.action == "remove":
                if not await base.remove(args.name):
                    print(f"{args.name}: not in the knowledge base", file=err)
                    return EXIT_FAILED
                print(f"removed {args.name}", file=out)
                return 0
            return await _upload(base, args, files, out, err)
    finally:
        await client.close()


def _is_folder(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir()


async def _upload(
    base: KnowledgeBase,
    args: argparse.Namespace,
    files: Sequence[Planned],
    out: TextIO,
    err: TextIO,
) -> int:
    wait = not args.no_wait
    with _progress(len(files), err) as tick:
        if args.action == "sync":
            outcomes = await base.sync(
                files, concurrency=args.concurrency, wait=wait, progress=tick
            )
        else:
            outcomes = await base.add(files, concurrency=args.concurrency, wait=wait, progress=tick)
    for outcome in outcomes:
        reason = f" ({outcome.error})" if outcome.error else ""
        print(f"{outcome.action:<9} {outcome.status:<11} {outcome.name}{reason}", file=out)
    failed = [o for o in outcomes if o.action == "failed" or o.status == "failed"]
    counts = {a: sum(o.action == a for o in outcomes) for a in ("added", "replaced", "removed")}
    unchanged = sum(o.action == "unchanged" for o in outcomes)
    print(
        f"{counts['added']} added, {counts['replaced']} replaced, {unchanged} unchanged, "
        f"{counts['removed']} removed, {len(failed)} failed",
        file=out,
    )
    if failed:
        print("Failed: " + ", ".join(o.name for o in failed), file=err)
        return EXIT_FAILED
    return 0


class _progress:
    """A tqdm bar on stderr (silent when stderr is not a terminal), ticked per file."""

    def __init__(self, total: int, err: TextIO) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, file=err, unit="file", disable=None, leave=False)

    def __enter__(self) -> Callable[[Outcome], None]:
        def tick(outcome: Outcome) -> None:
            self.bar.set_postfix_str(outcome.name[-30:], refresh=False)
            self.bar.update(1)

        return tick

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()


async def _list(base: KnowledgeBase, out: TextIO) -> int:
    files = await base.store.knowledge_files()
    stores = base.settings.openai_vector_store_ids or (await base.store.knowledge_store_id(),)
    print(f"vector store(s): {', '.join(s for s in stores if s) or '(none yet)'}", file=out)
    for file in files:
        print(f"{file.name}\t{file.bytes} bytes\t{file.status}\t{file.file_id}", file=out)
    print(f"{len(files)} file(s)", file=out)
    return 0


async def _status(base: KnowledgeBase, out: TextIO) -> int:
    files = await base.refresh()
    for file in files:
        reason = f" ({file.error})" if file.error else ""
        print(f"{file.status:<11} {file.name}{reason}", file=out)
    bad = [f for f in files if f.status in ("failed", "cancelled", "missing")]
    print(f"{len(files)} file(s), {len(bad)} not usable", file=out)
    return EXIT_FAILED if bad else 0
