"""Small valid values for storage tests, and units of work to run them in.

A host may use them in its own storage tests too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from hypothesis import HealthCheck, settings

from leadflow.events import (
    AssignmentMethod,
    Claimed,
    Event,
    FieldChange,
    FollowUpClosed,
    FollowUpScheduled,
    LeadAssigned,
    LeadCreated,
    LeadKilled,
    LeadReassigned,
    LeadStageChanged,
    LeadUpdated,
    NoteAdded,
    OutcomeLogged,
    Released,
    ReleaseScheduled,
    Signal,
)
from leadflow.ids import ENTROPY_BYTES, uuid7
from leadflow.model import (
    Contact,
    ContactDetails,
    CreditRating,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    License,
    LoanPurpose,
    MatchScope,
    Origin,
    Permission,
    Priority,
    Team,
    User,
)
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    Distribution,
    FailureReason,
    LeadSource,
    MemberFilters,
    PolicyMember,
    RoutingPolicy,
)
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.protocol import OutboxMessage, OutboxStatus, Store, UnitOfWork

__all__ = [
    "HOUR",
    "T0",
    "lifecycle",
    "make_config",
    "make_contact",
    "make_lead",
    "make_message",
    "make_record",
    "new_id",
    "rolled_back",
    "run",
]

_T = TypeVar("_T")

#: The moment the contract's values are made at (a Monday morning, UTC).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: One hour, the contract's usual step between moments.
HOUR = timedelta(hours=1)
#: Five hours behind UTC: moments in another offset must compare by the instant.
_CHICAGO = timezone(timedelta(hours=-5))

_serial = itertools.count(1)


# --------------------------------------------------------------------------- builders


def new_id(at: datetime = T0) -> UUID:
    """A fresh UUIDv7 made at ``at``, never the same twice in one process."""
    return uuid7(at, next(_serial).to_bytes(ENTROPY_BYTES, "big"))


def make_contact(
    *,
    email: str | None = None,
    phone: str | None = None,
    owner: int | None = None,
    at: datetime = T0,
    first_name: str = "Ada",
    last_name: str = "Quince",
) -> Contact:
    """A contact created at ``at``; with neither email nor phone it gets a unique email."""
    contact_id = new_id(at)
    if email is None and phone is None:
        email = f"c{contact_id.hex[-12:]}@example.com"
    details = ContactDetails(
        first_name=first_name, last_name=last_name, email=email, cell_phone=phone
    )
    return Contact(contact_id=contact_id, details=details, created_at=at, owner_id=owner)


def make_lead(
    *,
    at: datetime = T0,
    contact_id: UUID | None = None,
    source: str = "web",
    external_id: str | None = None,
    stage: str = "new",
    assignee: int | None = None,
    method: AssignmentMethod | None = None,
    assigned_at: datetime | None = None,
    killed: bool = False,
) -> Lead:
    """A new lead (version 0) created at ``at``.

    An assigned lead was assigned at ``assigned_at`` (default ``at``) by
    ``method`` (default ``manual``); ``killed`` sets ``killed_at`` to ``at``.
    """
    if assignee is not None:
        method = method or AssignmentMethod.MANUAL
        assigned_at = assigned_at or at
    return Lead(
        lead_id=new_id(at),
        contact_id=contact_id or new_id(at),
        created_at=at,
        updated_at=at,
        attributes=LeadAttributes(source=source, external_id=external_id),
        stage=stage,
        origin=Origin.MANUAL,
        assignee_id=assignee,
        assigned_at=assigned_at,
        assignment_method=None if method is None else str(method),
        killed_at=at if killed else None,
    )


def make_record(
    lead: Lead,
    *,
    ignored: bool = False,
    assigned_to: int | None = None,
    closed_at: datetime | None = None,
) -> ExceptionRecord:
    """An exception record of ``lead``: open unless ``assigned_to`` and ``closed_at``."""
    return ExceptionRecord(
        lead_id=lead.lead_id,
        prospect_name="Ada Quince",
        campaign="Website",
        source=lead.source,
        description="Website form",
        distribution=Distribution.ROUND_ROBIN,
        lead_provider="organic",
        loan_purpose=LoanPurpose.PURCHASE,
        loan_amount=Decimal("250000.00"),
        state="TX",
        failure_reason=FailureReason.NO_AVAILABLE_AGENTS,
        created_at=lead.created_at,
        ignored=ignored,
        assigned_to=assigned_to,
        closed_at=closed_at,
    )


def make_message(
    *,
    at: datetime = T0,
    lead_id: UUID | None = None,
    status: OutboxStatus = OutboxStatus.PENDING,
    recipient: str = "jason@example.com",
) -> OutboxMessage:
    """A pending notification created at ``at``."""
    return OutboxMessage(
        message_id=new_id(at),
        created_at=at,
        kind="lead_assigned",
        recipient=recipient,
        subject="New lead: Ada Quince",
        body_text="You have a new lead.",
        body_html="<p>You have a new lead.</p>",
        lead_id=lead_id,
        status=status,
        next_attempt_at=at,
    )


def make_config(name: str = "Acme Lending") -> OrgConfig:
    """An organisation with one team, one user, one policy and one source."""
    return OrgConfig(
        settings=OrgSettings(
            name=name,
            timezone="America/Chicago",
            contact_matching=MatchScope.ORGANIZATION,
            routing_cap=25,
        ),
        users=(
            User(
                user_id=7,
                first_name="Jason",
                last_name="Reed",
                email="jason@example.com",
                permissions=frozenset({str(Permission.RECEIVE_LEADS)}),
                licenses=(License("TX", date(2027, 12, 31)), License("OK")),
                teams=frozenset({"loan_officers"}),
                started_on=date(2024, 1, 8),
            ),
        ),
        teams=(Team(key="loan_officers", name="Loan officers"),),
        policies=(
            RoutingPolicy(
                key="web_rr",
                name="Website round robin",
                distribution=Distribution.WEIGHTED,
                teams=("loan_officers",),
                members=(
                    PolicyMember(
                        user_id=7,
                        weight=3,
                        filters=MemberFilters(
                            states=frozenset({"TX"}),
                            credit_ratings=frozenset({CreditRating.GOOD}),
                        ),
                    ),
                ),
            ),
        ),
        sources=(
            LeadSource(key="web", name="Website", channel="organic", primary_policy="web_rr"),
        ),
    )


def lifecycle(lead: Lead) -> list[Event]:
    """One event of every kind leadflow has, for ``lead`` (a note ends the list)."""
    lead_id, at = lead.lead_id, lead.created_at
    follow_up = FollowUp(
        follow_up_id=new_id(at),
        kind=FollowUpKind.EVENT,
        subject=FollowUpSubject.CALL,
        due=at + timedelta(days=1),
        notes="Call back after lunch",
        duration=timedelta(minutes=30),
        assignee_id=8,
        priority=Priority.HIGH,
    )
    minute = timedelta(minutes=1)
    return [
        LeadCreated(
            at=at,
            actor=None,
            lead_id=lead_id,
            contact_id=lead.contact_id,
            source=lead.source,
            origin=Origin.IMPORT,
            stage="new",
        ),
        LeadAssigned(
            at=at + minute,
            actor=None,
            lead_id=lead_id,
            assignee_id=7,
            method=AssignmentMethod.ROUTING,
            policy="web_rr",
        ),
        LeadReassigned(
            at=at + 2 * minute, actor=1, via=2, lead_id=lead_id, from_assignee=7, to_assignee=8
        ),
        LeadUpdated(
            at=at + 3 * minute,
            actor=8,
            lead_id=lead_id,
            changes=(
                FieldChange("loan_amount", None, "250000.00"),
                FieldChange("property_state", "OK", "TX"),
            ),
        ),
        LeadStageChanged(
            at=(at + 4 * minute).astimezone(_CHICAGO),
            actor=8,
            lead_id=lead_id,
            from_stage="new",
            to_stage="attempted",
        ),
        OutcomeLogged(
            at=at + 5 * minute,
            actor=8,
            lead_id=lead_id,
            disposition="no_answer",
            channel="call",
            direction="outbound",
            contact_attempt=True,
            report="wrong_number",
            snoozed_until=at + 2 * HOUR,
            note="Left a voicemail",
        ),
        FollowUpScheduled(at=at + 6 * minute, actor=8, lead_id=lead_id, follow_up=follow_up),
        FollowUpClosed(
            at=at + 7 * minute,
            actor=8,
            lead_id=lead_id,
            follow_up_id=follow_up.follow_up_id,
            status=FollowUpStatus.DONE,
        ),
        ReleaseScheduled(
            at=at + 8 * minute,
            actor=None,
            lead_id=lead_id,
            release_at=at + timedelta(days=3),
            reason="no contact in 3 days",
        ),
        Released(at=at + 9 * minute, actor=None, lead_id=lead_id, from_user=8, reason="aging"),
        Claimed(at=at + 10 * minute, actor=9, lead_id=lead_id, user_id=9, previous_owner=8),
        LeadStageChanged(
            at=at + 11 * minute,
            actor=9,
            lead_id=lead_id,
            from_stage="attempted",
            to_stage="closed",
            outcome="funded",
        ),
        Signal(at=at + 12 * minute, actor=9, lead_id=lead_id, name="kpi_funded", stage="closed"),
        LeadKilled(at=at + 13 * minute, actor=9, lead_id=lead_id, stage="closed"),
        NoteAdded(
            at=at + 14 * minute,
            actor=9,
            contact_id=lead.contact_id,
            text="Sent a thank-you card",
            lead_id=lead_id,
        ),
    ]


# --------------------------------------------------------------------------- units of work


def run(store: Store, work: Callable[[UnitOfWork], _T]) -> _T:
    """Run ``work`` in one unit of work of ``store``, commit, and return its result."""
    with store.unit_of_work() as uow:
        return work(uow)


class _Rollback(Exception):
    """Raised inside a unit of work to roll it back."""


@contextmanager
def rolled_back(store: Store) -> Iterator[UnitOfWork]:
    """A unit of work that is rolled back when the block ends (by raising inside it)."""
    with suppress(_Rollback), store.unit_of_work() as uow:
        yield uow
        raise _Rollback


def _by_id(leads: Iterable[Lead]) -> list[Lead]:
    return sorted(leads, key=lambda lead: lead.lead_id)


def _contacts_by_id(contacts: Iterable[Contact]) -> list[Contact]:
    return sorted(contacts, key=lambda contact: contact.contact_id)


def _records_by_id(records: Iterable[ExceptionRecord]) -> list[ExceptionRecord]:
    return sorted(records, key=lambda record: record.lead_id)


def _names(key: object) -> str:
    """``match=`` for :func:`pytest.raises`: the error's message names ``key``."""
    return re.escape(str(key))


_LEAD_STAGES = ("new", "attempted", "contacted", "nurture")

#: Settings of the contract's properties: few examples (a database backend runs
#: them too). The ``store`` fixture lives across the examples of one test, and
#: the tests run from each subclass of :class:`StoreContract`.
_PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)
