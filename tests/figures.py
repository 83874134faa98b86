"""Figures the reliability suites count as they run; printed after the run and written to
build/reliability.json by the conftest hook (``make reliability`` shows them)."""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()
