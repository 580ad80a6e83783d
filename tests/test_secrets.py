"""Secrets stay secret: the key is checked at start-up and masked in every log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger
from bot.settings import Settings, load_settings
from helpers.backends.errors import translate
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text, ToolCalls

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-proj-Zx9TestKeyThatMustNeverBeLogged42"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging into a string buffer; the previous logging setup is restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    structlog.reset_defaults()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_key_is_stripped_of_surrounding_whitespace() -> None:
    """A key pasted with spaces or a newline around it is used without them."""
    settings = load_settings({"OPENAI_API_KEY": f"  {KEY}\n"})
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == KEY


@pytest.mark.parametrize("bad", [f"{KEY}\u2019", f"sk-{chr(0)}abc", "sk-two words", "sk-ключ"])
def test_a_key_no_http_header_can_carry_is_refused_without_showing_it(bad: str) -> None:
    """A non-printable, non-ASCII or inner space in the key: ConfigError naming the key only."""
    with pytest.raises(ConfigError) as info:
        load_settings({"OPENAI_API_KEY": bad})
    assert list(info.value.problems) == ["OPENAI_API_KEY"]
    assert bad.strip() not in str(info.value)
    assert "sk-" not in str(info.value)


def test_an_unexpected_error_is_translated_without_its_repr() -> None:
    """A UnicodeEncodeError whose repr quotes the Authorization header does not carry the key."""
    try:
        f"Bearer {KEY}\u2019".encode("ascii")
    except UnicodeEncodeError as exc:
        error = translate(exc)
    assert KEY not in str(error) and KEY not in repr(error)
    assert error.cause == "unexpected"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_redactor_masks_the_key_in_fields_messages_and_tracebacks(
    log_stream: io.StringIO, fmt: str
) -> None:
    """The configured key and key-shaped strings never reach the output, whatever carries them."""
    configure_logging("DEBUG", fmt, stream=log_stream, secrets=[KEY])
    log = get_logger("test.secrets")
    log.info("secret.in_field", error=f"header was Bearer {KEY}", nested={"k": [KEY]})
    log.info("secret.in_object", error=ValueError(KEY))
    logging.getLogger("some.library").warning("sending Authorization: Bearer %s", KEY)
    try:
        raise RuntimeError(f"bad key {KEY}")
    except RuntimeError:
        log.exception("secret.in_traceback")
    log.info("secret.other_key", seen="sk-live-AnotherKeyShapedString1234567")
    out = log_stream.getvalue()
    assert "secret.in_traceback" in out and "RuntimeError" in out
    assert KEY not in out
    assert "AnotherKeyShapedString" not in out
    assert out.count("***") >= 6


PLUGIN = '''
"""A tool that fails with the key in its exception, as a careless library might."""

import os

from helpers.tools import ToolContext, tool


@tool
async def leaky(ctx: ToolContext) -> str:
    """Fail loudly."""
    raise RuntimeError("auth failed for " + os.environ["OPENAI_API_KEY"])
'''


async def test_a_debug_run_never_prints_the_key(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """All stdout and stderr of a DEBUG replay with a tool that raises the key hold no key."""
    (tmp_path / "leakyplugin.py").write_text(PLUGIN)
    fake_openai.script(ToolCalls([("leaky", {})]), Text("sorry"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(tmp_path),
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_MAX_RETRIES": "0",
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "DEBOUNCE_SECONDS": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "TOOLS_MODULES": "leakyplugin",
    }
    line = wa.to_json_line(wa.private_text("hello", sender="15550001111", msg_id="S1"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--replay",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(line.encode() + b"\n"), 60)
    assert proc.returncode == 0, err.decode()
    assert [json.loads(s)["text"] for s in out.decode().splitlines()] == ["sorry"]
    assert "tool.failed" in err.decode()  # the traceback was logged, masked
    assert KEY.encode() not in out + err
    assert {r.headers.get("authorization") for r in fake_openai.requests} == {f"Bearer {KEY}"}


def test_every_configured_secret_is_handed_to_the_log_masking(
    make_settings: Callable[..., Settings],
) -> None:
    """The admin token is masked in logs like the API key (both go to the redactor)."""
    settings = make_settings(ADMIN_HTTP_ADDR="127.0.0.1:8080", ADMIN_TOKEN="tok-very-secret-1234")
    assert set(settings.secret_values()) == {"sk-test-key-never-logged", "tok-very-secret-1234"}
