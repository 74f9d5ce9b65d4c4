"""`odds model ...`: train the CLV models, list and promote them, evaluate out of sample, predict and recommend.

Only the live model of a market (promoted with `odds model promote ID` or `odds model train --promote`, and
passing the gate of `odds_analytics.model_gate`) publishes picks; every output of picks names it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, parse_date, run_db, to_jsonable, wide_console

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


def check_market(value: str) -> str:
    if value not in _MARKETS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(_MARKETS)}", param_hint="--market")
    return value


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(value: Any) -> str:
    if not value or value[0] is None or value[1] is None:
        return "-"
    return f"[{value[0]:+.4f}, {value[1]:+.4f}]"


def _clv_captured(row: dict[str, Any]) -> str:
    """CLV captured (target units) with its count: the decisions acted on out of all."""
    return f"{_fmt(row.get('clv_captured'))} ({row.get('n_acted') or 0}/{row.get('n') or 0})"


@app.command("train")
def train(  # noqa: PLR0917 - typer options are parameters
    market: MarketOption,
    until: Annotated[
        str | None, typer.Option("--until", help="Train on events before this date (YYYY-MM-DD).")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="Walk-forward test blocks.")] = 5,
    scheme: Annotated[str, typer.Option("--scheme", help="expanding or sliding window.")] = "expanding",
    promote: Annotated[
        bool,
        typer.Option("--promote", help="Make the selected model live if it passes the gate (recorded)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Walk-forward validate every model, register each as a candidate; never changes the live model
    unless --promote and the gate passes."""
    from flows.model import train_model
    from odds_analytics.clv_training import TrainConfig

    market = check_market(market)
    if scheme not in ("expanding", "sliding"):
        raise typer.BadParameter("must be expanding or sliding", param_hint="--scheme")
    until_date = parse_date(until, "--until")
    summary = run_db(
        train_model(
            market, until_date, TrainConfig(n_folds=folds, scheme=scheme), promote=promote,
            promoted_by=f"{_who()} (odds model train --promote)",
        )
    )  # fmt: skip
    if json_output:
        emit_json(summary)
        return
    table = Table(
        f"{market} (walk-forward, {scheme})", "n", "folds", "r2", "rmse", "dir. acc.", "skill vs 0",
        "skill 95% CI", "CLV captured (n/N)", "gate",
    )  # fmt: skip
    for kind, row in summary["walk_forward"].items():
        table.add_row(
            kind,
            _fmt(row["n"]),
            _fmt(row.get("folds")),
            _fmt(row["r2"]),
            _fmt(row["rmse"]),
            _fmt(row["directional_accuracy"]),
            _fmt(row["skill_vs_no_change"]),
            _ci(row.get("skill_ci95")),
            _clv_captured(row),
            "pass" if kind == summary.get("candidate") or _passes(kind, row) else "-",
        )
    console.print(table)
    if summary.get("candidate"):
        console.print(f"candidate: [bold]{summary['candidate']}[/bold] ({summary['gate']['reason']})")
    else:
        console.print(f"[bold]no validated model[/bold]: {summary['gate']['reason']}")
    for model in summary["models"]:
        mark = " <- candidate" if model["selected"] and summary.get("candidate") else ""
        console.print(f"  registered {model['name']} {model['version']} (id {model['id']}){mark}")
    promoted = summary.get("promoted")
    if promoted:
        console.print(f"promoted model {promoted['model']['id']}: now live for {market}")
    elif promote:
        console.print("not promoted: the live model is unchanged")
    else:
        console.print("the live model is unchanged (promote with `odds model promote ID` or --promote)")


def _passes(kind: str, row: dict[str, Any]) -> bool:
    from odds_analytics.model_gate import gate

    return gate({"kind": kind, **row}).passed


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a container
        return "unknown"


@app.command("promote")
def promote(
    model_id: Annotated[int, typer.Argument(help="The model's id (see `odds model list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "manual promotion",
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the user name).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Make a model that passes the gate the live model of its market; recorded with who, when and why."""
    from odds_models.db import async_session_maker
    from tasks.storage.models import promote_model

    async def work() -> dict[str, Any]:
        async with async_session_maker() as session:
            out = await promote_model(
                session=session, model_id=model_id, promoted_by=by or _who(), reason=reason
            )
            await session.commit()
        return out

    out = run_db(work())
    if json_output:
        emit_json(out)
        return
    from odds_analytics.model_gate import model_label

    console.print(f"{out['market']}: live model is now {model_label(out['model'])}")
    console.print(
        f"promotion {out['promotion_id']} by {out['promoted_by']} at {out['promoted_at']:%Y-%m-%d %H:%M} UTC"
        f" (replaces {out['previous_model_id'] or 'none'}): {out['reason']}"
    )


@app.command("list")
def list_models(
    market: Annotated[str | None, typer.Option("--market", help="Only this market.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Every registered model: data window, out-of-sample skill and its interval, n, gate, and which is live."""
    from odds_models.db import async_session_maker
    from tasks.storage.models import list_models as read_models

    if market is not None:
        market = check_market(market)

    async def work() -> dict[str, Any]:
        async with async_session_maker() as session:
            return await read_models(session=session, market=market)

    out = run_db(work())
    if json_output:
        emit_json(out)
        return
    table = Table(
        "id", "market", "kind", "data window", "n", "folds", "skill", "skill 95% CI", "gate", "live"
    )
    for m in out["models"]:
        window = f"{_day(m['data_from'])} → {_day(m['data_until'])}"
        table.add_row(
            str(m["id"]), m["market"], m["kind"] + (" (candidate)" if m["candidate"] else ""), window,
            _fmt(m["n"]), _fmt(m["folds"]), _fmt(m["skill"]), _ci(m["skill_ci95"]),
            "pass" if m["gate"]["passed"] else "fail", "LIVE" if m["live"] else "",
        )  # fmt: skip
    console.print(table)
    for mkt in _MARKETS if market is None else (market,):
        if mkt not in out["live"]:
            console.print(f"{mkt}: no validated model is live (no promotion)")
    for p in out["promotions"][:10]:
        console.print(
            f"  promotion {p['id']}: {p['market']} model {p['model_id']} (was {p['previous_model_id'] or 'none'})"
            f" by {p['promoted_by']} at {p['promoted_at']:%Y-%m-%d %H:%M} UTC: {p['reason']}"
        )


def _day(value: Any) -> str:
    return "?" if value is None else f"{value:%Y-%m-%d}"


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

    market = check_market(market)
    start = parse_date(date_from, "--from")
    end = parse_date(date_to, "--to")
    if start is None or end is None or end < start:
        raise typer.BadParameter("--to must not be before --from", param_hint="--to")
    result = run_db(evaluate_model(market, start, end, kind))
    if json_output:
        emit_json(result)
        return
    table = Table(
        "",
        "n",
        "r2",
        "rmse",
        "mae",
        "directional_accuracy",
        "skill vs 0",
        "skill 95% CI",
        "CLV captured (n/N)",
    )
    keys = ("n", "r2", "rmse", "mae", "directional_accuracy")
    table.add_row(
        f"{result['kind']} (model {result['model_id']})",
        *(_fmt(result[k]) for k in keys),
        _fmt(result.get("skill_vs_no_change")),
        _ci(result.get("skill_ci95")),
        _clv_captured(result),
    )
    table.add_row("no change", *(_fmt(result["baseline"][k]) for k in keys), "0.0000", "-", "-")
    console.print(table)
    console.print(
        "CLV captured: mean realised move in our favour (target units) on the decisions acted on "
        f"(|prediction| >= {result['threshold'] / 2:g}); n/N = acted on / all"
    )


@app.command("next-season")
def next_season(
    season: Annotated[str, typer.Option("--season", help="Test season, e.g. 2024-25.")],
    market: Annotated[
        list[str] | None, typer.Option("--market", help="Markets (default: spreads and totals, the goals').")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Write the JSON here (default: <reports>/models/next-season-<season>.json)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Issue 18's frozen design on a test season: train through the season before, score every kind once,
    judge the pre-registered choice against the goals. A season not in the database: one line, exit 2."""
    from pathlib import Path

    from flows.model import next_season_check
    from odds_analytics.model_goals import season_window
    from odds_models.errors import BadArgument
    from odds_models.settings import get_settings

    markets = [check_market(m) for m in market] if market else None
    try:
        window = season_window(season)
    except BadArgument as exc:
        raise typer.BadParameter(str(exc).removeprefix("--season "), param_hint="--season") from None
    result = run_db(next_season_check(window.label, markets))
    path = Path(out) if out else get_settings().reports_dir / "models" / f"next-season-{window.label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n")
    if json_output:
        emit_json(result)
        return
    console.print(
        f"{result['season']}: trained on events before {result['train_until']}, tested on "
        f"{result['test_from']} to {result['test_to']}; judged kind = lowest walk-forward RMSE (pre-registered)"
    )
    for name, report in result["markets"].items():
        table = Table(
            f"{name} {result['season']}", "wf rmse", "n", "skill vs 0", "skill 95% CI", "dir. acc. (n moves)",
            "CLV captured (n/N)",
        )  # fmt: skip
        for kind, row in report["kinds"].items():
            table.add_row(
                kind + (" <- judged" if kind == report["selected"] else ""),
                _fmt(row.get("walk_forward_rmse")),
                _fmt(row.get("n")),
                _fmt(row.get("skill_vs_no_change")),
                _ci(row.get("skill_ci95")),
                f"{_fmt(row.get('directional_accuracy'), 3)} ({row.get('n_moves')})",
                _clv_captured(row),
            )
        wide_console().print(table)
        verdict = report["verdict"]
        state = {True: "REACHED", False: "MISSED", None: "no goal"}[verdict["reached"]]
        checks = "; ".join(
            f"{c['name']} {_fmt(c['value'])} (target {c['target']}: {'yes' if c['passed'] else 'no'})"
            for c in verdict["checks"]
        )
        console.print(
            f"[bold]{name}: {state}[/bold] with {report['selected']} (n = {report['n']}, "
            f"{report['n_moves']} moves >= {report['kinds'][report['selected']].get('threshold')}): {checks}"
        )
        if report.get("gate_candidate") != report["selected"]:
            console.print(
                f"  (the promotion gate would propose {report.get('gate_candidate') or 'nothing'}: it decides what"
                " publishes picks, not this check)"
            )
    console.print(f"JSON: {path}")


@app.command("predict")
def predict(  # noqa: PLR0917 - typer options
    market: Annotated[list[str] | None, typer.Option("--market", help="Markets (default: all).")] = None,
    horizon: Annotated[float, typer.Option("--horizon-hours", help="Score events this far ahead.")] = 48.0,
    min_edge: Annotated[
        float, typer.Option("--min-edge", help="Minimum expected return on stake to recommend.")
    ] = 0.01,
    bankroll: BankrollOption = None,
    at: AtOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every side, not only recommendations.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Score upcoming games now (or --at) with each market's live model; list each side's venue, price at the
    stake, fee, stake, expected CLV (pp), expected return and model."""
    from flows.model import predict as predict_flow

    markets = [check_market(m) for m in market] if market else None
    when = decision_time_option(at)
    result = run_db(predict_flow(markets, horizon, min_edge, bankroll, when))
    if json_output:
        emit_json(result)
        return
    rows = [r for r in result["recommendations"] if show_all or r["recommended"]]
    for name, status in result["models"].items():
        console.print(f"{name}: " + (status.get("label") or f"[bold]{status['status']}[/bold]: no pick"))
    table = Table(
        "game", "market", "side", "venue", "top", "paid", "fee", "stake", "now", "pred. close", "CLV pp",
        "exp. return", "model",
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
            f"{r['exp_return']:+.2%}",
            f"{r.get('model_id')} {r.get('model_kind', '')}",
        )
    wide_console().print(table)
    console.print(
        f"{result['predictions_written']} predictions written at {result['decision_time']:%Y-%m-%d %H:%M} UTC; "
        f"{result['picks']} picks (expected return >= min edge); stakes for a bankroll of "
        f"{result['bankroll']:,.2f}. CLV = fair close probability - implied probability paid (pp); "
        "expected return = p_close x price - 1"
    )
