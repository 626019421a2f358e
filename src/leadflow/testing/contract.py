"""The storage contract: the tests every :class:`~leadflow.storage.Store` must pass.

:class:`StoreContract` is a plain class of pytest tests. It is not collected
by itself (its name does not start with ``Test``); a subclass runs it against
one store by overriding the ``store`` fixture, which yields a fresh, empty
store and closes it afterwards::

    import pytest

    from leadflow.testing.contract import StoreContract
    from myapp.leadstore import PostgresLeadStore


    class TestPostgresLeadStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = PostgresLeadStore(dsn=..., schema=f"test_{tmp_path.name}")
            yield store
            store.close()

leadflow's own backends run it this way (``tests/test_memory_store.py``
runs it on MemoryStore and on a small wrapper store, the way a host would),
and so should a host's own adapter. The tests use only the protocol of
:mod:`leadflow.storage.protocol`, never a backend's internals. They check:

* units of work: everything written in one commits together, or rolls back
  together when the block raises (leads, contacts, events, cursors,
  exception records, messages, configurations), and the exception comes out
  unchanged; a unit of work reads its own writes;
* optimistic concurrency: ``add_lead`` stores version 1, each
  ``update_lead`` adds one, a stale version is a ``Conflict`` that changes
  nothing;
* uniqueness: duplicate lead, contact and message ids and a duplicate
  (source, external id) are a ``Conflict`` whose message names the key;
* every query, exactly as the protocol's docstrings say (lead ids by prefix
  with ``%`` and ``_`` taken literally); ``NotFound`` for a missing record;
* values, not rows: any lead, contact, event, record, message and
  configuration reads back equal to what was written (with hypothesis for
  leads and contacts).

The builders below (:func:`make_lead`, :func:`make_contact`,
:func:`make_record`, :func:`make_message`, :func:`make_config`,
:func:`lifecycle`) make small valid values, and :func:`run` and
:func:`rolled_back` open units of work; a host may use them in its own
storage tests too. The suite needs the testing extra (``pip install
'leadflow[testing]'``: pytest and hypothesis).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import Conflict, NotFound, ValidationError
from leadflow.events import (
    EVENT_TYPES,
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
    apply_events,
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
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.protocol import OutboxMessage, OutboxStatus, Store, UnitOfWork
from leadflow.testing import strategies as lfst

__all__ = [
    "HOUR",
    "T0",
    "StoreContract",
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


# --------------------------------------------------------------------------- the contract


class StoreContract:
    """The tests every store passes. Subclass it and override the ``store`` fixture.

    The fixture yields a fresh, empty store and closes it when the test is
    done. Every test opens its own units of work on it and uses only the
    :mod:`~leadflow.storage.protocol`.
    """

    @pytest.fixture
    def store(self) -> Store:
        """Override: yield a fresh, empty store, and close it afterwards."""
        pytest.fail(f"{type(self).__name__} must override the 'store' fixture")

    # ------------------------------------------------------------------ commit and rollback

    def _everything(self) -> tuple[Contact, Lead, list[Event], ExceptionRecord, OutboxMessage]:
        contact = make_contact(email="ada@example.com", phone="+15552014567", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1")
        events = lifecycle(lead)[:2]
        return contact, lead, events, make_record(lead), make_message(lead_id=lead.lead_id)

    def _write_everything(
        self,
        uow: UnitOfWork,
        everything: tuple[Contact, Lead, list[Event], ExceptionRecord, OutboxMessage],
    ) -> Lead:
        contact, lead, events, record, message = everything
        uow.add_contact(contact)
        stored = uow.add_lead(lead, next_change_at=T0 + HOUR)
        uow.append_events(events)
        uow.save_cursor("web_rr", PolicyCursor(last_user_id=7))
        uow.put_exception(record)
        uow.add_message(message)
        uow.save_config(make_config(), actor=1, at=T0)
        return stored

    def test_a_committed_unit_of_work_is_visible_in_the_next(self, store: Store) -> None:
        everything = self._everything()
        contact, lead, events, record, message = everything
        stored = run(store, lambda uow: self._write_everything(uow, everything))
        assert stored == attrs.evolve(lead, version=1)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.find_lead("web", "W-1") == stored
            assert uow.count_leads() == 1
            assert uow.due_leads(T0 + HOUR) == [stored]
            assert uow.leads_of_contact(contact.contact_id) == [stored]
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(emails=["ada@example.com"]) == [contact]
            assert uow.history(lead.lead_id) == events
            assert uow.activity(start=T0, end=T0 + HOUR) == events
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.get_exception(lead.lead_id) == record
            assert uow.exceptions() == [record]
            assert uow.messages() == [message]
            assert uow.load_config() == make_config()
            assert uow.config_history() == [(T0, 1, make_config())]

    def test_an_exception_inside_the_block_rolls_everything_back(self, store: Store) -> None:
        everything = self._everything()
        contact, lead, _, _, _ = everything
        with rolled_back(store) as uow:
            self._write_everything(uow, everything)
        with store.unit_of_work() as uow:
            with pytest.raises(NotFound):
                uow.get_lead(lead.lead_id)
            assert uow.find_lead("web", "W-1") is None
            assert uow.count_leads() == 0
            assert uow.due_leads(T0 + HOUR) == []
            assert uow.leads_of_contact(contact.contact_id) == []
            with pytest.raises(NotFound):
                uow.get_contact(contact.contact_id)
            assert uow.find_contacts(emails=["ada@example.com"], phones=["+15552014567"]) == []
            assert uow.history(lead.lead_id) == []
            assert uow.activity(start=T0, end=T0 + HOUR) == []
            assert uow.cursors() == {}
            with pytest.raises(NotFound):
                uow.get_exception(lead.lead_id)
            assert uow.exceptions(include_closed=True) == []
            assert uow.messages() == []
            assert uow.load_config() is None
            assert uow.config_history() == []

    def test_the_exception_comes_out_of_the_block_unchanged(self, store: Store) -> None:
        failure = RuntimeError("the notifier is down")
        lead = make_lead()

        def fail() -> None:
            with store.unit_of_work() as uow:
                uow.add_lead(lead, next_change_at=None)
                raise failure

        with pytest.raises(RuntimeError) as raised:
            fail()
        assert raised.value is failure
        assert run(store, lambda uow: uow.count_leads()) == 0

    def test_a_rollback_restores_every_value_it_changed(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
        record = make_record(lead)
        message = make_message(lead_id=lead.lead_id)
        with store.unit_of_work() as uow:
            uow.add_contact(contact)
            stored = uow.add_lead(lead, next_change_at=T0 + HOUR)
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=7))
            uow.put_exception(record)
            uow.add_message(message)
            uow.save_config(make_config("Before"), actor=1, at=T0)

        with rolled_back(store) as uow:
            changed = attrs.evolve(
                stored,
                stage="contacted",
                assignee_id=8,
                attributes=attrs.evolve(stored.attributes, external_id="W-2"),
            )
            uow.update_lead(changed, next_change_at=None)
            details = attrs.evolve(contact.details, email="ada.q@example.com")
            uow.update_contact(attrs.evolve(contact, details=details, owner_id=8))
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=8))
            uow.save_cursor("web_fallback", PolicyCursor(last_user_id=9))
            uow.put_exception(make_record(lead, assigned_to=8, closed_at=T0 + HOUR))
            uow.update_message(attrs.evolve(message, status=OutboxStatus.SENT, attempts=1))
            uow.save_config(make_config("After"), actor=2, at=T0 + HOUR)
            uow.append_events(lifecycle(lead))

        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.leads_of_assignee(7) == [stored]
            assert uow.leads_of_assignee(8) == []
            assert uow.due_leads(T0 + HOUR) == [stored]
            assert uow.find_lead("web", "W-1") == stored
            assert uow.find_lead("web", "W-2") is None
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(emails=["ada@example.com"], owners=[7]) == [contact]
            assert uow.find_contacts(emails=["ada.q@example.com"]) == []
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.get_exception(lead.lead_id) == record
            assert uow.messages(status=OutboxStatus.PENDING) == [message]
            assert uow.messages(status=OutboxStatus.SENT) == []
            assert uow.load_config() == make_config("Before")
            assert len(uow.config_history()) == 1
            assert uow.history(lead.lead_id) == []

    def test_a_conflict_caught_inside_a_unit_of_work_leaves_it_usable(self, store: Store) -> None:
        first, second = make_lead(external_id="W-1"), make_lead(external_id="W-2")
        with store.unit_of_work() as uow:
            stored = uow.add_lead(first, next_change_at=None)
            with pytest.raises(Conflict):
                uow.add_lead(first, next_change_at=T0)
            with pytest.raises(Conflict):
                uow.add_lead(attrs.evolve(second, attributes=first.attributes), next_change_at=T0)
            assert uow.get_lead(first.lead_id) == stored
            assert uow.due_leads(T0) == []
            other = uow.add_lead(second, next_change_at=None)
        with store.unit_of_work() as uow:
            assert _by_id(uow.pool_leads()) == _by_id([stored, other])

    def test_a_unit_of_work_reads_its_own_writes(self, store: Store) -> None:
        contact = make_contact(phone="+15552014567", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
        with store.unit_of_work() as uow:
            uow.add_contact(contact)
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(phones=["+15552014567"]) == [contact]
            stored = uow.add_lead(lead, next_change_at=T0)
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.find_lead("web", "W-1") == stored
            assert uow.leads_of_assignee(7) == [stored]
            assert uow.leads_of_contact(contact.contact_id) == [stored]
            assert uow.due_leads(T0) == [stored]
            assert uow.count_leads() == 1
            assert uow.open_counts([7]) == {7: 1}
            updated = uow.update_lead(attrs.evolve(stored, stage="attempted"), next_change_at=None)
            assert uow.get_lead(lead.lead_id) == updated
            assert updated.version == 2
            assert uow.due_leads(T0) == []
            events = lifecycle(lead)[:3]
            uow.append_events(events)
            assert uow.history(lead.lead_id) == events
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=7, weights=((7, 2),)))
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7, weights=((7, 2),))}
            uow.put_exception(make_record(lead))
            assert uow.get_exception(lead.lead_id) == make_record(lead)
            message = make_message(lead_id=lead.lead_id)
            uow.add_message(message)
            assert uow.messages() == [message]
            uow.save_config(make_config(), actor=None, at=T0)
            assert uow.load_config() == make_config()

    # ------------------------------------------------------------------ versions

    def test_add_lead_stores_version_one(self, store: Store) -> None:
        lead = make_lead()
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        assert stored == attrs.evolve(lead, version=1)
        assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored

    def test_add_lead_refuses_a_lead_that_already_has_a_version(self, store: Store) -> None:
        lead = attrs.evolve(make_lead(), version=1)
        with store.unit_of_work() as uow, pytest.raises(ValidationError):
            uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 0

    def test_each_update_adds_one_to_the_version(self, store: Store) -> None:
        lead = make_lead()
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        for version, stage in enumerate(["attempted", "contacted", "nurture"], start=2):
            changed = attrs.evolve(stored, stage=stage, updated_at=stored.updated_at + HOUR)
            with store.unit_of_work() as uow:
                stored = uow.update_lead(changed, next_change_at=None)
            assert stored == attrs.evolve(changed, version=version)
            assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored

    def test_an_update_from_a_stale_version_is_a_conflict(self, store: Store) -> None:
        lead = make_lead(assignee=7)
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        mine = attrs.evolve(stored, stage="attempted")
        theirs = attrs.evolve(stored, stage="contacted", assignee_id=8)
        winner = run(store, lambda uow: uow.update_lead(theirs, next_change_at=T0))
        with store.unit_of_work() as uow:
            with pytest.raises(Conflict, match=_names(lead.lead_id)):
                uow.update_lead(mine, next_change_at=None)
            assert uow.get_lead(lead.lead_id) == winner
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == winner
            assert winner.version == 2
            assert uow.due_leads(T0) == [winner]
            assert uow.leads_of_assignee(7) == []
            assert uow.leads_of_assignee(8) == [winner]
            with pytest.raises(Conflict, match=_names(lead.lead_id)):
                uow.update_lead(lead, next_change_at=None)  # version 0: never stored as such

    def test_updating_a_lead_never_stored_is_not_found(self, store: Store) -> None:
        lead = attrs.evolve(make_lead(), version=1)
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead.lead_id)):
            uow.update_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 0

    # ------------------------------------------------------------------ uniqueness

    def test_a_duplicate_lead_id_is_a_conflict(self, store: Store) -> None:
        lead = make_lead(external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        again = attrs.evolve(lead, stage="attempted", attributes=LeadAttributes(source="phone"))
        with store.unit_of_work() as uow, pytest.raises(Conflict, match=_names(lead.lead_id)):
            uow.add_lead(again, next_change_at=T0)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.count_leads() == 1
            assert uow.due_leads(T0) == []

    def test_a_duplicate_contact_id_is_a_conflict(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com")
        run(store, lambda uow: uow.add_contact(contact))
        again = attrs.evolve(contact, owner_id=9)
        with (
            store.unit_of_work() as uow,
            pytest.raises(Conflict, match=_names(contact.contact_id)),
        ):
            uow.add_contact(again)
        assert run(store, lambda uow: uow.get_contact(contact.contact_id)) == contact

    def test_a_duplicate_message_id_is_a_conflict(self, store: Store) -> None:
        message = make_message()
        run(store, lambda uow: uow.add_message(message))
        again = attrs.evolve(message, subject="Another subject")
        with (
            store.unit_of_work() as uow,
            pytest.raises(Conflict, match=_names(message.message_id)),
        ):
            uow.add_message(again)
        assert run(store, lambda uow: uow.messages()) == [message]

    def test_a_duplicate_external_id_of_one_source_is_a_conflict(self, store: Store) -> None:
        first = make_lead(source="web", external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(first, next_change_at=None))
        second = make_lead(source="web", external_id="W-1")
        with store.unit_of_work() as uow, pytest.raises(Conflict, match="W-1"):
            uow.add_lead(second, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "W-1") == stored
            with pytest.raises(NotFound):
                uow.get_lead(second.lead_id)

    def test_the_same_external_id_under_another_source_is_another_lead(self, store: Store) -> None:
        web = make_lead(source="web", external_id="42")
        phone = make_lead(source="phone", external_id="42")
        with store.unit_of_work() as uow:
            stored_web = uow.add_lead(web, next_change_at=None)
            stored_phone = uow.add_lead(phone, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "42") == stored_web
            assert uow.find_lead("phone", "42") == stored_phone
            assert uow.find_lead("referral", "42") is None

    def test_leads_without_an_external_id_never_collide(self, store: Store) -> None:
        leads = [make_lead(source="web") for _ in range(3)]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 3

    def test_an_update_may_not_take_another_leads_external_id(self, store: Store) -> None:
        first, second = make_lead(external_id="W-1"), make_lead(external_id="W-2")
        with store.unit_of_work() as uow:
            uow.add_lead(first, next_change_at=None)
            stored = uow.add_lead(second, next_change_at=None)
        taking = attrs.evolve(stored, attributes=attrs.evolve(stored.attributes, external_id="W-1"))
        with store.unit_of_work() as uow, pytest.raises(Conflict, match="W-1"):
            uow.update_lead(taking, next_change_at=None)
        moving = attrs.evolve(stored, attributes=attrs.evolve(stored.attributes, external_id="W-3"))
        moved = run(store, lambda uow: uow.update_lead(moving, next_change_at=None))
        with store.unit_of_work() as uow:
            assert uow.get_lead(second.lead_id) == moved
            assert uow.find_lead("web", "W-3") == moved
            assert uow.find_lead("web", "W-2") is None
            assert uow.find_lead("web", "W-1") == attrs.evolve(first, version=1)

    # ------------------------------------------------------------------ batches

    def test_find_leads_by_external_ids_finds_many_at_once(self, store: Store) -> None:
        leads = [
            make_lead(source="web", external_id="W-1"),
            make_lead(source="web", external_id="W-2"),
            make_lead(source="phone", external_id="W-3"),
            make_lead(source="web"),
        ]
        with store.unit_of_work() as uow:
            w1, w2, _, _ = [uow.add_lead(lead, next_change_at=None) for lead in leads]
        with store.unit_of_work() as uow:
            found = uow.find_leads_by_external_ids("web", ["W-1", "W-2", "W-3", "w-1", "none"])
            assert found == {"W-1": w1, "W-2": w2}
            assert uow.find_leads_by_external_ids("web", {"W-2"}) == {"W-2": w2}
            assert uow.find_leads_by_external_ids("web", ("W-2", "W-2")) == {"W-2": w2}
            assert uow.find_leads_by_external_ids("referral", ["W-1"]) == {}
            assert uow.find_leads_by_external_ids("web", []) == {}
            # what find_lead gives for each id
            for external_id in ("W-1", "W-2", "W-3", "none"):
                assert uow.find_leads_by_external_ids("web", [external_id]).get(
                    external_id
                ) == uow.find_lead("web", external_id)

    def test_find_leads_by_external_ids_reads_the_units_own_writes(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            stored = uow.add_lead(make_lead(external_id="W-1"), next_change_at=None)
            assert uow.find_leads_by_external_ids("web", ["W-1"]) == {"W-1": stored}

    def test_add_leads_stores_each_at_version_one_in_order(self, store: Store) -> None:
        contact = make_contact(owner=7)
        leads = [
            make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7),
            make_lead(contact_id=contact.contact_id, at=T0 + HOUR),
            make_lead(external_id="W-2"),
        ]
        moments = [T0 + 2 * HOUR, None, (T0 + HOUR).astimezone(_CHICAGO)]
        stored = [attrs.evolve(lead, version=1) for lead in leads]
        with store.unit_of_work() as uow:
            uow.add_leads([])
            uow.add_leads(list(zip(leads, moments, strict=True)))
            assert [uow.get_lead(lead.lead_id) for lead in leads] == stored
        with store.unit_of_work() as uow:
            assert [uow.get_lead(lead.lead_id) for lead in leads] == stored
            assert uow.count_leads() == 3
            assert uow.due_leads(T0 + 3 * HOUR) == [stored[2], stored[0]]
            assert uow.find_leads_by_external_ids("web", ["W-1", "W-2"]) == {
                "W-1": stored[0],
                "W-2": stored[2],
            }
            assert uow.leads_of_contact(contact.contact_id) == stored[:2]
            assert uow.leads_of_assignee(7) == [stored[0]]
            assert uow.routed_counts([7], since=T0) == {}
            assert uow.open_counts([7]) == {7: 1}
        # and each one is an ordinary stored lead
        changed = attrs.evolve(stored[1], stage="attempted")
        assert run(store, lambda uow: uow.update_lead(changed, next_change_at=None)).version == 2

    def test_add_leads_stores_none_when_one_is_refused(self, store: Store) -> None:
        taken = run(
            store, lambda uow: uow.add_lead(make_lead(external_id="W-1"), next_change_at=T0)
        )
        fresh = [make_lead(external_id="W-2"), make_lead(external_id="W-3")]
        twin = make_lead()
        naive = datetime(2026, 3, 2, 9, 0)
        batches: list[tuple[list[tuple[Lead, datetime | None]], type[Exception], str]] = [
            # an external id, or a lead id, stored already
            (
                [(fresh[0], T0), (fresh[1], None), (make_lead(external_id="W-1"), None)],
                Conflict,
                "W-1",
            ),
            (
                [(fresh[0], T0), (attrs.evolve(taken, version=0), None)],
                Conflict,
                str(taken.lead_id),
            ),
            # a lead id, or an external id, twice in the batch
            ([(fresh[0], T0), (fresh[1], None), (fresh[0], None)], Conflict, str(fresh[0].lead_id)),
            ([(fresh[0], T0), (make_lead(external_id="W-2"), None)], Conflict, "W-2"),
            # a lead that is not new, a naive moment
            ([(fresh[0], T0), (attrs.evolve(twin, version=1), None)], ValidationError, "version"),
            ([(fresh[0], T0), (twin, naive)], ValidationError, "next_change_at"),
        ]
        for batch, error, named in batches:
            contact = make_contact()
            with store.unit_of_work() as uow:
                with pytest.raises(error, match=re.escape(named)):
                    uow.add_leads(batch)
                # the refused batch left nothing behind, and the unit of work goes on
                assert uow.count_leads() == 1
                assert uow.due_leads(T0) == [taken]
                assert uow.find_leads_by_external_ids("web", ["W-1", "W-2", "W-3"]) == {
                    "W-1": taken
                }
                uow.add_contact(contact)
            with store.unit_of_work() as uow:
                assert uow.get_contact(contact.contact_id) == contact
                assert uow.count_leads() == 1
                for lead, _ in batch:
                    if lead.lead_id != taken.lead_id:
                        with pytest.raises(NotFound):
                            uow.get_lead(lead.lead_id)

    def test_batches_roll_back_with_their_unit_of_work(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com")
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1")
        message = make_message(lead_id=lead.lead_id)
        with rolled_back(store) as uow:
            uow.add_contacts([contact])
            uow.add_leads([(lead, T0)])
            uow.add_messages([message])
            assert uow.find_contacts(emails=["ada@example.com"]) == [contact]
            assert uow.messages() == [message]
        with store.unit_of_work() as uow:
            assert uow.count_leads() == 0
            assert uow.due_leads(T0) == []
            assert uow.find_leads_by_external_ids("web", ["W-1"]) == {}
            assert uow.find_contacts(emails=["ada@example.com"]) == []
            assert uow.messages() == []
            with pytest.raises(NotFound):
                uow.get_contact(contact.contact_id)

    def test_add_contacts_stores_each(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8, at=(T0 + HOUR).astimezone(_CHICAGO)),
            make_contact(email="bo@example.com", phone="+15552019999"),
        ]
        with store.unit_of_work() as uow:
            uow.add_contacts([])
            uow.add_contacts(contacts)
        with store.unit_of_work() as uow:
            assert [uow.get_contact(c.contact_id) for c in contacts] == contacts
            emails = ["ada@example.com", "bo@example.com"]
            found = uow.find_contacts(emails=emails, phones=["+15552014567"], owners=[7, 8])
            assert _contacts_by_id(found) == _contacts_by_id(contacts[:2])

    def test_add_contacts_stores_none_when_one_is_refused(self, store: Store) -> None:
        stored = make_contact(email="ada@example.com")
        run(store, lambda uow: uow.add_contact(stored))
        fresh = make_contact(email="bo@example.com")
        for batch in ([fresh, stored], [fresh, make_contact(), fresh]):
            named = batch[-1].contact_id
            with store.unit_of_work() as uow:
                with pytest.raises(Conflict, match=_names(named)):
                    uow.add_contacts(batch)
                assert uow.find_contacts(emails=["bo@example.com"]) == []
                uow.add_contacts([])  # the unit of work goes on
            with store.unit_of_work() as uow:
                for contact in batch[:-1]:
                    with pytest.raises(NotFound):
                        uow.get_contact(contact.contact_id)
                assert uow.get_contact(stored.contact_id) == stored

    def test_add_messages_queues_each_in_order(self, store: Store) -> None:
        early = make_message(at=T0 - HOUR)
        batch = [make_message(recipient=f"u{n}@example.com") for n in range(4)]
        single = make_message()
        with store.unit_of_work() as uow:
            uow.add_messages([])
            uow.add_messages(batch[:2])
            uow.add_message(single)
            uow.add_messages([batch[2], early, batch[3]])
        expected = [early, batch[0], batch[1], single, batch[2], batch[3]]
        with store.unit_of_work() as uow:
            assert uow.messages() == expected
            assert uow.messages(status=OutboxStatus.PENDING) == expected
            sent = attrs.evolve(batch[1], status=OutboxStatus.SENT, attempts=1)
            uow.update_message(sent)
            assert uow.messages(status=OutboxStatus.SENT) == [sent]

    def test_add_messages_queues_none_when_one_is_refused(self, store: Store) -> None:
        queued = make_message()
        run(store, lambda uow: uow.add_message(queued))
        fresh = make_message(recipient="new@example.com")
        for batch in ([fresh, queued], [fresh, make_message(), fresh]):
            named = batch[-1].message_id
            with store.unit_of_work() as uow:
                with pytest.raises(Conflict, match=_names(named)):
                    uow.add_messages(batch)
                assert uow.messages() == [queued]
        assert run(store, lambda uow: uow.messages()) == [queued]

    # ------------------------------------------------------------------ routing cursors

    def test_cursors_start_empty_and_save_cursor_replaces(self, store: Store) -> None:
        assert run(store, lambda uow: uow.cursors()) == {}
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(last_user_id=7)))
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(8, ((7, -1), (8, 1)))))
        run(store, lambda uow: uow.save_cursor("phone_rr", PolicyCursor()))
        assert run(store, lambda uow: uow.cursors()) == {
            "web_rr": PolicyCursor(8, ((7, -1), (8, 1))),
            "phone_rr": PolicyCursor(),
        }

    def _assign(self, uow: UnitOfWork, lead: Lead, user_id: int) -> Lead:
        assigned = attrs.evolve(
            lead,
            assignee_id=user_id,
            assigned_at=T0 + HOUR,
            assignment_method=str(AssignmentMethod.ROUTING),
        )
        stored = uow.update_lead(assigned, next_change_at=None)
        uow.save_cursor("web_rr", PolicyCursor(last_user_id=user_id))
        uow.append_events(
            [
                LeadAssigned(
                    at=T0 + HOUR,
                    actor=None,
                    lead_id=lead.lead_id,
                    assignee_id=user_id,
                    method=AssignmentMethod.ROUTING,
                    policy="web_rr",
                )
            ]
        )
        return stored

    def test_a_cursor_commits_with_the_assignment_it_made(self, store: Store) -> None:
        lead = run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=T0))
        assigned = run(store, lambda uow: self._assign(uow, lead, 7))
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == assigned
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.routed_counts([7], since=T0) == {7: 1}
            assert len(uow.history(lead.lead_id)) == 1

    def test_a_cursor_rolls_back_with_the_assignment_it_made(self, store: Store) -> None:
        lead = run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=T0))
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(last_user_id=6)))
        with rolled_back(store) as uow:
            self._assign(uow, lead, 7)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == lead
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=6)}
            assert uow.routed_counts([7], since=T0) == {}
            assert uow.history(lead.lead_id) == []
            assert uow.pool_leads() == [lead]

    # ------------------------------------------------------------------ lead queries

    def test_get_lead_of_an_unknown_id_is_not_found(self, store: Store) -> None:
        lead_id = new_id()
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead_id)):
            uow.get_lead(lead_id)

    def test_find_lead_looks_up_source_and_external_id(self, store: Store) -> None:
        lead = make_lead(source="web", external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "W-1") == stored
            assert uow.find_lead("web", "W-2") is None
            assert uow.find_lead("phone", "W-1") is None
            assert uow.find_lead("web", "w-1") is None

    def test_leads_of_assignee_skip_killed_leads_and_excluded_stages(self, store: Store) -> None:
        mine = [
            make_lead(assignee=7),
            make_lead(assignee=7, stage="contacted"),
            make_lead(assignee=7, stage="closed"),
        ]
        others = [
            make_lead(assignee=7, killed=True),
            make_lead(assignee=8),
            make_lead(),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in mine + others]
        with store.unit_of_work() as uow:
            assert _by_id(uow.leads_of_assignee(7)) == _by_id(stored[:3])
            assert _by_id(uow.leads_of_assignee(7, exclude_stages={"closed"})) == _by_id(stored[:2])
            assert uow.leads_of_assignee(7, exclude_stages=["closed", "new", "contacted"]) == []
            assert uow.leads_of_assignee(8) == [stored[4]]
            assert uow.leads_of_assignee(9) == []

    def test_pool_leads_are_unheld_leads_and_held_leads_in_pool_stages(self, store: Store) -> None:
        pooled = [make_lead(), make_lead(stage="closed"), make_lead(assignee=7, stage="nurture")]
        never = [
            make_lead(killed=True),
            make_lead(assignee=7),
            make_lead(assignee=8, stage="nurture", killed=True),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in pooled + never]
        unheld, unheld_closed, held_nurture = stored[:3]
        with store.unit_of_work() as uow:
            assert _by_id(uow.pool_leads()) == _by_id([unheld, unheld_closed])
            assert _by_id(uow.pool_leads(pool_stages={"nurture"})) == _by_id(stored[:3])
            assert _by_id(
                uow.pool_leads(pool_stages=["nurture"], exclude_stages=["closed"])
            ) == _by_id([unheld, held_nurture])
            assert uow.pool_leads(
                pool_stages={"nurture"}, exclude_stages={"nurture", "closed"}
            ) == [unheld]
            assert uow.pool_leads(exclude_stages={"new", "closed"}) == []

    def test_pool_leads_are_empty_when_every_lead_is_held(self, store: Store) -> None:
        assert run(store, lambda uow: uow.pool_leads()) == []
        run(store, lambda uow: uow.add_lead(make_lead(assignee=7), next_change_at=None))
        assert run(store, lambda uow: uow.pool_leads(pool_stages={"nurture"})) == []

    def test_due_leads_are_due_at_or_before_now_earliest_first(self, store: Store) -> None:
        moments = [
            T0 + 2 * HOUR,
            T0,
            (T0 + HOUR).astimezone(_CHICAGO),
            None,
            T0 + 5 * HOUR,
        ]
        leads = [make_lead() for _ in moments]
        with store.unit_of_work() as uow:
            a, b, c, _, e = (
                uow.add_lead(lead, next_change_at=moment)
                for lead, moment in zip(leads, moments, strict=True)
            )
        with store.unit_of_work() as uow:
            assert uow.due_leads(T0 - timedelta(seconds=1)) == []
            assert uow.due_leads(T0) == [b]
            assert uow.due_leads(T0 + 2 * HOUR) == [b, c, a]
            assert uow.due_leads((T0 + 2 * HOUR).astimezone(_CHICAGO)) == [b, c, a]
            assert uow.due_leads(T0 + 100 * HOUR) == [b, c, a, e]
            assert uow.due_leads(T0 + 100 * HOUR, limit=2) == [b, c]
            assert uow.due_leads(T0 + 100 * HOUR, limit=10) == [b, c, a, e]
            assert uow.due_leads(T0 + 100 * HOUR, limit=0) == []

    def test_a_new_next_change_at_moves_a_lead_in_and_out_of_due(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            a = uow.add_lead(make_lead(), next_change_at=T0 + 2 * HOUR)
            b = uow.add_lead(make_lead(), next_change_at=T0)
            c = uow.add_lead(make_lead(), next_change_at=T0 + HOUR)
            d = uow.add_lead(make_lead(), next_change_at=None)
        now = T0 + 2 * HOUR
        with store.unit_of_work() as uow:
            a = uow.update_lead(a, next_change_at=None)
            d = uow.update_lead(d, next_change_at=T0 - HOUR)
            b = uow.update_lead(b, next_change_at=T0 + 10 * HOUR)
            assert uow.due_leads(now) == [d, c]
        with store.unit_of_work() as uow:
            assert uow.due_leads(now) == [d, c]
            c = uow.update_lead(c, next_change_at=T0 + HOUR)  # same moment, new version
            assert uow.due_leads(now) == [d, c]
            assert uow.due_leads(T0 + 10 * HOUR) == [d, c, b]
            assert a not in uow.due_leads(T0 + 1000 * HOUR)

    def test_leads_of_contact_oldest_first(self, store: Store) -> None:
        contact_id, other_id = new_id(), new_id()
        leads = [
            make_lead(contact_id=contact_id, at=T0 + 2 * HOUR),
            make_lead(contact_id=contact_id, at=T0),
            make_lead(contact_id=other_id, at=T0 + HOUR),
            make_lead(contact_id=contact_id, at=T0 + HOUR),
        ]
        with store.unit_of_work() as uow:
            late, early, other, middle = (uow.add_lead(x, next_change_at=None) for x in leads)
        with store.unit_of_work() as uow:
            assert uow.leads_of_contact(contact_id) == [early, middle, late]
            assert uow.leads_of_contact(other_id) == [other]
            assert uow.leads_of_contact(new_id()) == []

    def test_count_leads_counts_every_lead(self, store: Store) -> None:
        assert run(store, lambda uow: uow.count_leads()) == 0
        leads = [make_lead(), make_lead(assignee=7, killed=True), make_lead(stage="closed")]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 3

    # ------------------------------------------------------------------ lead ids by prefix

    def _add_ids(self, uow: UnitOfWork, *texts: str) -> list[UUID]:
        """Store a lead under each of these ids; their UUIDs, in the order given."""
        ids = [UUID(text) for text in texts]
        uow.add_leads([(attrs.evolve(make_lead(), lead_id=lead_id), None) for lead_id in ids])
        return ids

    def test_a_prefix_no_lead_has_gives_no_ids(self, store: Store) -> None:
        assert run(store, lambda uow: uow.lead_ids_with_prefix("0190abcd", limit=10)) == []
        run(store, lambda uow: self._add_ids(uow, "0190abce-0000-7000-8000-000000000000"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abce-1", limit=10) == []

    def test_a_prefix_of_one_lead_gives_its_id(self, store: Store) -> None:
        only, _ = run(
            store,
            lambda uow: self._add_ids(
                uow, "0190abcd-0000-7000-8000-000000000001", "0190abce-0000-7000-8000-000000000001"
            ),
        )
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [only]
            assert uow.lead_ids_with_prefix("0190abcd-", limit=10) == [only]
            assert uow.lead_ids_with_prefix("0190abcd-0000-7", limit=10) == [only]

    def test_a_prefix_of_several_leads_gives_their_ids_ascending(self, store: Store) -> None:
        texts = (
            "0190abcd-ffff-ffff-ffff-ffffffffffff",  # the last id the prefix fits
            "0190abcc-ffff-ffff-ffff-ffffffffffff",  # just before the prefix
            "0190abcd-0000-0000-0000-000000000000",  # the first id the prefix fits
            "0190abce-0000-0000-0000-000000000000",  # just after it
            "0190abcd-7a00-7000-8000-000000000000",
        )
        last, _, first, _, middle = run(store, lambda uow: self._add_ids(uow, *texts))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [first, middle, last]
            assert uow.lead_ids_with_prefix("0190abc", limit=10) == sorted(UUID(t) for t in texts)
            assert uow.lead_ids_with_prefix("", limit=10) == sorted(UUID(t) for t in texts)

    def test_lead_ids_with_prefix_stop_at_the_limit(self, store: Store) -> None:
        texts = [f"0190abcd-0000-7000-8000-00000000000{digit}" for digit in "53142"]
        ids = sorted(run(store, lambda uow: self._add_ids(uow, *texts)))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=2) == ids[:2]
            assert uow.lead_ids_with_prefix("0190abcd", limit=5) == ids
            assert uow.lead_ids_with_prefix("0190abcd", limit=6) == ids
            assert uow.lead_ids_with_prefix("0190abcd", limit=1) == ids[:1]
            assert uow.lead_ids_with_prefix("0190abcd", limit=0) == []
            assert uow.lead_ids_with_prefix("0190abcd", limit=-1) == []

    def test_a_whole_id_is_a_prefix_of_itself_only(self, store: Store) -> None:
        text = "0190abcd-1234-7def-8abc-0123456789ab"
        lead_id, _ = run(store, lambda uow: self._add_ids(uow, text, text[:-1] + "c"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix(text, limit=10) == [lead_id]
            assert uow.lead_ids_with_prefix(text[:-1] + "0", limit=10) == []
            assert uow.lead_ids_with_prefix(text + "0", limit=10) == []

    def test_pattern_characters_in_a_prefix_are_literal(self, store: Store) -> None:
        run(
            store,
            lambda uow: self._add_ids(
                uow, "0190abcd-0000-7000-8000-000000000000", "0190abce-0000-7000-8000-000000000000"
            ),
        )
        with store.unit_of_work() as uow:
            for prefix in (
                "%",
                "_",
                "0190abc%",
                "0190abc_",
                "0190abcd%",
                "0190_bcd",
                "0190%",
                "0190abcd_0000",
                "*",
                "0190abc?",
                "0190abc\\",
                "'",
                "0190abcd' OR '1'='1",
            ):
                assert uow.lead_ids_with_prefix(prefix, limit=10) == [], prefix

    def test_a_prefix_is_compared_as_given(self, store: Store) -> None:
        run(store, lambda uow: self._add_ids(uow, "0190abcd-0000-7000-8000-000000000000"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190ABCD", limit=10) == []  # the caller lower-cases
            assert uow.lead_ids_with_prefix("0190abcd0000", limit=10) == []  # dashes as stored
            assert uow.lead_ids_with_prefix(" 0190abcd", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abcd\x00", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abcd-\udc80", limit=10) == []

    def test_lead_ids_with_prefix_read_the_units_own_writes(self, store: Store) -> None:
        with rolled_back(store) as uow:
            (lead_id,) = self._add_ids(uow, "0190abcd-0000-7000-8000-000000000000")
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [lead_id]
        assert run(store, lambda uow: uow.lead_ids_with_prefix("0190abcd", limit=10)) == []

    @_PROPERTY
    @given(data=st.data())
    def test_lead_ids_with_prefix_are_the_ids_whose_text_starts_with_it(
        self, store: Store, data: st.DataObject
    ) -> None:
        # Few hex digits, so that ids share long prefixes.
        hex_ids = st.text("0f1", min_size=32, max_size=32).map(UUID)
        ids = data.draw(st.lists(hex_ids, unique=True, max_size=12), label="ids")
        texts = [str(lead_id) for lead_id in ids]
        some_start = st.builds(lambda text, n: text[:n], st.sampled_from(texts), st.integers(0, 36))
        prefix = data.draw(
            (some_start if texts else st.nothing()) | st.text("0f1-%_A", max_size=14),
            label="prefix",
        )
        limit = data.draw(st.integers(-1, 14), label="limit")
        expected = sorted(i for i, t in zip(ids, texts, strict=True) if t.startswith(prefix))
        with rolled_back(store) as uow:  # the store lives across examples
            self._add_ids(uow, *texts)
            assert uow.lead_ids_with_prefix(prefix, limit=limit) == expected[: max(limit, 0)]

    def test_routed_counts_count_routed_leads_still_held(self, store: Store) -> None:
        routing, fallback = AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK
        leads = [
            make_lead(assignee=7, method=routing, assigned_at=T0),  # counted: since inclusive
            make_lead(assignee=7, method=fallback, assigned_at=T0 + HOUR),  # counted
            make_lead(assignee=7, method=AssignmentMethod.MANUAL, assigned_at=T0 + HOUR),
            make_lead(assignee=7, method=AssignmentMethod.POOL, assigned_at=T0 + HOUR),
            make_lead(assignee=7, method=routing, assigned_at=T0 - timedelta(seconds=1)),
            make_lead(assignee=8, method=routing, assigned_at=(T0 + HOUR).astimezone(_CHICAGO)),
            make_lead(assignee=8, method=routing, assigned_at=T0 + HOUR),  # reassigned below
            make_lead(assignee=10, method=routing, assigned_at=T0 + HOUR),  # not asked for
            make_lead(method=None),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in leads]
            taken = attrs.evolve(
                stored[6],
                assignee_id=9,
                assigned_at=T0 + 2 * HOUR,
                assignment_method=str(AssignmentMethod.MANUAL),
            )
            uow.update_lead(taken, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.routed_counts([7, 8, 9], since=T0) == {7: 2, 8: 1}
            assert uow.routed_counts({7, 8, 9}, since=T0 + HOUR) == {7: 1, 8: 1}
            assert uow.routed_counts([7], since=T0 + 2 * HOUR) == {}
            assert uow.routed_counts([], since=T0) == {}
            assert uow.routed_counts([9, 11], since=T0 - HOUR) == {}

    def test_open_counts_count_open_leads_per_user(self, store: Store) -> None:
        leads = [
            make_lead(assignee=7),
            make_lead(assignee=7, stage="contacted"),
            make_lead(assignee=7, stage="closed"),
            make_lead(assignee=7, killed=True),
            make_lead(assignee=8),
            make_lead(assignee=10),
            make_lead(),
        ]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        with store.unit_of_work() as uow:
            counts = uow.open_counts([7, 8, 9])
            assert set(counts) <= {7, 8, 9}
            assert {user: n for user, n in counts.items() if n} == {7: 3, 8: 1}
            counts = uow.open_counts([7, 8, 9], exclude_stages={"closed", "contacted"})
            assert {user: n for user, n in counts.items() if n} == {7: 1, 8: 1}
            counts = uow.open_counts([8], exclude_stages=["new"])
            assert {user: n for user, n in counts.items() if n} == {}

    # ------------------------------------------------------------------ contacts

    def test_a_missing_contact_is_not_found(self, store: Store) -> None:
        contact = make_contact()
        with store.unit_of_work() as uow:
            with pytest.raises(NotFound, match=_names(contact.contact_id)):
                uow.get_contact(contact.contact_id)
            with pytest.raises(NotFound, match=_names(contact.contact_id)):
                uow.update_contact(contact)
        with store.unit_of_work() as uow, pytest.raises(NotFound):
            uow.get_contact(contact.contact_id)

    def test_update_contact_replaces_it_and_its_keys(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com", phone="+15552014567", owner=7)
        run(store, lambda uow: uow.add_contact(contact))
        details = ContactDetails(first_name="Ada", last_name="Lovelace", email="ada@example.org")
        changed = attrs.evolve(contact, details=details, owner_id=8, assignee_id=9, source="web")
        run(store, lambda uow: uow.update_contact(changed))
        with store.unit_of_work() as uow:
            assert uow.get_contact(contact.contact_id) == changed
            assert uow.find_contacts(emails=["ada@example.com"], phones=["+15552014567"]) == []
            assert uow.find_contacts(emails=["ada@example.org"]) == [changed]
            assert uow.find_contacts(emails=["ada@example.org"], owners=[7]) == []
            assert uow.find_contacts(emails=["ada@example.org"], owners=[8]) == [changed]

    def test_find_contacts_by_email_or_phone(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8),
            make_contact(email="bo@example.com", phone="+15552019999"),
            make_contact(email="ada@example.com", owner=9, at=T0 + HOUR),
        ]
        ada7, phone8, bo, ada9 = contacts
        with store.unit_of_work() as uow:
            for contact in contacts:
                uow.add_contact(contact)
        with store.unit_of_work() as uow:
            assert _contacts_by_id(uow.find_contacts(emails=["ada@example.com"])) == (
                _contacts_by_id([ada7, ada9])
            )
            assert uow.find_contacts(phones=["+15552014567"]) == [phone8]
            assert _contacts_by_id(
                uow.find_contacts(emails={"bo@example.com"}, phones={"+15552014567"})
            ) == _contacts_by_id([bo, phone8])
            # matched on both email and phone: found once
            assert uow.find_contacts(emails=["bo@example.com"], phones=["+15552019999"]) == [bo]
            assert uow.find_contacts(emails=["nobody@example.com"], phones=["+15550000000"]) == []
            assert uow.find_contacts() == []

    def test_find_contacts_keeps_only_the_owners_asked_for(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8),
            make_contact(email="bo@example.com", phone="+15552019999"),
            make_contact(email="ada@example.com", owner=9),
        ]
        ada7, phone8, bo, ada9 = contacts
        with store.unit_of_work() as uow:
            for contact in contacts:
                uow.add_contact(contact)
        emails = ["ada@example.com", "bo@example.com"]
        phones = ["+15552014567", "+15552019999"]
        with store.unit_of_work() as uow:

            def find(owners: Collection[int] | None) -> list[Contact]:
                found = uow.find_contacts(emails=emails, phones=phones, owners=owners)
                return _contacts_by_id(found)

            assert find(None) == _contacts_by_id(contacts)
            assert _contacts_by_id(uow.find_contacts(emails=emails, phones=phones)) == (
                _contacts_by_id(contacts)
            )
            assert find([7, 8]) == _contacts_by_id([ada7, phone8])
            assert find({9}) == [ada9]
            assert find([]) == []
            assert bo not in find([7, 8, 9])
            assert uow.find_contacts(emails=["ada@example.com"], owners={9}) == [ada9]

    # ------------------------------------------------------------------ configuration

    def test_configuration_history_keeps_every_saved_configuration(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            assert uow.load_config() is None
            assert uow.config_history() == []
        first, second = make_config("Acme Lending"), make_config("Acme Home Loans")
        run(store, lambda uow: uow.save_config(first, actor=1, at=T0))
        run(store, lambda uow: uow.save_config(second, actor=None, at=T0 + HOUR))
        with store.unit_of_work() as uow:
            assert uow.load_config() == second
            assert uow.config_history() == [(T0, 1, first), (T0 + HOUR, None, second)]

    # ------------------------------------------------------------------ activity

    def test_history_is_the_leads_events_in_the_order_appended(self, store: Store) -> None:
        lead, other = make_lead(), make_lead()
        mine = lifecycle(lead)
        theirs = lifecycle(other)
        contact_note = NoteAdded(at=T0, actor=7, contact_id=lead.contact_id, text="Called")
        run(store, lambda uow: uow.append_events([mine[0], theirs[0], contact_note, mine[1]]))
        run(store, lambda uow: uow.append_events(theirs[1:]))
        run(store, lambda uow: uow.append_events(mine[2:]))
        with store.unit_of_work() as uow:
            assert uow.history(lead.lead_id) == mine
            assert uow.history(other.lead_id) == theirs
            assert uow.history(new_id()) == []

    def test_every_kind_of_event_reads_back_equal(self, store: Store) -> None:
        events = lifecycle(make_lead())
        assert {type(event) for event in events} == set(EVENT_TYPES.values())
        run(store, lambda uow: uow.append_events(events))
        assert run(store, lambda uow: uow.activity(start=T0, end=T0 + HOUR)) == events

    def test_activity_is_every_event_from_start_until_end_in_the_order_appended(
        self, store: Store
    ) -> None:
        def signal(at: datetime, name: str) -> Signal:
            return Signal(at=at, actor=None, lead_id=lead_id, name=name, stage="new")

        lead_id = new_id()
        events = [
            signal(T0 + 2 * HOUR, "at_end"),
            signal(T0 + HOUR, "middle"),
            signal(T0, "at_start"),
            signal(T0 + 3 * HOUR, "after"),
            signal((T0 + HOUR).astimezone(_CHICAGO), "middle_again"),
            signal(T0 - timedelta(microseconds=1), "before"),
        ]
        at_end, middle, at_start, after, middle_again, before = events
        run(store, lambda uow: uow.append_events(events[:3]))
        run(store, lambda uow: uow.append_events(events[3:]))
        with store.unit_of_work() as uow:
            assert uow.activity(start=T0, end=T0 + 2 * HOUR) == [middle, at_start, middle_again]
            assert uow.activity(start=T0.astimezone(_CHICAGO), end=T0 + 2 * HOUR) == [
                middle,
                at_start,
                middle_again,
            ]
            assert uow.activity(start=T0 - HOUR, end=T0 + 4 * HOUR) == events
            assert uow.activity(start=T0 + HOUR, end=T0 + HOUR) == []
            assert uow.activity(start=T0 + 2 * HOUR, end=T0 + 3 * HOUR) == [at_end]
            assert uow.activity(start=T0 + 3 * HOUR, end=T0 + 4 * HOUR) == [after]
            assert uow.activity(start=T0 - HOUR, end=T0) == [before]

    # ------------------------------------------------------------------ exceptions

    def test_exception_records_are_stored_replaced_and_listed(self, store: Store) -> None:
        leads = [make_lead(at=T0 + n * HOUR) for n in range(3)]
        open_record = make_record(leads[0])
        ignored = make_record(leads[1], ignored=True)
        closed = make_record(leads[2], assigned_to=7, closed_at=T0 + 5 * HOUR)
        with store.unit_of_work() as uow:
            assert uow.exceptions() == []
            for record in (open_record, ignored, closed):
                uow.put_exception(record)
        with store.unit_of_work() as uow:
            assert uow.get_exception(leads[0].lead_id) == open_record
            assert uow.get_exception(leads[2].lead_id) == closed
            assert _records_by_id(uow.exceptions()) == _records_by_id([open_record, ignored])
            assert _records_by_id(uow.exceptions(include_closed=True)) == _records_by_id(
                [open_record, ignored, closed]
            )
        now_closed = make_record(leads[0], assigned_to=8, closed_at=T0 + 6 * HOUR)
        run(store, lambda uow: uow.put_exception(now_closed))
        with store.unit_of_work() as uow:
            assert uow.get_exception(leads[0].lead_id) == now_closed
            assert uow.exceptions() == [ignored]
            assert len(uow.exceptions(include_closed=True)) == 3

    def test_a_missing_exception_record_is_not_found(self, store: Store) -> None:
        lead = make_lead()
        run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead.lead_id)):
            uow.get_exception(lead.lead_id)

    # ------------------------------------------------------------------ outbox

    def test_messages_by_status_oldest_first(self, store: Store) -> None:
        second = make_message(at=T0 + HOUR)
        first = make_message(at=T0, lead_id=new_id())
        third = make_message(at=T0 + 2 * HOUR, recipient="team@example.com")
        with store.unit_of_work() as uow:
            for message in (second, first, third):
                uow.add_message(message)
        assert run(store, lambda uow: uow.messages()) == [first, second, third]
        sent = attrs.evolve(first, status=OutboxStatus.SENT, attempts=1)
        failed = attrs.evolve(
            third,
            status=OutboxStatus.FAILED,
            attempts=5,
            next_attempt_at=None,
            last_error="550 mailbox unavailable",
        )
        retry = attrs.evolve(second, attempts=1, next_attempt_at=T0 + 3 * HOUR, last_error="421")
        with store.unit_of_work() as uow:
            for message in (sent, failed, retry):
                uow.update_message(message)
        with store.unit_of_work() as uow:
            assert uow.messages() == [sent, retry, failed]
            assert uow.messages(status=None) == [sent, retry, failed]
            assert uow.messages(status=OutboxStatus.PENDING) == [retry]
            assert uow.messages(status=OutboxStatus.SENT) == [sent]
            assert uow.messages(status=OutboxStatus.FAILED) == [failed]

    def test_updating_a_message_never_queued_is_not_found(self, store: Store) -> None:
        message = make_message()
        with (
            store.unit_of_work() as uow,
            pytest.raises(NotFound, match=_names(message.message_id)),
        ):
            uow.update_message(message)
        assert run(store, lambda uow: uow.messages()) == []

    # ------------------------------------------------------------------ values, not rows

    def test_a_lead_with_its_whole_lifecycle_reads_back_equal(self, store: Store) -> None:
        draft = make_lead(external_id="W-1")
        attributes = attrs.evolve(
            draft.attributes,
            loan_purpose=LoanPurpose.REFINANCE_CASH_OUT,
            loan_amount=Decimal("312500.50"),
            credit_rating=CreditRating.GOOD,
            property_state="TX",
            property_zip="07001",
        )
        lead = apply_events(attrs.evolve(draft, attributes=attributes), lifecycle(draft))
        assert lead.follow_ups
        assert lead.stage_history
        assert lead.killed
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored
        assert stored == attrs.evolve(lead, version=1)

    @_PROPERTY
    @given(
        lead=lfst.leads(stages=_LEAD_STAGES),
        next_change_at=st.none() | lfst.aware_datetimes(),
    )
    def test_any_lead_reads_back_equal(
        self, store: Store, lead: Lead, next_change_at: datetime | None
    ) -> None:
        # The store lives across examples: give each example its own keys.
        external_id = lead.attributes.external_id
        lead = attrs.evolve(
            lead,
            lead_id=new_id(lead.created_at),
            version=0,
            attributes=attrs.evolve(
                lead.attributes,
                external_id=None if external_id is None else f"{external_id}-{next(_serial)}",
            ),
        )
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=next_change_at))
        assert stored == attrs.evolve(lead, version=1)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            if lead.attributes.external_id is not None:
                assert uow.find_lead(lead.source, lead.attributes.external_id) == stored
            if next_change_at is not None:
                assert stored in uow.due_leads(next_change_at)

    @_PROPERTY
    @given(contact=lfst.contacts())
    def test_any_contact_reads_back_equal(self, store: Store, contact: Contact) -> None:
        contact = attrs.evolve(contact, contact_id=new_id(contact.created_at))
        run(store, lambda uow: uow.add_contact(contact))
        with store.unit_of_work() as uow:
            assert uow.get_contact(contact.contact_id) == contact
            email, phone = contact.details.email, contact.details.cell_phone
            found = uow.find_contacts(
                emails=[] if email is None else [email], phones=[] if phone is None else [phone]
            )
            assert contact in found
