"""What a route keeps in memory: nothing per row but compact keys, and no garbage waiting for
the cycle collector (measured by object counts and bytes, never by time)."""

from __future__ import annotations

import csv
import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk_helpers import make_desk
from leadflow.batch import HashSet, route_file
from leadflow.io.orgconfig import load_org_config
from leadflow.storage.memory import MemoryStore
from leadflow.validate import RowValidator

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["First Name", "Last Name", "Email", "Phone Cell", "Property State", "External ID"]


def write_leads(path: Path, rows: int) -> int:
    """``rows`` leads, every 40th with a bad email (rejected); how many are bad."""
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            email = f"lead{i}@example.com"
            if i % 40 == 7:
                email, bad = f"lead{i}-at-example.com", bad + 1
            writer.writerow(
                ["Ann", f"Lee{i % 300}", email, f"512555{i % 10_000:04d}", "TX", f"X{i}"]
            )
    return bad


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cycle collector off while a test runs, after collecting what was there before."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_dry_route_leaves_no_batch_in_a_reference_cycle(
    tmp_path: Path, collector_off: None
) -> None:
    # A rejected row's error came back from validate_table with a traceback holding the
    # batch: every batch with a bad row (one in forty here) stayed in memory until the
    # cycle collector came by, which a batch runs rarely. 6,000 rows: 6 batches.
    path = tmp_path / "leads.csv"
    bad = write_leads(path, 6000)
    org = load_org_config(ROOT / "examples" / "org.toml")
    summary = route_file(path, source="purchased_leads", out_dir=tmp_path / "out", org=org)
    assert summary.rejected == bad == 150
    assert summary.accounted
    # what a route leaves to the collector does not depend on its rows (a handful of
    # objects of its validator and router); a batch in a cycle would be thousands
    assert gc.collect() < 100


def test_a_stored_route_leaves_no_chunk_in_a_reference_cycle(
    tmp_path: Path, collector_off: None
) -> None:
    path = tmp_path / "leads.csv"
    bad = write_leads(path, 3000)
    store = MemoryStore()
    desk, _ = make_desk(store)
    gc.collect()
    summary = route_file(path, source="purchased_leads", out_dir=tmp_path / "out", desk=desk)
    assert summary.rejected == bad == 75
    assert summary.accounted
    assert gc.collect() < 100


def test_an_import_of_rows_of_mixed_columns_leaves_no_chunk_in_a_reference_cycle(
    collector_off: None,
) -> None:
    # rows whose columns differ are validated one by one: the errors kept are cut from
    # their tracebacks there too
    rows: list[dict[str, str]] = []
    for i in range(2000):
        row = {"first_name": "Ann", "last_name": f"Lee{i}", "email": f"lead{i}@example.com"}
        if i % 2:
            row["external_id"] = f"X{i}"
        if i % 40 == 7:
            row["email"] = "not-an-email"
        rows.append(row)
    desk, _ = make_desk(MemoryStore())
    gc.collect()
    report = desk.import_rows(rows, source="purchased_leads")
    assert report.rejected == 50
    assert gc.collect() < 100


def _traced_bytes(make: object) -> int:
    """Bytes still allocated by ``make()`` while its result lives, as tracemalloc counts them."""
    assert callable(make)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()
        gc.collect()  # what is only waiting for the collector does not count
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def test_the_keys_a_dry_route_remembers_take_at_most_40_bytes_each() -> None:
    # 50,000 emails: as str objects in a set they take over 100 bytes each; as ints
    # (one hash each) in a set about 60; in HashSet's flat array of hashes 16 to 32.
    keys = [f"someone.{i}@example.com" for i in range(50_000)]

    def remembered() -> HashSet:
        seen = HashSet(capacity=1 << 12)  # grown as it goes, as when a file's size is unknown
        for key in keys:
            seen.add(key)
        return seen

    def plain() -> set[int]:
        return {hash(key) for key in keys}

    assert _traced_bytes(remembered) / len(keys) <= 40
    assert _traced_bytes(plain) / len(keys) > 40  # the bound tells the two apart


def test_a_validator_does_not_keep_long_cells() -> None:
    # A table column remembers the values of cells it has seen (4,096 of them): short cells
    # only, so a file of long distinct cells does not fill the memo with them.
    header = ["First Name", "Last Name", "Email", "Referred By", "Property Zip"]
    validator = RowValidator(source="purchased_leads")

    def validated() -> RowValidator:
        for start in range(0, 5000, 1000):
            rows = [
                [f"A{i}" + "x" * 2000, f"Lee{i}", f"a{i}@example.com", "r" * 2000 + str(i), "7" * 9]
                for i in range(start, start + 1000)
            ]
            results = validator.validate_table(header, rows, list(range(start, start + 1000)))
            assert len(results) == 1000
            del rows, results
        return validator

    # 5,000 rows of 4,000 long characters went through; the validator keeps well under
    # 1 MB of them (it kept 4,096 of each long column before: over 16 MB)
    assert _traced_bytes(validated) < 1_000_000
