#!/usr/bin/env bash
# Set up (first time) and run the bot: ./run.sh [--console | --replay FILE]
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  echo "run.sh: first run: creating a virtual environment in .venv ..." >&2
  python3 -m venv .venv
fi
# Install only when requirements.txt changed since the last install (a stamp in .venv).
stamp=.venv/.requirements.sha256
wanted="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("requirements.txt", "rb").read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  echo "run.sh: installing dependencies from requirements.txt (about half a minute) ..." >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$wanted" > "$stamp"
  echo "run.sh: dependencies installed." >&2
fi
if [ ! -f .env ]; then
  cp .env.example .env
  echo "Created .env from .env.example: set OPENAI_API_KEY there (see README)." >&2
fi
exec .venv/bin/python main.py "$@"
