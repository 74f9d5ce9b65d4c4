"""The notebook's loaders: closing lines, predictions and devigged fair prices as DataFrames, every time
column `datetime64[ns, UTC]` (no rows, all null, or filled); and docs/notebooks/quickstart.ipynb executes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from odds_models.db import async_session_maker
from odds_models.tables import ClosingLine, Event, ModelRecord, Odds, OddsSnapshot, Prediction

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[3]
TIP = datetime(2024, 1, 15, 0, 30, tzinfo=UTC)
UTC_DTYPE = "datetime64[ns, UTC]"
# (hours before tip, pinnacle home, pinnacle away, draftkings home, draftkings away): the home side shortens
PRICES = [(24, 1.95, 1.95, 1.91, 1.91), (12, 1.87, 2.03, 1.85, 2.00), (2, 1.80, 2.10, 1.77, 2.08)]


async def seed_notebook_data() -> dict[str, str]:
    """One game priced by two books at three moments, its imported close, and one model's predictions."""
    game = uuid.uuid4().hex
    async with async_session_maker() as session:
        session.add(Event(id=game, home_team="Boston Celtics", away_team="Miami Heat", commence_time=TIP,
                          status="final", home_score=110, away_score=101))  # fmt: skip
        await session.flush()
        for hours, *quotes in PRICES:
            snap = OddsSnapshot(event_id=game, source="historical", snapshot_time=TIP - timedelta(hours=hours),
                                raw={"bookmakers": []})  # fmt: skip
            session.add(snap)
            await session.flush()
            for book, home, away in (
                ("pinnacle", quotes[0], quotes[1]),
                ("draftkings", quotes[2], quotes[3]),
            ):
                for outcome, price in (("Boston Celtics", home), ("Miami Heat", away)):
                    session.add(Odds(snapshot_id=snap.id, event_id=game, snapshot_time=snap.snapshot_time,
                                     bookmaker=book, market="h2h", outcome=outcome, price_decimal=price))  # fmt: skip
        for outcome, american, decimal in (("Boston Celtics", -130, 1.769), ("Miami Heat", 110, 2.10)):
            session.add(ClosingLine(event_id=game, source="sbr", kind="close", market="h2h", outcome=outcome,
                                    price_american=american, price_decimal=decimal))  # fmt: skip
        model = ModelRecord(name="clv-h2h-ols", version="v1", market="h2h", kind="ols", features=[], params={},
                            metrics={})  # fmt: skip
        session.add(model)
        await session.flush()
        for hours in (24, 12):
            session.add(Prediction(model_id=model.id, event_id=game, market="h2h", outcome="Boston Celtics",
                                   decision_time=TIP - timedelta(hours=hours), current_value=0.5,
                                   predicted_delta=0.03, predicted_close=0.53, best_venue="pinnacle",
                                   best_price_decimal=1.95, expected_clv=0.012))  # fmt: skip
        await session.commit()
    return {"game": game}


def _time_columns_are_utc(frame: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        assert str(frame[column].dtype) == UTC_DTYPE, f"{column}: {frame[column].dtype}"


async def test_empty_database_frames_are_tz_aware(db: str) -> None:
    from tasks.storage.notebook import (
        read_closing_lines,
        read_events,
        read_fair_prices,
        read_odds,
        read_predictions,
    )

    _time_columns_are_utc(await read_events(), ["commence_time", "completed_at"])
    _time_columns_are_utc(await read_odds(), ["commence_time", "snapshot_time", "bookmaker_last_update"])
    _time_columns_are_utc(await read_closing_lines(), ["commence_time", "created_at"])
    _time_columns_are_utc(await read_predictions(), ["commence_time", "decision_time", "created_at"])
    fair = await read_fair_prices()
    assert fair.empty
    _time_columns_are_utc(fair, ["commence_time", "snapshot_time"])


async def test_loaders_return_closes_predictions_and_fair_prices(db: str) -> None:
    from tasks.storage.notebook import read_closing_lines, read_events, read_fair_prices, read_predictions

    ids = await seed_notebook_data()
    # all-null columns (no game has completed_at; no odds row has bookmaker_last_update) are tz-aware too
    events = await read_events()
    assert events["completed_at"].isna().all()
    _time_columns_are_utc(events, ["commence_time", "completed_at"])

    closes = await read_closing_lines(start=date(2024, 1, 15), markets="h2h", kind="close")
    assert list(closes["outcome"]) == ["Boston Celtics", "Miami Heat"]
    assert closes["commence_time"].iloc[0] == TIP
    _time_columns_are_utc(closes, ["commence_time", "created_at"])

    preds = await read_predictions(event_ids=ids["game"], model_name="clv-h2h-ols")
    assert list(preds["decision_time"]) == [TIP - timedelta(hours=24), TIP - timedelta(hours=12)]
    assert set(preds["model_kind"]) == {"ols"}
    _time_columns_are_utc(preds, ["commence_time", "decision_time", "created_at"])

    fair = await read_fair_prices(event_ids=[ids["game"]], method="multiplicative")
    _time_columns_are_utc(fair, ["commence_time", "snapshot_time"])
    assert len(fair) == 6  # three snapshots x two outcomes
    sums = fair.groupby("snapshot_time")["fair_prob"].sum()
    assert sums.to_numpy() == pytest.approx([1.0, 1.0, 1.0])
    home = fair[fair["outcome"] == "Boston Celtics"].set_index("snapshot_time")["fair_prob"]
    for hours, p_home, p_away, d_home, d_away in PRICES:  # consensus: the median of the two books' no-vig
        expected = ((1 / p_home) / (1 / p_home + 1 / p_away) + (1 / d_home) / (1 / d_home + 1 / d_away)) / 2
        assert home[TIP - timedelta(hours=hours)] == pytest.approx(expected, abs=1e-9)
    assert home.is_monotonic_increasing  # the home side shortened
    assert (fair["fair_decimal"] * fair["fair_prob"]).to_numpy() == pytest.approx([1.0] * 6)
    assert set(fair["n_books"]) == {2}


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_quickstart_notebook_executes(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/notebooks/quickstart.ipynb runs top to bottom (nbclient, a real kernel) on seeded data: its
    frames have rows, and it draws the line movement."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from prefect.settings import PREFECT_API_URL

    from odds_models.db import run_coro_blocking

    run_coro_blocking(seed_notebook_data())
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # the kernel talks to the test server
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(ROOT / "docs" / "notebooks" / "quickstart.ipynb", as_version=4)
    params = next(c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    params.source = f'from datetime import date\nSTART, END = date(2024, 1, 14), date(2024, 1, 15)\nCHART = r"{tmp_path / "line_movement.png"}"'
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
    outputs = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )  # fmt: skip
    assert "Traceback" not in outputs
    assert "rows: odds 12, fair 6, closes 2, predictions 2" in outputs
    utc_line = next(line for line in outputs.splitlines() if line.startswith("all times UTC:"))
    assert utc_line == "all times UTC: True", utc_line
    assert (tmp_path / "line_movement.png").stat().st_size > 1000
