"""Lead CSV files in, route result files out: streamed, in constant memory, never crashing.

:func:`read_leads` reads a lead CSV file of any size from a binary stream.
The header is read and mapped to lead fields at once (an unusable header is a
:class:`BadHeader`); the data rows are then read one at a time, as
:class:`InputRow` values. A row that cannot even be validated -- bytes that
are not valid in the file's encoding, a NUL character, more or fewer cells
than the header, a record over :data:`MAX_RECORD` characters -- is not an
error: it comes out with a ``problem`` and every later row is read as usual,
with its own number.

Row numbers (:attr:`InputRow.number`) are 1-based data row numbers, the
header not counted: the ``row`` of a :class:`~leadflow.errors.ValidationError`.
A *blank* record (no cells, or only empty or whitespace cells -- an empty
line, a line of spaces, a spreadsheet's line of commas) is skipped and takes
no number, so the numbers are those of ``enumerate(csv.DictReader(f), start=1)``
(which skips empty lines too) except after a line of commas, which DictReader
yields as a row. A quoted cell may hold line ends; its row is still one row.

:class:`AssignedWriter`, :class:`ExceptionsWriter`, :class:`RejectedWriter`
and :class:`DuplicatesWriter` stream the files ``leadflow route`` writes:
the input cells, as read (a line break in a cell included, in a quoted
cell), then a few result columns. Every cell goes through
:mod:`leadflow.io.csvsafe`, so no spreadsheet runs it as a formula.

See ``docs/csv.md``.
"""

from __future__ import annotations

import abc
import codecs
import contextlib
import csv
import functools
import io
import itertools
import os
import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, ClassVar, NamedTuple, Self

from leadflow.errors import LeadflowError, ValidationError, clip
from leadflow.io._records import Gate
from leadflow.io.csvsafe import safe_column
from leadflow.validate import COLUMNS, map_columns

__all__ = [
    "ASSIGNED_COLUMNS",
    "DUPLICATES_COLUMNS",
    "EXCEPTIONS_COLUMNS",
    "REJECTED_COLUMNS",
    "AssignedWriter",
    "BadEncoding",
    "BadHeader",
    "DuplicatesWriter",
    "ExceptionsWriter",
    "InputRow",
    "LeadFile",
    "LeadFileError",
    "RejectedWriter",
    "RowBatch",
    "error_line",
    "lead_template_header",
    "read_leads",
]

#: Result columns each route output file adds after the input columns.
ASSIGNED_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "contact_id",
    "assignee_id",
    "assignee_name",
    "policy",
    "via_fallback",
)
EXCEPTIONS_COLUMNS: tuple[str, ...] = ("lead_id", "reason")
REJECTED_COLUMNS: tuple[str, ...] = ("row", "errors")
DUPLICATES_COLUMNS: tuple[str, ...] = ("row", "match", "lead_id")

#: The longest record (the header or a data row, its line ends included) read, in
#: characters: 131,072, the standard ``csv`` module's own cell limit. A longer record
#: (a cell of megabytes, a line with no line end: not a lead file) is one row with a
#: problem, skipped to its end without being kept, so memory stays bounded whatever
#: the input and the rows after it keep their numbers.
MAX_RECORD = 1 << 17


# --------------------------------------------------------------------------- errors


class LeadFileError(LeadflowError):
    """A lead CSV file cannot be read at all (a command exits 2 with it)."""


class BadEncoding(LeadFileError):
    """The encoding is not a text codec Python knows, or the codec failed."""


class BadHeader(LeadFileError):
    """The file has no usable header row.

    ``problems`` lists every problem found (each naming the offending
    columns); ``header`` is the header row as read (empty when there is none).
    """

    problems: tuple[str, ...]
    header: tuple[str, ...]

    def __init__(self, name: str, problems: Sequence[str], header: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        self.header = tuple(header)
        shown = "; ".join(self.problems[:_SHOWN_PROBLEMS])
        if len(self.problems) > _SHOWN_PROBLEMS:
            shown += f"; and {len(self.problems) - _SHOWN_PROBLEMS:,} more problems"
        super().__init__(f"{name}: the header cannot be used: {shown}")


#: How many of a header's problems its message lists (``problems`` holds them all).
_SHOWN_PROBLEMS = 5


# --------------------------------------------------------------------------- decoding

#: The codec error handler of this module. Decoding, it turns each byte that is not
#: valid in the encoding into the lone surrogate U+DC00 + byte (like
#: ``surrogateescape``, but for any byte, so every codec can use it); encoding, it
#: writes such a surrogate back as the text ``\\xNN`` (any other lone surrogate as
#: ``\\uNNNN``), so an output file shows the bad bytes and stays valid UTF-8.
_ERRORS = "leadflow.csvfiles"


#: How many times :func:`_codec_errors` has decoded bad bytes, in any file: while it
#: has not since a file was opened, that file's text has no lone surrogate (with a
#: codec that makes none itself), and its rows need not be searched for one.
_decode_errors = [0]
#: Codecs that may decode good bytes to lone surrogates.
_SURROGATE_CODECS = frozenset({"utf-7"})
#: Python's own escape codecs: they read Python string literals, not files (and warn on
#: a backslash before most characters).
_ESCAPE_CODECS = frozenset({"unicode-escape", "raw-unicode-escape"})


def _codec_errors(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        _decode_errors[0] += 1
        bad = exc.object[exc.start : exc.end]
        return "".join([chr(0xDC00 + byte) for byte in bad]), exc.end
    if isinstance(exc, UnicodeEncodeError):
        return _shown(exc.object[exc.start : exc.end]), exc.end
    raise exc


codecs.register_error(_ERRORS, _codec_errors)

#: Lone surrogates: what the decoder makes of bytes that are not valid.
_SURROGATES = re.compile("[\ud800-\udfff]+")


def _shown(text: str) -> str:
    """Lone surrogates as readable escapes: ``\\xNN`` for an undecodable byte."""
    return "".join(
        [
            f"\\x{ord(c) - 0xDC00:02x}" if 0xDC00 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}"
            for c in text
        ]
    )


def _raw_bytes(run: str) -> str:
    """The bytes a run of lone surrogates stands for, as Python shows them: ``b'\\xe9'``."""
    if all(0xDC00 <= ord(c) <= 0xDCFF for c in run):
        return repr(bytes([ord(c) - 0xDC00 for c in run]))
    return repr(run)


def _is_encodable(text: str) -> bool:
    """Whether ``text`` has no lone surrogate (so no undecodable byte)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- reading


class InputRow(NamedTuple):
    """One data record of a lead file.

    * ``number``: the 1-based data row number (the header and blank records
      not counted), the number a :class:`~leadflow.errors.ValidationError`
      of the row should carry;
    * ``cells``: the cells as read (text, never converted: ``"01234"``
      stays ``"01234"``); an undecodable byte is kept as the lone surrogate
      U+DC00 + byte; empty when the record could not be parsed at all;
    * ``row``: ``{header: cell}`` when the row is well formed, ready for
      :class:`~leadflow.validate.RowValidator`; ``None`` when it has a problem;
    * ``problem``: why the row cannot even be validated, without the row
      number (print ``f"row {r.number}: {r.problem}"``); ``None`` when it can.
    """

    number: int
    cells: list[str]
    row: dict[str, str] | None
    problem: str | None


class RowBatch(NamedTuple):
    """Consecutive data records of a lead file (:meth:`LeadFile.batches`).

    * ``numbers`` and ``rows``: the well-formed records (as many cells as
      the header), with their data row numbers, in order;
    * ``problems``: the records of the same stretch of the file that cannot
      be validated (:class:`InputRow` values with a ``problem``), in order.

    Together they hold every record of the stretch once; numbers are those
    :class:`InputRow` has.
    """

    numbers: list[int]
    rows: list[list[str]]
    problems: list[InputRow]


#: Records in a batch of :meth:`LeadFile.batches` by default.
BATCH = 1000
#: Characters of cells in a batch, at most (give or take a record): a batch of long
#: rows is cut short, so memory stays bounded whatever the rows hold.
BATCH_CHARS = 1 << 22

_Row = tuple[int, list[str], dict[str, str] | None, str | None]
#: Builds an InputRow from a 4-tuple without a Python-level ``__new__`` call.
_input_row: Callable[[_Row], InputRow] = functools.partial(tuple.__new__, InputRow)


def _row_builder(header: Sequence[str]) -> Callable[[list[str]], dict[str, str]]:
    """A function making ``dict(zip(header, cells))`` of a row as wide as ``header``.

    Generated (as :func:`collections.namedtuple` does) as one dict display,
    ``{k0: c[0], k1: c[1], ...}``: a third faster than ``dict(zip(...))``,
    which matters at a million rows. The source holds only indices; the
    header names reach it as the globals ``k0``, ``k1``...
    """
    names: dict[str, object] = {f"k{i}": column for i, column in enumerate(header)}
    items = ", ".join(f"k{i}: c[{i}]" for i in range(len(header)))
    exec(f"def row(c):\n    return {{{items}}}\n", names)
    build: Callable[[list[str]], dict[str, str]] = names["row"]  # type: ignore[assignment]
    return build


class _Closing(abc.ABC):
    """Closed (:meth:`close`) when its ``with`` block ends."""

    @abc.abstractmethod
    def close(self) -> None:
        """Let go of the file."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LeadFile(_Closing):
    """A lead CSV file being read: its header, its mapping and its rows (see :func:`read_leads`).

    ``header`` is the header row as read (a byte order mark dropped);
    ``columns`` maps each header cell that is a lead field to that field
    (:func:`leadflow.validate.map_columns`). Iterating yields the data rows
    as :class:`InputRow` values, in order; the file is read once, so a
    second iteration continues where the first stopped. Nothing is kept per
    row.

    The binary stream stays the caller's: :meth:`close` (or the end of the
    rows, or leaving a ``with`` block) lets go of it without closing it.
    """

    header: list[str]
    columns: dict[str, str]
    name: str
    encoding: str

    def __init__(
        self,
        text: io.TextIOWrapper,
        *,
        name: str,
        encoding: str,
        label: str,
        ignore_unknown: bool,
    ) -> None:
        self.name = name
        self.encoding = encoding
        self._label = label
        self._text = text
        self._release = weakref.finalize(self, _detach, text)
        # -1: never equal to the count, so every row with a non-ASCII character is searched
        self._errors_seen = -1 if encoding in _SURROGATE_CODECS else _decode_errors[0]
        self._gate = Gate(text.readline, min(MAX_RECORD, csv.field_size_limit()))
        try:
            self.header = self._read_header(self._gate.lines)
            self.columns = self._map_header(ignore_unknown)
        except BaseException:
            self.close()
            raise
        self._rows = self._read_rows()

    # ---------------------------------------------------------------- header

    def _read_header(self, lines: Iterator[str]) -> list[str]:
        try:
            # drop a byte order mark before the CSV parser sees it (the codec keeps
            # it for utf-8 and utf-16-le, say), so a quoted first cell stays quoted
            first = next(lines, "")
            if first.startswith("\ufeff"):
                first = first[1:]
            self._reader = csv.reader(itertools.chain((first,), lines))
            gate = self._gate
            for cells in self._reader:
                gate.fresh = True
                if gate.too_long:
                    problem = f"the header is longer than {gate.limit:,} characters"
                    raise BadHeader(self.name, [problem])
                if "".join(cells).strip():
                    gate.header = False
                    return cells
        except csv.Error as exc:
            problem = f"the header cannot be read as CSV: {_csv_error(exc)}"
            raise BadHeader(self.name, [problem]) from None
        except UnicodeError as exc:
            raise BadEncoding(f"{self.name}: cannot be decoded as {self._label}: {exc}") from None
        raise BadHeader(self.name, ["the file is empty: the first line must be the header"])

    def _map_header(self, ignore_unknown: bool) -> dict[str, str]:
        header = self.header
        joined = "".join(header)
        problems: list[str] = []
        if "\x00" in joined:
            problems.append(
                "the header has NUL characters: is the file UTF-16? "
                "read it with the encoding utf-16"
            )
        if not _is_encodable(joined):
            where = _undecodable(header, [""] * len(header))  # by number: names are bad
            problems.append(
                f"the header has bytes that are not valid {self._label} in {where}: "
                "is the file in another encoding, such as cp1252 or latin-1?"
            )
        if problems:
            raise BadHeader(self.name, problems, header)
        named = [cell for cell in header if cell.strip()]
        unnamed = [i for i, cell in enumerate(header, 1) if not cell.strip()]
        if unnamed and not ignore_unknown:
            if len(unnamed) == 1:
                problems.append(f"column {unnamed[0]} has no name")
            else:
                listed = ", ".join(map(str, unnamed[:10]))
                more = f" and {len(unnamed) - 10:,} more" if len(unnamed) > 10 else ""
                problems.append(f"columns {listed}{more} have no name")
        try:
            columns = map_columns(named, ignore_unknown=ignore_unknown)
        except ValidationError as exc:
            problems += [str(error) for error in exc.errors]
            columns = {}
        if not problems and not columns:
            problems.append(f"no column is a lead field (columns: {', '.join(map(repr, named))})")
        if problems:
            if len(header) == 1:
                for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
                    if delimiter in header[0]:
                        problems.append(
                            f"the columns seem to be separated by {label}: "
                            "a lead file separates them by commas"
                        )
                        break
            raise BadHeader(self.name, problems, header)
        return columns

    # ---------------------------------------------------------------- rows

    def __iter__(self) -> Iterator[InputRow]:
        return self._rows

    def batches(self, size: int = BATCH) -> Iterator[RowBatch]:
        """The data rows in batches of at most ``size`` records, in order (see :class:`RowBatch`).

        A batch is also cut once its cells pass :data:`BATCH_CHARS` characters.

        Read a file by rows or by batches, not both: they share one reader.
        """
        return self._read_batches(size)

    def _read_rows(self) -> Iterator[InputRow]:
        make = _input_row
        as_dict = _row_builder(self.header)
        for numbers, rows, problems in self._read_batches(BATCH):
            if not problems:
                for number, cells in zip(numbers, rows, strict=True):
                    yield make((number, cells, as_dict(cells), None))
                continue
            waiting = iter(problems)
            problem = next(waiting, None)
            for number, cells in zip(numbers, rows, strict=True):
                while problem is not None and problem.number < number:
                    yield problem
                    problem = next(waiting, None)
                yield make((number, cells, as_dict(cells), None))
            if problem is not None:
                yield problem
                yield from waiting

    def _read_batches(self, size: int) -> Iterator[RowBatch]:
        header = self.header
        width = len(header)
        # a one-column file takes the careful path: a line of spaces is blank there too
        fast_width = width if width > 1 else -1
        reader = self._reader
        gate = self._gate
        make = _input_row
        encodable = _is_encodable
        errors = _decode_errors
        seen = self._errors_seen
        number = 0
        failed_at = -1
        room = BATCH_CHARS  # characters the batch may still take
        numbers: list[int] = []
        rows: list[list[str]] = []
        problems: list[InputRow] = []
        try:
            while True:
                try:
                    for cells in reader:
                        gate.fresh = True
                        if len(cells) == fast_width:
                            # the common case: one join, then O(1) or C-speed scans; no
                            # search for undecodable bytes while the decoder has met none
                            joined = "".join(cells)
                            if (
                                joined
                                and "\x00" not in joined
                                and not joined.isspace()
                                and (errors[0] == seen or joined.isascii() or encodable(joined))
                            ):
                                number += 1
                                numbers.append(number)
                                rows.append(cells)
                                room -= len(joined)
                                if len(rows) + len(problems) >= size or room < 0:
                                    yield RowBatch(numbers, rows, problems)
                                    numbers, rows, problems = [], [], []
                                    room = BATCH_CHARS
                                continue
                        if gate.too_long:  # not read: its cells are not kept
                            cells = []
                            problem: str | None = _too_long(gate.too_long, gate.limit)
                            gate.too_long = 0
                        else:
                            problem = self._problem(cells)
                        if problem is None:
                            number += 1
                            numbers.append(number)
                            rows.append(cells)
                        elif problem:
                            number += 1
                            problems.append(make((number, cells, None, problem)))
                        # else: a blank record
                        room -= sum(map(len, cells))
                        if len(rows) + len(problems) >= size or room < 0:
                            yield RowBatch(numbers, rows, problems)
                            numbers, rows, problems = [], [], []
                            room = BATCH_CHARS
                    break
                except csv.Error as exc:  # the parser starts a new record at the next line
                    gate.fresh = True
                    number += 1
                    problem = f"cannot be read as CSV: {_csv_error(exc)}"
                    problems.append(make((number, [], None, problem)))
                    if reader.line_num == failed_at:  # no progress: stop rather than loop
                        break
                    failed_at = reader.line_num
                    if len(rows) + len(problems) >= size:
                        yield RowBatch(numbers, rows, problems)
                        numbers, rows, problems = [], [], []
                except UnicodeError as exc:
                    number += 1
                    problem = (
                        f"the rest of the file cannot be decoded as {self._label} ({exc}); "
                        "reading stopped here"
                    )
                    problems.append(make((number, [], None, problem)))
                    break
            if rows or problems:
                yield RowBatch(numbers, rows, problems)
        finally:
            self.close()

    def _problem(self, cells: list[str]) -> str | None:
        """Why a record cannot be validated; ``""`` if it is blank, ``None`` if it is fine."""
        joined = "".join(cells)
        if not joined.strip():
            return ""
        problems: list[str] = []
        width = len(self.header)
        if len(cells) != width:
            problems.append(f"has {len(cells)} cells, the header has {width}")
        if not _is_encodable(joined):
            problems.append(
                f"bytes that are not valid {self._label} in {_undecodable(cells, self.header)}"
            )
        if "\x00" in joined:
            where = " and ".join(
                _column(i, self.header) for i, cell in enumerate(cells) if "\x00" in cell
            )
            problems.append(f"a NUL character (\\x00) in {where}")
        return "; ".join(problems) or None

    # ---------------------------------------------------------------- the stream

    def close(self) -> None:
        """Let go of the binary stream (left open); the remaining rows are not read."""
        self._release()


def _detach(text: io.TextIOWrapper) -> None:
    """Free ``text`` from its binary stream without closing the stream."""
    with contextlib.suppress(ValueError):  # detached already, or the stream is closed
        text.detach()


def _too_long(length: int, limit: int) -> str:
    return f"is {length:,} characters long; a row may have at most {limit:,}"


def _csv_error(exc: csv.Error) -> str:
    message = str(exc)
    if message.startswith("field larger than field limit"):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    return message


def _column(index: int, header: Sequence[str]) -> str:
    if index < len(header):
        name = header[index]
        return f"column {clip(name)!r}" if name.strip() else f"column {index + 1}"
    return f"column {index + 1} (past the header)"


def _undecodable(cells: Sequence[str], header: Sequence[str]) -> str:
    """Where a record's undecodable bytes are, and which: ``column 'Email' (b'\\xe9')``."""
    found = []
    for i, cell in enumerate(cells):
        runs = _SURROGATES.findall(cell)
        if runs:
            shown = clip(", ".join(_raw_bytes(run[:40]) for run in runs[:3]))
            more = ", ..." if len(runs) > 3 else ""
            found.append(f"{_column(i, header)} ({shown}{more})")
    return " and ".join(found)


def _codec(encoding: str) -> tuple[str, str]:
    """The codec name to decode with, and how to name the encoding in messages."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise BadEncoding(
            f"unknown encoding {clip(encoding)!r}: give a Python codec name such as utf-8, "
            "cp1252 or latin-1"
        ) from None
    if info.name in _ESCAPE_CODECS:
        raise BadEncoding(
            f"{encoding!r} is Python's escape codec, not the encoding of a file: give a codec "
            "such as utf-8, cp1252 or latin-1"
        )
    if getattr(info, "_is_text_encoding", True):  # else read_leads says it is no text encoding
        try:  # a codec that can only fail on a bad byte (idna, punycode) cannot read a file
            codecs.getincrementaldecoder(info.name)(_ERRORS).decode(b"", final=False)
        except UnicodeError:
            raise BadEncoding(
                f"{clip(encoding)!r} cannot read a lead file: it stops at the first byte it "
                "cannot decode; give a codec such as utf-8, cp1252 or latin-1"
            ) from None
    name = info.name
    return name, "UTF-8" if name in ("utf-8", "utf-8-sig") else encoding


def read_leads(
    stream: BinaryIO,
    *,
    encoding: str = "utf-8",
    name: str = "<input>",
    ignore_unknown: bool = False,
) -> LeadFile:
    """Start reading a lead CSV file from a binary stream; the header is read and mapped now.

    ``encoding`` is any Python text codec name (default UTF-8; a byte order
    mark is dropped); ``name`` names the file in messages. With
    ``ignore_unknown`` columns that are not lead fields are left out of
    :attr:`LeadFile.columns` instead of refused (their cells stay in the rows).

    Raises :class:`BadEncoding` for an unknown codec and :class:`BadHeader`
    when the file is empty or its header cannot be mapped (unknown, duplicate
    or unnamed columns, undecodable bytes), naming the offending columns.
    Reading the rows never raises for anything in the file: see :class:`InputRow`.
    """
    codec, label = _codec(encoding)
    try:
        text = io.TextIOWrapper(stream, encoding=codec, errors=_ERRORS, newline="")
    except LookupError:  # a codec, but not a text one (base64, zlib...)
        raise BadEncoding(f"{clip(encoding)!r} is not a text encoding") from None
    return LeadFile(text, name=name, encoding=codec, label=label, ignore_unknown=ignore_unknown)


def lead_template_header() -> list[str]:
    """The header of an import file: every lead column, in validate's template order."""
    return list(COLUMNS)


# --------------------------------------------------------------------------- writing


def error_line(error: ValidationError | str) -> str:
    """One readable line of everything wrong with a row, without its row number.

    A :class:`ValidationError` gives every field error, ``"; "``-separated,
    as it renders them (``email = 'x@': is not a valid email address``); a
    string (an :attr:`InputRow.problem`) is given back on one line.
    """
    text = error if isinstance(error, str) else "; ".join(str(e) for e in error.errors)
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


#: A carriage return that is not part of a \r\n line end.
_LONE_CR = re.compile("\r(?!\n)")


def _id(value: object) -> str:
    return "" if value is None else str(value)


class _RouteWriter(_Closing):
    """A streamed CSV output file: the input columns, then :attr:`EXTRA` columns."""

    EXTRA: ClassVar[tuple[str, ...]] = ()

    header: list[str]
    #: Data rows written so far.
    rows: int

    def __init__(self, path: str | os.PathLike[str], input_header: Sequence[str]) -> None:
        self.path = path
        self._width = len(input_header)
        self.header = [*input_header, *self.EXTRA]
        self._file = open(path, "w", encoding="utf-8", errors=_ERRORS, newline="")  # noqa: SIM115
        writer = csv.writer(self._file, lineterminator="\n")
        self._writerows = writer.writerows
        self._writerow = writer.writerow
        # the csv module quotes a cell with a line feed, but one with a lone carriage
        # return only when the line end has one: rows with one are written fully quoted
        self._writerow_quoted = csv.writer(
            self._file, lineterminator="\n", quoting=csv.QUOTE_ALL
        ).writerow
        self.rows = -1
        self._write(input_header, list(self.EXTRA))

    def _write(self, cells: Sequence[str], extra: list[str]) -> None:
        """Write one row: ``cells`` (padded or cut to the input header) and ``extra``, made safe."""
        self._write_table([cells], [extra])

    def _write_table(self, rows: Sequence[Sequence[str]], extra: Sequence[Sequence[str]]) -> None:
        """Write ``rows`` (padded or cut to the input header) with their ``extra`` cells, made safe.

        A column at a time: one join of a column finds a NUL, and
        :func:`leadflow.io.csvsafe.safe_column` (the rule of ``safe_cell``)
        finds every cell a spreadsheet could run with one C-speed search; a
        column without either is written as it is. Line breaks in cells are
        written as they are, in quoted cells.
        """
        if not rows:
            return
        width = self._width
        if {*map(len, rows)} != {width}:  # ragged rows (one pass in C)
            rows = [[*cells[:width], *[""] * (width - len(cells))] for cells in rows]
        columns: list[Sequence[str]] = [*zip(*rows, strict=True), *zip(*extra, strict=True)]
        carriage_return = False
        for i, column in enumerate(columns):
            joined = "\n".join(column)
            if "\x00" in joined:
                column = [v.replace("\x00", "\\x00") for v in column]
                joined = "\n".join(column)
            carriage_return = carriage_return or "\r" in joined
            columns[i] = safe_column(column, joined)
        lines = zip(*columns, strict=True)
        if not carriage_return:
            self._writerows(lines)
        else:  # rare: a cell with a carriage return somewhere in these rows
            for line in lines:
                lone = any(_LONE_CR.search(cell) for cell in line)
                (self._writerow_quoted if lone else self._writerow)(line)
        self.rows += len(rows)

    def close(self) -> None:
        self._file.close()


class AssignedWriter(_RouteWriter):
    """``assigned.csv``: the input cells, then the lead, its contact and who got it."""

    EXTRA = ASSIGNED_COLUMNS

    def write(
        self,
        cells: Sequence[str],
        *,
        lead_id: object,
        contact_id: object,
        assignee_id: object,
        assignee_name: str | None,
        policy: str | None,
        via_fallback: bool,
    ) -> None:
        """One assigned row; ``None`` is written as an empty cell, booleans as true/false."""
        self._write(
            cells,
            [
                "" if lead_id is None else str(lead_id),
                "" if contact_id is None else str(contact_id),
                "" if assignee_id is None else str(assignee_id),
                assignee_name or "",
                policy or "",
                "true" if via_fallback else "false",
            ],
        )

    def write_rows(self, rows: Sequence[Sequence[str]], results: Sequence[Sequence[str]]) -> None:
        """Many assigned rows at once: their cells, and for each the six result cells as text.

        ``results[i]`` holds :data:`ASSIGNED_COLUMNS` of row ``i`` as :meth:`write`
        writes them (``""`` for ``None``, ``"true"``/``"false"``). The file is
        the same as from :meth:`write` row by row, made a column at a time.
        """
        self._write_table(rows, results)


class ExceptionsWriter(_RouteWriter):
    """``exceptions.csv``: the input cells, then the lead (if made) and why it was not assigned."""

    EXTRA = EXCEPTIONS_COLUMNS

    def write(self, cells: Sequence[str], *, lead_id: object, reason: str) -> None:
        """One row that routing could not assign (``lead_id`` ``None`` on a dry run)."""
        self._write(cells, [_id(lead_id), error_line(reason)])


class RejectedWriter(_RouteWriter):
    """``rejected.csv``: the input cells, then the row number and every error, on one line."""

    EXTRA = REJECTED_COLUMNS

    def write(self, cells: Sequence[str], *, row: int, errors: ValidationError | str) -> None:
        """One refused row: its :attr:`InputRow.number` and its error or problem."""
        self._write(cells, [str(row), error_line(errors)])


class DuplicatesWriter(_RouteWriter):
    """``duplicates.csv``: the input cells, then the row number, the match and the lead matched."""

    EXTRA = DUPLICATES_COLUMNS

    def write(self, cells: Sequence[str], *, row: int, match: str, lead_id: object) -> None:
        """One row that repeats a lead already there.

        ``row`` is its :attr:`InputRow.number`; ``match`` what made it a
        duplicate (the external id, or the match key), written as given;
        ``lead_id`` the existing lead's id (``None``: an empty cell).
        """
        self._write(cells, [str(row), match, _id(lead_id)])
