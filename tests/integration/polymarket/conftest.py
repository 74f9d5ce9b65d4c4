"""Polymarket integration tests: make `pm_fakes` importable (the crash test's subprocess loads it by path)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
