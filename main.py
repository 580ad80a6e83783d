"""Entry point: load .env, validate settings, configure logging, run one front-end.

python main.py                      live WhatsApp (QR or pairing code on first run)
python main.py --console            chat with the bot in this terminal
python main.py --replay FILE|-      feed recorded neonize MessageEv JSON lines
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import structlog
from dotenv import load_dotenv

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bot; return the process exit code."""
    args = parse_args(argv)
    load_dotenv(args.env_file, override=False)

    from bot.errors import ConfigError, StartupError
    from bot.settings import load_settings, unknown_key_hints

    hints = unknown_key_hints(os.environ)  # OPENAI_APIKEY -> OPENAI_API_KEY: warned, not refused
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(
            f"Configuration error — fix these in {args.env_file} or the environment:",
            file=sys.stderr,
        )
        for key, why in sorted(exc.problems.items()):
            print(f"  {key}: {why}", file=sys.stderr)
        for typo, meant in sorted(hints.items()):
            print(f"  {typo} is not a setting: did you mean {meant}?", file=sys.stderr)
        return EXIT_CONFIG

    # neonize configures the root logger when imported: import it first, then ours.
    if not args.console:
        from bot.whatsapp.client import quiet_neonize_logging

        quiet_neonize_logging(debug=settings.log_level == "DEBUG")
    from bot.app import FrontEnd, FrontEndKind, run
    from bot.logs import configure_logging

    api_key = settings.openai_api_key
    secrets = [api_key.get_secret_value()] if api_key else []
    configure_logging(settings.log_level, settings.log_format, secrets=secrets)
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
    try:
        code = asyncio.run(run(settings, front))
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StartupError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    if kind == "live":
        # whatsmeow's Go threads can outlive a session that never paired; everything of ours
        # is closed by now, so leave without waiting for them.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
