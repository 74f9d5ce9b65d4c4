"""The `odds` command tree's leaves, for the tests that check every command (docs, --json)."""

from __future__ import annotations

from typing import Any

import typer


def cli_leaves() -> list[tuple[str, Any]]:
    """Every leaf command of `odds` as (`"group command"`, click command), sorted by path."""
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
