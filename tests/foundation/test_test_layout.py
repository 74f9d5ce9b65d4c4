"""`tests/` mirrors the source: every test file sits in a folder whose path is a source package folder.

The tests of `tasks/storage/reads.py` are found in `tests/tasks/storage/`, those of `odds_analytics/polymarket/`
in `tests/odds_analytics/polymarket/`. Cross-cutting folders: `tests/foundation/` (rules of the tree) and
`tests/contract/` (recorded real responses). Helpers and fixture modules (no `test_` prefix, e.g.
`tests/support/pm_fakes.py`) and conftest files may sit anywhere.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
CROSS_CUTTING = {"foundation", "contract"}
SOURCE_PACKAGES = ("odds_analytics", "tasks", "flows", "odds_cli", "odds_models", "replay")


def package_folders() -> set[Path]:
    """Every source package folder (one with an `__init__.py`), relative to the repo root."""
    return {
        init.parent.relative_to(ROOT) for top in SOURCE_PACKAGES for init in (ROOT / top).rglob("__init__.py")
    }


def misplaced(test_files: list[Path], packages: set[Path]) -> list[str]:
    """The test files (relative to tests/) whose folder mirrors no source package folder."""
    wrong = []
    for path in test_files:
        folder = path.parent
        if folder.parts and folder.parts[0] in CROSS_CUTTING:
            continue
        if folder not in packages:
            wrong.append(str(path))
    return sorted(wrong)


def test_the_source_packages_are_found() -> None:
    packages = package_folders()
    assert Path("tasks/storage") in packages
    assert Path("odds_analytics/polymarket") in packages
    assert Path("tests") not in packages


def test_every_test_file_mirrors_a_source_package() -> None:
    test_files = [p.relative_to(TESTS) for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts]
    assert len(test_files) > 100, "the walk found too few test files"
    wrong = misplaced(test_files, package_folders())
    assert not wrong, (
        f"test files outside a mirror of a source package (move them next to their module): {wrong}"
    )


def test_the_rule_catches_a_stray_file() -> None:
    packages = {Path("tasks"), Path("tasks/storage"), Path("odds_analytics")}
    files = [
        Path("tasks/storage/test_reads.py"),
        Path("odds_analytics/test_fair.py"),
        Path("foundation/test_layers.py"),
        Path("contract/test_oddsapi_fixtures.py"),
        Path("unit/analytics/test_fair.py"),
        Path("test_loose.py"),
        Path("tasks/sorage/test_typo.py"),
    ]
    assert misplaced(files, packages) == [
        "tasks/sorage/test_typo.py",
        "test_loose.py",
        "unit/analytics/test_fair.py",
    ]
