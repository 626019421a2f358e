"""CSV routing: ``leadflow route`` against a plain CSV copy and a pandas script, on one file.

Usage: python benchmarks/bench_route.py [ROWS] [--keep FILE] [--seed N] [--repeat N]
                                        [--pandas-python PYTHON] [--leadflow COMMAND]
                                        [--timeout SECONDS] [--only copy,pandas,dry,stored]

Generates ROWS leads (default 1,000,000) with benchmarks/gen_leads.py -- or
reuses ``--keep FILE`` if it exists, else generates into it and keeps it --
then times, each in a child process of its own:

1. ``csv copy``: ``csv.reader`` into ``csv.writer``, nothing else (the floor);
2. ``pandas``: benchmarks/pandas_route.py, the same validation and round robin
   written with pandas (not a leadflow dependency: ``pip install pandas``);
   with ``--pandas-python`` also under that interpreter (say a venv whose
   pandas has pyarrow installed, so its strings are Arrow strings);
3. ``leadflow route --dry-run``: validate and route, write the four CSVs;
4. ``leadflow route --db``: the same into a fresh SQLite file, made by
   ``leadflow init`` first (not timed).

All of them route over benchmarks/org_bench.toml (50 members, round robin).
``--only`` runs some of them (``--only dry,stored`` to follow memory).
Peak memory is the child's own ``ru_maxrss`` as ``os.wait4`` reports it for
that child alone; each run prints its own on stderr. A command the installed
``leadflow`` lacks, or pandas where it is not installed, is reported as
"not available"; a failing child as "failed", with the tail of its stderr.
With ``--repeat N`` the fastest of N runs is shown, and the highest peak (the
machine may be busy: CPU seconds are less sensitive to that than wall seconds).
``--leadflow`` runs another leadflow command (say one under test).

Prints a Markdown table: wall seconds, CPU seconds, peak MB, wall time as a
multiple of the copy's, rows per second, and the rows each output CSV holds
(assigned / exceptions / rejected).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "org_bench.toml"
SOURCE = "purchased_leads"
OUTPUTS = ("assigned.csv", "exceptions.csv", "rejected.csv")
#: The floor: read every row and write it back, with no work in between.
COPY_SCRIPT = """\
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8", errors="surrogateescape") as src, open(
    sys.argv[2], "w", newline="", encoding="utf-8", errors="surrogateescape"
) as dst:
    csv.writer(dst).writerows(csv.reader(src))
"""
#: ru_maxrss is in kilobytes on Linux, in bytes on macOS.
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
#: The commands ``--only`` chooses from, in the order they run.
COMMANDS = ("copy", "pandas", "dry", "stored")


@dataclass
class Run:
    """One child process: how it ended and what it cost."""

    argv: Sequence[str]
    code: int
    seconds: float
    cpu: float
    peak: int  # bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass
class Row:
    """One line of the table."""

    name: str
    runs: list[Run] = field(default_factory=list)
    status: str = ""  # "" when measured, else why not
    out: Path | None = None

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.seconds)


def run(argv: Sequence[str], log: Path, timeout: float) -> Run:
    """Run ``argv`` to its end; its own wall and CPU time, and its own peak RSS."""
    with (log.with_suffix(".out")).open("wb") as out, log.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True)
        timer = threading.Timer(timeout, _kill_group, (child.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)  # this child's rusage, nobody else's
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    child.returncode = code = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if code < 0 and -code == signal.SIGKILL and seconds >= timeout:
        text += f"\n(killed after the {timeout:.0f} s timeout)"
    return Run(
        argv=argv,
        code=code,
        seconds=seconds,
        cpu=usage.ru_utime + usage.ru_stime,
        peak=usage.ru_maxrss * MAXRSS_UNIT,
        stderr=text,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(pid, signal.SIGKILL)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])


def count_lines(path: Path) -> int:
    """Newlines in ``path``, read in blocks (a data row per line in these files)."""
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
    return lines


def leadflow_command() -> list[str] | None:
    """How to run the installed ``leadflow`` console script, if there is one."""
    beside = Path(sys.executable).with_name("leadflow")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("leadflow")
    return [found] if found else None


def missing_command(leadflow: list[str] | None, command: str, work: Path) -> str | None:
    """Why ``leadflow COMMAND`` cannot be run, or None if it can."""
    if leadflow is None:
        return "no leadflow console script on PATH"
    check = run([*leadflow, command, "--help"], work / f"help-{command}.err", timeout=60)
    if check.ok:
        return None
    lines = check.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {check.code}"


def measure(
    row: Row,
    argv: Sequence[str],
    work: Path,
    repeat: int,
    timeout: float,
    before: Callable[[], str | None] | None = None,
) -> None:
    """Run ``argv`` ``repeat`` times into ``row`` (``before`` each: a setup step's error)."""
    for attempt in range(repeat):
        if row.out is not None:
            shutil.rmtree(row.out, ignore_errors=True)
        if before is not None:
            problem = before()
            if problem is not None:
                row.status = problem
                return
        slug = row.name.replace(" ", "_").replace("-", "").replace("(", "").replace(")", "")
        result = run(argv, work / f"{slug}-{attempt}.err", timeout)
        if not result.ok:
            row.status = f"failed (exit {result.code})"
            print(f"{row.name}: failed (exit {result.code}); its stderr ends:", file=sys.stderr)
            print(tail(result.stderr), file=sys.stderr)
            return
        row.runs.append(result)
        print(f"  {row.name}: {result.seconds:.1f} s, {result.peak / 1e6:,.0f} MB", file=sys.stderr)


def outputs(row: Row) -> str:
    if row.out is None or not row.out.is_dir():
        return ""
    counts = []
    for name in OUTPUTS:
        path = row.out / name
        counts.append(f"{max(count_lines(path) - 1, 0):,}" if path.exists() else "-")
    return " / ".join(counts)


def table(rows: list[Row], total: int) -> str:
    lines = [
        "| command | seconds | CPU s | peak MB | × copy | rows/s "
        "| assigned / exceptions / rejected |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    copy = next((r for r in rows if r.name == "csv copy" and r.runs), None)
    for row in rows:
        if not row.runs:
            status = row.status or "not run"
            lines.append(f"| {row.name} | {status} | | | | | |")
            continue
        best = row.best
        ratio = f"{best.seconds / copy.best.seconds:.1f}" if copy else ""
        lines.append(
            f"| {row.name} | {best.seconds:.1f} | {best.cpu:.1f} "
            f"| {max(r.peak for r in row.runs) / 1e6:,.0f} | {ratio} "
            f"| {total / best.seconds:,.0f} | {outputs(row)} |"
        )
    return "\n".join(lines)


def _count(text: str) -> int:
    return int(float(text.replace("_", "").replace(",", "")))


def _commands(text: str) -> frozenset[str]:
    chosen = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(chosen - set(COMMANDS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give some of {', '.join(COMMANDS)}, separated by commas"
        )
    return chosen


def lacks_pandas(interpreter: str, work: Path) -> str | None:
    """Why ``interpreter`` cannot run the pandas script, or None if it can."""
    check = run([interpreter, "-c", "import numpy, pandas"], work / "pandas-check.err", 60)
    return None if check.ok else f"not available (no pandas for {interpreter})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=_count, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="the leads file: reused if it exists, kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the best shown")
    parser.add_argument("--pandas-python", help="also run the pandas script with this python")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child")
    parser.add_argument("--leadflow", help="the leadflow command (default: the installed one)")
    parser.add_argument(
        "--only",
        type=_commands,
        default=frozenset(COMMANDS),
        help=f"the commands to run, some of {','.join(COMMANDS)} (default: all)",
    )
    args = parser.parse_args(argv)
    python = sys.executable

    with tempfile.TemporaryDirectory(prefix="bench_route-") as tmp:
        work = Path(tmp)
        leads = args.keep or work / "leads.csv"
        if leads.exists():
            print(f"reusing {leads}", file=sys.stderr)
        else:
            made = run(
                [
                    python,
                    str(HERE / "gen_leads.py"),
                    str(args.rows),
                    str(leads),
                    "--seed",
                    str(args.seed),
                ],
                work / "gen.err",
                args.timeout,
            )
            if not made.ok:
                print("generating the leads failed:\n" + tail(made.stderr), file=sys.stderr)
                return 1
            print(f"generated {leads} in {made.seconds:.1f} s", file=sys.stderr)
        total = count_lines(leads) - 1
        size = leads.stat().st_size

        leadflow = args.leadflow.split() if args.leadflow else leadflow_command()
        common = ["--config", str(CONFIG), "--source", SOURCE, "--quiet"]
        rows: list[Row] = []

        if "copy" in args.only:
            copy = Row("csv copy")
            rows.append(copy)
            measure(
                copy,
                [python, "-c", COPY_SCRIPT, str(leads), str(work / "copy.csv")],
                work,
                args.repeat,
                args.timeout,
            )
            (work / "copy.csv").unlink(missing_ok=True)

        pythons = [("pandas", python)]
        if args.pandas_python:
            pythons.append(
                (f"pandas ({Path(args.pandas_python).parent.parent.name})", args.pandas_python)
            )
        for name, interpreter in pythons if "pandas" in args.only else []:
            row = Row(name, out=work / name.replace(" ", "_"))
            rows.append(row)
            lacking_pandas = lacks_pandas(interpreter, work)
            if lacking_pandas:
                row.status = lacking_pandas
                continue
            script = [interpreter, str(HERE / "pandas_route.py"), str(leads), str(row.out)]
            measure(row, script, work, args.repeat, args.timeout)

        dry = Row("leadflow route --dry-run", out=work / "dry")
        db_row = Row("leadflow route --db (SQLite)", out=work / "db")
        rows += [r for r, name in ((dry, "dry"), (db_row, "stored")) if name in args.only]
        db = work / "bench.db"
        lacking = {c: missing_command(leadflow, c, work) for c in ("route", "init")}
        if "dry" in args.only:
            if leadflow is None or lacking["route"]:
                dry.status = f"not available ({lacking['route']})"
            else:
                command = [*leadflow, "route", str(leads), "--dry-run", *common]
                measure(dry, [*command, "--out", str(dry.out)], work, args.repeat, args.timeout)
        if "stored" in args.only:
            if leadflow is None or lacking["route"] or lacking["init"]:
                db_row.status = f"not available ({lacking['route'] or lacking['init']})"
            else:
                init = [*leadflow, "init", "--config", str(CONFIG), "--db", str(db)]

                def fresh_db() -> str | None:
                    for stale in work.glob("bench.db*"):
                        stale.unlink()
                    made = run(init, work / "init.err", args.timeout)
                    if made.ok:
                        return None
                    print(
                        f"leadflow init failed; its stderr ends:\n{tail(made.stderr)}",
                        file=sys.stderr,
                    )
                    return f"failed (leadflow init: exit {made.code})"

                command = [*leadflow, "route", str(leads), "--db", str(db), *common]
                command += ["--out", str(db_row.out)]
                measure(db_row, command, work, args.repeat, args.timeout, before=fresh_db)

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print()
        print(
            f"{total:,} rows, {size / 1e6:,.1f} MB ({leads.name}); Python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.1f}; "
            f"best of {args.repeat}"
        )
        print()
        print(table(rows, total))
    return 0 if all(r.runs or r.status.startswith("not available") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
