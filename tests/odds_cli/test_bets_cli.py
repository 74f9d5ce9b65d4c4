"""`odds bets` in-process against PostgreSQL: a bad bet is one line naming the option and exit 2, a CSV with bad
rows lists their line numbers and writes nothing, then list and report read what was recorded."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker, run_coro_blocking
from tests.support.bets_ledger import AWAY, HOME, TIP, Ledger, finish

pytestmark = pytest.mark.db

PLACED = (TIP - timedelta(hours=3)).isoformat()


def odds(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    from odds_cli.main import main

    monkeypatch.setattr(sys, "argv", ["odds", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def count_bets() -> int:
    async def count() -> int:
        async with async_session_maker() as session:
            return (await session.execute(text("SELECT count(*) FROM bets"))).scalar_one()

    return run_coro_blocking(count())


def add_args(ledger: Ledger, **changes: str | None) -> list[str]:
    options = {"--event": ledger.game, "--market": "spreads", "--side": "Heat", "--line": "5.5",
               "--venue": "draftkings", "--price": "-110", "--stake": "10", "--placed-at": PLACED, **changes}  # fmt: skip
    return [
        "bets",
        "add",
        *[part for key, value in options.items() if value is not None for part in (key, value)],
    ]


@pytest.mark.parametrize(
    ("changes", "option", "mentions"),
    [
        ({"--event": "no-such-game"}, "--event", "no-such-game"),
        ({"--event": "Heat @ Springfield"}, "--event", "Springfield"),
        ({"--market": "moneyline"}, "--market", "moneyline"),
        ({"--side": "Lakers"}, "--side", "Lakers"),
        ({"--venue": "fanduel"}, "--venue", "fanduel"),
        ({"--placed-at": "2026-01-12T20:00:00"}, "--placed-at", "time zone"),
        ({"--placed-at": (TIP + timedelta(minutes=3)).isoformat()}, "--placed-at", "tip-off"),
        ({"--price": "abc"}, "--price", "abc"),
    ],
)
def test_bets_add_refuses_a_bad_bet_in_one_line(
    ledger: Ledger, changes: dict[str, str], option: str, mentions: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, output = odds(add_args(ledger, **changes), monkeypatch, capsys)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1, output
    assert lines[0].startswith("error:"), lines[0]
    assert option in lines[0], lines[0]
    assert mentions in lines[0], lines[0]
    assert count_bets() == 0


def test_bets_add_then_again(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = odds(add_args(ledger), monkeypatch, capsys)
    assert code == 0, output
    assert "recorded bet #" in output
    code, output = odds([*add_args(ledger), "--json"], monkeypatch, capsys)
    assert code == 0
    assert json.loads(output)["already_recorded"] == 1
    pm = ["bets", "add", "--venue", "polymarket", "--token", ledger.tokens["h2h:Heat"], "--fill-price", "0.41",
          "--shares", "20", "--placed-at", PLACED]  # fmt: skip
    code, output = odds(pm, monkeypatch, capsys)
    assert code == 0, output
    assert count_bets() == 2


HEADER = "placed_at,event,market,side,line,venue,price,stake,token,fill_price,shares\n"


def test_bets_import_lists_bad_rows_and_writes_nothing(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [
        f"{PLACED},{ledger.game},h2h,Celtics,,pinnacle,1.62,10,,,",
        f'{PLACED},"{AWAY} @ {HOME} 2026-01-12",totals,over,221.5,draftkings,1.91,5,,,',
        f"{PLACED},{ledger.game},,,,polymarket,,,{ledger.tokens['spreads:Heat']},0.5,40",
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("\ufeff" + HEADER + "\n".join([
        good[0],
        f"{PLACED},{ledger.game},h2h,Celtics,,fanduel,1.62,10,,,",  # line 3: a book with no prices for the game
        good[1],
        "2026-01-12 21:00,e,h2h,home,,pinnacle,1.6,1,,,",  # line 5: a time without a zone
        good[0],  # line 6: the same bet as line 2
    ]) + "\n", encoding="utf-8")  # fmt: skip
    code, output = odds(["bets", "import", str(bad)], monkeypatch, capsys)
    assert code == 2, output
    assert "Traceback" not in output
    assert "3 bad row(s); nothing was imported" in output
    assert "line 3:" in output
    assert "fanduel" in output
    assert "line 5:" in output
    assert "time zone" in output
    assert "line 6:" in output
    assert "line 2" in output
    assert "line 2:" not in output
    assert "line 4:" not in output
    assert count_bets() == 0

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("when,game,price\n2026-01-12T21:00:00Z,x,1.9\n")
    code, output = odds(["bets", "import", str(wrong)], monkeypatch, capsys)
    assert code == 2
    assert "line 1: unknown column(s) 'when', 'game'" in output

    fine = tmp_path / "fine.csv"
    fine.write_bytes(("\ufeff" + HEADER + "\r\n".join(good) + "\r\n").encode())
    code, output = odds(["bets", "import", str(fine), "--json"], monkeypatch, capsys)
    assert code == 0, output
    assert json.loads(output)["added"] == 3
    code, output = odds(["bets", "import", str(fine)], monkeypatch, capsys)
    assert code == 0
    assert "0 added, 3 already in the ledger" in output
    assert count_bets() == 3


def test_bets_list_and_report(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert odds(add_args(ledger), monkeypatch, capsys)[0] == 0
    assert odds(add_args(ledger, **{"--event": ledger.no_close, "--market": "h2h", "--side": "Lakers",
                                    "--line": None}), monkeypatch, capsys)[0] == 0  # fmt: skip
    run_coro_blocking(finish(ledger.game, 110, 100))
    run_coro_blocking(finish(ledger.no_close, 101, 99))

    code, output = odds(["bets", "list", "--open", "--json"], monkeypatch, capsys)
    assert code == 0
    assert len(json.loads(output)) == 2  # nothing settled yet: `list` reads, it does not settle

    code, output = odds(["bets", "report", "--output", str(tmp_path), "--json"], monkeypatch, capsys)
    assert code == 0, output
    report = json.loads(output)
    assert report["settled_now"] == {"checked": 2, "closes": 1, "results": 2, "without_close": 1}
    assert report["overall"]["bets"] == 2
    assert report["overall"]["clv_n"] == 1
    assert report["overall"]["clv_ci_pp"] is None
    assert report["open_reasons"] == {"no close": 1}
    assert (tmp_path / "cumulative_clv.png").stat().st_size > 5_000

    code, output = odds(["bets", "report", "--no-settle", "--output", str(tmp_path)], monkeypatch, capsys)
    assert code == 0
    assert "n too small" in output
    assert "(1/2)" in output

    code, output = odds(["bets", "list", "--settled", "--json"], monkeypatch, capsys)
    rows = json.loads(output)
    assert [r["result"] for r in rows] == ["loss"]  # Heat +5.5, lost by 10
    assert rows[0]["clv_prob"] == pytest.approx((1 / 1.87) / (1 / 1.95 + 1 / 1.87) - 1 / (1 + 100 / 110))
    assert rows[0]["placed_at"].endswith("+00:00")
    code, output = odds(["bets", "list", "--open", "--settled"], monkeypatch, capsys)
    assert code == 2
    for filters, expected in ((["--since", "2026-01-12"], 2), (["--since", "2026-01-13"], 0),
                              (["--source", "paper"], 0), (["--source", "manual"], 2)):  # fmt: skip
        code, output = odds(["bets", "list", *filters, "--json"], monkeypatch, capsys)
        assert code == 0
        assert len(json.loads(output)) == expected, filters
