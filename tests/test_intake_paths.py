"""One intake pipeline: a lead made alone, in a batch, in chunks or dry is the same lead."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from intake_paths import cases, check_paths_agree
from leadflow.storage import MemoryStore
from leadflow.storage.sqlite import SQLiteStore


@settings(max_examples=80, deadline=None)
@given(cases())
def test_every_way_in_decides_and_stores_the_same_in_memory(case: dict[str, Any]) -> None:
    check_paths_agree(case, MemoryStore)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_way_in_decides_and_stores_the_same_in_sqlite(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = iter(Path(tmp) / f"{n}.db" for n in range(4))
        check_paths_agree(case, lambda: SQLiteStore(next(paths)))
