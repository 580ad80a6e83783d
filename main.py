"""Entry point: load .env, validate settings, configure logging, run one front-end.

python main.py                      live WhatsApp (QR or pairing code on first run)
python main.py --console            chat with the bot in this terminal
python main.py --replay FILE|-      feed recorded neonize MessageEv JSON lines
python main.py NAME ARGS...         an operator subcommand (bot/cli/NAME.py), e.g. `help`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from bot.app import LiveFrontend

EXIT_CONFIG = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="main.py", description="WhatsApp AI chatbot")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--console", action="store_true", help="chat in this terminal")
    group.add_argument("--replay", metavar="FILE", help="replay MessageEv JSON lines ('-' = stdin)")
    parser.add_argument(
        "--sender", default="15551234567@s.whatsapp.net", help="console: who you are (JID)"
    )
    parser.add_argument(
        "--me", default="15550000000@s.whatsapp.net", help="replay/console: the bot's own JID"
    )
    parser.add_argument("--me-lid", default="100000000000001@lid", help="replay: the bot's LID")
    parser.add_argument(
        "--linger",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="replay: after the input ends, stay to deliver reminders due within this long",
    )
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    return parser.parse_args(argv)


def replay_file_problem(name: str) -> str | None:
    """Why ``--replay name`` cannot be read, or None ('-' is standard input)."""
    if name == "-":
        return None
    path = Path(name)
    if not path.exists():
        return "does not exist: check the path (use '-' to read standard input)"
    if not path.is_file():
        return "is not a file: give a file of MessageEv JSON lines"
    if not os.access(path, os.R_OK):
        return "cannot be read: make it readable by the user the bot runs as"
    return None


def _subcommand(argv: list[str]) -> int | None:
    """Run ``[--env-file F] NAME ARGS...`` as an operator subcommand; None if it is not one."""
    env_file = ".env"
    rest = argv
    if len(rest) >= 2 and rest[0] == "--env-file":
        env_file, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--env-file="):
        env_file, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0].startswith("-"):
        return None
    from bot.cli import names, run

    code = run(rest[0], rest[1:], env_file)
    if code is None:
        print(
            f"main.py: unknown command {rest[0]!r}; commands: {', '.join(names())}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return code


def main(
    argv: Sequence[str] | None = None,
    *,
    frontend_factory: Callable[..., LiveFrontend] | None = None,
) -> int:
    """Run the bot; return the process exit code.

    ``frontend_factory`` is for tests only: a stand-in for the neonize front-end.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if (code := _subcommand(argv)) is not None:
        return code
    args = parse_args(argv)
    if args.replay and (problem := replay_file_problem(args.replay)):
        print(f"Cannot start: replay file {args.replay!r} {problem}", file=sys.stderr)
        return EXIT_CONFIG

    from bot.cli import load_config
    from bot.errors import ConfigError, StartupError
    from bot.settings import unknown_key_hints

    loaded = load_config(args.env_file)
    if isinstance(loaded, int):
        return loaded
    settings = loaded
    hints = unknown_key_hints(os.environ)  # OPENAI_APIKEY -> OPENAI_API_KEY: warned, not refused

    # neonize configures the root logger when imported: import it first, then ours.
    if not args.console:
        from bot.whatsapp.client import quiet_neonize_logging

        quiet_neonize_logging(debug=settings.log_level == "DEBUG")
    from bot.app import FrontEnd, FrontEndKind, run
    from bot.logs import configure_logging

    secrets = settings.secret_values()
    # The console is for chatting: only warnings interrupt it, unless LOG_LEVEL asks for more.
    quiet = args.console and "log_level" not in settings.model_fields_set
    configure_logging(
        "WARNING" if quiet else settings.log_level, settings.log_format, secrets=secrets
    )
    for typo, meant in sorted(hints.items()):
        structlog.get_logger("main").warning("settings.unknown_key", key=typo, did_you_mean=meant)
    kind: FrontEndKind = "replay" if args.replay else "console" if args.console else "live"
    front = FrontEnd(
        kind=kind,
        replay_file=args.replay,
        console_sender=args.sender,
        me=args.me,
        me_lid=args.me_lid or None,
        linger_seconds=args.linger,
    )
    from bot.shutdown import exit_now

    runner = asyncio.Runner()
    try:
        code = runner.run(run(settings, front, frontend_factory=frontend_factory))
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        code = EXIT_CONFIG
    except StartupError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        code = EXIT_CONFIG
    except KeyboardInterrupt:
        code = 130
    if kind == "live":
        # whatsmeow's Go threads (a connect attempt stuck in its 60 s dial, a session that never
        # paired) can outlive us, and closing the loop would wait for them in its executor;
        # everything of ours is closed by now, so leave without waiting for them.
        exit_now(code)
    runner.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
