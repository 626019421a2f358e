"""Fuzz the ``leadflow`` command line for as long as you like (tests/test_fuzz_cli.py's properties).

Usage: python benchmarks/fuzz_cli.py [--examples N] [--seed S] [--only NAME,...] [--save DIR]

Runs each property of ``tests/cli_fuzz.py`` for ``--examples`` examples
(default 2,000 each) with hypothesis, from ``--seed`` (default: a random
seed, printed, so a run can be repeated), without hypothesis's example
database, in runs of :data:`CHUNK` examples (seeds ``--seed``, ``--seed +
1``...: hypothesis keeps what it draws, so memory stays flat). The
properties (``--only`` picks some):

* ``config``: ``config check`` and ``init`` of a hostile config agree;
* ``dry``: ``route --dry-run --config`` of a hostile file counts each data
  record once, its four output files hold exactly those rows;
* ``stored``: ``init``, then a stored route of the file, twice: the same
  counts, one lead a routed row, ``PRAGMA integrity_check`` ok;
* ``commands``: ``queue``, ``pool``, ``report``, ``exceptions``, ``assign``,
  ``advance``, ``log``, ``stage``, ``claim``, ``release``, ``history``,
  ``init`` of another config and routes of other files, with random option
  values, on that store: no lead lost or doubled, the store intact.

Each command must exit 0, 1 or 2 with no traceback and no unexpected-error
line. A failure prints the seed of its run, hypothesis's shrunk falsifying
example and the assertion; with ``--save DIR`` the files of that example
(``leads.csv``, ``org.toml``, the store and the output files) are copied to
DIR/NAME (the property's name), with ``failure.txt`` saying what failed.
Exit 1 if any property failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Verbosity, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cli_fuzz  # beside the tests it serves

#: Examples run by one hypothesis engine: it keeps what it draws, so a long run is
#: cut into runs of this many (seeds ``--seed``, ``--seed + 1``...) and memory stays flat.
CHUNK = 500


def run_property(name: str, examples: int, chosen_seed: int, save: Path | None = None) -> bool:
    """Run one property for ``examples`` examples; whether it held."""
    check, strategy = cli_fuzz.PROPERTIES[name]
    if save is not None:
        cli_fuzz.SAVE_TO[0] = save / name

    def example(case: Any) -> None:
        with cli_fuzz.workdir() as work:
            check(case, work)

    started = time.perf_counter()
    for chunk, first in enumerate(range(0, examples, CHUNK)):
        test = seed(chosen_seed + chunk)(
            settings(
                max_examples=min(CHUNK, examples - first),
                deadline=None,
                database=None,
                derandomize=False,
                verbosity=Verbosity.normal,
                suppress_health_check=list(HealthCheck),
            )(given(strategy)(example))
        )
        try:
            test()
        except Exception as error:  # an assertion, or several (an ExceptionGroup)
            took = time.perf_counter() - started
            print(f"{name}: FAILED with seed {chosen_seed + chunk} after {took:.0f} s")
            print("".join(traceback.format_exception_only(error)).rstrip()[:4000])
            return False
    print(f"{name}: {examples:,} examples held in {time.perf_counter() - started:.0f} s")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="Examples per property.")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random).")
    parser.add_argument(
        "--only",
        default=",".join(cli_fuzz.PROPERTIES),
        help=f"Comma-separated properties (default: all of {', '.join(cli_fuzz.PROPERTIES)}).",
    )
    parser.add_argument("--save", type=Path, help="Copy a failing example's files here.")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in cli_fuzz.PROPERTIES]
    if unknown:
        parser.error(f"unknown properties {unknown}: choose from {', '.join(cli_fuzz.PROPERTIES)}")
    chosen_seed = random.randrange(2**32) if args.seed is None else args.seed
    print(f"seed {chosen_seed}, {args.examples:,} examples each: {', '.join(names)}")
    held = [run_property(name, args.examples, chosen_seed, args.save) for name in names]
    return 0 if all(held) else 1


if __name__ == "__main__":
    sys.exit(main())
