"""Backtest engine pieces against hand-computed values: settlement, sizing, metrics, strategies, registry."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics.backtest import (
    STRATEGIES,
    BacktestConfig,
    Strategy,
    StrategyContext,
    UnknownStrategyError,
    decision_pairs,
    get_strategy,
    register_strategy,
    run_backtest_frames,
)
from odds_analytics.backtest.metrics import compute_metrics
from odds_analytics.backtest.settlement import settle
from odds_analytics.backtest.sizing import kelly_fraction, size_bets
from odds_analytics.backtest.synthetic import asof_reference, generate_season

TIP = pd.Timestamp("2024-01-10T00:30:00Z")
HOME, AWAY = "Boston Celtics", "Miami Heat"


def _bet(**kw: object) -> dict:
    base = {"market": "h2h", "side": "home", "point": np.nan, "home_score": 110, "away_score": 100,
            "status": "final", "stake": 1.0, "price_decimal": 2.0}  # fmt: skip
    return {**base, **kw}


def test_settlement_moneyline_spread_total_push_void() -> None:
    bets = pd.DataFrame(
        [
            _bet(),  # home wins by 10
            _bet(side="away"),
            _bet(market="spreads", side="home", point=-10.0),  # push
            _bet(market="spreads", side="away", point=9.5),  # 100 + 9.5 - 110 < 0: loss
            _bet(market="spreads", side="away", point=10.5, price_decimal=1.9),  # win
            _bet(market="totals", side="over", point=210.0),  # push
            _bet(market="totals", side="under", point=210.5, stake=2.0),  # win
            _bet(status="scheduled", home_score=None, away_score=None),  # void
        ]
    )
    out = settle(bets)
    assert out["result"].tolist() == ["win", "loss", "push", "loss", "win", "push", "win", "void"]
    assert out["profit"].tolist() == pytest.approx([1.0, -1.0, 0.0, -1.0, 0.9, 0.0, 2.0, 0.0])


def test_kelly_by_hand_and_no_edge_never_staked() -> None:
    # p = 0.55 at 2.0: f* = (0.55*2 - 1)/1 = 0.10
    assert kelly_fraction(0.55, 2.0) == pytest.approx(0.10)
    bets = pd.DataFrame(
        {"decision_time": [TIP] * 3, "commence_time": [TIP + timedelta(hours=1)] * 3, "event_id": ["a", "b", "c"],
         "market": "h2h", "prob": [0.55, 0.5, 0.45], "price_decimal": [2.0, 2.0, 2.0],
         "settle_profit_per_unit": [1.0, 1.0, 1.0]}
    )  # fmt: skip
    sized = size_bets(bets, staking="kelly", stake=1, bankroll=100, kelly_frac=0.5, max_bet_fraction=0.5,
                      max_stake=None, min_stake=10.0, requires_edge=True)  # fmt: skip
    # b (edge 0) and c (negative) are dropped; a: 100 * 0.5 * 0.10 = 5 < min_stake 10 -> skipped, not raised
    assert sized.empty
    sized = size_bets(bets, staking="kelly", stake=1, bankroll=100, kelly_frac=0.5, max_bet_fraction=0.02,
                      max_stake=None, min_stake=0.0, requires_edge=True)  # fmt: skip
    assert sized["event_id"].tolist() == ["a"]
    assert sized["stake"].tolist() == pytest.approx([2.0])  # capped at 2 % of 100
    flat = size_bets(bets, staking="flat", stake=3, bankroll=100, kelly_frac=0.5, max_bet_fraction=0.02,
                     max_stake=None, min_stake=0.0, requires_edge=True)  # fmt: skip
    assert flat["stake"].tolist() == [3.0]


def test_kelly_compounds_only_on_finished_games() -> None:
    bets = pd.DataFrame(
        {"decision_time": [TIP, TIP + timedelta(hours=1), TIP + timedelta(hours=5)],
         "commence_time": [TIP + timedelta(minutes=30)] * 2 + [TIP + timedelta(hours=6)],
         "event_id": ["a", "b", "c"], "market": "h2h", "prob": [0.6] * 3, "price_decimal": [2.0] * 3,
         "settle_profit_per_unit": [1.0, 1.0, 1.0]}
    )  # fmt: skip
    sized = size_bets(bets, staking="kelly", stake=1, bankroll=100, kelly_frac=1.0, max_bet_fraction=1.0,
                      max_stake=None, min_stake=0.0, requires_edge=True)  # fmt: skip
    # f* = 0.2. a: 20. b: game a not over yet (ends tip+3h) -> still 100 -> 20. c: a and b won 20 each -> 140 -> 28
    assert sized["stake"].tolist() == pytest.approx([20.0, 20.0, 28.0])


def _four_bets() -> pd.DataFrame:
    return pd.DataFrame(
        {"commence_time": pd.to_datetime(["2024-01-02T01:00Z", "2024-01-03T01:00Z", "2024-01-04T01:00Z",
                                          "2024-01-04T02:00Z"]),
         "decision_time": pd.to_datetime(["2024-01-02T00:00Z", "2024-01-03T00:00Z", "2024-01-04T00:00Z",
                                          "2024-01-04T00:00Z"]),
         "result": ["win", "loss", "loss", "push"], "stake": [1.0, 1.0, 2.0, 1.0], "profit": [1.5, -1.0, -2.0, 0.0],
         "price_decimal": [2.5, 1.9, 2.0, 1.9], "edge": [0.1, 0.05, 0.02, 0.01],
         "clv_prob": [0.02, -0.01, 0.03, np.nan], "alt_profit": [-1.0, 0.9, 2.0, 0.0],
         "market": ["h2h", "h2h", "spreads", "totals"], "venue": ["a", "b", "a", "a"], "month": "2024-01",
         "hours_before": [1.0, 1.0, 3.0, 3.0]}
    )  # fmt: skip


def test_metrics_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    import odds_analytics.backtest.metrics as metrics_module

    # the formulas by hand on four bets: the small-sample minimums lowered for this check only
    monkeypatch.setattr(metrics_module, "MIN_BETS", 2)
    monkeypatch.setattr(metrics_module, "MIN_BET_DAYS", 2)
    bets = _four_bets()
    m = compute_metrics(bets, bankroll=10.0, n_bootstrap=200, n_permutations=200, seed=1)
    assert m["bets"] == 4
    assert m["turnover"] == pytest.approx(5.0)
    assert m["profit"] == pytest.approx(-1.5)
    assert m["roi"] == pytest.approx(-0.3)
    assert m["win_rate"] == pytest.approx(1 / 3)
    assert m["clv_mean_pp"] == pytest.approx((0.02 - 0.01 + 0.03) / 3 * 100)
    assert m["clv_beat_share"] == pytest.approx(2 / 3)
    # equity 10 -> 11.5 -> 10.5 -> 8.5 -> 8.5: drawdown 3 from the 11.5 peak
    assert m["max_drawdown"] == pytest.approx(3.0)
    assert m["max_drawdown_pct"] == pytest.approx(3.0 / 11.5)
    # daily returns (ET dates Jan 1, 2, 3): 1.5/10, -1/11.5, -2/10.5
    r = np.array([1.5 / 10, -1 / 11.5, -2 / 10.5])
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(365))
    assert m["sortino"] == pytest.approx(r.mean() / np.sqrt((np.minimum(r, 0) ** 2).mean()) * np.sqrt(365))
    daily = r.mean() / r.std(ddof=1)
    assert m["sharpe_se"] == pytest.approx(np.sqrt((1 + daily**2 / 2) / 3) * np.sqrt(365))
    assert m["bet_days"] == 3
    lo, hi = m["roi_ci95"]
    assert lo < m["roi"] < hi
    assert 0 < m["p_value_vs_random"] <= 1
    by_market = {row["market"]: row for row in m["breakdowns"]["market"]}
    assert by_market["h2h"]["profit"] == pytest.approx(0.5)
    assert by_market["spreads"]["roi"] == pytest.approx(-1.0)


def test_small_samples_say_so() -> None:
    """Four bets over three days: no Sharpe, no ROI interval, and every mean or share reads "n too small"."""
    from odds_analytics.backtest.samples import MIN_BET_DAYS, MIN_BETS, headline_rows

    m = compute_metrics(_four_bets(), bankroll=10.0, n_bootstrap=200, n_permutations=200, seed=1)
    assert m["sharpe"] is None
    assert m["sortino"] is None
    assert m["roi_ci95"] is None
    assert (m["bet_days"], m["min_bets"], m["min_bet_days"]) == (3, MIN_BETS, MIN_BET_DAYS)
    assert m["clv_bets"] == 3  # the JSON keeps the count beside every CLV figure
    rows = dict(headline_rows(m))
    assert rows["ROI"] == "n too small (n=4)"
    assert rows["ROI 95% CI"] == "n too small (n=4)"
    assert rows["win rate"] == "n too small (1/3)"
    assert rows["CLV mean (pp)"] == "n too small (clv 3/4 bets)"
    assert rows["beat the close"] == "n too small (2/3)"
    assert rows["Sharpe ± se / Sortino (annualised)"] == "n too small (3 betting days; 30 needed)"
    # at the minimum the figures are printed, each with its n
    many = pd.concat([_four_bets()] * 10, ignore_index=True)
    many["commence_time"] = pd.date_range("2024-01-01T01:00Z", periods=40, freq="D")
    big = compute_metrics(many, bankroll=10.0, n_bootstrap=200, n_permutations=0, seed=1)
    rows = dict(headline_rows(big))
    assert big["roi_ci95"] is not None
    assert big["sharpe"] is not None
    assert rows["CLV mean (pp)"] == f"{big['clv_mean_pp']:+.3f} pp (clv 30/40 bets)"
    assert rows["ROI"].endswith("(n=40)")
    assert "± " in rows["Sharpe ± se / Sortino (annualised)"]
    assert "(40 betting days)" in rows["Sharpe ± se / Sortino (annualised)"]


def test_registry_and_adding_a_strategy() -> None:
    assert {"flat", "basic_ev", "line_shopping", "clv_model"} <= set(STRATEGIES)
    with pytest.raises(UnknownStrategyError, match="unknown strategy"):
        get_strategy("martingale")
    with pytest.raises(UnknownStrategyError, match="bad parameters"):
        get_strategy("basic_ev", colour="red")

    @register_strategy
    class AlwaysAway(Strategy):
        name = "test_always_away"

        def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
            q = quotes[(quotes["side"] == "away") & (quotes["market"] == "h2h")]
            return q.assign(prob=0.99)

    try:
        assert isinstance(get_strategy("test_always_away"), AlwaysAway)
    finally:
        STRATEGIES.pop("test_always_away")


def _quotes() -> pd.DataFrame:
    rows = []
    for venue, home, away in (("a", 1.80, 2.10), ("b", 1.85, 2.00), ("c", 1.70, 2.40), ("d", 1.78, 2.12)):
        for outcome, side, price in ((HOME, "home", home), (AWAY, "away", away)):
            rows.append({"request_index": 0, "event_id": "e1", "decision_time": TIP - timedelta(hours=1),
                         "hours_before": 1.0, "home_team": HOME, "away_team": AWAY, "commence_time": TIP,
                         "market": "h2h", "outcome": outcome, "side": side, "point": np.nan, "venue": venue,
                         "price_decimal": price, "snapshot_time": TIP - timedelta(hours=2),
                         "fair_prob": 0.55 if side == "home" else 0.45, "fair_point": np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_strategies_pick_by_hand() -> None:
    q = _quotes()
    ctx = StrategyContext()
    flat = get_strategy("flat", side="away").select(q, ctx)
    assert flat[["venue", "price_decimal"]].values.tolist() == [["c", 2.40]]
    fav = get_strategy("flat", side="favorite").select(q, ctx)
    assert fav["outcome"].tolist() == [HOME]
    # basic_ev: home best 1.85*0.55 = 1.0175 (1.75 %), away best 2.40*0.45 = 1.08 (8 %): away at c
    ev = get_strategy("basic_ev", min_edge=0.02).select(q, ctx)
    assert ev[["outcome", "venue"]].values.tolist() == [[AWAY, "c"]]
    assert get_strategy("basic_ev", min_edge=0.09).select(q, ctx).empty
    # line_shopping: away median 2.11, c is 13.7 % above it, with edge
    ls = get_strategy("line_shopping", min_improvement=0.1).select(q, ctx)
    assert ls[["outcome", "venue"]].values.tolist() == [[AWAY, "c"]]
    assert get_strategy("line_shopping", min_improvement=0.2).select(q, ctx).empty


def test_clv_model_uses_only_predictions_made_before_the_decision() -> None:
    q = _quotes()
    decision = TIP - timedelta(hours=1)
    preds = pd.DataFrame(
        {"event_id": ["e1", "e1"], "market": ["h2h", "h2h"], "outcome": [HOME, HOME],
         "decision_time": [decision - timedelta(minutes=5), decision + timedelta(seconds=1)],
         "predicted_close": [0.50, 0.90]}
    )  # fmt: skip
    picks = get_strategy("clv_model", min_edge=0.0).select(q, StrategyContext(predictions=preds))
    # 0.50 x 1.85 < 1: no bet. The later (0.90) prediction would have bet: it must be ignored.
    assert picks.empty
    preds.loc[0, "predicted_close"] = 0.60  # 0.6 x 1.85 = 1.11
    picks = get_strategy("clv_model", min_edge=0.0).select(q, StrategyContext(predictions=preds))
    assert picks[["outcome", "venue", "prob"]].values.tolist() == [[HOME, "b", 0.60]]


def test_clv_model_reads_a_spread_prediction_as_a_line_even_when_it_looks_like_a_probability() -> None:
    q = _quotes().assign(market="spreads", point=0.5, price_decimal=1.91)
    q = q[q["outcome"] == AWAY]
    decision = TIP - timedelta(hours=1)
    preds = pd.DataFrame(
        {"event_id": ["e1"], "market": ["spreads"], "outcome": [AWAY],
         "decision_time": [decision - timedelta(minutes=5)], "predicted_close": [0.5]}
    )  # fmt: skip
    picks = get_strategy("clv_model", min_edge=0.0).select(q, StrategyContext(predictions=preds))
    # A close predicted at +0.5 equals the quoted +0.5: fair 50 % x 1.91 < 1, so no bet. Read as a
    # probability of 0.5 it would be the same; at +0.7 (a line) vs 0.7 (a probability) they differ:
    assert picks.empty
    preds.loc[0, "predicted_close"] = 0.7
    picks = get_strategy("clv_model", min_edge=0.0).select(q, StrategyContext(predictions=preds))
    assert picks.empty or float(picks["prob"].iloc[0]) < 0.52  # a 0.2-point edge, not a 70 % probability


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="before start"):
        BacktestConfig(strategy="flat", start="2024-02-01", end="2024-01-01")
    with pytest.raises(ValueError, match="devig_method"):
        BacktestConfig(strategy="flat", start="2024-01-01", end="2024-01-02", devig_method="magic")
    cfg = BacktestConfig(strategy="flat", start="2024-01-01", end="2024-01-02", decision_hours=[1, 12, 3, 3])
    assert cfg.decision_hours == [12, 3, 1]
    assert cfg.key("a") == cfg.key("a") != cfg.key("b")


@pytest.fixture(scope="module")
def season() -> tuple:
    s = generate_season(n_events=120, seed=5, first_hours=24, interval_minutes=60)
    cfg = BacktestConfig(strategy="basic_ev", start="2024-10-01", end="2025-06-01", decision_hours=[1, 3, 12],
                         n_bootstrap=200, n_permutations=200)  # fmt: skip
    pairs = decision_pairs(s.events, cfg.decision_hours)
    odds = asof_reference(s.odds, pairs, timedelta(hours=24))
    close_pairs = s.events.assign(request_index=range(len(s.events)),
                                  decision_time=s.events["commence_time"] - timedelta(microseconds=1))  # fmt: skip
    closing = asof_reference(s.odds, close_pairs, timedelta(days=2)).assign(source="snapshots")
    closing = closing.merge(s.events[["event_id", "commence_time"]], on="event_id")
    return s, cfg, pairs, odds, closing


def test_engine_end_to_end_on_a_generated_season(season: tuple) -> None:
    s, cfg, pairs, odds, closing = season
    result = run_backtest_frames(cfg, events=s.events, odds=odds, closing=closing, pairs=pairs)
    bets = result.bets
    assert len(bets) > 20
    assert (bets["snapshot_time"] <= bets["decision_time"]).all()
    assert (bets["edge"] > 0).all()
    assert not bets.duplicated(["event_id", "market"]).any()  # one bet per event and market
    assert set(bets["hours_before"]) <= {1.0, 3.0, 12.0}
    assert bets["clv_prob"].notna().all()
    m = result.metrics
    assert m["bets"] == len(bets)
    assert m["profit"] == pytest.approx(bets["profit"].sum())
    records = result.bet_records()
    assert records[0]["decision_time"].endswith("+00:00")
    flat = run_backtest_frames(cfg.model_copy(update={"strategy": "flat"}), events=s.events, odds=odds,
                               closing=closing, pairs=pairs)  # fmt: skip
    assert flat.metrics["bets"] == len(s.events)  # the baseline bets every game, edge or not


def test_engine_ignores_a_planted_future_price(season: tuple) -> None:
    s, cfg, pairs, odds, closing = season
    planted = odds.copy()
    planted["snapshot_time"] = planted["decision_time"] + timedelta(seconds=1)
    planted["price_decimal"] = 50.0
    planted["bookmaker"] = "future_book"
    result = run_backtest_frames(
        cfg, events=s.events, odds=pd.concat([odds, planted]), closing=closing, pairs=pairs
    )
    assert "future_book" not in set(result.bets["venue"])
    assert (result.bets["price_decimal"] < 50).all()


def test_clv_model_matches_predictions_to_categorical_quotes() -> None:
    """The backtest flow reads quotes with categorical keys (`categorical=True`); predictions come as strings."""
    q = _quotes()
    q = q.assign(**{k: q[k].astype("category") for k in ("event_id", "market", "outcome", "venue")})
    decision = TIP - timedelta(hours=1)
    preds = pd.DataFrame(
        {"event_id": ["e1", "other"], "market": ["h2h", "h2h"], "outcome": [HOME, HOME],
         "decision_time": [decision - timedelta(minutes=5)] * 2, "predicted_close": [0.60, 0.99]}
    )  # fmt: skip
    picks = get_strategy("clv_model", min_edge=0.0).select(q, StrategyContext(predictions=preds))
    assert picks[["outcome", "venue", "prob"]].astype(object).values.tolist() == [[HOME, "b", 0.60]]
