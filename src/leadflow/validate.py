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

import contextlib
import difflib
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.model import (
    KEY_PATTERN,
    KEY_RULE,
    ContactDetails,
    CreditRating,
    DesiredTimeframe,
    LeadAttributes,
    LoanPurpose,
    Occupancy,
    PropertyType,
    YesNoUnknown,
)
from leadflow.values import (
    _PHONE_FORMATTING,
    BadValue,
    Choices,
    _refuse_line_break,
    parse_email,
    parse_money,
    parse_phone,
    parse_state,
    parse_text,
    parse_zip,
)

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

# --------------------------------------------------------------------------- choices

LOAN_PURPOSES: Choices[LoanPurpose] = Choices(
    LoanPurpose,
    {
        LoanPurpose.PURCHASE: ["home purchase", "purchase loan", "buy"],
        LoanPurpose.REFINANCE_NO_CASH_OUT: [
            "Refi - No Cash Out",
            "No Cash Out Refinance",
            "No-Cash-Out Refinance",
            "No Cash Out Refi",
            "Rate and Term Refinance",
            "Rate/Term Refinance",
            "Rate-Term Refinance",
            "Rate and Term",
            "Rate/Term",
        ],
        LoanPurpose.REFINANCE_CASH_OUT: [
            "Refi - Cash Out",
            "Cash Out Refinance",
            "Cash-Out Refinance",
            "Cash Out Refi",
            "Cash-Out Refi",
        ],
        LoanPurpose.HELOC: ["Home Equity Line of Credit", "Home Equity Line"],
        LoanPurpose.HOME_EQUITY_LOAN: ["Home Equity", "HEL"],
        LoanPurpose.REVERSE_MORTGAGE: ["Reverse", "HECM"],
        LoanPurpose.SECOND_MORTGAGE: ["2nd Mortgage", "Second Lien", "2nd Lien"],
        LoanPurpose.CONSTRUCTION_LOAN: ["Construction", "Construction-to-Permanent"],
        LoanPurpose.TBD: ["To Be Determined", "Unknown", "Not Sure"],
    },
    label="loan purpose",
)
PROPERTY_TYPES: Choices[PropertyType] = Choices(
    PropertyType,
    {
        PropertyType.SINGLE_FAMILY: [
            "Single Family",
            "Single Family Residence",
            "Single-Family Residence",
            "SFR",
            "SFH",
        ],
        PropertyType.TWO_TO_FOUR_UNIT: ["2-4 Units", "2 to 4 Units", "2 to 4 Unit", "2-4"],
        PropertyType.CONDO: ["Condominium"],
        PropertyType.CO_OP: ["Coop", "Cooperative"],
        PropertyType.MANUFACTURED_HOUSING: ["Manufactured", "Manufactured Home"],
        PropertyType.PUD: ["PUD", "Planned Unit Development"],
    },
    label="property type",
)
OCCUPANCIES: Choices[Occupancy] = Choices(
    Occupancy,
    {
        Occupancy.PRIMARY_RESIDENCE: ["Primary", "Primary Home", "Owner Occupied"],
        Occupancy.SECOND_HOME: ["Second", "2nd Home", "Vacation Home"],
        Occupancy.INVESTMENT: ["Investment Property", "Investor", "Non-Owner Occupied"],
    },
    label="occupancy",
)
CREDIT_RATINGS: Choices[CreditRating] = Choices(CreditRating, label="credit rating")
TIMEFRAMES: Choices[DesiredTimeframe] = Choices(
    DesiredTimeframe,
    {
        DesiredTimeframe.NEXT_30_DAYS: ["30 days", "Within 30 days", "0-30 days"],
        DesiredTimeframe.THREE_MONTHS: ["Within 3 months", "Next 3 months", "1-3 months"],
        DesiredTimeframe.SIX_MONTHS: ["Within 6 months", "Next 6 months", "3-6 months"],
        DesiredTimeframe.MORE_THAN_SIX_MONTHS: [
            "More than 6 months",
            "Over 6 months",
            "6 months+",
            "6+",
        ],
    },
    label="desired timeframe",
)
YES_NO_UNKNOWN: Choices[YesNoUnknown] = Choices(
    YesNoUnknown,
    {
        YesNoUnknown.YES: ["Y", "True"],
        YesNoUnknown.NO: ["N", "False"],
        YesNoUnknown.UNKNOWN: ["Unsure", "Not Sure", "Don't Know"],
    },
    label="Yes/No/Unknown answer",
)

# --------------------------------------------------------------------------- columns

#: Every column a lead row may carry, in template order.
COLUMNS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "cell_phone",
    "lead_source",
    "referred_by",
    "loan_purpose",
    "loan_amount",
    "property_type",
    "occupancy",
    "credit_rating",
    "estimated_purchase_price",
    "down_payment",
    "desired_timeframe",
    "already_found_home",
    "first_time_buyer",
    "veteran",
    "property_address",
    "property_state",
    "property_zip",
    "external_id",
    "lead_stage",
    "assignee_id",
)

#: System-generated columns: a row that sets one is refused for that field, and a
#: file header that names one is refused (:func:`map_columns`).
SYSTEM_COLUMNS: tuple[str, ...] = ("lead_id", "created_at", "updated_at")

#: Free-text columns: the only ones whose cells may hold line breaks (kept, as ``\n``).
#: Every other column is an identity, a code, an amount or a choice: one line.
FREE_TEXT_COLUMNS: tuple[str, ...] = ("referred_by", "property_address")

#: Header spellings understood besides the canonical column names (after folding).
HEADER_ALIASES: Mapping[str, str] = {
    "first": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "email_address": "email",
    "e_mail": "email",
    "cell": "cell_phone",
    "cellphone": "cell_phone",
    "phone_cell": "cell_phone",
    "cell_phone_number": "cell_phone",
    "mobile": "cell_phone",
    "mobile_phone": "cell_phone",
    "phone": "cell_phone",
    "source": "lead_source",
    "referral": "referred_by",
    "referrer": "referred_by",
    "purpose": "loan_purpose",
    "credit_rating_self_reported": "credit_rating",
    "self_reported_credit_rating": "credit_rating",
    "purchase_price": "estimated_purchase_price",
    "timeframe": "desired_timeframe",
    "found_home": "already_found_home",
    "is_veteran": "veteran",
    "address": "property_address",
    "state": "property_state",
    "zip": "property_zip",
    "zip_code": "property_zip",
    "zipcode": "property_zip",
    "postal_code": "property_zip",
    "property_zip_code": "property_zip",
    "stage": "lead_stage",
    "assignee": "assignee_id",
    "lead_assignee": "assignee_id",
    "id": "lead_id",
    "created": "created_at",
    "created_date": "created_at",
    "updated": "updated_at",
    "updated_date": "updated_at",
}

_KNOWN = frozenset(COLUMNS) | frozenset(SYSTEM_COLUMNS)
_ORDER = {name: i for i, name in enumerate(COLUMNS + SYSTEM_COLUMNS)}
_NON_WORD = re.compile(r"[^0-9a-z]+")


def _fold_header(header: str) -> str:
    return _NON_WORD.sub("_", header.lower()).strip("_")


def canonical_column(header: str) -> str | None:
    """The lead field a column header means, or ``None`` if it is not a lead field.

    Case, spaces and punctuation are ignored (``"Loan Purpose"``,
    ``"loan-purpose"`` and ``"LOAN_PURPOSE"`` all mean ``loan_purpose``).
    """
    folded = _fold_header(header)
    if folded in _KNOWN:
        return folded
    return HEADER_ALIASES.get(folded)


#: Spellings a "did you mean" may point at (after folding), with the column each means:
#: the columns and their aliases, never a system column.
_SUGGESTED: Mapping[str, str] = {
    **{column: column for column in COLUMNS},
    **{alias: field for alias, field in HEADER_ALIASES.items() if field in COLUMNS},
}
#: How close (difflib's ratio) a header must be to a known spelling to be suggested it.
_CLOSE = 0.75


def _unknown_column(header: str) -> FieldError:
    """The error of a header that is no lead column, suggesting the closest column if any."""
    close = difflib.get_close_matches(_fold_header(header), _SUGGESTED, n=1, cutoff=_CLOSE)
    hint = f"; did you mean {_SUGGESTED[close[0]]!r}?" if close else ""
    return FieldError(header, None, f"is not a lead column{hint}")


def _system_column(header: str, field: str) -> FieldError:
    """The error of a file header naming a system column (``Lead ID``, ``Created``)."""
    what = "is" if _fold_header(header) == field else f"means {field}, which is"
    return FieldError(
        header,
        None,
        f"{what} set by leadflow, not by a file: leave the column out "
        "(a file's own ids for its leads go in external_id)",
    )


def map_columns(headers: Iterable[str], *, ignore_unknown: bool = False) -> dict[str, str]:
    """Map each header to its lead field, checking the header as a whole.

    Returns ``{header: field}`` for the headers that are lead fields. Raises
    :class:`ValidationError` listing every unknown column (unless
    ``ignore_unknown``; with a "did you mean" when one is close), every
    field given by two columns and every system column
    (:data:`SYSTEM_COLUMNS`, in any spelling: ``Lead ID``, ``Created``),
    which a file cannot set, even blank and with ``ignore_unknown``.
    """
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    errors: list[FieldError] = []
    for header in headers:
        field = canonical_column(header)
        if field is None:
            if not ignore_unknown:
                errors.append(_unknown_column(header))
            continue
        if field in SYSTEM_COLUMNS:
            errors.append(_system_column(header, field))
            continue
        if field in seen:
            errors.append(
                FieldError(field, None, f"is given by two columns: {seen[field]!r} and {header!r}")
            )
            continue
        seen[field] = header
        mapping[header] = field
    if errors:
        raise ValidationError(errors)
    return mapping


# --------------------------------------------------------------------------- the result


@attrs.frozen(kw_only=True)
class LeadDraft:
    """A validated row: what a new lead will be made of.

    ``stage`` is the requested initial stage key (``None``: the playbook's
    initial stage) and ``assignee_id`` a requested assignee (``None``: routing
    decides). Whether the request is honoured is the application's decision
    (an admin override, DESIGN D7).
    """

    contact: ContactDetails
    attributes: LeadAttributes
    stage: str | None = None
    assignee_id: int | None = None


# --------------------------------------------------------------------------- parsers


def _name(raw: str) -> str:
    return parse_text(raw, max_length=100)


def _free_text(raw: str) -> str:
    """Free text: its line breaks are kept (see :func:`parse_text`)."""
    return parse_text(raw, max_length=200, multiline=True)


def _address(raw: str) -> str:
    """A property address: free text, and it may span lines (a quoted CSV cell)."""
    return parse_text(raw, max_length=500, multiline=True)


def _source(raw: str) -> str:
    if not KEY_PATTERN.fullmatch(raw):
        _refuse_line_break(raw)
        raise BadValue(f"is not a lead source key: {KEY_RULE}")
    return raw


def _user_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
        _refuse_line_break(raw)
        raise BadValue("is not a user id: use the user's positive whole-number id")
    return int(raw)


def _external_id(raw: str) -> str:
    return parse_text(raw, max_length=200)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "first_name": _name,
    "last_name": _name,
    "email": parse_email,
    "cell_phone": parse_phone,
    "lead_source": _source,
    "referred_by": _free_text,
    "loan_purpose": LOAN_PURPOSES.parse,
    "loan_amount": parse_money,
    "property_type": PROPERTY_TYPES.parse,
    "occupancy": OCCUPANCIES.parse,
    "credit_rating": CREDIT_RATINGS.parse,
    "estimated_purchase_price": parse_money,
    "down_payment": parse_money,
    "desired_timeframe": TIMEFRAMES.parse,
    "already_found_home": YES_NO_UNKNOWN.parse,
    "first_time_buyer": YES_NO_UNKNOWN.parse,
    "veteran": YES_NO_UNKNOWN.parse,
    "property_address": _address,
    "property_state": parse_state,
    "property_zip": parse_zip,
    "external_id": _external_id,
    "lead_stage": _name,
    "assignee_id": _user_id,
}
#: How many distinct texts a remembered parser keeps per column.
_REMEMBERED = 512
#: The longest text (in characters) a remembered parser or a table column keeps: with
#: at most :data:`_REMEMBERED` or :data:`_KEEP` of them, a column's memory is bounded
#: in bytes too (a cell may be 131,072 characters long; a file of long distinct cells
#: would otherwise fill each memo with them).
_KEPT_LENGTH = 64


_SYSTEM_MESSAGE = "is system-generated and cannot be set by an import or form; leave it out"
#: The lead attributes a row may set besides the source, in the model's order.
_LEAD_FIELDS = tuple(f.name for f in attrs.fields(LeadAttributes) if f.name != "source")


def _fold_name(text: str) -> str:
    return " ".join(text.lower().split())


#: Header sequences remembered per validator (a file has one; a form a few).
_PLANS_KEPT = 64

_new = object.__new__


def _settable(cls: type[Any], required: Collection[str], checked: Collection[str] = ()) -> bool:
    """Whether setting its fields one by one makes the same ``cls`` value as ``__init__``.

    True when ``__init__`` only sets fields: no post-init hook, no converter,
    no validator but on the ``checked`` fields (whose check the caller made
    already), and a plain default (no factory) for every field but ``required``.
    """
    if hasattr(cls, "__attrs_post_init__"):
        return False
    for f in attrs.fields(cls):
        if f.converter is not None or (f.validator is not None and f.name not in checked):
            return False
        if f.name not in required and (
            f.default is attrs.NOTHING or isinstance(f.default, attrs.Factory)  # type: ignore[arg-type]
        ):
            return False
    return True


def _field_names(cls: type[Any]) -> set[str]:
    return {f.name for f in attrs.fields(cls)}


#: Whether :func:`_draft` may build drafts field by field (it sets every field of
#: ContactDetails and LeadDraft by name, and every field of LeadAttributes).
_FAST_DRAFTS = (
    _settable(LeadAttributes, {"source"}, checked={"source"})
    and _settable(ContactDetails, {"first_name", "last_name"})
    and _field_names(ContactDetails) == {"first_name", "last_name", "email", "cell_phone"}
    and _settable(LeadDraft, {"contact", "attributes"})
    and _field_names(LeadDraft) == {"contact", "attributes", "stage", "assignee_id"}
)


def _setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """The slot descriptor's ``__set__`` of field ``name``: sets it, frozen or not."""
    setter: Callable[[Any, Any], None] = getattr(cls, name).__set__
    return setter


if _FAST_DRAFTS:
    _SET_SOURCE = _setter(LeadAttributes, "source")
    #: Setters of the lead attribute fields other than ``source``, by name, with defaults.
    _ATTRIBUTE_SETTERS = tuple(
        (f.name, _setter(LeadAttributes, f.name), f.default)
        for f in attrs.fields(LeadAttributes)
        if f.name != "source"
    )
    _SET_FIRST_NAME = _setter(ContactDetails, "first_name")
    _SET_LAST_NAME = _setter(ContactDetails, "last_name")
    _SET_EMAIL = _setter(ContactDetails, "email")
    _SET_CELL_PHONE = _setter(ContactDetails, "cell_phone")
    _SET_CONTACT = _setter(LeadDraft, "contact")
    _SET_ATTRIBUTES = _setter(LeadDraft, "attributes")
    _SET_STAGE = _setter(LeadDraft, "stage")
    _SET_ASSIGNEE = _setter(LeadDraft, "assignee_id")


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
        if any(len(row) != width for row in rows):
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


#: The draft's own fields and the contact's, in :func:`_build_draft`'s order after the source.
_DRAFT_FIELDS = ("first_name", "last_name", "email", "cell_phone", "lead_stage", "assignee_id")
#: The lead attributes besides the source, with their defaults, in :func:`_build_draft`'s order.
_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (f.name, f.default) for f in attrs.fields(LeadAttributes) if f.name != "source"
)


def _refuse(text: str) -> Any:
    raise BadValue(_SYSTEM_MESSAGE)


def _draft_builder() -> Callable[..., LeadDraft]:
    """``build(source, first_name, ..., assignee_id, *attributes)``: :func:`_draft` with arguments.

    Generated once, with one parameter per field, so that ``map`` can build
    a table's drafts from its columns.
    """
    if not _FAST_DRAFTS:  # the classes check more than their fields: build them normally

        def built(
            source: str,
            first: str,
            last: str,
            email: str | None,
            phone: str | None,
            stage: str | None,
            assignee: int | None,
            *values: Any,
        ) -> LeadDraft:
            return LeadDraft(
                contact=ContactDetails(
                    first_name=first, last_name=last, email=email, cell_phone=phone
                ),
                attributes=LeadAttributes(
                    source=source, **dict(zip((n for n, _ in _DEFAULTS), values, strict=True))
                ),
                stage=stage,
                assignee_id=assignee,
            )

        return built
    names = [f"v{i}" for i in range(len(_DEFAULTS))]
    lines = [
        f"def build(source, first, last, email, phone, stage, assignee, {', '.join(names)}):",
        "    attributes = new(LeadAttributes)",
        "    set_source(attributes, source)",
        *(f"    set_{name}(attributes, {name})" for name in names),
        "    contact = new(ContactDetails)",
        "    set_first(contact, first)",
        "    set_last(contact, last)",
        "    set_email(contact, email)",
        "    set_phone(contact, phone)",
        "    draft = new(LeadDraft)",
        "    set_contact(draft, contact)",
        "    set_attributes(draft, attributes)",
        "    set_stage(draft, stage)",
        "    set_assignee(draft, assignee)",
        "    return draft",
    ]
    namespace: dict[str, Any] = {
        "new": _new,
        "LeadAttributes": LeadAttributes,
        "ContactDetails": ContactDetails,
        "LeadDraft": LeadDraft,
        "set_source": _SET_SOURCE,
        **{
            f"set_{name}": _setter(LeadAttributes, field)
            for name, (field, _) in zip(names, _DEFAULTS, strict=True)
        },
        "set_first": _SET_FIRST_NAME,
        "set_last": _SET_LAST_NAME,
        "set_email": _SET_EMAIL,
        "set_phone": _SET_CELL_PHONE,
        "set_contact": _SET_CONTACT,
        "set_attributes": _SET_ATTRIBUTES,
        "set_stage": _SET_STAGE,
        "set_assignee": _SET_ASSIGNEE,
    }
    exec("\n".join(lines), namespace)
    build: Callable[..., LeadDraft] = namespace["build"]
    return build


_build_draft = _draft_builder()
