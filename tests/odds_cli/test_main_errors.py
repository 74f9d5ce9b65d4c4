"""Bad arguments to `odds` give one line on stderr and exit code 2, never a traceback.

Runs `odds_cli.main.main()` in-process (the console-script entry point, with its error policy). Commands
other engineers have not written yet are skipped, so the table can list every command the issue names.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

# (argv after `odds`, what is wrong, a regex the one-line error must match). Each must exit 2.
BAD_ARGUMENTS: list[tuple[list[str], str, str]] = [
    (["scheduler", "start", "--only", "no-such-deployment"], "unknown deployment", r"no-such-deployment"),
    (["scheduler", "start", "--limit", "0"], "limit below 1", r"--limit"),
    (["scheduler", "list", "--config", "/nonexistent/prefect.yaml"], "missing config file", r"prefect\.yaml"),
    (["scheduler", "start", "--only", "pipeline-summary"], "no PREFECT_API_URL", r"PREFECT_API_URL"),
    (["no-such-command"], "unknown command", r"no-such-command"),
    (["backtest", "run", "--strategy", "no_such_strategy", "--start", "2024-01-01", "--end", "2024-01-31"],
     "unknown strategy", r"no_such_strategy"),
    (["backtest", "run", "--strategy", "basic_ev", "--start", "2024-13-45", "--end", "2024-01-31"],
     "malformed date", r"2024-13-45"),
    (["backtest", "run", "--strategy", "basic_ev", "--start", "2024-03-01", "--end", "2024-02-01"],
     "end before start", r"(?i)before|after"),
    (["backtest", "run", "--strategy", "basic_ev", "--start", "2024-01-01", "--end", "2024-01-31",
      "--staking", "martingale"], "unknown staking", r"staking"),
    (["fetch", "backfill", "--start", "yesterday", "--end", "2024-01-31"], "malformed date", r"yesterday"),
    (["fetch", "backfill", "--start", "2024-03-01", "--end", "2024-02-01"], "end before start",
     r"(?i)before|after"),
    (["import", "closing-lines", "{csv}", "--from", "yesterday"], "malformed date", r"yesterday"),
    (["import", "closing-lines", "{csv}", "--from", "2024-03-01", "--to", "2024-02-01"],
     "end before start", r"(?i)before|after"),
    (["polymarket", "backfill", "--start", "01/02/2024"], "malformed date", r"01/02/2024"),
    (["polymarket", "backfill", "--start", "2024-03-01", "--end", "2024-02-01"], "end before start",
     r"(?i)before|after"),
    (["model", "train", "--market", "moneyline_x"], "unknown market", r"moneyline_x"),
    (["model", "train", "--market", "spreads", "--until", "2024-02-30"], "malformed date", r"2024-02-30"),
    (["model", "evaluate", "--market", "spreads", "--from", "2024-03-01", "--to", "2024-02-01"],
     "end before start", r"(?i)before|after"),
]  # fmt: skip


def _resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """The deepest existing command for argv and the words that named it (typer vendors click: duck-type)."""
    from odds_cli.main import app

    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for word in argv:
        if word.startswith("-") or not hasattr(command, "commands"):
            break
        sub = command.commands.get(word)
        if sub is None:
            return None, path
        command, path = sub, [*path, word]
    return command, path


def _run(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from odds_cli.main import main
    from odds_models.settings import get_settings

    # Complete settings, so the argument checks are what fails; every upstream points at a closed local
    # port, so a command that wrongly got past them cannot reach the network.
    monkeypatch.setenv("ODDS_API_KEY", "unit-test-not-a-key")
    for var in ("ODDS_API_BASE_URL", "POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    get_settings.cache_clear()
    monkeypatch.setattr(sys, "argv", ["odds", *argv])
    code = 0
    # No Prefect API, even when an engine test earlier in the session started the test server: a command
    # that wrongly got past its argument checks must fail, never start serving or running flows.
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
    get_settings.cache_clear()
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("argv", "problem", "mentions"), BAD_ARGUMENTS, ids=[f"{a[0]}-{p}" for a, p, _ in BAD_ARGUMENTS]
)
def test_bad_argument_is_one_line_and_exit_2(
    argv: list[str],
    problem: str,
    mentions: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv = tmp_path / "closing.csv"
    csv.write_text("season,date,away,home\n")
    argv = [str(csv) if word == "{csv}" else word for word in argv]
    command, path = _resolve(argv)
    if argv[0] != "no-such-command":
        if command is None or hasattr(command, "commands"):
            pytest.skip(f"`odds {' '.join(argv[:2])}` is not written yet")
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        wanted = {w for w in argv if w.startswith("--")}
        if not wanted <= options:
            pytest.skip(f"`odds {' '.join(path)}` has no {sorted(wanted - options)}")
    code, output = _run(argv, monkeypatch, capsys)
    assert code == 2, f"{problem}: exit {code}\n{output}"
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"{problem}: expected one line, got\n{output}"
    assert lines[0].startswith("error:")
    assert re.search(mentions, lines[0]), f"{problem}: the error does not name the problem: {lines[0]}"


def test_help_lists_the_scheduler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _run(["scheduler", "--help"], monkeypatch, capsys)
    assert code == 0
    assert "start" in output
    assert "list" in output
