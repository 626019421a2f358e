"""The benchmark scripts run and print what they promise (on small inputs: no timing here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

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
    assert steps == ["read", "validate", "match", "route", "write"]
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
