"""The demo report's text and series, from the figures the demo read (pure: no files, no database).

`report_markdown` is the text of `report.md` (with `ledger_lines`, the bet ledger's section);
`tasks.storage.demo_report.render_report` draws the charts (with `fair_home_probabilities`,
`polymarket_home` and the ledger's cumulative CLV) and writes both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from odds_analytics.backtest.report import polymarket_pricing_line
from odds_analytics.backtest.samples import headline_rows
from odds_analytics.ledger import SAMPLE_BET_NOTE
from odds_analytics.ledger import report_markdown as ledger_markdown
from odds_analytics.model_gate import NO_VALIDATED_MODEL, gate
from odds_models.teams import resolve_team

__all__ = [
    "backtest_lines",
    "bet_fee",
    "digest",
    "fair_home_probabilities",
    "ledger_lines",
    "model_summary_lines",
    "polymarket_home",
    "report_markdown",
    "timing_lines",
    "timing_rows",
]


def fair_home_probabilities(
    h2h: list[tuple[datetime, str, str, float]], home: str
) -> dict[str, list[tuple[datetime, float]]]:
    """Per bookmaker, the devigged (multiplicative) home-win probability at each snapshot."""
    by_key: dict[tuple[str, datetime], dict[str, float]] = {}
    for moment, book, outcome, price in h2h:
        if price and price > 1.0:
            by_key.setdefault((book, moment), {})[outcome] = 1.0 / price
    series: dict[str, list[tuple[datetime, float]]] = {}
    for (book, moment), implied in sorted(by_key.items(), key=lambda kv: kv[0][1]):
        if home in implied and len(implied) == 2:
            series.setdefault(book, []).append((moment, implied[home] / sum(implied.values())))
    return series


def polymarket_home(
    points: list[tuple[datetime, str, float, str]], home: str
) -> list[tuple[datetime, float]]:
    """The polled Polymarket price of the home team's token, over time."""
    team = resolve_team(home)
    out = []
    for moment, outcome, price, source in points:
        if price is None or source != "poll":
            continue
        if team is not None and resolve_team(outcome or "") is team:
            out.append((moment, float(price)))
    return out


def report_markdown(
    *,
    figures: dict[str, Any],
    steps: dict[str, Any],
    replay: dict[str, Any],
    meta: dict[str, Any],
    charts: list[str],
) -> str:
    """The text of `report.md`; `charts` are the file names of the charts written next to it."""
    counts = figures["counts"]
    lines = [
        "# odds-pipeline demo report",
        "",
        f"Source: **{meta['source']}** replay data (not real markets)"
        + (f", seed {meta['seed']}" if meta["source"] == "simulated" else "")
        + f". Simulated span {meta['start']:%Y-%m-%d %H:%M} → {meta['end']:%Y-%m-%d %H:%M} UTC, "
        f"{steps['ticks']} ticks; faults {'ON' if meta['faults'] else 'off'}; wall time {meta['wall']:.0f} s.",
        "",
        "## What was collected",
        "",
        "| table | rows |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in counts.items()],
        "",
        f"Events by status: {_inline(figures.get('events_by_status', {}))}.",
        "",
        "## Calls and quota",
        "",
        f"The Odds API credits spent (replay ledger): **{replay['credits_used']}** "
        f"({_inline(replay['credits_by_route'])}). Requests by API: {_inline(replay['calls'])}.",
        "",
        "| api | calls logged | errors | credits | retried |",
        "|---|---|---|---|---|",
        *[
            f"| {r['api']} | {r['calls']} | {r['errors']} | {r['credits']} | {r['retried']} |"
            for r in figures["fetch_logs"]
        ],
        "",
    ]
    if replay.get("faults_injected"):
        lines += [f"Faults injected by the replay service: {_inline(replay['faults_injected'])} "
                  f"over {replay['requests']} requests.", ""]  # fmt: skip
    lines += ["## Data quality", ""]
    lines += [f"- {q['check']} ({q['severity']}): {q['count']}" for q in figures["quality"]] or [
        "- no findings"
    ]
    lines += ["", "## Polymarket links", "", f"{_inline(figures['links']) or 'no Polymarket events'}.", ""]
    if figures.get("pm_fees"):
        lines += [
            f"Fee terms of the Polymarket markets (as Gamma states them): {_inline(figures['pm_fees'])}.",
            "",
        ]
    lines += [
        "## Flows",
        "",
        "| flow | runs |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in steps["runs"].items()],
        "",
    ]
    if steps.get("missing"):
        lines += [f"Not available yet (skipped): {', '.join(steps['missing'])}.", ""]
    for name, why in steps.get("skipped", {}).items():
        lines += [f"Skipped {name}: {why}.", ""]
    if steps["failures"]:
        lines += ["Failures (the demo went on):", ""]
        lines += [f"- {f['at'][:16]} {f['flow']}: {f['error']}" for f in steps["failures"][:15]]
        if len(steps["failures"]) > 15:
            lines.append(f"- ... {len(steps['failures']) - 15} more")
        lines.append("")
    lines += timing_lines(steps)
    lines += ["## Analysis", ""]
    lines += backtest_lines(figures["backtests"])
    for model in figures["models"]:
        metrics = model["metrics"] if isinstance(model.get("metrics"), dict) else {}
        wf = metrics.get("walk_forward") or {}
        verdict = gate({"kind": model["kind"], **wf})
        lines.append(
            f"- model `{model['name']}` ({model['kind']}): walk-forward n {wf.get('n', '-')}, folds "
            f"{wf.get('folds', '-')}, skill vs no change {_num(wf.get('skill_vs_no_change'))} "
            f"(95 % interval {_ci(wf.get('skill_ci95'))}); gate {'pass' if verdict.passed else 'fail'}: "
            f"{verdict.reason}"
        )
    if not figures["backtests"] and not figures["models"]:
        lines.append("- no backtest or model results (see Flows above)")
    lines.append("")
    model_lines = model_summary_lines(steps.get("results", {}))
    if model_lines:
        lines += ["## Model: out-of-sample evaluation and recommendations", "", *model_lines, ""]
    lines += ledger_lines(
        figures.get("ledger"), "cumulative_clv.png" if "cumulative_clv.png" in charts else None
    )
    charts = [c for c in charts if c != "cumulative_clv.png"]
    if charts:
        chart = figures["chart"]
        lines += ["## Line movement", "",
                  f"{chart['away']} @ {chart['home']}, tip-off {chart['commence']:%Y-%m-%d %H:%M} UTC: the fair home-win "
                  "probability of each book (vig removed) and the Polymarket mid, moving toward the close.", ""]  # fmt: skip
        lines += [f"![{name.rsplit('.', 1)[0]}]({name})" for name in charts]
        lines.append("")
    return "\n".join(lines)


def ledger_lines(ledger: dict[str, Any] | None, chart: str | None) -> list[str]:
    """The bet ledger's section: how the paper bets came about, the figures with their counts, every bet."""
    if not ledger:
        return []
    bets = ledger["bets"]
    n_paper = sum(b.get("source") == "paper" for b in bets)
    n_sample = sum(b.get("note") == SAMPLE_BET_NOTE for b in bets)
    lines = [
        "## Bet ledger: bets against the close",
        "",
        "A model publishes picks only once it passes the gate (walk-forward skill against no change and the "
        "lower end of its 95 % interval above 0) and is promoted; the demo asks for promotion and never bypasses "
        "the gate. Every pick a live model published is a paper bet at its published price and stake (fractional "
        "Kelly of BANKROLL, capped), recorded once per side of a game, 2 h before each game of the second half of "
        "the span (the `predict` tick replayed at that simulated moment: every read is as of it). When no model "
        f"passed, `predict` published nothing (**{NO_VALIDATED_MODEL}**) and the demo recorded one manual "
        "**sample bet** (1 unit) per game at the same moments instead: the home spread at the best current price, "
        "a fixed rule and not a recommendation. `settle-bets` settled them all against the simulated close "
        "(devigged consensus of the sharp books' last snapshot before tip-off) and the final scores.",
        "",
        f"In this run: {n_paper} paper bets (model picks), {n_sample} sample bets.",
        "",
    ]
    pm = [b for b in bets if b.get("venue") == "polymarket"]
    if pm:
        fees = [bet_fee(b) for b in pm]
        lines += [
            f"Polymarket bets: {len(pm)}, filled on the stored book at the stake with each market's fee terms "
            f"from Gamma; fees paid {sum(f for f in fees if f is not None):.2f} "
            f"({sum(1 for f in fees if f)} of {len(pm)} bets paid a fee; the others were in fee-free markets).",
            "",
        ]
    if not bets:
        return [*lines, "No bets: no pick was published and no sample bet recorded.", ""]
    lines += ledger_markdown(ledger["report"], title="Figures", heading="###")
    lines += [
        "### Every bet (in tip-off order)",
        "",
        "| # | source | tip-off (UTC) | game | bet | venue | price | paid (implied) | fee | fair close | CLV (pp) | result | profit | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bet in sorted(bets, key=lambda b: (b["commence_time"], b["placed_at"], b["id"])):
        line = bet.get("line")
        side = bet["outcome"] + (
            "" if line is None else f" {line:+g}" if bet["market"] == "spreads" else f" {line:g}"
        )
        close, clv, profit = bet.get("close_prob"), bet.get("clv_prob"), bet.get("profit")
        fee = bet_fee(bet)
        status = bet["status"] + (f" ({bet['open_reason']})" if bet.get("open_reason") else "")
        lines.append(
            f"| {bet['id']} | {'sample' if bet.get('note') == SAMPLE_BET_NOTE else bet.get('source', '-')} | "
            f"{bet['commence_time']:%m-%d %H:%M} | {bet['away_team']} @ {bet['home_team']} | "
            f"{bet['market']} {side} | {bet['venue']} | {bet['price_decimal']:.3f} | {1 / bet['price_decimal']:.3f} | "
            f"{'-' if fee is None else f'{fee:.4f}'} | "
            f"{'-' if close is None else f'{close:.3f}'} | {'-' if clv is None else f'{clv * 100:+.2f}'} | "
            f"{bet.get('result') or '-'} | {'-' if profit is None else f'{profit:+.2f}'} | {status} |"
        )
    lines.append("")
    if chart:
        lines += [f"![cumulative CLV]({chart})", ""]
    return lines


def backtest_lines(backtests: list[dict[str, Any]]) -> list[str]:
    """One line per stored backtest run, every figure with its n (below the minimum counts "n too small",
    `odds_analytics.backtest.samples`); under it, when it bet Polymarket, how those bets were priced and the
    fees they paid."""
    lines = []
    for run in backtests:
        metrics = run["metrics"] if isinstance(run.get("metrics"), dict) else {}
        rows = headline_rows(metrics) if metrics else []
        lines.append(f"- backtest `{run['strategy']}`: " + "; ".join(f"{k} {v}" for k, v in rows))
        counts = metrics.get("counts")
        if isinstance(counts, dict) and counts.get("polymarket_bets"):
            lines.append(f"  - {polymarket_pricing_line(counts)}")
    return lines


def bet_fee(bet: dict[str, Any]) -> float | None:
    """A Polymarket bet's taker fee in dollars: shares × fill price × fee rate (None for other venues)."""
    shares, fill, rate = bet.get("shares"), bet.get("fill_price"), bet.get("fee_rate")
    if bet.get("venue") != "polymarket" or shares is None or fill is None:
        return None
    return float(shares) * float(fill) * float(rate or 0.0)


def timing_rows(steps: dict[str, Any]) -> list[tuple[str, str, float]]:
    """Where the demo's wall time went: (stage, runs, seconds), the phases first, then every flow (slowest
    first). `steps["timing"]["phases"]` comes from `flows.demo.run_demo`; `steps["seconds"]` per flow."""
    phases = steps.get("timing", {}).get("phases", {})
    rows = [(name, "", float(seconds)) for name, seconds in phases.items()]
    flows = sorted(steps.get("seconds", {}).items(), key=lambda kv: -kv[1])
    rows += [
        (f"  {name}", str(steps.get("runs", {}).get(name, 0)), float(seconds)) for name, seconds in flows
    ]
    return rows


def timing_lines(steps: dict[str, Any]) -> list[str]:
    """The timing table as Markdown (`report.md`): empty when there is nothing timed."""
    rows = timing_rows(steps)
    if not rows:
        return []
    return [
        "## Where the time went",
        "",
        "| stage | runs | seconds |",
        "|---|---|---|",
        *[f"| {name.strip() if not name.startswith('  ') else '- ' + name.strip()} | {runs} | {seconds:.1f} |"
          for name, runs, seconds in rows],
        "",
    ]  # fmt: skip


def model_summary_lines(results: dict[str, Any]) -> list[str]:
    """The evaluation (model vs the no-change baseline) and the recommendations, one line each."""
    lines: list[str] = []
    evaluation = results.get("evaluate-model")
    if isinstance(evaluation, dict) and "n" in evaluation:
        base = evaluation.get("baseline") or {}

        def fig(d: dict[str, Any], key: str) -> str:
            value = d.get(key)
            return f"{value:.4f}" if isinstance(value, int | float) else "-"

        lines.append(
            f"- evaluate `{evaluation.get('model', evaluation.get('kind', 'selected'))}` on {evaluation['n']} "
            f"unseen samples: r2 {fig(evaluation, 'r2')}, rmse {fig(evaluation, 'rmse')}, mae "
            f"{fig(evaluation, 'mae')}, directional accuracy {fig(evaluation, 'directional_accuracy')}; "
            f"no-change baseline rmse {fig(base, 'rmse')}, mae {fig(base, 'mae')}"
        )
    prediction = results.get("predict")
    if isinstance(prediction, dict):
        # only positive-expected-value sides are recommendations (the others are scored, not published)
        recs = [
            r for r in prediction.get("recommendations") or [] if isinstance(r, dict) and r.get("recommended")
        ]
        models = prediction.get("models") or {}
        for market, status in models.items():
            if isinstance(status, dict) and not status.get("model"):
                lines.append(f"- predict {market}: **{NO_VALIDATED_MODEL}**: no pick published")
            elif isinstance(status, dict):
                lines.append(f"- predict {market}: picks from {status.get('label')}")
        lines.append(
            f"- predict: {prediction.get('predictions_written', 0)} predictions written, "
            f"{prediction.get('picks', len(recs))} recommendations (positive expected return)"
        )
        for rec in recs:
            point = rec.get("best_point")
            side = f"{rec.get('outcome')}" + (f" {point:+g}" if isinstance(point, int | float) else "")
            clv, ret = rec.get("expected_clv"), rec.get("exp_return")
            lines.append(
                f"  - {rec.get('away_team')} @ {rec.get('home_team')} {rec.get('market')}: {side} at "
                f"{rec.get('best_venue')} {rec.get('best_price_decimal')}"
                + (f", expected CLV {clv * 100:+.2f} pp" if isinstance(clv, int | float) else "")
                + (f", expected return {ret:+.2%}" if isinstance(ret, int | float) else "")
                + (f"; {rec['model']}" if rec.get("model") else "")
            )
    return lines


def digest(value: Any) -> Any:
    """A JSON-friendly digest of a flow's return value (no data frames, lists cut short)."""
    if isinstance(value, dict):
        return {str(k): digest(v) for k, v in list(value.items())[:30]}
    if isinstance(value, list | tuple):
        return [digest(v) for v in value[:5]] + ([f"... {len(value) - 5} more"] if len(value) > 5 else [])
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)[:200]


def _num(value: Any) -> str:
    return f"{value:+.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _ci(value: Any) -> str:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return "-"
    return f"{_num(value[0])} to {_num(value[1])}"


def _inline(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())
