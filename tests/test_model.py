"""The model: closed lists from the seed, system fields, contact matching, users."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import ValidationError
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
    MatchScope,
    Occupancy,
    PropertyType,
    Role,
    Team,
    User,
    YesNoUnknown,
    contact_keys,
    match_contact,
    with_version,
)
from leadflow.testing import strategies as lfst
from leadflow.testing.strategies import leads

T0 = datetime(2026, 1, 22, 16, 30, tzinfo=UTC)


def test_the_seed_closed_lists() -> None:
    assert len(LoanPurpose) == 10
    assert [p.value for p in LoanPurpose][-1] == "TBD"
    assert len(PropertyType) == 7
    assert PropertyType.PUD.value == "Planned Unit Development (PUD)"
    assert len(Occupancy) == 4
    assert [c.value for c in CreditRating] == ["Excellent", "Good", "Fair", "Poor"]
    assert [t.value for t in DesiredTimeframe] == [
        "Next 30 days",
        "3 months",
        "6 months",
        "6+ months",
    ]
    assert [a.value for a in YesNoUnknown] == ["Yes", "No", "Unknown", ""]


def lead(**changes: object) -> Lead:
    base = Lead(
        lead_id=uuid7(T0, bytes(10)),
        contact_id=uuid7(T0, b"\x01" * 10),
        created_at=T0,
        updated_at=T0,
        attributes=LeadAttributes(source="referral", loan_amount=Decimal("1.00")),
        stage="new",
    )
    return attrs.evolve(base, **changes)


def test_lead_defaults_and_immutability() -> None:
    item = lead()
    assert item.loan_purpose is LoanPurpose.TBD
    assert item.source == "referral"
    assert item.assignee_id is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        item.stage = "engaged"  # type: ignore[misc]


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(
        ValidationError, match="created_at = 2026-01-01T00:00:00: must be a timezone-aware"
    ):
        lead(created_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="updated_at"):
        lead(updated_at=datetime(2026, 1, 1))


def test_keys_must_be_system_keys() -> None:
    with pytest.raises(ValidationError, match="stage = 'Contact Attempted'"):
        lead(stage="Contact Attempted")
    with pytest.raises(ValidationError, match="source"):
        LeadAttributes(source="purchased leads")
    with pytest.raises(ValidationError, match="key"):
        Team(key="west region", name="West Region")


def contact(n: int, owner: int | None, email: str | None, phone: str | None) -> Contact:
    return Contact(
        contact_id=UUID(int=n),
        details=ContactDetails(first_name="A", last_name="B", email=email, cell_phone=phone),
        created_at=T0 + timedelta(minutes=n),
        owner_id=owner,
    )


ANNIE = ContactDetails(
    first_name="Annie", last_name="Q", email="annie@example.com", cell_phone="+15552014567"
)


def test_match_contact_scopes() -> None:
    mine = contact(1, owner=7, email="annie@example.com", phone=None)
    pool = contact(2, owner=8, email=None, phone="+15552014567")
    elsewhere = contact(3, owner=99, email="annie@example.com", phone="+15552014567")
    every = [elsewhere, pool, mine]
    assert match_contact(ANNIE, every, MatchScope.ACCOUNT, acting_user=7) is mine
    assert match_contact(ANNIE, every, MatchScope.ACCOUNT, acting_user=5) is None
    assert match_contact(ANNIE, every, MatchScope.POLICY_POOL, pool=[8, 9]) is pool
    assert match_contact(ANNIE, every, MatchScope.POLICY_POOL, pool=[7, 8]) is mine  # email wins
    assert match_contact(ANNIE, every, MatchScope.ORGANIZATION) is elsewhere  # both keys win
    assert match_contact(ANNIE, [], MatchScope.ORGANIZATION) is None
    with pytest.raises(ValidationError, match="acting_user"):
        match_contact(ANNIE, every, MatchScope.ACCOUNT)


def test_match_contact_never_matches_on_missing_values() -> None:
    no_email = ContactDetails(first_name="A", last_name="B", cell_phone="+15550000000")
    other = contact(1, owner=1, email=None, phone="+15559999999")
    assert match_contact(no_email, [other], MatchScope.ORGANIZATION) is None


@given(
    st.lists(lfst.contacts(owners=[1, 2, 3]), max_size=8, unique_by=lambda c: c.contact_id),
    st.randoms(),
)
def test_match_contact_does_not_depend_on_order(contacts: list[Contact], rnd: object) -> None:
    details = contacts[0].details if contacts else ANNIE
    shuffled = list(contacts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for scope in MatchScope:
        options = {"acting_user": 1, "pool": [1, 2]}
        assert match_contact(details, contacts, scope, **options) == match_contact(  # type: ignore[arg-type]
            details,
            shuffled,
            scope,
            **options,  # type: ignore[arg-type]
        )


def test_contact_keys() -> None:
    assert contact_keys(ANNIE) == ("email:annie@example.com", "phone:+15552014567")
    assert contact(1, 1, None, "+15550000000").keys == ("phone:+15550000000",)


def test_user_helpers() -> None:
    user = User(
        user_id=7,
        first_name="Daniel",
        last_name="Davis",
        email="daniel@example.com",
        role=Role.ADMIN,
        permissions=frozenset({"receive_leads"}),
        licenses=(License("TX"), License("OK", expires_on=date(2026, 6, 30))),
        started_on=date(2026, 1, 5),
    )
    assert user.name == "Daniel Davis"
    assert user.is_admin
    assert user.has_permission("receive_leads")
    assert not user.has_permission("reactivate")
    assert user.licensed_in("TX", date(2030, 1, 1))
    assert user.licensed_in("OK", date(2026, 6, 30))
    assert not user.licensed_in("OK", date(2026, 7, 1))
    assert not user.licensed_in("CA", date(2026, 1, 1))
    assert user.tenure_days(date(2026, 1, 5)) == 0
    assert user.tenure_days(date(2026, 2, 4)) == 30
    assert attrs.evolve(user, started_on=None).tenure_days(date(2026, 2, 4)) is None


def test_money_is_decimal_and_times_may_use_any_offset() -> None:
    cst = timezone(timedelta(hours=-6))
    item = lead(created_at=T0.astimezone(cst))
    assert item.created_at == T0
    assert isinstance(item.attributes.loan_amount, Decimal)


@given(leads(), st.integers(min_value=0, max_value=10**6))
def test_with_version_is_evolve_at_a_fraction_of_the_cost(lead: Lead, version: int) -> None:
    copy = with_version(lead, version)
    assert copy == attrs.evolve(lead, version=version)
    assert copy.version == version
    assert lead.version != version or copy == lead
