"""`odds backtest run --strategy NAME --start DATE --end DATE [--decision-hours 1,3,12] [--json]`."""

from __future__ import annotations

import json
from typing import Any

import typer

from odds_cli.common import console, emit_json, parse_date, parse_hours_list, run_async

__all__ = ["app"]

app = typer.Typer(help="Backtest betting strategies on stored history (no look-ahead).", no_args_is_help=True)


def _param(values: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command("run")
def run(  # noqa: PLR0917 - typer options are parameters
    strategy: str = typer.Option(..., "--strategy", help="flat, basic_ev, line_shopping or clv_model."),
    start: str = typer.Option(..., "--start", help="First tip-off date, YYYY-MM-DD (UTC)."),
    end: str = typer.Option(..., "--end", help="Last tip-off date, YYYY-MM-DD (UTC), inclusive."),
    decision_hours: str = typer.Option(
        "1,3,12", "--decision-hours", help="Hours before tip-off, comma list."
    ),
    param: list[str] = typer.Option([], "--param", help="Strategy parameter KEY=VALUE (repeatable)."),
    markets: str = typer.Option("h2h,spreads,totals", "--markets", help="Markets to bet, comma list."),
    venues: str | None = typer.Option(
        None, "--venues", help="Bettable sportsbooks, comma list (default: all)."
    ),
    staking: str = typer.Option("flat", "--staking", help="flat or kelly."),
    stake: float = typer.Option(1.0, "--stake", help="Flat stake (units)."),
    bankroll: float = typer.Option(100.0, "--bankroll", help="Starting bankroll (units)."),
    kelly_fraction: float = typer.Option(0.25, "--kelly-fraction", help="Fraction of full Kelly."),
    fair_basis: str = typer.Option("consensus", "--fair-basis", help="consensus or sharp."),
    devig_method: str | None = typer.Option(None, "--devig-method", help="Default: setting DEVIG_METHOD."),
    no_polymarket: bool = typer.Option(False, "--no-polymarket", help="Do not bet on Polymarket."),
    model_name: str | None = typer.Option(None, "--model-name", help="clv_model: predictions of this model."),
    max_quote_age: float | None = typer.Option(
        None, "--max-quote-age", help="Minutes: older prices are not used (default: MAX_QUOTE_AGE_MINUTES)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Do not write the report folder."),
    as_json: bool = typer.Option(False, "--json", help="Print parameters, metrics and every bet as JSON."),
) -> None:
    """Run a backtest and print its summary (saved to backtest_runs and a report folder)."""
    from pydantic import ValidationError

    from odds_analytics.backtest import STRATEGIES, BacktestConfig, get_strategy
    from odds_analytics.backtest.strategies import UnknownStrategyError
    from odds_models.settings import get_settings

    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"unknown strategy {strategy!r} (choose {', '.join(sorted(STRATEGIES))})",
                                 param_hint="--strategy")  # fmt: skip
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    assert first is not None
    assert last is not None
    if last < first:
        raise typer.BadParameter(f"end {last} is before start {first}", param_hint="--end")
    hours = parse_hours_list(decision_hours, "--decision-hours")
    params = _param(param)
    try:
        get_strategy(strategy, **params)
    except UnknownStrategyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--param") from None
    settings = get_settings()
    try:
        config = BacktestConfig(
            strategy=strategy, strategy_params=params, start=first, end=last, decision_hours=hours,
            markets=_csv(markets) or [], venues=_csv(venues), include_polymarket=not no_polymarket,
            polymarket_default_fee_rate=settings.polymarket_default_fee_rate,
            polymarket_default_fee_exponent=settings.polymarket_default_fee_exponent, fair_basis=fair_basis,
            sharp_books=settings.sharp_books,
            devig_method=devig_method or settings.devig_method, staking=staking, stake=stake, bankroll=bankroll,
            kelly_fraction=kelly_fraction, max_staleness_minutes=settings.max_staleness_minutes,
            max_quote_age_minutes=settings.max_quote_age_minutes if max_quote_age is None else max_quote_age,
        )  # fmt: skip
    except ValidationError as exc:
        first_error = exc.errors()[0]
        where = ".".join(str(p) for p in first_error.get("loc", ())) or "options"
        raise typer.BadParameter(f"{where}: {first_error['msg']}") from None

    from flows.backtest import run_backtest

    out = run_async(
        run_backtest(config, model_name=model_name, write_report=not no_report, include_bets=as_json)
    )
    if as_json:
        emit_json(out)
        return
    _print_summary(out)


def _print_summary(out: dict[str, Any]) -> None:
    from rich.table import Table

    from odds_analytics.backtest.samples import headline_rows

    m = out["metrics"]
    table = Table(
        title=f"Backtest {out['strategy']} {out['start']} → {out['end']} (hours {out['decision_hours']})"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in headline_rows(m):
        table.add_row(name, value)
    console.print(table)
    counts = out.get("counts") or {}
    if "stale_quotes" in counts:
        console.print(
            f"staleness bound {counts['max_quote_age_minutes']:g} min: {counts['stale_quotes']}/"
            f"{counts['quotes_read']} quotes too old at their decision (not used); "
            f"{counts['decisions_without_current_price']}/{counts['decisions']} decisions without a current price"
        )
    if counts.get("polymarket_bets"):
        from odds_analytics.backtest.report import polymarket_pricing_line

        console.print(polymarket_pricing_line(counts))
    console.print(f"Sharpe basis: {m['sharpe_basis']}")
    console.print(
        "CLV = fair probability at the close - implied probability paid (pp); n/N = bets with a close / bets"
    )
    console.print(f"run_key {out['run_key']}  report: {out['report_path']}")
