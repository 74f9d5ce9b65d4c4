"""The CLI's output rules (odds_cli/common.py): piped output is never cut at 80 columns, every table command
takes --json, JSON is valid with tz-aware times, progress goes to stderr only."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli_tree import cli_leaves

ROOT = Path(__file__).resolve().parents[2]
LONG = "deployment-" + "x" * 189  # 200 characters, like a long market slug

# Commands that print no table and take no --json, and why.
NO_JSON = {
    "scheduler start": "serves until Ctrl-C; prints one banner line",
    "prefect secret set-api-key": "stores a secret read from stdin or the environment; prints one confirmation line",
    "prefect secret set-database-url": "stores a secret read from stdin or the environment; prints one line",
}


LEAVES = cli_leaves()


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[p for p, _ in LEAVES])
def test_every_command_takes_json(path: str, command: Any) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if path in NO_JSON:
        assert "--json" not in options, f"`odds {path}` takes --json now: drop it from NO_JSON"
        return
    assert "--json" in options, f"`odds {path}` has no --json (or add it to NO_JSON with a reason)"


def _yaml_with_long_name(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    config["deployments"][0]["name"] = LONG
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _odds(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `odds` entry point in a subprocess, stdout and stderr pipes (not terminals)."""
    return subprocess.run(
        [sys.executable, "-c", "from odds_cli.main import main; main()", *argv],
        check=False, capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_scheduler_list_piped_shows_whole_names(tmp_path: Path) -> None:
    """`odds scheduler list | cat`: a 200-character deployment name comes out whole, on one line, even when
    COLUMNS says 80 (rich's default when stdout is not a terminal)."""
    config = _yaml_with_long_name(tmp_path)
    for env in ({}, {"COLUMNS": "80"}):
        done = _odds("scheduler", "list", "--config", str(config), env=env)
        assert done.returncode == 0, done.stderr
        assert any(LONG in line for line in done.stdout.splitlines()), done.stdout
        assert "…" not in done.stdout
        row = next(line for line in done.stdout.splitlines() if LONG in line)
        assert "flows/odds.py:sync_events" in row  # the whole row on one line


def test_scheduler_list_json_is_valid(tmp_path: Path) -> None:
    done = _odds("scheduler", "list", "--config", str(_yaml_with_long_name(tmp_path)), "--json")
    assert done.returncode == 0, done.stderr
    names = [d["name"] for d in json.loads(done.stdout)]
    assert names[0] == LONG


def test_key_column_folds_instead_of_cutting_on_a_narrow_terminal() -> None:
    from rich.console import Console
    from rich.table import Table

    from odds_cli.common import key_column

    table = Table()
    key_column(table, "name")
    table.add_column("other")
    table.add_row(LONG, "y" * 50)
    narrow = Console(width=60, force_terminal=True, color_system=None, record=True)
    narrow.print(table)
    cells = [line.split("│")[1].strip() for line in narrow.export_text().splitlines() if line.count("│") >= 2]
    assert not any("…" in cell for cell in cells)
    assert "".join(cells) == LONG  # folded over several lines, every character kept


def test_clip_cuts_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from odds_cli import common

    assert common.clip("a" * 100, 10) == "a" * 100  # tests: stdout is not a terminal
    monkeypatch.setattr(common.console, "_force_terminal", True)
    assert common.clip("a" * 100, 10) == "a" * 9 + "…"


def test_to_jsonable_times_are_utc_and_nan_is_null() -> None:
    import numpy as np
    import pandas as pd

    from odds_cli.common import emit_json, to_jsonable

    value = {
        "naive": datetime(2026, 1, 13, 21, 0),  # noqa: DTZ001 - read as UTC
        "aware": datetime(2026, 1, 13, 16, 0, tzinfo=__import__("zoneinfo").ZoneInfo("America/New_York")),
        "ts": pd.Timestamp("2026-01-13T21:00:00Z"),
        "nat": pd.NaT,
        "nan": float("nan"),
        "np": np.float64(1.5),
        "npint": np.int64(3),
        "dec": Decimal("2.5"),
        "day": date(2026, 1, 13),
        "frame": pd.DataFrame(
            {"t": pd.to_datetime(["2026-01-13T21:00:00Z", None], utc=True), "x": [1.0, math.nan]}
        ),
        "path": Path("/tmp/x"),
    }
    out = to_jsonable(value)
    assert out["naive"] == "2026-01-13T21:00:00+00:00"
    assert out["aware"] == "2026-01-13T21:00:00+00:00"
    assert out["ts"] == "2026-01-13T21:00:00+00:00"
    assert out["nat"] is None
    assert out["nan"] is None
    assert (out["np"], out["npint"], out["dec"], out["day"]) == (1.5, 3, 2.5, "2026-01-13")
    assert out["frame"] == [{"t": "2026-01-13T21:00:00+00:00", "x": 1.0}, {"t": None, "x": None}]
    json.dumps(out, allow_nan=False)  # valid JSON
    del emit_json


def test_plain_text_never_shows_a_python_repr() -> None:
    from odds_cli.common import plain_text

    summary = {"remaining": 480, "at": datetime(2026, 1, 13, 21, tzinfo=UTC)}
    assert plain_text(summary) == "remaining=480, at=2026-01-13T21:00:00+00:00"
    assert plain_text(["quota below 10 %", "quota below 5 %"]) == "quota below 10 %; quota below 5 %"
    assert plain_text({"recommendations": [{"a": 1}, {"a": 2}], "n": 2}) == "recommendations=2 rows, n=2"
    assert plain_text(None) == "-"
    for text in (plain_text(summary), plain_text({"x": {"y": [1, 2]}})):
        assert "{" not in text
        assert "[" not in text
        assert "datetime." not in text
