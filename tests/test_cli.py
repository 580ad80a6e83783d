"""Operator subcommands: ``main.py NAME ...`` finds ``bot/cli/NAME.py`` and runs it."""

from __future__ import annotations

import pytest

import main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """`main.py help` exits 0 and names each subcommand module with its summary."""
    assert main.main(["help"]) == 0
    out = capsys.readouterr().out
    assert "help" in out and "List the operator subcommands" in out


def test_an_unknown_subcommand_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown word exits 2 and lists the commands there are."""
    assert main.main(["--env-file", "nowhere.env", "frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "help" in err


def test_the_env_file_reaches_the_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--env-file F NAME` hands F to the subcommand's context."""
    seen: list[str] = []

    def fake_run(name: str, argv: list[str], env_file: str) -> int:
        seen.append(f"{name}:{env_file}:{argv}")
        return 0

    monkeypatch.setattr("bot.cli.run", fake_run)
    assert main.main(["--env-file=x.env", "help", "-v"]) == 0
    assert seen == ["help:x.env:['-v']"]


def test_a_bad_setting_stops_a_subcommand_with_exit_2(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ctx.settings()` refuses a bad setting the way the bot does: exit 2 naming the key."""
    from bot.cli import CliContext

    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("OPENAI_API_MODE", "nonsense")
    with pytest.raises(SystemExit) as info:
        CliContext("missing.env").settings()
    assert info.value.code == 2
    assert "OPENAI_API_MODE" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["backup"], ["knowledge", "frobnicate"], ["schema", "--nope"]])
def test_bad_usage_of_any_subcommand_is_exit_2_not_an_exception(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse's exit inside any subcommand becomes the exit code main() returns."""
    assert main.main(argv) == 2
    assert "usage:" in capsys.readouterr().err
