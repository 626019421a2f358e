"""Where the time of a dry CSV route goes: CPU microseconds a row, phase by phase.

Usage: python benchmarks/route_phases.py LEADS.csv [--config ORG.toml] [--source KEY]

Runs the steps of ``leadflow route --dry-run`` on the file five times, each
run doing one more step, and prints the CPU time a row of each run and what
the added step cost:

1. ``read``: :meth:`LeadFile.batches` (decode, parse, check the records);
2. ``validate``: :meth:`RowValidator.validate_table` on each batch;
3. ``match``: the external-id and contact sets (:class:`leadflow.batch.HashSet`);
4. ``route``: :meth:`Router.route` for each new lead;
5. ``write``: the three output files (into a temporary folder).

Defaults: benchmarks/org_bench.toml and its source ``purchased_leads``. Make a
file with ``python benchmarks/gen_leads.py 300000 leads.csv``. The floor of a
pure-Python route is the sum of the steps it cannot skip; the copy in
bench_route.py is the floor of reading and writing alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from leadflow.batch import HashSet, _dry_parts, fewer_collections
from leadflow.io.csvfiles import AssignedWriter, ExceptionsWriter, RejectedWriter, read_leads
from leadflow.io.orgconfig import OrgFile, load_org_config
from leadflow.routing.engine import Outcome
from leadflow.validate import LeadDraft

HERE = Path(__file__).resolve().parent
STEPS = ("read", "validate", "match", "route", "write")
NOW = datetime(2026, 3, 10, 15, tzinfo=UTC)


def run(path: Path, org: OrgFile, source: str, steps: int, out: Path) -> tuple[float, int]:
    """CPU seconds and rows of one pass doing the first ``steps`` steps."""
    _, source_obj, validator, router = _dry_parts(org, source)  # as leadflow route does
    contacts, externals = HashSet(), HashSet()
    rows_seen = 0
    start = time.process_time()
    with path.open("rb") as stream, fewer_collections():
        lead_file = read_leads(stream, name=str(path))
        header = lead_file.header
        assigned = AssignedWriter(out / "assigned.csv", header)
        exceptions = ExceptionsWriter(out / "exceptions.csv", header)
        rejected = RejectedWriter(out / "rejected.csv", header)
        for numbers, rows, problems in lead_file.batches():
            rows_seen += len(numbers) + len(problems)
            if steps < 2:
                continue
            results = validator.validate_table(header, rows, numbers)
            if steps < 3:
                continue
            done, done_results = [], []
            for number, cells, draft in zip(numbers, rows, results, strict=True):
                if not isinstance(draft, LeadDraft):
                    if steps >= 5:
                        rejected.write(cells, row=number, errors=draft)
                    continue
                external = draft.attributes.external_id
                if external is not None and not externals.add_each(external):
                    continue
                email, phone = draft.contact.email, draft.contact.cell_phone
                matched = contacts.has_any(email, phone)
                contacts.add_each(email, phone)
                if steps < 4:
                    continue
                result = router.route(draft.attributes, source_obj, NOW, contact_matched=matched)
                if steps < 5:
                    continue
                if result.outcome is Outcome.ASSIGNED:
                    done.append(cells)
                    done_results.append(("", "", str(result.assignee_id), "", "", "false"))
                else:
                    exceptions.write(cells, lead_id=None, reason=str(result.reason))
            assigned.write_rows(done, done_results)
        for writer in (assigned, exceptions, rejected):
            writer.close()
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
