#!/usr/bin/env bash
# Set up (first time) and run the bot: ./run.sh [--console | --replay FILE]
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
if [ ! -f .env ]; then
  cp .env.example .env
  echo "Created .env from .env.example: set OPENAI_API_KEY there (see README)." >&2
fi
exec .venv/bin/python main.py "$@"
