"""Hypothesis strategies for leadflow values.

Use them to fuzz your own rules and configuration::

    from hypothesis import given
    from leadflow.testing import strategies as lfst
    from leadflow.validate import validate_row

    @given(lfst.valid_rows(sources=["referral"]))
    def test_every_valid_row_validates(case):
        assert validate_row(case.row) == case.expected

What is here:

* values: :func:`emails`, :func:`us_phones`, :func:`phones`, :func:`money`,
  :func:`names`, :func:`source_keys`;
* the model: :func:`contact_details`, :func:`lead_attributes`,
  :func:`lead_drafts`, :func:`leads`, :func:`contacts`, :func:`teams`,
  :func:`users`;
* raw input: :func:`valid_rows` (a messy but valid row with the
  :class:`~leadflow.validate.LeadDraft` it must validate to),
  :func:`invalid_rows` (a row with known bad fields and the set of field
  names validation must report) and :func:`arbitrary_rows` (anything at all).

Every strategy draws only values that the model accepts, so a failing
property points at the rule under test, not at the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from leadflow.ids import uuid7
from leadflow.model import (
    Contact,
    ContactDetails,
    CreditRating,
    DesiredTimeframe,
    Lead,
    LeadAttributes,
    License,
    LoanPurpose,
    Occupancy,
    Origin,
    Permission,
    PropertyType,
    Role,
    Team,
    User,
    YesNoUnknown,
)
from leadflow.validate import COLUMNS, LeadDraft, to_row
from leadflow.values import USPS_STATES

__all__ = [
    "BadRowCase",
    "RowCase",
    "arbitrary_rows",
    "aware_datetimes",
    "contact_details",
    "contacts",
    "emails",
    "invalid_rows",
    "lead_attributes",
    "lead_drafts",
    "leads",
    "money",
    "names",
    "phones",
    "source_keys",
    "teams",
    "us_phones",
    "users",
    "valid_rows",
]

# --------------------------------------------------------------------------- values

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + "0123456789"


def source_keys() -> st.SearchStrategy[str]:
    """System keys: letters, digits and underscores."""
    return st.text(_ALNUM + "_ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20)


def names(max_size: int = 30) -> st.SearchStrategy[str]:
    """Person names: any printable text, stripped, never blank (unicode included)."""
    chars = st.characters(
        blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"),
        blacklist_characters="\x85",
    )
    return (
        st.text(chars, min_size=1, max_size=max_size)
        .map(lambda s: " ".join(s.split()))
        .filter(bool)
    )


def _label() -> st.SearchStrategy[str]:
    inner = st.text(_ALNUM + "-", max_size=10)
    return st.builds(
        lambda a, mid, b: a + mid + b if mid else a,
        st.sampled_from(_ALNUM),
        inner,
        st.sampled_from(_ALNUM),
    )


def emails() -> st.SearchStrategy[str]:
    """Well-formed, lower-case email addresses (as validation returns them)."""
    atom = st.text(_ALNUM, min_size=1, max_size=10)
    local = st.lists(atom, min_size=1, max_size=3).flatmap(
        lambda parts: st.sampled_from([".", "_", "+", "-"]).map(lambda sep: sep.join(parts))
    )
    domain = st.lists(_label(), min_size=1, max_size=3).map(".".join)
    tld = st.text(_LOWER, min_size=2, max_size=6)
    return st.builds(lambda lp, d, t: f"{lp}@{d}.{t}", local, domain, tld)


def us_phones() -> st.SearchStrategy[str]:
    """Valid US numbers in E.164: ``+1`` and ten digits, area code and exchange 2-9 first."""
    return st.builds(
        lambda a, e, n: f"+1{a}{e}{n:04d}",
        st.integers(200, 999),
        st.integers(200, 999),
        st.integers(0, 9999),
    )


def _international_phones() -> st.SearchStrategy[str]:
    return st.builds(
        lambda cc, rest: f"+{cc}{rest}",
        st.sampled_from(["44", "49", "33", "52", "91", "61", "353", "852"]),
        st.text("0123456789", min_size=7, max_size=11),
    )


def phones() -> st.SearchStrategy[str]:
    """Valid phone numbers in E.164: mostly US, some international."""
    return st.one_of(us_phones(), us_phones(), us_phones(), _international_phones())


def money(max_value: int = 5_000_000) -> st.SearchStrategy[Decimal]:
    """Non-negative dollar amounts with exactly two decimal places."""
    return st.integers(0, max_value * 100).map(lambda cents: Decimal(cents).scaleb(-2))


def aware_datetimes(
    min_value: datetime = datetime(2020, 1, 1),
    max_value: datetime = datetime(2035, 12, 31),
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes, in UTC or a fixed offset, to the microsecond."""
    zones = st.sampled_from(
        [UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30))]
    )
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=zones)


# --------------------------------------------------------------------------- the model


def contact_details() -> st.SearchStrategy[ContactDetails]:
    """Normalised contact details with an email, a cell phone or both."""
    return st.one_of(
        st.builds(ContactDetails, first_name=names(), last_name=names(), email=emails()),
        st.builds(ContactDetails, first_name=names(), last_name=names(), cell_phone=phones()),
        st.builds(
            ContactDetails,
            first_name=names(),
            last_name=names(),
            email=emails(),
            cell_phone=phones(),
        ),
    )


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def lead_attributes(sources: Sequence[str] | None = None) -> st.SearchStrategy[LeadAttributes]:
    """Valid lead attributes; ``sources`` limits the source keys drawn."""
    source = st.sampled_from(list(sources)) if sources else source_keys()
    return st.builds(
        LeadAttributes,
        source=source,
        loan_purpose=st.sampled_from(LoanPurpose),
        referred_by=_optional(names()),
        loan_amount=_optional(money()),
        property_type=_optional(st.sampled_from(PropertyType)),
        occupancy=_optional(st.sampled_from(Occupancy)),
        credit_rating=_optional(st.sampled_from(CreditRating)),
        estimated_purchase_price=_optional(money()),
        down_payment=_optional(money(1_000_000)),
        desired_timeframe=_optional(st.sampled_from(DesiredTimeframe)),
        already_found_home=st.sampled_from(YesNoUnknown),
        first_time_buyer=st.sampled_from(YesNoUnknown),
        veteran=st.sampled_from(YesNoUnknown),
        property_address=_optional(names(60)),
        property_state=_optional(st.sampled_from(sorted(USPS_STATES))),
        property_zip=_optional(st.text("0123456789", min_size=5, max_size=5)),
        external_id=_optional(st.text(_ALNUM + "-_", min_size=1, max_size=20)),
    )


def lead_drafts(sources: Sequence[str] | None = None) -> st.SearchStrategy[LeadDraft]:
    """What a valid row validates to (no requested stage, maybe an assignee)."""
    return st.builds(
        LeadDraft,
        contact=contact_details(),
        attributes=lead_attributes(sources),
        assignee_id=_optional(st.integers(1, 10_000)),
    )


_ENTROPY = st.binary(min_size=10, max_size=10)


def leads(
    *,
    sources: Sequence[str] | None = None,
    stages: Sequence[str] = ("new",),
    assignees: Sequence[int] | None = None,
) -> st.SearchStrategy[Lead]:
    """Valid leads with UUIDv7 ids, created no later than updated."""

    @st.composite
    def build(draw: st.DrawFn) -> Lead:
        created = draw(aware_datetimes())
        updated = created + timedelta(seconds=draw(st.integers(0, 90 * 86400)))
        assignee = (
            draw(st.sampled_from(list(assignees)))
            if assignees
            else draw(_optional(st.integers(1, 10_000)))
        )
        return Lead(
            lead_id=uuid7(created, draw(_ENTROPY)),
            contact_id=uuid7(created, draw(_ENTROPY)),
            created_at=created,
            updated_at=updated,
            attributes=draw(lead_attributes(sources)),
            stage=draw(st.sampled_from(list(stages))),
            origin=draw(st.sampled_from(Origin)),
            assignee_id=assignee,
        )

    return build()


def contacts(owners: Sequence[int] | None = None) -> st.SearchStrategy[Contact]:
    """Contacts with UUIDv7 ids; ``owners`` limits the owner ids drawn."""
    owner = st.sampled_from(list(owners)) if owners else _optional(st.integers(1, 10_000))

    @st.composite
    def build(draw: st.DrawFn) -> Contact:
        created = draw(aware_datetimes())
        return Contact(
            contact_id=uuid7(created, draw(_ENTROPY)),
            details=draw(contact_details()),
            created_at=created,
            owner_id=draw(owner),
        )

    return build()


def teams() -> st.SearchStrategy[Team]:
    return st.builds(Team, key=source_keys(), name=names())


def users(
    *,
    user_ids: st.SearchStrategy[int] | None = None,
    team_keys: Sequence[str] = (),
) -> st.SearchStrategy[User]:
    """Users with random roles, activity, permissions, licenses and team memberships."""
    states = sorted(USPS_STATES)
    licenses = st.lists(
        st.builds(
            License,
            state=st.sampled_from(states),
            expires_on=_optional(st.dates(date(2024, 1, 1), date(2032, 12, 31))),
        ),
        max_size=4,
    ).map(tuple)
    return st.builds(
        User,
        user_id=user_ids if user_ids is not None else st.integers(1, 100_000),
        first_name=names(),
        last_name=names(),
        email=emails(),
        role=st.sampled_from(Role),
        active=st.booleans(),
        permissions=st.frozensets(st.sampled_from([str(p) for p in Permission])),
        licenses=licenses,
        teams=st.frozensets(st.sampled_from(list(team_keys)))
        if team_keys
        else st.just(frozenset()),
        started_on=_optional(st.dates(date(2015, 1, 1), date(2030, 12, 31))),
    )


# --------------------------------------------------------------------------- raw rows


@attrs.frozen
class RowCase:
    """A raw row and the draft it must validate to."""

    row: dict[str, str]
    expected: LeadDraft


@attrs.frozen
class BadRowCase:
    """A raw row and the exact set of fields validation must report as wrong."""

    row: dict[str, str]
    bad_fields: frozenset[str]


_HEADER_SPELLINGS: dict[str, list[str]] = {
    "first_name": ["First Name", "FIRST_NAME", "firstname"],
    "last_name": ["Last Name", "last-name", "Surname"],
    "email": ["Email", "E-mail", "Email Address"],
    "cell_phone": ["Cell Phone", "Phone Cell", "Mobile Phone"],
    "lead_source": ["Lead Source", "source"],
    "loan_purpose": ["Loan Purpose"],
    "credit_rating": ["Credit Rating (Self Reported)"],
    "already_found_home": ["Already Found Home?"],
    "first_time_buyer": ["First Time Buyer?"],
    "veteran": ["Veteran?"],
    "property_zip": ["Zip Code", "ZIP"],
    "property_state": ["State"],
}


def _format_phone(draw: st.DrawFn, e164: str) -> str:
    if not e164.startswith("+1"):
        digits = e164[1:]
        cut = draw(st.integers(1, 3))
        return draw(st.sampled_from([e164, f"+{digits[:cut]} {digits[cut:]}"]))
    a, e, n = e164[2:5], e164[5:8], e164[8:]
    return draw(
        st.sampled_from(
            [
                f"({a}) {e}-{n}",
                f"{a}.{e}.{n}",
                f"{a}-{e}-{n}",
                f"{a}{e}{n}",
                f"+1 {a} {e} {n}",
                f"1-{a}-{e}-{n}",
                e164,
            ]
        )
    )


def _format_money(draw: st.DrawFn, amount: Decimal) -> str:
    plain = f"{amount:.2f}"
    options = [plain, f"${amount:,.2f}", f"{amount:,.2f}", f"$ {plain}"]
    if amount == amount.to_integral_value():
        options += [f"{int(amount)}", f"${int(amount):,}"]
    return draw(st.sampled_from(options))


def _recase(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from([text, text.lower(), text.upper(), f"  {text} "]))


@st.composite
def _messy_row(draw: st.DrawFn, draft: LeadDraft, file_source: bool) -> dict[str, str]:
    clean = to_row(draft)
    row: dict[str, str] = {}
    for column, value in clean.items():
        if column == "lead_stage":
            continue
        if column == "lead_source" and file_source:
            value = draw(st.sampled_from(["", value]))
        elif value and column == "email":
            value = _recase(draw, value)
        elif value and column == "cell_phone":
            value = _format_phone(draw, value)
        elif value and column in ("loan_amount", "estimated_purchase_price", "down_payment"):
            value = _format_money(draw, Decimal(value))
        elif value and column in (
            "loan_purpose",
            "property_type",
            "occupancy",
            "credit_rating",
            "desired_timeframe",
            "already_found_home",
            "first_time_buyer",
            "veteran",
            "property_state",
        ):
            value = _recase(draw, value)
        elif value and column == "property_zip":
            value = draw(st.sampled_from([value, value + "-" + "1234"]))
        if not value and draw(st.booleans()):
            continue  # a blank cell and a missing column mean the same
        header = draw(st.sampled_from([column, *_HEADER_SPELLINGS.get(column, [])]))
        row[header] = value
    return row


def valid_rows(
    sources: Sequence[str] | None = None, *, file_source: str | None = None
) -> st.SearchStrategy[RowCase]:
    """Messy but valid raw rows with the draft each must validate to.

    Rows vary header spellings, phone and money formats, case and padding of
    choices, ZIP+4 and blank-vs-missing columns. With ``file_source`` every
    row has that source and may leave ``lead_source`` blank (validate with
    ``source=file_source``).
    """
    chosen = [file_source] if file_source else sources
    return lead_drafts(chosen).flatmap(
        lambda draft: _messy_row(draft, file_source is not None).map(
            lambda row: RowCase(row=row, expected=draft)
        )
    )


_BAD_VALUES: dict[str, list[str]] = {
    "first_name": [""],
    "last_name": ["", "   "],
    "email": ["bob@", "no-at-sign.example.com", "a@b", "two@@example.com", "sp ace@example.com"],
    "cell_phone": ["555-01", "call me", "(555) 201-456", "+0 123 456 789", "555-201-4567 x12"],
    "loan_purpose": ["Purchse", "refi cash out", "mortgage"],
    "loan_amount": ["-5", "12abc", "1,23", "1.234"],
    "estimated_purchase_price": ["lots", "-$100"],
    "down_payment": ["10%"],
    "property_type": ["Castle", "Houseboat"],
    "occupancy": ["Sometimes"],
    "credit_rating": ["Amazing", "800"],
    "desired_timeframe": ["someday"],
    "already_found_home": ["maybe"],
    "first_time_buyer": ["2"],
    "veteran": ["Navy"],
    "property_state": ["XX", "Tex", "T"],
    "property_zip": ["1234", "ABCDE", "123456"],
    "lead_id": ["0190e5a2-7a37-7d6b-8c1e-6a3b1f2e4d5c"],
    "created_at": ["2026-01-01"],
    "updated_at": ["2026-01-02T09:00:00Z"],
    "assignee_id": ["Daniel", "-3", "0"],
    "lead_source": ["not a key!"],
}


def invalid_rows(sources: Sequence[str] | None = None) -> st.SearchStrategy[BadRowCase]:
    """Rows with one or more known-bad fields and the exact fields to be reported.

    Bad values cover every rule of :mod:`leadflow.validate`: missing names, a
    malformed email or phone, misspelled or ambiguous choices, negative or
    malformed amounts, a non-USPS state, a short ZIP, system fields set, an
    unknown column, and a row with neither email nor cell phone.
    """

    @st.composite
    def build(draw: st.DrawFn) -> BadRowCase:
        draft = draw(lead_drafts(sources))
        row = to_row(draft)
        del row["lead_stage"]
        kinds = [*sorted(_BAD_VALUES), "unknown_column", "no_contact"]
        chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4, unique=True))
        if "no_contact" in chosen:
            chosen = [k for k in chosen if k not in ("email", "cell_phone")]
        bad: set[str] = set()
        for kind in chosen:
            if kind == "unknown_column":
                row["favourite_colour"] = draw(st.sampled_from(["blue", ""]))
                bad.add("favourite_colour")
            elif kind == "no_contact":
                row["email"] = row["cell_phone"] = ""
                bad.add("email")
            else:
                row[kind] = draw(st.sampled_from(_BAD_VALUES[kind]))
                bad.add(kind)
        return BadRowCase(row=row, bad_fields=frozenset(bad))

    return build()


def arbitrary_rows() -> st.SearchStrategy[dict[str, Any]]:
    """Anything at all: lead and junk headers, any text, ``None`` cells."""
    header = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=12))
    cell = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["", " ", "$", "+", "@"]))
    return st.dictionaries(header, cell, max_size=len(COLUMNS) + 3)
