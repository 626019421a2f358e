"""Raw strings in, typed lead fields out, with every field error of a row at once.

A *raw row* is a mapping of column names to strings: a CSV row, a web form,
a JSON payload of strings. :func:`validate_row` (or a reusable
:class:`RowValidator`) turns it into a :class:`LeadDraft` -- the contact
details, the lead attributes and the optional requested stage and assignee --
or raises one :class:`~leadflow.errors.ValidationError` that lists **every**
offending field with its value and what would be accepted.

Rules (DESIGN D1, seed *Lead Records*):

* ``first_name`` and ``last_name`` are required; ``email`` or ``cell_phone``
  is required (either is enough);
* ``email`` must be well formed and is lower-cased; ``cell_phone`` is
  normalised to E.164 (see :func:`leadflow.values.parse_phone`);
* ``lead_source`` is required -- in the row or given for the whole file --
  and must be a configured source when the caller passes ``sources``;
* ``loan_purpose`` defaults to TBD; enum values match ignoring case and
  whitespace, and by their common spellings, never by guessing;
* amounts are non-negative with at most two decimals; ``$`` and thousands
  separators are accepted;
* ``property_state`` is a USPS code, ``property_zip`` five digits (ZIP+4 is
  cut to five);
* ``lead_id``, ``created_at`` and ``updated_at`` are system-generated: a row
  that sets them is refused for that field, and :func:`map_columns` refuses
  a file header that names them;
* free text (:data:`FREE_TEXT_COLUMNS`: ``referred_by``,
  ``property_address``) keeps its line breaks, each written ``\n``; every
  other field is one line, and a line break in it is refused;
* a column that is not a lead field is an error unless the caller asks to
  ignore unknown columns; the error suggests the closest column, if one is
  close.

Column names are matched ignoring case, spaces and punctuation, and common
header spellings are understood (``Cell Phone``, ``Phone Cell``, ``Zip Code``,
``Already Found Home?``): see :data:`HEADER_ALIASES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from leadflow.errors import FieldError, ValidationError
from leadflow.model import KEY_PATTERN
from leadflow.validate.columns import (
    _LEAD_FIELDS,
    _ORDER,
    _PARSERS,
    COLUMNS,
    CREDIT_RATINGS,
    FREE_TEXT_COLUMNS,
    HEADER_ALIASES,
    LOAN_PURPOSES,
    OCCUPANCIES,
    PROPERTY_TYPES,
    SYSTEM_COLUMNS,
    TIMEFRAMES,
    YES_NO_UNKNOWN,
    _fold_name,
    _name,
    _source,
    _unknown_column,
    canonical_column,
    map_columns,
)
from leadflow.validate.draft import _DEFAULTS, _DRAFT_FIELDS, LeadDraft, _build_draft
from leadflow.validate.table import _BAD, _BULK, _KEEP, _UNIQUE, _refuse, _Table, _TableColumn
from leadflow.values import BadValue

__all__ = [
    "COLUMNS",
    "CREDIT_RATINGS",
    "FREE_TEXT_COLUMNS",
    "HEADER_ALIASES",
    "LOAN_PURPOSES",
    "OCCUPANCIES",
    "PROPERTY_TYPES",
    "SYSTEM_COLUMNS",
    "TIMEFRAMES",
    "YES_NO_UNKNOWN",
    "LeadDraft",
    "RowValidator",
    "canonical_column",
    "map_columns",
    "to_row",
    "validate_row",
]

#: Header sequences remembered per validator (a file has one; a form a few).
_PLANS_KEPT = 64


class RowValidator:
    """Validates many rows with the same options; build it once per file or form.

    * ``source``: the lead source of every row (an import's file-level
      source). A row may then leave ``lead_source`` blank; a row naming a
      different source is refused.
    * ``sources``: the configured source keys. When given, a source outside
      it is refused; when ``None`` only the key's shape is checked.
    * ``stages``: the stage names a row may request, folded to lower case
      with single spaces, mapped to stage keys (a playbook provides it).
      When ``None`` a requested stage is refused, since nothing can check it.
    * ``ignore_unknown``: skip columns that are not lead fields instead of
      refusing the row.
    """

    def __init__(
        self,
        *,
        source: str | None = None,
        sources: Collection[str] | None = None,
        stages: Mapping[str, str] | None = None,
        ignore_unknown: bool = False,
    ) -> None:
        if source is not None and (
            not KEY_PATTERN.fullmatch(source) or (sources is not None and source not in sources)
        ):
            raise ValidationError(
                [FieldError("lead_source", source, "is not a configured lead source")]
            )
        self.source = source
        self.sources = frozenset(sources) if sources is not None else None
        self.stages = dict(stages) if stages is not None else None
        self.ignore_unknown = ignore_unknown
        self._columns: dict[str, str | None] = {}
        self._tables: dict[tuple[str, ...], _Table] = {}

    def _column(self, header: str) -> str | None:
        try:
            return self._columns[header]
        except KeyError:
            field = self._columns[header] = canonical_column(header)
            return field

    def validate(self, row: Mapping[str, str | None], row_number: int | None = None) -> LeadDraft:
        """Validate one raw row; raise :class:`ValidationError` with every field error.

        A table of one row (:meth:`validate_table`): one path for every row.
        """
        numbers = [row_number] if row_number is not None else None
        (result,) = self.validate_table(tuple(row), [list(row.values())], numbers)  # type: ignore[arg-type]
        if isinstance(result, ValidationError):
            raise result
        return result

    def validate_table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        numbers: Sequence[int] | None = None,
    ) -> list[LeadDraft | ValidationError]:
        """Validate rows given as cells under ``headers``, a column at a time.

        Returns, for each row in order, its draft or the
        :class:`ValidationError` listing every error of the row (with row
        number ``numbers[i]`` when ``numbers`` is given). The headers are
        read once per validator (:class:`_Table`: each column's parser, and
        the header's own problems); then each column's cells are read
        together: a cell seen before is not parsed again, and the other
        cells of a column are checked with a few C-speed scans when they
        have the common shapes (plain emails, US phones, whole dollars...).
        A row with an error is the same reading with its messages collected.
        A row shorter than the header has blanks for its missing cells, a
        longer one's extra cells are left out; a cell that is not text
        (``None``, a number) is read as its text.
        """
        count = len(rows)
        if not count:
            return []
        key = tuple(headers)
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= _PLANS_KEPT:
                self._tables.clear()
            table = self._tables[key] = self._table(key)
        width = len(key)
        if {*map(len, rows)} != {width}:  # ragged rows (one pass in C)
            rows = [[*row[:width], *[""] * (width - len(row))] for row in rows]
        cells = list(zip(*rows, strict=True))
        bad: set[int] = set(range(count)) if table.problems else set()
        try:
            read = {field: column.read(cells[index], bad) for index, field, column in table.columns}
        except (TypeError, AttributeError):  # a cell that is not text: None, a number...
            rows = [[_text(cell) for cell in row] for row in rows]
            cells = list(zip(*rows, strict=True))
            read = {field: column.read(cells[index], bad) for index, field, column in table.columns}
        # a row needs an email or a phone
        emails, phones = read.get("email"), read.get("cell_phone")
        if emails is None and phones is None:
            bad.update(range(count))
        elif emails is None or phones is None or None in emails:
            either = zip(emails or [None] * count, phones or [None] * count, strict=True)
            bad.update(
                i for i, (email, phone) in enumerate(either) if email is None and phone is None
            )
        for field in ("first_name", "last_name"):
            if field not in read:
                bad.update(range(count))
        if "lead_source" in read:
            sources: Iterable[Any] = read["lead_source"]
        elif self.source is not None:
            sources = itertools.repeat(self.source, count)
        else:
            bad.update(range(count))
            sources = itertools.repeat(None, count)
        results: list[LeadDraft | ValidationError]
        if len(bad) == count:
            results = [None] * count  # type: ignore[list-item]  # each refused below
        else:
            arguments = [
                sources,
                *(read.get(field, itertools.repeat(None, count)) for field in _DRAFT_FIELDS),
                *(read.get(name, itertools.repeat(default, count)) for name, default in _DEFAULTS),
            ]
            results = list(map(_build_draft, *arguments))
        for i in bad:
            number = numbers[i] if numbers else None
            results[i] = self._refusal(table, rows[i], read, i, number)
        return results

    def _refusal(
        self,
        table: _Table,
        row: Sequence[str],
        read: Mapping[str, list[Any]],
        i: int,
        number: int | None,
    ) -> ValidationError:
        """Every error of row ``i`` of a table (its reading is ``read``), in column order."""
        errors = [
            FieldError(field, row[index] if index >= 0 else None, message)
            for index, field, message in table.problems
        ]
        given: set[str] = set()
        for index, field, column in table.columns:
            cell = row[index]
            if read[field][i] is not _BAD:
                if cell.strip():
                    given.add(field)
            elif cell.strip():  # refused: the parser says why
                errors.append(FieldError(field, cell, column.why(cell)))
        failed = {e.field for e in errors}
        for field in ("first_name", "last_name"):
            if field not in given and field not in failed:
                errors.append(FieldError(field, None, "is required"))
        if not given & {"email", "cell_phone"} and not failed & {"email", "cell_phone"}:
            errors.append(
                FieldError(
                    "email",
                    None,
                    "is required when there is no cell_phone: give an email or a cell phone "
                    "(either one is enough)",
                )
            )
        if self.source is None and "lead_source" not in given | failed:
            errors.append(
                FieldError("lead_source", None, "is required: name a configured lead source")
            )
        errors.sort(key=lambda e: _ORDER.get(e.field, len(_ORDER)))
        # without a traceback: it would hold the frame of the table, and the table with it
        return ValidationError(errors, row=number).with_traceback(None)

    def _table(self, headers: tuple[str, ...]) -> _Table:
        """How to read rows under ``headers``: each column's reader, and the header's problems."""
        defaults = dict(_DEFAULTS)
        columns: list[tuple[int, str, _TableColumn]] = []
        problems: list[tuple[int, str, str]] = []
        seen: dict[str, str] = {}
        for index, header in enumerate(headers):
            field = self._column(header) if isinstance(header, str) else None
            if field is None:
                if not self.ignore_unknown:
                    unknown = _unknown_column(str(header))
                    problems.append((-1, unknown.field, unknown.message))
                continue
            if field in seen:
                message = f"is given by two columns: {seen[field]!r} and {header!r}"
                problems.append((index, field, message))
                continue
            seen[field] = header
            blank: Any = None
            parse = _PARSERS.get(field, _refuse)  # a system column: blank, or refused
            if field == "lead_source":
                parse, blank = self._source_cell, self.source if self.source is not None else _BAD
            elif field == "lead_stage":
                parse = self._stage_cell
            elif field in ("first_name", "last_name"):
                blank = _BAD
            elif field in defaults:
                blank = defaults[field]
            keep = 0 if field in _UNIQUE else _KEEP
            columns.append((index, field, _TableColumn(parse, blank, _BULK.get(field), keep)))
        return _Table(tuple(columns), tuple(problems))

    def _source_cell(self, text: str) -> str:
        given: str = _source(text)
        if self.source is not None and given != self.source:
            raise BadValue(
                f"differs from the file's lead source {self.source!r}; "
                "leave it blank or use the same source"
            )
        if self.sources is not None and given not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none configured"
            raise BadValue(f"is not a configured lead source ({known})")
        return given

    def _stage_cell(self, text: str) -> str:
        if self.stages is None:
            raise BadValue("cannot be set here: no playbook to check it")
        stage = self.stages.get(_fold_name(_name(text)))
        if stage is None:
            allowed = ", ".join(sorted(set(self.stages.values())))
            raise BadValue(f"is not a stage (allowed: {allowed})")
        return stage


def _text(cell: object) -> str:
    """A cell as text: ``None`` is blank."""
    return "" if cell is None else cell if isinstance(cell, str) else str(cell)


def validate_row(
    row: Mapping[str, str | None],
    *,
    source: str | None = None,
    sources: Collection[str] | None = None,
    stages: Mapping[str, str] | None = None,
    ignore_unknown: bool = False,
    row_number: int | None = None,
) -> LeadDraft:
    """Validate one raw row; see :class:`RowValidator` for the options.

    Raises :class:`~leadflow.errors.ValidationError` listing every field
    error of the row (with ``row_number`` when given).
    """
    validator = RowValidator(
        source=source, sources=sources, stages=stages, ignore_unknown=ignore_unknown
    )
    return validator.validate(row, row_number)


# --------------------------------------------------------------------------- the inverse


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def to_row(draft: LeadDraft, *, stage_label: str | None = None) -> dict[str, str]:
    """The raw row (every column of :data:`COLUMNS`) that validates back to ``draft``.

    ``stage_label`` is written in ``lead_stage`` when the draft requests a
    stage (defaults to the stage key).
    """
    a, c = draft.attributes, draft.contact
    row = {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": _cell(c.email),
        "cell_phone": _cell(c.cell_phone),
        "lead_source": a.source,
    }
    for field in _LEAD_FIELDS:
        row[field] = _cell(getattr(a, field))
    row["lead_stage"] = "" if draft.stage is None else (stage_label or draft.stage)
    row["assignee_id"] = _cell(draft.assignee_id)
    return {column: row[column] for column in COLUMNS}
