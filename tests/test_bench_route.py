"""benchmarks/bench_route.py runs the commands it is asked for and prints each one's peak memory
(on a small file: nothing here is timed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench_route() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_route", BENCHMARKS / "bench_route.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_only_the_leadflow_routes_with_their_peak_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "leads.csv"
    bench = _bench_route()
    assert bench.main(["1000", "--keep", str(leads), "--only", "dry,stored"]) == 0
    assert leads.exists()  # kept for the next run
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith("| leadflow")]
    assert [line.split("|")[1].strip() for line in lines] == [
        "leadflow route --dry-run",
        "leadflow route --db (SQLite)",
    ]
    for line in lines:
        cells = [cell.strip() for cell in line.split("|")]
        assert 5 < float(cells[4].replace(",", "")) < 2000  # peak MB of that child alone
        assigned, exceptions, rejected = (int(n) for n in cells[7].split(" / "))
        assert (assigned + exceptions, rejected) == (990, 10)  # every row in one file
    assert "csv copy" not in captured.out
    # each run prints its own peak as it ends
    assert "  leadflow route --dry-run: " in captured.err
    assert captured.err.count(" MB\n") == 2


def test_pandas_that_cannot_be_imported_is_not_available_rather_than_failed(
    tmp_path: Path,
) -> None:
    bench = _bench_route()
    for code in (0, 1):  # an interpreter whose imports succeed, or fail
        python = tmp_path / f"python{code}"
        python.write_text(f"#!/bin/sh\nexit {code}\n")
        python.chmod(0o755)
        expected = None if code == 0 else f"not available (no pandas for {python})"
        assert bench.lacks_pandas(str(python), tmp_path) == expected


def test_an_unknown_command_is_refused() -> None:
    with pytest.raises(SystemExit) as refused:
        _bench_route().main(["1000", "--only", "dry,fast"])
    assert refused.value.code == 2
