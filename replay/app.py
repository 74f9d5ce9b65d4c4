"""The replay app: one FastAPI application serving The Odds API v4 (`/oddsapi/v4/...`), Polymarket Gamma
(`/gamma/...`) and CLOB (`/clob/...`) from a recorded or simulated source, at the time of an injectable
clock, with optional fault injection.

Point the pipeline at it with `ODDS_API_BASE_URL=<url>/oddsapi`, `POLYMARKET_GAMMA_URL=<url>/gamma`,
`POLYMARKET_CLOB_URL=<url>/clob` (`replay.server.ReplayServer.settings_env()` gives these). In tests, use
it in-process: `httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(...)))`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from odds_models import clock as pipeline_clock
from replay.deps import ReplayState
from replay.faults import FaultMiddleware, FaultPlan
from replay.routes import clob, control, gamma, odds_api
from replay.source import ReplaySource

__all__ = ["DEMO_API_KEY", "create_app"]

DEMO_API_KEY = "replay-demo-key"


def create_app(
    source: ReplaySource,
    *,
    clock: Callable[[], datetime] = pipeline_clock.now,
    api_keys: Iterable[str] | None = (DEMO_API_KEY,),
    quota_total: int = 20_000,
    faults: FaultPlan | None = None,
    control_routes: bool = False,
) -> FastAPI:
    """Build the app. `api_keys=None` accepts any non-empty key; `faults` switches injection on."""
    app = FastAPI(title="odds-pipeline replay", docs_url=None, redoc_url=None, openapi_url=None)
    state = ReplayState(
        source=source,
        clock=clock,
        api_keys=frozenset(api_keys) if api_keys is not None else None,
        quota_total=quota_total,
        faults=faults or FaultPlan.none(),
    )
    app.state.replay = state
    app.include_router(odds_api.router)
    app.include_router(gamma.router)
    app.include_router(clob.router)
    if control_routes:
        app.include_router(control.router)

    @app.exception_handler(odds_api.OddsApiError)
    async def _odds_api_error(request: Request, exc: odds_api.OddsApiError) -> JSONResponse:
        return odds_api.error_response(request.app.state.replay, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.url.path.startswith("/clob"):
            return PlainTextResponse("404 page not found", status_code=404)
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code)

    @app.middleware("http")
    async def _label(request: Request, call_next: Callable) -> Response:  # type: ignore[type-arg]
        response = await call_next(request)
        response.headers["x-replay-source"] = state.source.label
        return response

    app.add_middleware(FaultMiddleware, plan=lambda: state.faults)
    return app
