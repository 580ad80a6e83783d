"""Shared fixtures: settings from a plain dict, real SQLite in tmp_path, fake edges."""

from __future__ import annotations

import gc
import subprocess
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from bot.settings import Settings, load_settings
from storage.store import Store
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeClock, FakeTransport


# neonize leaks os.popen("uname -a") pipes when imported (neonize/utils/platform.py:39): the
# unreaped child parks its Popen in subprocess._active, and its pipe is freed at some later
# subprocess call, inside an unrelated test. Import it once here and reap those children
# quietly, so filterwarnings=error stays strict for our own code.
def _reap_leaked_popen_pipes() -> None:
    """Wait for children parked in subprocess._active and free their pipes, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for proc in list(getattr(subprocess, "_active", None) or []):
            proc.wait()
        subprocess._cleanup()  # type: ignore[attr-defined]
        gc.collect()


with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    import neonize  # noqa: F401
_reap_leaked_popen_pipes()


@pytest.fixture(autouse=True, scope="session")
def _reap_at_exit() -> Iterator[None]:
    """Library os.popen() calls made during the run are reaped before the interpreter exits."""
    yield
    _reap_leaked_popen_pipes()


# Property tests run in the normal suite: few examples, the same ones on every run (so CI
# is deterministic), no deadline on a shared machine, no example database in the tree.
hypothesis_settings.register_profile(
    "suite", max_examples=60, deadline=None, derandomize=True, database=None
)
hypothesis_settings.load_profile("suite")

ASSISTANT_ID = "asst_test"

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


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A local, stateful, spec-validating fake OpenAI server with one assistant."""
    async with FakeOpenAI(validate=True, assistant_ids=[ASSISTANT_ID], seed=1) as server:
        yield server
        assert server.schema_violations == []
