"""The pandas implementation of `odds_analytics.fair` before issue 17 (devig per book, modal line, consensus):
the reference the vectorised one in `odds_analytics/fair.py` must equal exactly, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from odds_analytics.devig import DevigError, DevigMethod, devig, devig_two_way
from odds_analytics.fair import GROUP_KEYS, _empty_fair, _from_books


def _keys(df: pd.DataFrame) -> list[str]:
    return [k for k in GROUP_KEYS if k in df.columns]


def devig_books(odds: pd.DataFrame, method: DevigMethod | str = "multiplicative") -> pd.DataFrame:
    """Each book's fair probability per outcome: adds `implied`, `overround`, `fair_prob`, `line`, `n_outcomes`.

    Books whose market cannot be devigged (one outcome only, a bad price) get NaN `fair_prob`.
    """
    keys = _keys(odds)
    group = [*keys, "bookmaker", "market"]
    df = odds[np.isfinite(odds["price_decimal"]) & (odds["price_decimal"] > 1.0)].copy()
    if df.empty:
        return df.assign(implied=[], overround=[], fair_prob=[], line=[], n_outcomes=[])
    df = df.sort_values([*group, "outcome"], kind="stable").reset_index(drop=True)
    df["implied"] = 1.0 / df["price_decimal"]
    grouped = df.groupby(group, sort=False, dropna=False)
    df["n_outcomes"] = grouped["implied"].transform("size")
    df["overround"] = grouped["implied"].transform("sum") - 1.0
    df["line"] = grouped["point"].transform("first")
    df["fair_prob"] = np.nan

    two = df.index[df["n_outcomes"] == 2].to_numpy()
    if len(two):
        # Rows are sorted by group then outcome, so each two-outcome group is a pair of adjacent rows.
        first, second = two[0::2], two[1::2]
        p1, p2 = devig_two_way(
            df.loc[first, "implied"].to_numpy(), df.loc[second, "implied"].to_numpy(), method
        )
        df.loc[first, "fair_prob"] = p1
        df.loc[second, "fair_prob"] = p2
    other = df[df["n_outcomes"] > 2]
    for _, part in other.groupby(group, sort=False, dropna=False):
        try:
            df.loc[part.index, "fair_prob"] = devig(part["implied"].tolist(), method)
        except DevigError:
            continue
    return df


def _modal_line(books: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Per (keys, market): the line quoted by most books (ties: the one nearest the median line)."""
    one = books.drop_duplicates([*keys, "market", "bookmaker"])
    counts = one.groupby([*keys, "market", "line"], dropna=False).size().rename("n").reset_index()
    median = one.groupby([*keys, "market"], dropna=False)["line"].median().rename("median_line").reset_index()
    counts = counts.merge(median, on=[*keys, "market"], how="left")
    counts["dist"] = (counts["line"] - counts["median_line"]).abs().fillna(0.0)
    counts = counts.sort_values(
        [*keys, "market", "n", "dist", "line"], ascending=[True] * len(keys) + [True, False, True, True]
    )
    best = counts.drop_duplicates([*keys, "market"], keep="first")
    return best.set_index([*keys, "market"])["line"]


def _consensus(books: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    books = books[books["fair_prob"].notna()]
    if books.empty:
        return _empty_fair(keys)
    modal = _modal_line(books, keys).rename("modal_line").reset_index()
    merged = books.merge(modal, on=[*keys, "market"], how="inner")
    same_line = (merged["line"] == merged["modal_line"]) | (
        merged["line"].isna() & merged["modal_line"].isna()
    )
    merged = merged[same_line]
    out = (
        merged.groupby([*keys, "market", "outcome"], dropna=False)
        .agg(fair_prob=("fair_prob", "median"), point=("point", "first"), n_books=("bookmaker", "nunique"))
        .reset_index()
    )
    total = out.groupby([*keys, "market"], dropna=False)["fair_prob"].transform("sum")
    out["fair_prob"] = out["fair_prob"] / total
    out["basis"] = "consensus"
    return out


def fair_prices_reference(
    odds: pd.DataFrame,
    *,
    basis: str = "consensus",
    method: str = "multiplicative",
    sharp_books: tuple[str, ...] = ("pinnacle", "circasports", "lowvig", "betonlineag"),
) -> pd.DataFrame:
    """`fair_prices` as it was (consensus and sharp with the consensus fallback)."""
    keys = _keys(odds)
    books = devig_books(odds, method)
    if books.empty:
        return _empty_fair(keys)
    if basis == "consensus":
        return _consensus(books, keys)
    sharp = _from_books(books, keys, list(sharp_books))
    cons = _consensus(books, keys)
    covered = sharp[[*keys, "market"]].drop_duplicates().assign(_covered=True)
    cons = cons.merge(covered, on=[*keys, "market"], how="left")
    cons = cons[cons["_covered"].isna()].drop(columns="_covered")
    return pd.concat([sharp, cons], ignore_index=True) if len(cons) else sharp
