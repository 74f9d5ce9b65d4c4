"""CLI argument errors are one line and exit code 2 (no flow is started)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from odds_cli.backtest import app
from odds_cli.import_closing_lines import closing_lines

runner = CliRunner()
root = typer.Typer()
root.add_typer(app, name="backtest")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "martingale", "--start", "2024-01-01", "--end", "2024-01-31"], "unknown strategy"),
        (["--strategy", "flat", "--start", "2024-02-01", "--end", "2024-01-01"], "before start"),
        (["--strategy", "flat", "--start", "2024-13-01", "--end", "2024-01-01"], "is not a date"),
        (
            ["--strategy", "flat", "--start", "2024-01-01", "--end", "2024-01-02", "--decision-hours", "x"],
            "hours",
        ),
        (
            ["--strategy", "flat", "--start", "2024-01-01", "--end", "2024-01-02", "--param", "side=left"],
            "side",
        ),
        (
            ["--strategy", "basic_ev", "--start", "2024-01-01", "--end", "2024-01-02", "--devig-method", "x"],
            "devig_method",
        ),
    ],
)
def test_backtest_run_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(root, ["backtest", "run", *args], standalone_mode=False)
    # `odds_cli.main.main` prints a UsageError as one line "error: ..." and exits with its code, 2
    assert result.exception.exit_code == 2  # type: ignore[union-attr]
    assert message in result.exception.format_message()  # type: ignore[union-attr]


def test_closing_lines_bad_arguments_exit_2() -> None:
    sub = typer.Typer()
    sub.command("closing-lines")(closing_lines)
    sub.command("noop")(lambda: None)
    result = runner.invoke(sub, ["closing-lines", "missing.csv", "--format", "kaggle"], standalone_mode=False)
    assert result.exception.exit_code == 2  # type: ignore[union-attr]
    assert "is not a file" in result.exception.format_message()  # type: ignore[union-attr]
    result = runner.invoke(sub, ["closing-lines", __file__, "--format", "csv"], standalone_mode=False)
    assert "is not a format" in result.exception.format_message()  # type: ignore[union-attr]
