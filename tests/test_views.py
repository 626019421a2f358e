"""Pipeline views and the condition language (DESIGN D11)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import attrs
import pytest

from leadflow.errors import ValidationError
from leadflow.model import Contact, ContactDetails, Lead, LeadAttributes, LoanPurpose
from leadflow.predicates import Condition, Criteria, Op
from leadflow.views import ContactRow, SortKey, View, apply_view
from stage_helpers import T0


def contact(n: int, name: str) -> Contact:
    first, last = name.split()
    return Contact(
        contact_id=UUID(int=n),
        details=ContactDetails(
            first_name=first, last_name=last, email=f"{first.lower()}@example.com"
        ),
        created_at=T0,
        owner_id=7,
    )


def lead(n: int, contact_n: int, source: str, purpose: LoanPurpose, **extra: object) -> Lead:
    attributes = LeadAttributes(source=source, loan_purpose=purpose, **extra)  # type: ignore[arg-type]
    return Lead(
        lead_id=UUID(int=100 + n),
        contact_id=UUID(int=contact_n),
        created_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n),
        attributes=attributes,
        stage="new",
        assignee_id=7 if n % 2 else None,
    )


ANNIE, ANDREA, BOB = contact(1, "Annie Quince"), contact(2, "Andrea Jones"), contact(3, "Bob Stone")
LEADS = [
    lead(1, 1, "ci_rate_demo", LoanPurpose.REFINANCE_NO_CASH_OUT, loan_amount=Decimal("250000.00")),
    lead(2, 1, "referral", LoanPurpose.PURCHASE),
    lead(3, 1, "referral", LoanPurpose.HELOC),
    lead(4, 2, "ci_rate_demo", LoanPurpose.REFINANCE_NO_CASH_OUT, loan_amount=Decimal("90000.00")),
]
CI_REFI = View(
    name="New CI Refi Leads",
    criteria=Criteria(
        include=(
            Condition("lead_source", Op.EQUALS, "ci_rate_demo"),
            Condition("loan_purpose", Op.IN, ["Refinance - No Cash Out", "Refinance - Cash Out"]),
        )
    ),
    sort=(SortKey("loan_amount", descending=True),),
)


def test_a_contact_with_three_leads_one_matching_is_one_row_with_two_filtered() -> None:
    rows = apply_view(CI_REFI, [ANNIE, ANDREA, BOB], LEADS)
    assert [r.contact.details.name for r in rows] == ["Annie Quince", "Andrea Jones"]
    annie = rows[0]
    assert [lead.lead_id.int for lead in annie.leads] == [101]
    assert annie.filtered == 2
    assert annie.message == "2 lead(s) filtered"
    assert rows[1].message == ""


def test_exclude_unassigned_and_contacts_with_leads() -> None:
    no_heloc = View(
        name="x", criteria=Criteria(exclude=(Condition("loan_purpose", Op.EQUALS, "HELOC"),))
    )
    rows = apply_view(no_heloc, [ANNIE, ANDREA, BOB], LEADS)
    assert {r.contact.contact_id.int: r.filtered for r in rows} == {1: 1, 2: 0}
    everyone = apply_view(View(name="all"), [ANNIE, ANDREA, BOB], LEADS)
    assert [r.contact.contact_id.int for r in everyone][-1] == 3  # no leads: shown last
    with_leads = apply_view(
        View(name="w", only_contacts_with_leads=True), [ANNIE, ANDREA, BOB], LEADS
    )
    assert 3 not in [r.contact.contact_id.int for r in with_leads]
    unassigned = apply_view(View(name="u", only_unassigned=True), [ANNIE, ANDREA, BOB], LEADS)
    assert [[lead.lead_id.int for lead in r.leads] for r in unassigned] == [[104], [102]]


def test_at_most_100_leads_per_contact() -> None:
    many = [lead(n, 1, "referral", LoanPurpose.PURCHASE) for n in range(130)]
    (row,) = apply_view(View(name="all"), [ANNIE], many)
    assert len(row.leads) == 100
    assert row.beyond_limit == 30
    assert row.message == "30 more lead(s) not displayed"


def test_conditions() -> None:
    big = Condition("loan_amount", Op.BETWEEN, ["100,000", None])
    assert big.matches(LEADS[0])
    assert not big.matches(LEADS[3])
    assert not big.matches(LEADS[1])  # blank never in a range
    assert Condition("referred_by", Op.IS_BLANK).matches(LEADS[0])
    assert Condition("assignee_id", Op.IN, [7]).matches(LEADS[0])
    assert Condition("property_state", Op.NOT_IN, ["TX"]).matches(LEADS[0])
    assert Condition("created_at", Op.BETWEEN, [T0.isoformat(), None]).matches(LEADS[0])
    with pytest.raises(ValidationError, match="is not a lead field"):
        Condition("favourite_colour", Op.EQUALS, "blue")
    with pytest.raises(ValidationError, match="not a valid value for loan_purpose"):
        Condition("loan_purpose", Op.EQUALS, "Purchse")
    with pytest.raises(ValidationError, match="needs a list"):
        Condition("property_state", Op.IN, "TX")
    with pytest.raises(ValidationError, match="between"):
        Condition("loan_amount", Op.BETWEEN, [None, None])


def test_sorting_puts_blanks_last() -> None:
    view = View(name="s", sort=(SortKey("loan_amount"),))
    (row,) = apply_view(view, [ANNIE], LEADS[:3])
    assert [lead.lead_id.int for lead in row.leads] == [101, 102, 103]
    assert isinstance(row, ContactRow)
    assert attrs.evolve(view, sort=(SortKey("loan_amount", descending=True),)).sort[0].descending


def test_saved_views_round_trip_through_toml_and_json() -> None:
    import json

    from leadflow.errors import ConfigError
    from leadflow.io.views import view_to_dict, views_from_json, views_from_toml

    text = """
[[views]]
name = "New CI Refi Leads"
sort = [{ field = "loan_amount", descending = true }]
include = [
  { field = "lead_source", op = "equals", value = "ci_rate_demo" },
  { field = "loan_purpose", op = "in", value = [
    "Refinance - No Cash Out", "Refinance - Cash Out"] },
]
"""
    (view,) = views_from_toml(text, origin="views.toml")
    assert view == CI_REFI
    (again,) = views_from_json(json.dumps({"views": [view_to_dict(view)]}))
    assert again == CI_REFI
    rows = apply_view(view, [ANNIE, ANDREA], LEADS)
    assert rows[0].message == "2 lead(s) filtered"
    bad = """
[[views]]
name = "Broken"
colour = "red"
include = [{ field = "loan_purpose", op = "like", value = "x" }, { field = "nope", value = 1 }]
"""
    with pytest.raises(ConfigError) as info:
        views_from_toml(bad, origin="views.toml")
    text_ = "\n".join(info.value.problems)
    assert "views.toml: views[0]: unknown key(s) colour" in text_
    assert "include[0].op: 'like' is not one of" in text_
    assert "include[1]: field = 'nope': is not a lead field" in text_
