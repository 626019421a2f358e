"""CSV that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return) would be run as a formula by Excel, LibreOffice or Google Sheets
("formula injection"). Every CSV leadflow writes goes through
:func:`safe_cell`, which prefixes such a cell with an apostrophe so it is
shown as text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import IO

__all__ = ["safe_cell", "safe_row", "write_csv"]

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value``, neutralised if a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(_DANGEROUS) else value


def safe_row(values: Iterable[str]) -> list[str]:
    return [safe_cell(v) for v in values]


def write_csv(stream: IO[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Write ``header`` and ``rows`` (streamed, never held in memory); returns the row count."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(safe_row(header))
    count = 0
    for row in rows:
        writer.writerow(safe_row(row))
        count += 1
    return count
