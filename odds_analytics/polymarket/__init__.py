"""Polymarket payloads and rules as plain data: pure functions, no I/O.

- `gamma`: Gamma events and markets (`parse_gamma_event`, `ParsedEvent`, `ParsedMarket`);
- `classify`: what a market is about (`classify_market`, `find_teams`);
- `clob`: CLOB order books and top-of-book quotes (`parse_books`, `parse_price_quotes`);
- `parsing`: the small parsers the others share, and `PolymarketFinding`;
- `history`: price history (`parse_price_history`) and the backfill rules (windows, watermarks, staleness,
  the run's verdict);
- `poll`: which markets one price poll collects and its snapshot time.

Conventions: every time is an aware UTC `datetime` (a time without an offset is taken as UTC); prices are
probabilities in [0, 1]; sizes are shares; token ids are decimal strings and are never turned into numbers.
A payload that breaks the contract raises `PayloadError`; a single bad point inside an otherwise valid
payload is dropped and reported as a `PolymarketFinding` (the storage layer writes findings to
`data_quality_logs`).
"""
