"""docs/CLI.md mentions every command of the `odds` tree (`odds <group> <command>`) and every option of it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_tree import cli_leaves

ROOT = Path(__file__).resolve().parents[2]


LEAVES = cli_leaves()


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[p for p, _ in LEAVES])
def test_command_and_options_documented(path: str, command: Any) -> None:
    doc = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert f"odds {path}" in doc, f"`odds {path}` is not in docs/CLI.md"
    options = [
        opt
        for param in command.params
        for opt in getattr(param, "opts", [])
        if opt.startswith("--") and opt != "--help"
    ]
    missing = [opt for opt in options if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", doc)]
    assert not missing, f"`odds {path}` options not in docs/CLI.md: {missing}"
