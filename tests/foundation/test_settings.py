from __future__ import annotations

import re
from pathlib import Path

import pytest

from odds_models.errors import ConfigError
from odds_models.settings import Settings, load_settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"document these in .env.example: {sorted(missing)}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
        ("postgresql://u@h/?dbname=db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u:@/db?host=/tmp/pg sock", "postgresql+asyncpg://u:@/db?host=/tmp/pg sock"),
    ],
)
def test_database_url_accepts_both_schemes(raw: str, expected: str) -> None:
    assert normalise_database_url(raw) == expected
    assert load_settings(database_url=raw).database_url == expected


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("SCHEDULER_BACKEND", "kubernetes", "SCHEDULER_BACKEND"),
        ("PRICE_POLL_INTERVAL", "often", "PRICE_POLL_INTERVAL"),
        ("REJECT_INVALID_ODDS", "maybe", "REJECT_INVALID_ODDS"),
        ("DATABASE_URL", "postgresql://u@h:abc/db", "DATABASE_URL"),
        ("DATABASE_URL", "postgresql://u@h/db?sslmode=sometimes", "DATABASE_URL"),
        ("DATABASE_URL", "postgresql://u@h/db?database=other", "DATABASE_URL"),
        ("ODDS_HOME", "/dev/null/odds", "ODDS_HOME"),
    ],
)
def test_malformed_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_comma_lists_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONS", "us, eu")
    monkeypatch.setenv("BOOKMAKERS", "")
    monkeypatch.setenv("ODDS_API_KEY", "abc123secret")
    settings = load_settings()
    assert settings.regions == ["us", "eu"]
    assert settings.bookmakers == []
    assert "abc123secret" not in repr(settings)
    assert settings.api_key_value() == "abc123secret"


def test_aws_backend_uses_null_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.pool import NullPool

    from odds_models import db
    from odds_models.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/none_test")
    monkeypatch.setenv("SCHEDULER_BACKEND", "aws")
    get_settings.cache_clear()
    try:
        engine = db.get_engine()
        assert isinstance(engine.pool, NullPool)
        monkeypatch.setenv("SCHEDULER_BACKEND", "local")
        get_settings.cache_clear()
        db._engine = None
        engine = db.get_engine()
        assert engine.pool.size() == 5
    finally:
        db._engine = None
        get_settings.cache_clear()
