"""CSV that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return) may be run as a formula by Excel, LibreOffice or Google Sheets
("formula injection"). Every CSV leadflow writes goes through this module,
which prefixes such a cell with an apostrophe so it is shown as text --
unless the cell is a plain number, which runs nothing and is written as it
is: a ``+`` or ``-``, ASCII digits and at most one decimal point, nothing
else (``-12.5``, ``-3``, ``+7``, ``+.5``), and so a phone number in E.164
form (``+15551234567``, ``+441234567890``: ``+`` and 8 to 15 digits).
``-1+2``, ``+1 555 201 4567`` and ``-3%`` are not plain numbers: they get
the apostrophe.

:func:`safe_cell` applies the rule to one cell, :func:`safe_column` to a
column at once (one C-speed scan of the column finds whether any cell needs
it; the same rule, one pattern) and :func:`write_csv` to a whole file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import IO

__all__ = ["safe_cell", "safe_column", "safe_row", "write_csv"]

#: How a cell a spreadsheet might run starts.
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
#: A signed plain number: the one kind of cell starting with + or - that runs nothing.
_SIGNED_NUMBER = r"[+-](?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_NUMBER = re.compile(_SIGNED_NUMBER)
#: In cells joined by "\n", each one line: a cell start that :func:`safe_cell` changes.
_UNSAFE_START = re.compile(f"\\n(?:[=@\\t\\r]|(?!{_SIGNED_NUMBER}(?:\\n|\\Z))[+-])")
#: In cells joined by "\n": a line start that might be a cell start safe_cell changes.
_RISKY_START = re.compile("\\n[=+\\-@\\t\\r]")


def safe_cell(value: str) -> str:
    """``value``, neutralised (a leading ``'``) if a spreadsheet could run it as a formula."""
    if value.startswith(_DANGEROUS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[str]) -> list[str]:
    """Each of ``values`` through :func:`safe_cell`."""
    return [safe_cell(v) for v in values]


def safe_column(cells: Sequence[str], joined: str | None = None) -> Sequence[str]:
    """``cells`` as :func:`safe_row` makes them: ``cells`` itself when the column needs no change.

    ``joined`` is ``"\\n".join(cells)`` when the caller has it already. One
    C-speed search of the column finds whether any line of any cell starts
    like a formula (the usual column: none); if one does, a column whose
    cells are one line each is checked whole with a second search, and any
    other column cell by cell (and copied).
    """
    if not cells:
        return cells
    if joined is None:
        joined = "\n".join(cells)
    first = cells[0]
    risky = _RISKY_START.search(joined)
    if risky is None and not first.startswith(_DANGEROUS):
        return cells  # no line of any cell starts like a formula: the usual column
    if (
        joined.count("\n") == len(cells) - 1  # every line is a cell
        and safe_cell(first) == first
        and (risky is None or not _UNSAFE_START.search(joined, risky.start()))
    ):
        return cells  # plain numbers only
    return safe_row(cells)


def write_csv(stream: IO[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Write ``header`` and ``rows`` (streamed, never held in memory); returns the row count.

    Lines end with ``\\r\\n``; a cell holding a line break or a carriage
    return is quoted, and its line breaks are written as they are.
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(safe_row(header))
    count = 0
    for row in rows:
        writer.writerow(safe_row(row))
        count += 1
    return count
