"""What SQLite alone costs a stored import: plain inserts, with and without contact indexes.

Usage: python benchmarks/sqlite_floor.py [ROWS] [--chunk N]   (default 1,000,000 and 500)

No leadflow code runs here. ROWS rows shaped like a stored contact (a
sequential text id, a random email, a random phone, a 300-byte document) are
inserted with ``executemany`` into a fresh file, ``--chunk`` rows a
transaction, with the settings ``SQLiteStore`` uses (WAL, synchronous NORMAL,
a 16 MiB page cache, a checkpoint every 10,000 pages). Twice: once with an
index on the email and one on the phone (what matching a repeat contact
needs), once without. Prints the microseconds a row for each tenth of the
run and the totals: the cost of keeping two indexes whose keys arrive in
random order grows with the table, and it is the floor under any stored
import that matches contacts, before validation, routing or activity.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -16384",
    "PRAGMA wal_autocheckpoint = 10000",
)


def _count(text: str) -> int:
    return int(float(text.replace("_", "")))


def run(path: Path, rows: int, chunk: int, indexed: bool) -> list[tuple[float, int]]:
    """Seconds and rows of each tenth of the run (a transaction counts where it starts)."""
    connection = sqlite3.connect(path, isolation_level=None)
    for setting in SETTINGS:
        connection.execute(setting)
    connection.execute(
        "CREATE TABLE contacts (contact_id TEXT PRIMARY KEY, email TEXT, phone TEXT, doc TEXT)"
    )
    if indexed:
        connection.execute("CREATE INDEX contacts_email ON contacts (email)")
        connection.execute("CREATE INDEX contacts_phone ON contacts (phone)")
    rnd = random.Random(1)
    doc = "x" * 300
    tenths = [(0.0, 0)] * 10
    for start in range(0, rows, chunk):
        batch = [
            (
                f"{i:036d}",
                f"{rnd.getrandbits(40):x}@example.com",
                f"+1{rnd.randrange(2_000_000_000, 9_999_999_999)}",
                doc,
            )
            for i in range(start, min(start + chunk, rows))
        ]
        began = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)", batch)
        connection.execute("COMMIT")
        seconds, done = tenths[start * 10 // rows]
        tenths[start * 10 // rows] = (seconds + time.perf_counter() - began, done + len(batch))
    connection.close()
    return tenths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=_count, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"{args.rows:,} rows in transactions of {args.chunk}; microseconds a row by tenth")
    for indexed in (True, False):
        with tempfile.TemporaryDirectory(prefix="sqlite_floor-") as tmp:
            times = run(Path(tmp) / "floor.db", args.rows, args.chunk, indexed)
        tenths = " ".join(f"{s / n * 1e6:.0f}" if n else "-" for s, n in times)
        label = "email + phone indexes" if indexed else "no index"
        print(f"  {label}: {sum(s for s, _ in times):.1f} s in all; by tenth: {tenths}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
