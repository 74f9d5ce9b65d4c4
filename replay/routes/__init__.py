"""One APIRouter per upstream: `odds_api` (The Odds API v4), `gamma` (Polymarket Gamma), `clob`
(Polymarket CLOB), plus `control` (the simulated clock and counters, mounted only when asked)."""
