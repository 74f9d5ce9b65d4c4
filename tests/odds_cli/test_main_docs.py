"""docs/CLI.md mentions every command of the `odds` tree (`odds <group> <command>`) and every option of it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]


def _leaves() -> list[tuple[str, Any]]:
    from odds_cli.main import app

    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer vendors click, so duck-type)
            for name, sub in sorted(command.commands.items()):
                walk(sub, [*path, name])
        else:
            found.append((" ".join(path), command))

    walk(typer.main.get_command(app), [])
    return found


LEAVES = _leaves()


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
