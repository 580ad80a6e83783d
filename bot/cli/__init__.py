"""Operator subcommands: ``python main.py [--env-file F] NAME ARGS...``.

``NAME`` is a module of this package (``bot/cli/NAME.py``) with one function::

    def main(argv: list[str], ctx: CliContext) -> int

that parses ``argv`` itself (argparse, ``prog=f"main.py {NAME}"``) and returns the exit code:
0 done, 1 failed, 2 bad usage or configuration. ``ctx.settings()`` loads ``.env`` and the
settings exactly as the bot does (a bad setting prints the problems and exits 2), and
``ctx.configure_logging(settings)`` sets up logging (WARNING unless LOG_LEVEL says more). A new
subcommand is a new module here: nothing else needs to change.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from dotenv import load_dotenv

if TYPE_CHECKING:
    from bot.settings import Settings

EXIT_CONFIG = 2
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class CliContext:
    """What every subcommand gets: where the settings come from."""

    env_file: str = ".env"

    def settings(self) -> Settings:
        """Load ``.env`` and validate the settings; on a bad setting print why and exit 2."""
        settings = load_config(self.env_file)
        if isinstance(settings, int):
            raise SystemExit(settings)
        return settings

    def configure_logging(self, settings: Settings, *, level: str | None = None) -> None:
        """Logging for a command-line tool: WARNING unless LOG_LEVEL asks for more."""
        from bot.logs import configure_logging

        chosen = level or (settings.log_level if settings.log_level == "DEBUG" else "WARNING")
        configure_logging(chosen, settings.log_format, secrets=settings.secret_values())


def find(name: str) -> ModuleType | None:
    """The subcommand module ``bot.cli.<name>``, or None when there is no such subcommand."""
    if not _NAME.fullmatch(name) or importlib.util.find_spec(f"bot.cli.{name}") is None:
        return None
    return importlib.import_module(f"bot.cli.{name}")


def names() -> list[str]:
    """Every subcommand there is."""
    from pathlib import Path

    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if _NAME.fullmatch(p.stem))


def load_config(env_file: str) -> Settings | int:
    """Load ``env_file`` into the environment and validate the settings.

    Returns the settings, or exit code 2 after printing every problem (and any misspelled
    key that looks like ours) to stderr.
    """
    load_dotenv(env_file, override=False)
    from bot.errors import ConfigError
    from bot.settings import load_settings, unknown_key_hints

    hints = unknown_key_hints(os.environ)
    try:
        return load_settings(os.environ)
    except ConfigError as exc:
        print(f"Configuration error — fix these in {env_file} or the environment:", file=sys.stderr)
        for key, why in sorted(exc.problems.items()):
            print(f"  {key}: {why}", file=sys.stderr)
        for typo, meant in sorted(hints.items()):
            print(f"  {typo} is not a setting: did you mean {meant}?", file=sys.stderr)
        return EXIT_CONFIG


def run(name: str, argv: Sequence[str], env_file: str) -> int | None:
    """Run subcommand ``name``; None when there is no such subcommand."""
    module = find(name)
    if module is None:
        return None
    try:
        code: int = module.main(list(argv), CliContext(env_file))
    except SystemExit as exc:  # argparse (bad usage 2, --help 0) and ctx.settings() (2)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return code
