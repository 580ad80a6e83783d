"""Print the admin records API's GraphQL schema (``--write`` updates docs/schema.graphql)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import CliContext

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"


def main(argv: list[str], ctx: CliContext) -> int:
    """Print the schema, or write it to docs/schema.graphql."""
    parser = argparse.ArgumentParser(prog="main.py schema", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write it to {SCHEMA_FILE.name}")
    args = parser.parse_args(argv)
    from bot.admin.schema import schema_text

    text = schema_text()
    if args.write:
        SCHEMA_FILE.write_text(text)
        print(f"wrote {SCHEMA_FILE}")
    else:
        print(text, end="")
    return 0
