"""List the operator subcommands (``python main.py help``)."""

from __future__ import annotations

import argparse
import importlib

from bot.cli import CliContext, names


def main(argv: list[str], ctx: CliContext) -> int:
    """Print each subcommand with the first line of its module docstring."""
    argparse.ArgumentParser(prog="main.py help", description=__doc__).parse_args(argv)
    print("usage: main.py [--env-file F] COMMAND ARGS...   (or main.py [--console | --replay F])")
    for name in names():
        doc = (importlib.import_module(f"bot.cli.{name}").__doc__ or "").strip().splitlines()
        print(f"  {name:<12} {doc[0] if doc else ''}")
    return 0
