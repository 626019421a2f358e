"""Where the time of a dry CSV route goes: CPU microseconds a row, phase by phase.

Usage: python benchmarks/route_phases.py LEADS.csv [--config ORG.toml] [--source KEY]

Runs the file four times, each run doing one more step of
``leadflow route --dry-run``, with leadflow's own code, and prints the CPU
time a row of each run and what the added step cost:

1. ``read``: :meth:`LeadFile.batches` (decode, parse, check the records);
2. ``validate``: :meth:`RowValidator.validate_table` on each batch;
3. ``intake``: the intake pipeline over a dry run's store (duplicates,
   contact matching, routing, what each lead would be), outcomes not kept;
4. ``write``: the whole dry run (:func:`leadflow.batch.route_file`): each
   row's outcome and the four output files (into a temporary folder).

Defaults: benchmarks/org_bench.toml and its source ``purchased_leads``. Make a
file with ``python benchmarks/gen_leads.py 300000 leads.csv``. The copy in
bench_route.py is the floor of reading and writing alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from leadflow.batch import fewer_collections, route_file
from leadflow.desk import LeadDesk
from leadflow.intake import DryStore
from leadflow.io.csvfiles import read_leads
from leadflow.io.orgconfig import OrgFile, load_org_config
from leadflow.storage import MemoryStore

HERE = Path(__file__).resolve().parent
STEPS = ("read", "validate", "intake", "write")
NOW = datetime(2026, 3, 10, 15, tzinfo=UTC)


def run(path: Path, org: OrgFile, source: str, steps: int, out: Path) -> tuple[float, int]:
    """CPU seconds and rows of one pass doing the first ``steps`` steps."""
    desk = LeadDesk(MemoryStore(), config=org.config, playbook=org.playbook, clock=lambda: NOW)
    validator = desk.validator(source=source)
    rows_seen = 0
    start = time.process_time()
    if steps >= 4:
        summary = route_file(path, source=source, out_dir=out, org=org, now=NOW)
        return time.process_time() - start, summary.rows
    with path.open("rb") as stream, fewer_collections():
        lead_file = read_leads(stream, name=str(path))
        header = lead_file.header
        pipeline = desk.intake.pipeline(
            source, actor=None, assign_to=None, units=DryStore(size=0).unit_of_work
        )
        for numbers, rows, problems in lead_file.batches():
            rows_seen += len(numbers) + len(problems)
            if steps < 2:
                continue
            results = validator.validate_table(header, rows, numbers)
            if steps < 3:
                continue
            chunk = list(zip(numbers, rows, results, strict=True))
            for _ in pipeline.run(
                [chunk[i : i + 500] for i in range(0, len(chunk), 500)], outcomes=False
            ):
                pass
    return time.process_time() - start, rows_seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("leads", type=Path)
    parser.add_argument("--config", type=Path, default=HERE / "org_bench.toml")
    parser.add_argument("--source", default="purchased_leads")
    args = parser.parse_args(argv)
    org = load_org_config(args.config)
    print(f"{args.leads}: CPU microseconds a row")
    print("| step | cumulative | the step |")
    print("| --- | ---: | ---: |")
    before = 0.0
    with tempfile.TemporaryDirectory(prefix="route_phases-") as tmp:
        for steps, name in enumerate(STEPS, start=1):
            seconds, rows = run(args.leads, org, args.source, steps, Path(tmp))
            per_row = seconds / max(rows, 1) * 1e6
            print(f"| {name} | {per_row:.1f} | {per_row - before:+.1f} |")
            before = per_row
    return 0


if __name__ == "__main__":
    sys.exit(main())
