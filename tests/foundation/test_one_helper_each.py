"""Helpers that exist once: the NUL scrubber and the client-factory hook (read with `ast`, like the layer rule).

- PostgreSQL cannot store NUL characters: every writer and parser drops them with `odds_models.text.strip_nul`,
  so no other source module handles a `"\\x00"` itself.
- Fake upstreams reach the clients through `tasks.http.use_client_factory`; no test replaces a
  `make_*_client` factory (which missed the clients other modules had already imported).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("odds_models", "odds_analytics", "tasks", "flows", "odds_cli", "replay")
NUL_SCRUBBER = ROOT / "odds_models" / "text.py"
FACTORY_PATCH = re.compile(r"setattr\([^)]*make_\w+_client|\bmake_\w+_client\s*=(?!=)")


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def _nul_lines(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and "\x00" in n.value]  # fmt: skip


def test_only_strip_nul_handles_nul_characters() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}" for path in _sources(*SOURCE_PACKAGES) for line in _nul_lines(path)
    ]
    assert found == [f"{NUL_SCRUBBER.relative_to(ROOT)}:{line}" for line in _nul_lines(NUL_SCRUBBER)], found


def test_strip_nul_cleans_keys_values_and_nesting() -> None:
    from odds_models.text import strip_nul

    assert strip_nul({"a\x00": ["b\x00c", 1, None, {"d": "\x00"}]}) == {"a": ["bc", 1, None, {"d": ""}]}
    assert strip_nul("clean") == "clean"


def test_no_test_replaces_a_client_factory() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if FACTORY_PATCH.search(line)
    ]
    assert not found, "use tasks.http.use_client_factory instead:\n" + "\n".join(found)
