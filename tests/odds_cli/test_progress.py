"""Progress of long steps: counter lines (or a bar) on stderr, never on stdout; no listener, no output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from odds_cli.common import StderrProgress
from odds_models import progress


def test_without_a_listener_steps_are_silent(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.step("quiet", total=3, unit="files") as shown:
        for name in "abc":
            shown.advance(name)
    assert shown.done == 3
    assert capsys.readouterr() == ("", "")


def test_lines_mode_prints_one_counter_line_per_unit_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    shown = StderrProgress("lines")
    with progress.listening(shown), progress.step("import oddsapi", total=2, unit="files") as step:
        step.advance("a.json")
        step.advance("b.json.gz")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["import oddsapi: 1/2 files: a.json", "import oddsapi: 2/2 files: b.json.gz"]


def test_begin_ends_at_the_last_unit_and_unknown_totals_count_up(capsys: pytest.CaptureFixture[str]) -> None:
    ended: list[str] = []

    class Recorder:
        def started(self, step: progress.Step) -> None:
            pass

        def advanced(self, step: progress.Step, detail: str | None) -> None:
            pass

        def finished(self, step: progress.Step) -> None:
            ended.append(step.label)

    with progress.listening(Recorder()), progress.listening(StderrProgress("lines")):
        stages = progress.begin("backtest flat", total=2, unit="stages")
        stages.advance("games")
        assert ended == []
        stages.advance("report")
        assert ended == ["backtest flat"]
        stages.finish()  # once only
        assert ended == ["backtest flat"]
        progress.begin("nothing to do", total=0)  # ends at once
        assert ended[-1] == "nothing to do"
        open_ended = progress.begin("demo: analysis", unit="flow runs")
        open_ended.advance("run-backtest")
    assert capsys.readouterr().err.splitlines()[-1] == "demo: analysis: 1 flow runs: run-backtest"


def test_bar_mode_draws_on_stderr_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = StderrProgress("bar")
    with progress.listening(shown), progress.step("train spreads", total=3, unit="stages") as step:
        for name in ("dataset", "models", "report"):
            step.advance(name)
    shown.close()
    out, err = capsys.readouterr()
    assert out == ""
    assert "train spreads" in err
    assert "3/3" in err


def test_auto_is_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert StderrProgress("auto").mode == "lines"


def test_unknown_progress_mode_is_one_line_exit_2(odds: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODDS_PROGRESS", "loud")
    odds.fails(2, r"ODDS_PROGRESS: 'loud' is not one of", "scheduler", "list")  # type: ignore[attr-defined]


@pytest.mark.db
@pytest.mark.shared
def test_import_counts_each_file_on_stderr_and_json_stays_clean(
    db: str, data_dir: Path, odds: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`odds import oddsapi FILES --json 2>log`: stdout is one JSON document, stderr one line per file."""
    files = sorted((data_dir / "oddsapi_historical" / "odds" / "2023-2024").glob("*.json.gz"))[:3]
    monkeypatch.setenv("ODDS_PROGRESS", "lines")
    code, out, err = odds("import", "oddsapi", *map(str, files), "--json")  # type: ignore[operator]
    assert code == 0, err
    assert json.loads(out)["files"] == 3
    lines = [line for line in err.splitlines() if line.startswith("import oddsapi:")]
    assert lines == [f"import oddsapi: {i}/3 files: {path.name}" for i, path in enumerate(files, 1)]
