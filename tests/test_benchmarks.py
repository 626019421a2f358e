"""The benchmark scripts run and print what they promise (on small inputs: no timing here)."""

from __future__ import annotations

import importlib.util
import sqlite3
from contextlib import closing
from pathlib import Path
from types import ModuleType

import pytest

from leadflow.desk import LeadDesk
from leadflow.stages import lead_management
from leadflow.storage.sqlite import SQLiteStore

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_phase_script_times_every_step_of_a_dry_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "leads.csv"
    with leads.open("wb") as stream:
        _load("gen_leads").generate(1000, stream, 0)
    assert _load("route_phases").main([str(leads)]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [line.split("|")[1].strip() for line in lines[3:]]
    assert steps == ["read", "validate", "intake", "write"]
    assert all(float(line.split("|")[2]) > 0 for line in lines[3:])


def test_the_sqlite_floor_script_inserts_with_and_without_indexes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _load("sqlite_floor").main(["2000", "--chunk", "300"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2,000 rows in transactions of 300")
    assert lines[1].startswith("  email + phone indexes: ")
    assert lines[2].startswith("  no index: ")
    assert all(len(line.split("by tenth: ")[1].split()) == 10 for line in lines[1:])


def test_the_store_benchmark_measures_sqlites_share_on_the_rows_the_import_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load("bench_store")
    bench.bench_import(1200, 500)
    lines = capsys.readouterr().out.splitlines()
    assert "assigned=1200" in lines[1]
    assert lines[2].startswith("  re-import: ")
    assert "1,200 duplicates, 0 new" in lines[2]
    assert lines[3].startswith("  SQLite's share: ")
    assert "in 3 transactions" in lines[3]

    # the copy holds every row the import stored, table by table
    for name in ("stored.db", "fresh.db"):
        store = SQLiteStore(tmp_path / name)
        LeadDesk.configure(store, bench.config(), actor=None)
        if name == "stored.db":
            desk = LeadDesk(store, playbook=lead_management(), clock=lambda: bench.T0)
            desk.import_rows(bench.rows(700), source="purchased_leads", actor=1, chunk_size=300)
        store.close()
    assert bench.sqlite_share(tmp_path / "stored.db", tmp_path / "fresh.db", 3) > 0

    def counts(name: str) -> list[int]:
        with closing(sqlite3.connect(tmp_path / name)) as connection:
            return [
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in bench.IMPORTED_TABLES
            ]

    assert counts("fresh.db") == counts("stored.db") == [700, 700, 1400, 0, 700]


def test_the_cli_fuzzer_runs_each_property_for_the_examples_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzz = _load("fuzz_cli")
    assert fuzz.main(["--examples", "3", "--seed", "1", "--save", str(tmp_path / "failure")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "seed 1, 3 examples each: config, dry, stored, commands"
    assert [line.split(":")[0] for line in lines[1:]] == ["config", "dry", "stored", "commands"]
    assert all(" 3 examples held in " in line for line in lines[1:])
    assert not (tmp_path / "failure").exists()
