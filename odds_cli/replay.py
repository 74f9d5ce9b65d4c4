"""`odds replay serve`: the stand-in Odds API, Gamma and CLOB on their own, for the scheduler or a script.

    odds replay serve --days 3 --port 8765        # terminal 1
    export ODDS_API_BASE_URL=http://127.0.0.1:8765/oddsapi ...   # the lines it prints; then terminal 2:
    odds scheduler start

The simulated slate starts on `--start` (default today, UTC) and is served at the system clock, so the
scheduler's tiers, due rules and Polymarket polls see games coming up in real time. It listens on loopback
only (the Odds API's key travels in the query string); Ctrl-C (or SIGTERM) stops it.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from odds_cli.common import JsonOption, console, emit_json, parse_date

__all__ = ["app"]

app = typer.Typer(
    help="The local stand-in of The Odds API, Gamma and the CLOB (docs/REPLAY.md).", no_args_is_help=True
)


@app.command("serve")
def serve(  # noqa: PLR0917 - typer options
    seed: int = typer.Option(7, "--seed", help="Seed of the simulated slate (same seed, same games)."),
    days: int = typer.Option(2, "--days", min=1, max=30, help="Simulated game days from --start."),
    start: str | None = typer.Option(
        None, "--start", help="First game date, YYYY-MM-DD (default today, UTC)."
    ),
    faults: bool = typer.Option(
        False, "--faults", help="Inject 429s, 5xx, timeouts, cut bodies, schema drift."
    ),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Loopback port (0: any free port)."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="The Odds API key it accepts (default replay-demo-key)."
    ),
    json_output: JsonOption = False,
) -> None:
    """Serve the simulated APIs on 127.0.0.1 until Ctrl-C; print the settings that point the pipeline at them."""
    from replay.app import DEMO_API_KEY, create_app
    from replay.faults import FaultPlan
    from replay.server import ReplayServer
    from replay.simulate import SimulatedSource

    first = parse_date(start, "--start") or datetime.now(UTC).date()
    key = api_key or DEMO_API_KEY
    source = SimulatedSource(seed=seed, start=first, days=days)
    application = create_app(source, api_keys=(key,), faults=FaultPlan.standard(seed) if faults else None,
                             control_routes=True)  # fmt: skip
    server = ReplayServer(application, port=port)
    try:
        url = server.start()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", param_hint="--port"
        ) from None
    env = server.settings_env(key)
    last = first + timedelta(days=days - 1)
    games = [g for g in source.games if first <= g.us_date <= last]
    info: dict[str, Any] = {
        "url": url, "env": env, "seed": seed, "days": days, "start": first, "faults": faults,
        "games": len(games), "first_tip": min((g.scheduled for g in games), default=None),
        "stats": f"{url}/_replay/stats",
    }  # fmt: skip
    if json_output:
        emit_json(info)
    else:
        console.print(f"replay service on {url}: {len(games)} simulated games from {first} (seed {seed})"
                      + (", faults on" if faults else ""), highlight=False)  # fmt: skip
        console.print("point the pipeline at it (then e.g. `odds scheduler start`):", highlight=False)
        for name, value in env.items():
            typer.echo(f"export {name}={value}")
        console.print(f"counters: {info['stats']}; Ctrl-C stops", highlight=False)
    sys.stdout.flush()  # a script reading a pipe sees the settings before the first request
    _wait_for_stop()
    server.stop()


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
