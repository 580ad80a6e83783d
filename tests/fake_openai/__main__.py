"""CLI: `python -m tests.fake_openai [--port P] [--latency S] ...` prints the base URL, serves."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .server import FakeOpenAI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per model call")
    parser.add_argument(
        "--no-assistants",
        action="store_true",
        help="answer 404 on /assistants and /threads, like OpenAI since 2026-08-26",
    )
    parser.add_argument(
        "--assistant-id",
        action="append",
        default=[],
        help="create an assistant with this id (repeatable)",
    )
    parser.add_argument("--context-window", type=int, default=None, help="tokens (words)")
    parser.add_argument("--validate", action="store_true", help="check bodies against the spec")
    parser.add_argument("--upload-latency", type=float, default=0.0, help="seconds per POST /files")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the fake, print its base URL, and serve until SIGTERM or SIGINT."""
    fake = FakeOpenAI(
        host=args.host,
        port=args.port,
        latency=args.latency,
        assistants_enabled=not args.no_assistants,
        assistant_ids=args.assistant_id,
        context_window=args.context_window,
        validate=args.validate,
    )
    fake.profile(upload_latency=args.upload_latency)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with fake:
        print(fake.base_url, flush=True)
        await stop.wait()
    for problem in fake.schema_violations:
        print(f"schema violation: {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; exit 0 after a clean stop."""
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
