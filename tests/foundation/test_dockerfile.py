"""The Dockerfile, read statically (no Docker engine here): slim base, cached uv layer, non-root, no secrets."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    result = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in _instructions():
        if keyword == "ENV":
            env.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", args)))
    return env


def test_slim_python_311_base() -> None:
    bases = [args for keyword, args in _instructions() if keyword == "FROM"]
    assert bases
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", bases[-1].split()[0])


def test_runs_as_non_root_user() -> None:
    users = [args for keyword, args in _instructions() if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_no_secret_in_env_or_args() -> None:
    for keyword, args in _instructions():
        if keyword not in {"ENV", "ARG"}:
            continue
        for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) + args.split()[:1]:
            assert not re.search(r"KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL", name.upper()), f"{keyword} {name}"


def test_dependencies_from_lock_in_a_cached_layer_before_the_code() -> None:
    steps = _instructions()
    runs = [i for i, (k, a) in enumerate(steps) if k == "RUN" and "uv sync" in a]
    code_copy = next(i for i, (k, a) in enumerate(steps) if k == "COPY" and a.split()[0] in {".", "./"})
    deps = steps[runs[0]][1]
    assert "--frozen" in deps
    assert "--no-install-project" in deps
    assert "uv.lock" in deps
    assert "type=cache" in deps
    assert runs[0] < code_copy < runs[-1]
    assert "--frozen" in steps[runs[-1]][1]


def test_telemetry_off_and_ui_dir_writable() -> None:
    env = _env()
    assert env["DO_NOT_TRACK"] == "1"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    ui_dir = env["PREFECT_SERVER_UI_STATIC_DIRECTORY"]
    home = env["PREFECT_HOME"]
    assert ui_dir.startswith("/home/odds/")
    assert home.startswith("/home/odds/")
    final_run = [a for k, a in _instructions() if k == "RUN"][-1]
    assert "chown -R odds:odds /home/odds" in final_run


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".env.*", ".git", ".venv"):
        assert entry in ignored
