"""The lead columns: their names and spellings, the closed lists, each column's parser."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.model import (
    KEY_PATTERN,
    KEY_RULE,
    CreditRating,
    DesiredTimeframe,
    LeadAttributes,
    LoanPurpose,
    Occupancy,
    PropertyType,
    YesNoUnknown,
)
from leadflow.values import (
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


_SYSTEM_MESSAGE = "is system-generated and cannot be set by an import or form; leave it out"
#: The lead attributes a row may set besides the source, in the model's order.
_LEAD_FIELDS = tuple(f.name for f in attrs.fields(LeadAttributes) if f.name != "source")


def _fold_name(text: str) -> str:
    return " ".join(text.lower().split())
