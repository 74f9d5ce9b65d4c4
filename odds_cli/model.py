"""`odds model ...`: train the CLV models, evaluate them out of sample, predict and recommend."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, parse_date, run_async, wide_console

app = typer.Typer(help="CLV models: predict the close, pick the venue.", no_args_is_help=True)

_MARKETS = ("h2h", "spreads", "totals")
MarketOption = Annotated[str, typer.Option("--market", help="h2h, spreads or totals.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
BankrollOption = Annotated[
    float | None,
    typer.Option(
        "--bankroll", min=0.01, help="Dollars; stakes are fractional Kelly of it (default BANKROLL)."
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at", help="Score as of this time: ISO 8601 with its offset, e.g. 2026-12-04T18:00:00+00:00."
    ),
]


def decision_time_option(at: str | None) -> Any:
    """`--at` as an aware UTC datetime (None: now); naive, unparsable or out of range: exit 2, one line."""
    if at is None:
        return None
    from odds_analytics.board import parse_decision_time
    from odds_models.clock import now
    from odds_models.errors import BadArgument

    try:
        return parse_decision_time(at, now())
    except BadArgument as exc:
        raise typer.BadParameter(str(exc).removeprefix("--at "), param_hint="--at") from None


def _market(value: str) -> str:
    if value not in _MARKETS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(_MARKETS)}", param_hint="--market")
    return value


def _run(coro: Any) -> Any:
    from odds_models.db import dispose_engine

    async def wrapped() -> Any:
        try:
            return await coro
        finally:
            await dispose_engine()

    return run_async(wrapped())


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@app.command("train")
def train(
    market: MarketOption,
    until: Annotated[
        str | None, typer.Option("--until", help="Train on events before this date (YYYY-MM-DD).")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="Walk-forward test blocks.")] = 5,
    scheme: Annotated[str, typer.Option("--scheme", help="expanding or sliding window.")] = "expanding",
    json_output: JsonOption = False,
) -> None:
    """Walk-forward validate every model, register each refitted on the whole window, select the best."""
    from flows.model import train_model
    from odds_analytics.clv_training import TrainConfig

    market = _market(market)
    if scheme not in ("expanding", "sliding"):
        raise typer.BadParameter("must be expanding or sliding", param_hint="--scheme")
    until_date = parse_date(until, "--until")
    summary = _run(train_model(market, until_date, TrainConfig(n_folds=folds, scheme=scheme)))
    if json_output:
        emit_json(summary)
        return
    table = Table(
        f"{market} (walk-forward, {scheme})",
        "n",
        "r2",
        "rmse",
        "mae",
        "dir. acc.",
        "skill vs 0",
        "CLV captured",
    )
    for kind, row in summary["walk_forward"].items():
        table.add_row(
            kind,
            _fmt(row["n"]),
            _fmt(row["r2"]),
            _fmt(row["rmse"]),
            _fmt(row["mae"]),
            _fmt(row["directional_accuracy"]),
            _fmt(row["skill_vs_no_change"]),
            _fmt(row["clv_captured"]),
        )
    console.print(table)
    validated = "" if summary["validated"] else " (not validated: too few events for a walk-forward fold)"
    console.print(f"selected: [bold]{summary['selected']}[/bold]{validated}")
    for model in summary["models"]:
        console.print(f"  registered {model['name']} {model['version']} (id {model['id']})")


@app.command("evaluate")
def evaluate(
    market: MarketOption,
    date_from: Annotated[str, typer.Option("--from", help="First tip-off date (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Last tip-off date, inclusive (YYYY-MM-DD).")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="Model kind (default: the selected one).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Score the latest model trained before --from on the window's events, against no change."""
    from flows.model import evaluate_model

    market = _market(market)
    start = parse_date(date_from, "--from")
    end = parse_date(date_to, "--to")
    if start is None or end is None or end < start:
        raise typer.BadParameter("--to must not be before --from", param_hint="--to")
    result = _run(evaluate_model(market, start, end, kind))
    if json_output:
        emit_json(result)
        return
    table = Table("", "n", "r2", "rmse", "mae", "directional_accuracy")
    keys = ("n", "r2", "rmse", "mae", "directional_accuracy")
    table.add_row(f"{result['kind']} ({result['model']})", *(_fmt(result[k]) for k in keys))
    table.add_row("no change", *(_fmt(result["baseline"][k]) for k in keys))
    console.print(table)


@app.command("predict")
def predict(  # noqa: PLR0917 - typer options
    market: Annotated[list[str] | None, typer.Option("--market", help="Markets (default: all).")] = None,
    horizon: Annotated[float, typer.Option("--horizon-hours", help="Score events this far ahead.")] = 48.0,
    min_edge: Annotated[float, typer.Option("--min-edge", help="Minimum expected CLV to recommend.")] = 0.01,
    bankroll: BankrollOption = None,
    at: AtOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every side, not only recommendations.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Score upcoming games now (or --at); list each side's venue, price at the stake, fee, stake, expected CLV."""
    from flows.model import predict as predict_flow

    markets = [_market(m) for m in market] if market else None
    when = decision_time_option(at)
    result = _run(predict_flow(markets, horizon, min_edge, bankroll, when))
    if json_output:
        emit_json(result)
        return
    rows = [r for r in result["recommendations"] if show_all or r["recommended"]]
    table = Table(
        "game", "market", "side", "venue", "top", "paid", "fee", "stake", "now", "pred. close", "CLV pp",
        "exp. return",
    )  # fmt: skip
    for r in rows:
        point = r.get("best_point")
        point = "" if point is None else (f" {point:+g}" if r["market"] == "spreads" else f" {point:g}")
        top, fee, stake = r.get("price_top"), r.get("fee"), r.get("stake")
        paid = r["best_price_decimal"]
        table.add_row(
            f"{r.get('away_team')} @ {r.get('home_team')}",
            r["market"],
            f"{r['outcome']}{point}",
            r["best_venue"],
            "" if top is None else f"{top:.3f}",
            f"{paid:.3f}",
            "" if fee is None else f"{fee:.2f}" + (" (assumed)" if r.get("fee_assumed") else ""),
            "" if stake is None else f"{stake:.2f}" + (" (depth)" if r.get("stake_limit") == "depth" else ""),
            f"{r['current']:.3f}",
            f"{r['predicted_close']:.3f}",
            f"{100 * (r['p_close'] - 1 / paid):+.2f}",
            f"{r['expected_clv']:+.2%}",
        )
    wide_console().print(table)
    console.print(
        f"{result['predictions_written']} predictions written at {result['decision_time']:%Y-%m-%d %H:%M} UTC; "
        f"stakes for a bankroll of {result['bankroll']:,.2f}"
    )
