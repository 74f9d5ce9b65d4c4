"""`odds model` argument checks (no database, no engine)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from odds_cli.model import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--market", "moneyline"],
        ["train", "--market", "spreads", "--until", "2024-13-01"],
        ["train", "--market", "spreads", "--scheme", "random"],
        ["evaluate", "--market", "totals", "--from", "2024-02-01", "--to", "2024-01-01"],
        ["predict", "--market", "props"],
    ],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2


def test_help_lists_the_three_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "evaluate", "predict"):
        assert command in result.output
