"""The Lead Exception page: records, filters, ignore, show ignored, assign (DESIGN D8)."""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import Conflict, PermissionDenied, ValidationError
from leadflow.model import ContactDetails, Lead, LeadAttributes, LoanPurpose, User
from leadflow.routing.config import Distribution, FailureReason, LeadSource
from leadflow.routing.exceptions import (
    ExceptionFilter,
    ExceptionRecord,
    assign_exception,
    exception_record,
    ignore_exception,
    list_exceptions,
    unignore_exception,
)

T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "exceptions.md"

WEB = LeadSource(
    key="web_form",
    name="Web Form",
    description="Homepage rate quote",
    channel="Google Ads",
    primary_policy="web_rr",
)
ZILLOW = LeadSource(
    key="zillow",
    name="Zillow",
    description="Zillow premier agent",
    channel="Zillow",
    primary_policy="zillow_ring",
)
UPLOAD = LeadSource(key="upload", name="Manual Upload", channel="Referral")


def lead(
    n: int,
    source: LeadSource,
    *,
    created_at: datetime = T0,
    loan_purpose: LoanPurpose = LoanPurpose.TBD,
    loan_amount: Decimal | None = None,
    state: str | None = None,
    assignee: int | None = None,
) -> Lead:
    return Lead(
        lead_id=UUID(int=n),
        contact_id=UUID(int=1000 + n),
        created_at=created_at,
        updated_at=created_at,
        attributes=LeadAttributes(
            source=source.key,
            loan_purpose=loan_purpose,
            loan_amount=loan_amount,
            property_state=state,
        ),
        stage="new",
        assignee_id=assignee,
    )


def prospect(first: str, last: str) -> ContactDetails:
    return ContactDetails(first_name=first, last_name=last, email=f"{first.lower()}@example.com")


def agent(user_id: int = 7, *, active: bool = True) -> User:
    return User(
        user_id=user_id,
        first_name="Daniel",
        last_name="Davis",
        email=f"user{user_id}@example.com",
        active=active,
    )


ANNIE = exception_record(
    lead(1, WEB, loan_purpose=LoanPurpose.PURCHASE, loan_amount=Decimal("250000.00"), state="TX"),
    prospect("Annie", "Quince"),
    WEB,
    FailureReason.NO_AVAILABLE_AGENTS,
    Distribution.ROUND_ROBIN,
)
BOB = exception_record(
    lead(
        2,
        ZILLOW,
        created_at=T0 + HOUR,
        loan_purpose=LoanPurpose.REFINANCE_CASH_OUT,
        loan_amount=Decimal("400000.00"),
        state="CA",
    ),
    prospect("Bob", "Stone"),
    ZILLOW,
    FailureReason.NO_ANSWER,
    Distribution.RING_ALL,
)
CARLA = exception_record(
    lead(3, UPLOAD, created_at=T0 + 2 * HOUR),
    prospect("Carla", "Annis"),
    UPLOAD,
    FailureReason.NO_POLICY,
    None,
)
DAN = exception_record(
    lead(
        4,
        WEB,
        created_at=T0 + 24 * HOUR,
        loan_purpose=LoanPurpose.HELOC,
        loan_amount=Decimal("100000.00"),
        state="TX",
    ),
    prospect("Dan", "Quinn"),
    WEB,
    FailureReason.NO_CLAIM,
    Distribution.FIRST_CLAIM,
)
ALL = [DAN, CARLA, BOB, ANNIE]


def names(records: list[ExceptionRecord]) -> list[str]:
    return [r.prospect_name for r in records]


# ----------------------------------------------------------------------------- building


def test_a_record_has_the_seed_columns_from_lead_contact_and_source() -> None:
    expected = ExceptionRecord(
        lead_id=UUID(int=1),
        prospect_name="Annie Quince",
        campaign="Web Form",
        source="web_form",
        description="Homepage rate quote",
        distribution=Distribution.ROUND_ROBIN,
        lead_provider="Google Ads",
        loan_purpose=LoanPurpose.PURCHASE,
        loan_amount=Decimal("250000.00"),
        state="TX",
        failure_reason=FailureReason.NO_AVAILABLE_AGENTS,
        created_at=T0,
    )
    record = exception_record(
        lead(
            1, WEB, loan_purpose=LoanPurpose.PURCHASE, loan_amount=Decimal("250000.00"), state="TX"
        ),
        prospect("Annie", "Quince"),
        WEB,
        FailureReason.NO_AVAILABLE_AGENTS,
        Distribution.ROUND_ROBIN,
    )
    assert record == expected
    assert record.is_open
    assert not record.ignored
    assert record.assigned_to is None
    assert record.closed_at is None


def test_a_record_without_a_policy_has_no_distribution_and_blank_columns_stay_blank() -> None:
    assert CARLA.distribution is None
    assert CARLA.description == ""
    assert CARLA.loan_amount is None
    assert CARLA.state is None
    assert CARLA.loan_purpose is LoanPurpose.TBD


def test_the_prospect_name_skips_a_blank_last_name() -> None:
    record = exception_record(
        lead(9, UPLOAD), prospect("Cher", " "), UPLOAD, FailureReason.NO_POLICY, None
    )
    assert record.prospect_name == "Cher"


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        pytest.param(
            lambda: exception_record(
                lead(1, WEB), prospect("A", "B"), ZILLOW, FailureReason.FATAL_ERROR, None
            ),
            "source",
            "is not the lead's source ('web_form')",
            id="another-source",
        ),
        pytest.param(
            lambda: exception_record(
                lead(1, WEB, assignee=7),
                prospect("A", "B"),
                WEB,
                FailureReason.NO_AVAILABLE_AGENTS,
                Distribution.ROUND_ROBIN,
            ),
            "lead",
            "is assigned to user 7",
            id="assigned-lead",
        ),
        pytest.param(
            lambda: exception_record(
                lead(1, WEB), prospect("A", "B"), WEB, FailureReason.NO_POLICY, Distribution.DIRECT
            ),
            "distribution",
            "must be empty when the failure reason is no_policy",
            id="no-policy-with-distribution",
        ),
        pytest.param(
            lambda: attrs.evolve(ANNIE, assigned_to=7),
            "closed_at",
            "is set exactly when assigned_to is",
            id="assigned-but-open",
        ),
        pytest.param(
            lambda: attrs.evolve(ANNIE, assigned_to=7, closed_at=T0 - HOUR),
            "closed_at",
            "is before the lead was created",
            id="closed-before-created",
        ),
    ],
)
def test_inconsistent_records_are_refused(build: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.fields == (field,)
    assert message in str(caught.value)


NAIVE = datetime(2026, 3, 10, 10, 0)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: attrs.evolve(ANNIE, created_at=NAIVE), "created_at", id="created_at"),
        pytest.param(
            lambda: attrs.evolve(ANNIE, assigned_to=7, closed_at=NAIVE), "closed_at", id="closed"
        ),
        pytest.param(lambda: ExceptionFilter(created_from=NAIVE), "created_from", id="from"),
        pytest.param(lambda: ExceptionFilter(created_to=NAIVE), "created_to", id="to"),
        pytest.param(lambda: assign_exception(ANNIE, agent(), NAIVE), "now", id="assign-now"),
    ],
)
def test_naive_datetimes_are_refused_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.fields == (field,)
    assert "timezone-aware" in str(caught.value)


# ----------------------------------------------------------------------------- filtering


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (ExceptionFilter(), ["Annie Quince", "Bob Stone", "Carla Annis", "Dan Quinn"]),
        (ExceptionFilter(prospect_name="ann"), ["Annie Quince", "Carla Annis"]),
        (ExceptionFilter(prospect_name="QUIN"), ["Annie Quince", "Dan Quinn"]),
        (ExceptionFilter(campaign="web form"), ["Annie Quince", "Dan Quinn"]),
        (ExceptionFilter(campaign="Web"), []),
        (ExceptionFilter(source="zillow"), ["Bob Stone"]),
        (ExceptionFilter(description="PREMIER"), ["Bob Stone"]),
        (ExceptionFilter(distribution=Distribution.RING_ALL), ["Bob Stone"]),
        (ExceptionFilter(distribution=Distribution.WEIGHTED), []),
        (ExceptionFilter(lead_provider="google ads"), ["Annie Quince", "Dan Quinn"]),
        (
            ExceptionFilter(loan_purposes={LoanPurpose.PURCHASE, LoanPurpose.HELOC}),
            ["Annie Quince", "Dan Quinn"],
        ),
        (ExceptionFilter(min_amount=Decimal(250000)), ["Annie Quince", "Bob Stone"]),
        (ExceptionFilter(max_amount=Decimal(250000)), ["Annie Quince", "Dan Quinn"]),
        (
            ExceptionFilter(min_amount=Decimal(250000), max_amount=Decimal("250000.00")),
            ["Annie Quince"],
        ),
        (ExceptionFilter(states={"tx"}), ["Annie Quince", "Dan Quinn"]),
        (ExceptionFilter(states={"CA", "NY"}), ["Bob Stone"]),
        (ExceptionFilter(failure_reasons={FailureReason.NO_POLICY}), ["Carla Annis"]),
        (
            ExceptionFilter(failure_reasons={FailureReason.NO_ANSWER, FailureReason.NO_CLAIM}),
            ["Bob Stone", "Dan Quinn"],
        ),
        (ExceptionFilter(created_from=T0 + HOUR), ["Bob Stone", "Carla Annis", "Dan Quinn"]),
        (ExceptionFilter(created_to=T0 + 2 * HOUR), ["Annie Quince", "Bob Stone"]),
        (ExceptionFilter(created_from=T0 + HOUR, created_to=T0 + HOUR), []),
        (
            ExceptionFilter(campaign="Web Form", states={"TX"}, max_amount=Decimal(150000)),
            ["Dan Quinn"],
        ),
    ],
)
def test_filter_by_any_column(where: ExceptionFilter, expected: list[str]) -> None:
    assert names(list_exceptions(ALL, where=where)) == expected
    assert [where.matches(r) for r in (ANNIE, BOB, CARLA, DAN)] == [
        n in expected for n in ("Annie Quince", "Bob Stone", "Carla Annis", "Dan Quinn")
    ]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ExceptionFilter(min_amount=Decimal(2), max_amount=Decimal(1)), "max_amount"),
        (lambda: ExceptionFilter(created_from=T0, created_to=T0 - HOUR), "created_to"),
    ],
)
def test_an_empty_range_is_refused(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.fields == (field,)


# ----------------------------------------------------------------------------- the page


def test_the_page_lists_open_records_oldest_first_ties_by_lead_id() -> None:
    twin = attrs.evolve(ANNIE, lead_id=UUID(int=0), prospect_name="Twin")
    assert names(list_exceptions([*ALL, twin])) == [
        "Twin",
        "Annie Quince",
        "Bob Stone",
        "Carla Annis",
        "Dan Quinn",
    ]


def test_ignore_hides_and_show_ignored_lists_it_last() -> None:
    ignored = ignore_exception(ANNIE)
    assert ignored.ignored
    assert ignored.is_open
    records = [ignored, BOB, CARLA, DAN]
    assert names(list_exceptions(records)) == ["Bob Stone", "Carla Annis", "Dan Quinn"]
    assert names(list_exceptions(records, show_ignored=True)) == [
        "Bob Stone",
        "Carla Annis",
        "Dan Quinn",
        "Annie Quince",
    ]


def test_show_ignored_combines_with_a_filter() -> None:
    records = [ignore_exception(ANNIE), BOB, CARLA, ignore_exception(DAN)]
    where = ExceptionFilter(campaign="Web Form")
    assert list_exceptions(records, where=where) == []
    assert names(list_exceptions(records, show_ignored=True, where=where)) == [
        "Annie Quince",
        "Dan Quinn",
    ]


def test_ignoring_twice_changes_nothing_and_unignore_brings_it_back_in_date_order() -> None:
    ignored = ignore_exception(ANNIE)
    assert ignore_exception(ignored) is ignored
    back = unignore_exception(ignored)
    assert back == ANNIE
    assert unignore_exception(back) is back
    assert names(list_exceptions([BOB, back])) == ["Annie Quince", "Bob Stone"]


@pytest.mark.parametrize("ignored", [False, True], ids=["open", "ignored"])
def test_assigning_closes_the_record_and_it_leaves_the_page(ignored: bool) -> None:
    record = ignore_exception(ANNIE) if ignored else ANNIE
    closed = assign_exception(record, agent(7), T0 + 3 * HOUR)
    assert not closed.is_open
    assert closed.assigned_to == 7
    assert closed.closed_at == T0 + 3 * HOUR
    assert closed.ignored is ignored
    assert attrs.evolve(closed, assigned_to=None, closed_at=None) == record
    for show_ignored in (False, True):
        assert names(list_exceptions([closed, BOB], show_ignored=show_ignored)) == ["Bob Stone"]


def test_any_active_user_may_be_assigned_even_without_routing_permission() -> None:
    assert agent(9).permissions == frozenset()
    assert assign_exception(ANNIE, agent(9), T0).assigned_to == 9


def test_an_inactive_assignee_is_refused_by_name() -> None:
    with pytest.raises(PermissionDenied, match=r"user 8 \(Daniel Davis\) is inactive"):
        assign_exception(ANNIE, agent(8, active=False), T0)


@pytest.mark.parametrize(
    ("act", "verb"),
    [
        (lambda r: assign_exception(r, agent(9), T0 + 4 * HOUR), "assigned"),
        (ignore_exception, "ignored"),
        (unignore_exception, "unignored"),
    ],
)
def test_a_closed_record_cannot_be_changed(act: Any, verb: str) -> None:
    closed = assign_exception(ANNIE, agent(7), T0 + 3 * HOUR)
    with pytest.raises(Conflict) as caught:
        act(closed)
    assert str(caught.value) == (
        f"the exception for lead {ANNIE.lead_id} cannot be {verb}: it was assigned to "
        "user 7 at 2026-03-10T13:00:00+00:00 and is closed"
    )


# ----------------------------------------------------------------------------- property


@st.composite
def records(draw: st.DrawFn) -> ExceptionRecord:
    distribution = draw(st.none() | st.sampled_from(Distribution))
    reasons = [r for r in FailureReason if distribution is None or r is not FailureReason.NO_POLICY]
    created_at = T0 + draw(st.integers(0, 4)) * HOUR
    closed = draw(st.booleans())
    return ExceptionRecord(
        lead_id=UUID(int=draw(st.integers(0, 30))),
        prospect_name=draw(st.sampled_from(["Annie Quince", "Bob Stone", ""])),
        campaign="Web Form",
        source="web_form",
        description="",
        distribution=distribution,
        lead_provider="",
        loan_purpose=draw(st.sampled_from(LoanPurpose)),
        loan_amount=draw(st.none() | st.decimals(0, 10**6, places=2)),
        state=draw(st.none() | st.sampled_from(["TX", "CA"])),
        failure_reason=draw(st.sampled_from(reasons)),
        created_at=created_at,
        ignored=draw(st.booleans()),
        assigned_to=7 if closed else None,
        closed_at=created_at + HOUR if closed else None,
    )


@given(st.lists(records(), max_size=12))
def test_show_ignored_is_the_open_records_with_ignored_ones_last(
    given_records: list[ExceptionRecord],
) -> None:
    everything = list_exceptions(given_records, show_ignored=True)
    assert Counter(everything) == Counter(r for r in given_records if r.is_open)
    flags = [r.ignored for r in everything]
    assert flags == sorted(flags)
    visible = list_exceptions(given_records)
    assert visible == everything[: len(visible)]
    assert not any(r.ignored for r in visible)
    assert all(r.ignored for r in everything[len(visible) :])
    for group in (visible, everything[len(visible) :]):
        keys = [(r.created_at, r.lead_id) for r in group]
        assert keys == sorted(keys)


# ----------------------------------------------------------------------------- docs


def test_the_docs_describe_every_failure_reason() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for reason in FailureReason:
        assert f"`{reason}`" in text
        assert reason.description in text


def test_the_docs_example_prints_what_the_docs_say() -> None:
    text = DOCS.read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    (expected,) = re.findall(r"```text\n(.*?)```", text, flags=re.DOTALL)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOCS), "exec"), {})
    assert out.getvalue() == expected
