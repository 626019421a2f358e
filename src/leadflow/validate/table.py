"""Reading a table's column: each cell's value, with the common shapes checked in bulk."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from leadflow.validate.columns import _SYSTEM_MESSAGE
from leadflow.values import _PHONE_FORMATTING, BadValue

#: The longest text (in characters) a table column keeps: with at most :data:`_KEEP`
#: of them, a column's memory is bounded in bytes too (a cell may be 131,072
#: characters long; a file of long distinct cells would otherwise fill each memo).
_KEPT_LENGTH = 64


# --------------------------------------------------------------------------- tables

#: A cell refused by its column (or blank where a value is required).
_BAD: Any = object()
_MISS = object()
#: How many distinct cells a table column remembers (each of at most
#: :data:`_KEPT_LENGTH` characters): the first ones met, kept for the validator's life.
_KEEP = 4096
#: Fields whose cells are mostly distinct: a column of them remembers nothing.
_UNIQUE = frozenset({"email", "cell_phone", "property_address", "external_id"})

# whole lines of cells joined by line ends (re.MULTILINE): one scan checks a column
_US_PHONE_LINE = re.compile(r"^(?:\+?1)?[2-9][0-9]{2}[2-9][0-9]{6}$", re.MULTILINE)
_ZIP_LINE = re.compile(r"^[0-9]{5}(?:-?[0-9]{4})?$", re.MULTILINE)
_DOLLARS_LINE = re.compile(r"^[0-9]{1,12}$", re.MULTILINE)
#: Addresses of a simple shape; with none of :data:`_NOT_PLAIN` in them and at most
#: 63 characters long, each is one that :data:`leadflow.values._PLAIN_EMAIL` matches.
_SIMPLE_EMAIL_LINE = re.compile(r"^[a-z0-9_+.-]+@[a-z0-9.-]+\.[a-z]{2,63}$", re.MULTILINE)
#: An empty part, or a part of the address (or a domain label) that starts or ends wrong.
_NOT_PLAIN = ("..", ".@", "@.", "\n.", "@-", "-.", ".-")


def _joined(stripped: list[str]) -> str | None:
    """The cells joined by line ends, or ``None`` if a cell has a line end of its own.

    For columns whose cells are one line (emails, phones, ZIPs, amounts): a
    column with a line break in a cell is parsed a cell at a time.
    """
    joined = "\n".join(stripped)
    return joined if joined.count("\n") == len(stripped) - 1 else None


def _unmatched(line: re.Pattern[str], joined: str) -> list[int]:
    """The indices of the lines of ``joined`` that ``line`` does not match whole.

    An empty line is one of them (no pattern here matches nothing).
    """
    rest = line.sub("", joined)
    bad = [] if rest.count("\n") == len(rest) else [i for i, r in enumerate(rest.split("\n")) if r]
    if "\n\n" in f"\n{joined}\n":
        bad += [i for i, text in enumerate(joined.split("\n")) if not text]
    return bad


def _blanks(stripped: list[str]) -> list[int]:
    return [i for i, text in enumerate(stripped) if not text] if "" in stripped else []


def _accepted(values: list[Any], bad: list[int]) -> list[Any]:
    """``values`` with :data:`_MISS` at the ``bad`` indices (those cells are parsed one by one)."""
    for i in bad:
        values[i] = _MISS
    return values


def _bulk_text(max_length: int) -> Callable[[list[str]], list[Any] | None]:
    """Text cells that :func:`parse_text` takes unchanged, checked with a few C-speed scans.

    A printable cell (no control character, line break or tab) of at most
    ``max_length`` characters is its own value; any other cell -- a blank,
    a line break (kept in free text, refused elsewhere), a tab -- is parsed
    alone. The cells are never joined, so a line break in a cell cannot pass
    for the end of a cell.
    """

    def bulk(cells: list[str]) -> list[Any] | None:
        stripped = list(map(str.strip, cells))
        if max(map(len, stripped)) > max_length:
            return None
        printable = list(map(str.isprintable, stripped))
        alone = _indices(printable, False) if False in printable else []
        return _accepted(stripped, alone + _blanks(stripped))

    return bulk


def _bulk_emails(cells: list[str]) -> list[Any] | None:
    """Addresses of the common shape (:data:`leadflow.values._PLAIN_EMAIL`), lower-cased."""
    stripped = list(map(str.strip, cells))
    joined = _joined(stripped)
    if joined is None:
        return None
    lowered = joined.lower()
    parts = lowered.split("\n")
    if (
        len(parts) != len(cells)
        or max(map(len, parts)) > 63
        or lowered.startswith(".")
        or any(text in lowered for text in _NOT_PLAIN)
    ):
        return None
    return _accepted(parts, _unmatched(_SIMPLE_EMAIL_LINE, lowered))


def _bulk_phones(cells: list[str]) -> list[Any] | None:
    """US numbers in the usual formats, as :func:`parse_phone` makes them (``+1``, ten digits)."""
    stripped = list(map(str.strip, cells))
    joined = _joined(stripped)
    # a "+" counts only as a cell's first character
    if joined is None or joined.count("+") != joined.count("\n+") + (joined[:1] == "+"):
        return None
    digits = joined.translate(_PHONE_FORMATTING)
    values = ["+1" + number[-10:] for number in digits.split("\n")]
    return _accepted(values, _unmatched(_US_PHONE_LINE, digits))


def _digits(stripped: list[str], width: int) -> bool:
    """Whether every cell is ASCII digits, at most ``width`` of them (and at least one)."""
    together = "".join(stripped)
    return (
        together.isascii()
        and together.isdigit()
        and "" not in stripped
        and max(map(len, stripped)) <= width
    )


def _bulk_zips(cells: list[str]) -> list[Any] | None:
    stripped = list(map(str.strip, cells))
    if _digits(stripped, 5) and min(map(len, stripped)) == 5:
        return stripped
    joined = _joined(stripped)
    if joined is None:
        return None
    return _accepted([text[:5] for text in stripped], _unmatched(_ZIP_LINE, joined))


def _bulk_money(cells: list[str]) -> list[Any] | None:
    """Whole dollars written as digits only, as :func:`parse_money` reads them."""
    stripped = list(map(str.strip, cells))
    if _digits(stripped, 12):
        return [Decimal(text + ".00") for text in stripped]
    joined = _joined(stripped)
    if joined is None:
        return None
    bad = _unmatched(_DOLLARS_LINE, joined)
    for i in bad:
        stripped[i] = "0"
    return _accepted([Decimal(text + ".00") for text in stripped], bad)


_BULK: dict[str, Callable[[list[str]], list[Any] | None]] = {
    "first_name": _bulk_text(100),
    "last_name": _bulk_text(100),
    "email": _bulk_emails,
    "cell_phone": _bulk_phones,
    "referred_by": _bulk_text(200),
    "loan_amount": _bulk_money,
    "estimated_purchase_price": _bulk_money,
    "down_payment": _bulk_money,
    "property_address": _bulk_text(500),
    "property_zip": _bulk_zips,
    "external_id": _bulk_text(200),
}


def _indices(values: list[Any], marker: object) -> list[int]:
    """Where ``marker`` is in ``values``, found at C speed (it is rare)."""
    found: list[int] = []
    index = values.index
    i = -1
    with contextlib.suppress(ValueError):
        while True:
            i = index(marker, i + 1)
            found.append(i)
    return found


class _TableColumn:
    """How :meth:`RowValidator.validate_table` reads one column of a table.

    :meth:`cell` maps a raw cell to its value in the draft with ``parse``
    (a blank cell to ``blank``), or to :data:`_BAD` when ``parse`` refuses
    it (:meth:`why` says why).
    Values of cells seen before are remembered (refusals too): the first
    ``keep`` distinct cells of at most :data:`_KEPT_LENGTH` characters, so a
    column's memory is bounded whatever the file. The rest go through
    ``bulk`` (all accepted at once, or ``None``) or one by one.
    """

    __slots__ = ("_blank", "_bulk", "_keep", "_memo", "_parse")

    def __init__(
        self,
        parse: Callable[[str], Any],
        blank: Any,
        bulk: Callable[[list[str]], list[Any] | None] | None,
        keep: int,
    ) -> None:
        self._parse = parse
        self._bulk = bulk
        self._keep = keep
        self._memo: dict[str, Any] = {} if blank is _BAD else {"": blank}
        self._blank = blank

    def cell(self, cell: str) -> Any:
        text = cell.strip()
        if not text:
            return self._blank
        try:
            return self._parse(text)
        except BadValue:
            return _BAD

    def why(self, cell: str) -> str:
        """Why ``parse`` refuses ``cell``."""
        try:
            self._parse(cell.strip())
        except BadValue as refused:
            return str(refused)
        raise AssertionError(f"{cell!r} was refused and then accepted")  # pragma: no cover

    def read(self, cells: Sequence[str], bad: set[int]) -> list[Any]:
        """The values of ``cells``; the index of each cell that is not accepted goes in ``bad``."""
        memo = self._memo
        if not self._keep:  # cells that hardly repeat: all of them are read
            values: list[Any] = [_MISS] * len(cells)
            at: Sequence[int] = range(len(cells))
            missed = list(cells)
        else:
            values = list(map(memo.get, cells, itertools.repeat(_MISS, len(cells))))
            if _BAD in values:  # a cell refused before
                bad.update(_indices(values, _BAD))
            if _MISS not in values:
                return values
            at = [i for i, value in enumerate(values) if value is _MISS]
            missed = [cells[i] for i in at]
        parsed = self._bulk(missed) if self._bulk is not None else None
        if parsed is None:
            parsed = list(map(self.cell, missed))
        elif _MISS in parsed:
            cell = self.cell
            parsed = [
                cell(text) if value is _MISS else value
                for text, value in zip(missed, parsed, strict=True)
            ]
        for i, value in zip(at, parsed, strict=True):
            values[i] = value
            if value is _BAD:
                bad.add(i)
        room = self._keep - len(memo)
        if room > 0:
            pairs = zip(missed, parsed, strict=True)
            memo.update(
                itertools.islice(((c, v) for c, v in pairs if len(c) <= _KEPT_LENGTH), room)
            )
        return values


class _Table(NamedTuple):
    """How a validator reads rows under one header.

    ``columns``: (cell index, field, reader) of each lead column;
    ``problems``: (cell index or -1, field, message) of each problem of the
    header itself (an unknown column, a field given twice), an error of
    every row.
    """

    columns: tuple[tuple[int, str, _TableColumn], ...]
    problems: tuple[tuple[int, str, str], ...]


def _refuse(text: str) -> Any:
    raise BadValue(_SYSTEM_MESSAGE)
