"""Shared fixtures: settings from a plain dict, real SQLite in tmp_path, fake edges."""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

# neonize leaks an os.popen("uname -a") pipe when imported (neonize/utils/platform.py:39);
# import it once here, with that leak collected quietly, so filterwarnings=error stays strict.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    import neonize  # noqa: F401

    gc.collect()

from bot.settings import Settings, load_settings
from storage.store import Store
from tests.fakes import FakeClock, FakeTransport

BASE_ENV = {
    "OPENAI_API_KEY": "sk-test-key-never-logged",
    "DEBOUNCE_SECONDS": "0",
    "LOG_FORMAT": "json",
}


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings from BASE_ENV plus keyword overrides (KEY=value), DB in tmp_path."""

    def make(**env: Any) -> Settings:
        merged = {"DATABASE_PATH": str(tmp_path / "bot.db"), **BASE_ENV}
        merged.update({k: str(v) for k, v in env.items()})
        return load_settings(merged)

    return make


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated store on a real SQLite file."""
    async with Store.open(tmp_path / "bot.db") as opened:
        yield opened


@pytest.fixture
def transport() -> FakeTransport:
    """A recording WhatsApp transport."""
    return FakeTransport()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()
