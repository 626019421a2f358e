"""What one chunk of intake makes: the contacts it matches, and the records it creates.

:class:`Contacts` finds a new lead's contact among those its unit of work
returned and those the chunk made (DESIGN D2). :class:`Records` builds
each new lead's contact, lead, events, exception record, assignment message
and automation jobs -- the only code that builds them -- and hands them to
the unit of work in one call (:meth:`IntakeUnit.take`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from uuid import UUID

import attrs

from leadflow.automation import fired
from leadflow.command import RoutingReads
from leadflow.events import AssignmentMethod, Event, LeadAssigned, LeadCreated, changes_of
from leadflow.ids import ENTROPY_BYTES, uuid7
from leadflow.jobs import job_message
from leadflow.model import (
    Contact,
    ContactDetails,
    Interface,
    Lead,
    MatchScope,
    match_contact,
    with_version,
)
from leadflow.notify.messages import assignment_message
from leadflow.queue import aging
from leadflow.routing.engine import Outcome, PolicyCursor, RoutingResult
from leadflow.routing.exceptions import ExceptionRecord, exception_record
from leadflow.storage.protocol import OutboxMessage, Owners
from leadflow.validate import LeadDraft

if TYPE_CHECKING:
    from leadflow.command import Command, CommandContext
    from leadflow.intake.pipeline import Intake

__all__ = ["Contacts", "IntakeUnit", "Records", "StoreUnit", "assignment"]


class IntakeUnit(RoutingReads, Protocol):
    """What intake reads of a unit of work (routing's reads among them), and the one call
    that stores a chunk.

    A store's :class:`~leadflow.storage.protocol.UnitOfWork` serves it
    through :class:`StoreUnit`; a dry run's throwaway store
    (:class:`~leadflow.intake.dry.DryStore`) is another.
    """

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> Mapping[str, Lead | None]: ...

    def find_contacts(
        self, *, emails: Collection[str] = (), phones: Collection[str] = (), owners: Owners = None
    ) -> list[Contact]: ...

    def get_contact(self, contact_id: UUID) -> Contact: ...

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None: ...

    def take(self, records: Records) -> None:
        """Store everything ``records`` made (or, in a dry run, remember what later chunks ask)."""

    def new_ids(self, now: datetime, count: int) -> Iterator[UUID]:
        """Fresh ids for what the chunk makes, ``count`` of them or more (see
        :meth:`~leadflow.command.CommandContext.new_ids`)."""


class Contacts:
    """The contacts a chunk's rows may match: read once, then kept up to date as rows add to them.

    ``scope`` and ``pool`` are the matching scope and the owners it searches
    (DESIGN D2); ``fixed`` is the one contact every lead joins (a lead
    created from a contact's page).
    """

    def __init__(
        self,
        found: Iterable[Contact],
        scope: MatchScope,
        pool: Collection[int],
        actor: int | None,
        fixed: Contact | None = None,
    ) -> None:
        self.scope = scope
        self.pool = pool
        self.actor = actor
        self.fixed = fixed
        #: Every contact the chunk may match, at its latest version, by id.
        self.by_id: dict[UUID, Contact] = {}
        self.by_email: dict[str, list[UUID]] = {}
        self.by_phone: dict[str, list[UUID]] = {}
        for contact in found:
            self.add(contact)

    @staticmethod
    def scope_of(ctx: CommandContext, source: str, actor: int | None) -> tuple[MatchScope, Any]:
        """The scope and the owners searched for leads of ``source`` created by ``actor``
        (``None`` owners: everyone's contacts)."""
        scope = ctx.config.settings.contact_matching
        if scope is MatchScope.ACCOUNT and actor is None:
            scope = MatchScope.POLICY_POOL
        owners: frozenset[int] | None = None
        if scope is MatchScope.ACCOUNT:
            owners = frozenset({actor}) if actor is not None else frozenset()
        elif scope is MatchScope.POLICY_POOL:
            owners = ctx.directory.pool_owners(source)
        return scope, owners

    def add(self, contact: Contact) -> None:
        """Know ``contact`` (new, or at a new version)."""
        contact_id = contact.contact_id
        known = contact_id in self.by_id
        self.by_id[contact_id] = contact
        if self.fixed is not None and self.fixed.contact_id == contact_id:
            self.fixed = contact
        if known:
            return
        email, phone = contact.details.email, contact.details.cell_phone
        if email:
            self.by_email.setdefault(email, []).append(contact_id)
        if phone:
            self.by_phone.setdefault(phone, []).append(contact_id)

    def match(self, details: ContactDetails) -> Contact | None:
        """The contact a new lead with ``details`` joins (:func:`~leadflow.model.match_contact`)."""
        if self.fixed is not None:
            return self.fixed
        by_email = self.by_email.get(details.email) if details.email else None
        by_phone = self.by_phone.get(details.cell_phone) if details.cell_phone else None
        if by_email is None and by_phone is None:
            return None
        known = self.by_id
        candidates = [known[i] for i in by_email or ()] + [known[i] for i in by_phone or ()]
        return match_contact(
            details, candidates, self.scope, acting_user=self.actor, pool=self.pool
        )


_T = TypeVar("_T", bound=attrs.AttrsInstance)
_new = object.__new__


class _Template(Generic[_T]):
    """Copies of one validated attrs value with the fields ``vary`` replaced, skipping
    ``__init__``.

    ``template(a, b)`` equals ``attrs.evolve(value, **{vary[0]: a, vary[1]: b})``
    at a fraction of the cost: the fields copied were validated when
    ``value`` was built, and the caller passes replacements that are valid by
    construction (fresh ids, validated drafts, aware moments, the changes
    :func:`~leadflow.events.changes_of` makes). Fields are set through their
    slots, as ``__init__`` sets them.
    """

    def __init__(self, value: _T, *vary: str) -> None:
        cls = type(value)
        if hasattr(cls, "__attrs_post_init__"):
            raise TypeError(f"{cls.__name__} checks more than its fields: build it normally")
        self._cls = cls
        self._setters = {f.name: getattr(cls, f.name).__set__ for f in attrs.fields(cls)}
        self._fixed = [
            (set_field, getattr(value, name))
            for name, set_field in self._setters.items()
            if name not in vary
        ]
        self._vary = [self._setters[name] for name in vary]

    def __call__(self, *values: object) -> _T:
        made: _T = _new(self._cls)
        for set_field, value in self._fixed:
            set_field(made, value)
        for set_field, value in zip(self._vary, values, strict=True):
            set_field(made, value)
        return made

    def fill(self, made: _T, changes: dict[str, Any]) -> None:
        """Set ``changes`` on ``made``, a value this template has just made that nobody has
        seen yet (the last step of building it)."""
        setters = self._setters
        for name, value in changes.items():
            setters[name](made, value)


_next_change_at = aging.next_change_at
_ROUTED = (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)


def assignment(
    lead_id: UUID,
    result: RoutingResult,
    now: datetime,
    *,
    interface: Interface,
    actor: int | None = None,
    via: int | None = None,
    chosen_by: int | None = None,
    with_decision: bool = False,
) -> LeadAssigned:
    """The event of assigning a lead as ``result`` decided: the one place it is built.

    A lead given by routing (or its fallback) is assigned by nobody (the
    actor is ``None``) unless a user took it (``chosen_by``: an offer's
    acceptance); one given by hand or by an override names ``actor`` (and
    ``via``). ``with_decision`` records how routing decided on the event (an
    assignment after the lead's creation; a new lead's is on its creation).
    """
    assert result.assignee_id is not None
    routed = result.method in _ROUTED
    return LeadAssigned(
        at=now,
        actor=chosen_by if routed else actor,
        via=None if routed else via,
        interface=interface,
        lead_id=lead_id,
        assignee_id=result.assignee_id,
        method=result.method or AssignmentMethod.ROUTING,
        policy=result.policy,
        decision=result.decision if with_decision else None,
    )


class Records:
    """The records one chunk creates, built row by row, stored by :meth:`IntakeUnit.take`.

    ``ids`` hands out the chunk's fresh ids: a contact another row may join
    gets its id as it is made; :meth:`build` then draws the ids of the other
    new contacts, then, lead by lead, the lead's, its message's and its
    jobs'.
    """

    def __init__(
        self, ctx: CommandContext, intake: Intake, now: datetime, ids: Iterator[UUID]
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.now = now
        self.source = ctx.directory.source(intake.source)
        self.actor = intake.actor.user_id
        self._next_id: Callable[[], UUID] = ids.__next__
        #: The contacts the chunk made and built (another row of the chunk may join them;
        #: after :meth:`build`, all of them).
        self.new_contacts: dict[UUID, Contact] = {}
        #: The position in :attr:`rows` of each new contact nobody can join in the chunk,
        #: made (its id too) only by :meth:`build`, from the row's details and assignee.
        self.pending: list[int] = []
        self.changed_contacts: dict[UUID, Contact] = {}
        #: Each new lead with its ``next_change_at``, in the order made.
        self.leads: list[tuple[Lead, datetime | None]] = []
        self.events: list[Event] = []
        #: (position of the lead, its contact details, the routing result)
        self.records: list[tuple[int, ContactDetails, RoutingResult]] = []
        #: (message id, position of the lead, its contact, the assignee)
        self.messages: list[tuple[UUID, int, Contact, int]] = []
        self.jobs: list[OutboxMessage] = []
        self._templates: tuple[_Template[Contact], _Template[Lead]] | None = None
        #: (draft, contact or ``None`` while it waits for :meth:`build`, routing result) of
        #: each lead added
        self.rows: list[tuple[LeadDraft, Contact | None, RoutingResult]] = []
        #: Whether :meth:`build` ran: the leads and the rest are built.
        self.built = False
        #: Whether routing this chunk's source reads load counts.
        self.loads = ctx.needs_loads(intake.source)
        self._initial_stage = ctx.playbook.initial_stage.key

    def _make_templates(self, draft: LeadDraft) -> tuple[_Template[Contact], _Template[Lead]]:
        now = self.now
        some_id = uuid7(now, bytes(ENTROPY_BYTES))  # never stored: uses no entropy
        contact = Contact(contact_id=some_id, details=draft.contact, created_at=now)
        lead = Lead(
            lead_id=some_id,
            contact_id=some_id,
            created_at=now,
            updated_at=now,
            attributes=draft.attributes,
            stage=self._initial_stage,
            origin=self.intake.origin,
        )
        self._templates = (
            _Template(contact, "contact_id", "details", "owner_id"),
            _Template(lead, "lead_id", "contact_id", "attributes", "stage"),
        )
        return self._templates

    def add(
        self,
        draft: LeadDraft,
        contact: Contact | None,
        result: RoutingResult,
        contacts: Contacts,
        repeated: Collection[str] = (),
    ) -> int:
        """Make the row's contact (or give its match an owner); returns the position of the
        lead. A new contact is built now only when another row of the chunk may join it
        (one of its keys is ``repeated``); the lead itself, its events, record, message and
        jobs, and the other new contacts, are built when a unit of work takes them
        (:meth:`build`)."""
        assignee = result.assignee_id
        if contact is None:
            details = draft.contact
            if repeated and (details.email in repeated or details.cell_phone in repeated):
                make_contact = (self._templates or self._make_templates(draft))[0]
                contact = make_contact(self._next_id(), details, assignee)
                contacts.add(contact)
                self.new_contacts[contact.contact_id] = contact
            else:
                self.pending.append(len(self.rows))
        elif contact.owner_id is None and assignee is not None:
            contact = attrs.evolve(contact, owner_id=assignee)
            contacts.add(contact)
            contact_id = contact.contact_id
            if contact_id in self.new_contacts:  # made by this chunk: store it as it ends
                self.new_contacts[contact_id] = contact
            else:
                self.changed_contacts[contact_id] = contact
        self.rows.append((draft, contact, result))
        return len(self.rows) - 1

    def contact(self, position: int) -> Contact | None:
        """The contact of the lead at ``position``; ``None`` for a new one nobody built (a dry
        run)."""
        return self.rows[position][1]

    def build(self) -> None:
        """Build every lead added, with its events, exception record, message and jobs."""
        if self.built:
            return
        self.built = True
        ctx, intake, now, next_id = self.ctx, self.intake, self.now, self._next_id
        if not self.rows:
            return
        make_contact, make_lead = self._templates or self._make_templates(self.rows[0][0])
        new_contacts, rows = self.new_contacts, self.rows
        for position in self.pending:
            draft, _, result = rows[position]
            built = make_contact(next_id(), draft.contact, result.assignee_id)
            new_contacts[built.contact_id] = built
            rows[position] = (draft, built, result)
        self.pending.clear()
        actor, via, interface, origin = self.actor, intake.via, ctx.interface, intake.origin
        source, playbook, subscriptions = self.source.key, ctx.playbook, ctx.subscriptions
        leads, events, records, messages = self.leads, self.events, self.records, self.messages
        notify = ctx.config.settings.notify_on_assignment
        for draft, known, result in rows:
            assert known is not None  # every contact is built now
            contact, contact_id = known, known.contact_id
            lead_id = next_id()
            stage = draft.stage or self._initial_stage
            made: list[Event] = [
                LeadCreated(
                    at=now,
                    actor=actor,
                    via=via,
                    interface=interface,
                    lead_id=lead_id,
                    contact_id=contact_id,
                    source=source,
                    origin=origin,
                    stage=stage,
                    decision=result.decision,
                )
            ]
            assignee = result.assignee_id
            if assignee is not None:
                made.append(
                    assignment(lead_id, result, now, actor=actor, via=via, interface=interface)
                )
            lead = make_lead(lead_id, contact_id, draft.attributes, stage)
            for event in made:  # apply_events, on the lead being built
                make_lead.fill(lead, changes_of(lead, event))
            position = len(leads)
            leads.append((lead, _next_change_at(lead, playbook)))
            events += made
            if result.outcome in (Outcome.UNASSIGNED, Outcome.HELD) and result.reason is not None:
                records.append((position, draft.contact, result))
            if notify and assignee is not None:
                messages.append((next_id(), position, contact, assignee))
            if subscriptions:
                for event in made:
                    for subscription in fired(subscriptions, event, lead, depth=intake.depth):
                        self.jobs.append(
                            job_message(next_id(), subscription, event, lead_id, depth=intake.depth)
                        )

    def lead(self, position: int) -> Lead | None:
        """The lead at ``position`` as it is stored (at version 1); ``None`` when no store
        asked for the leads to be built (a dry run)."""
        if not self.built:
            return None
        return with_version(self.leads[position][0], 1)

    def exception_records(self) -> list[ExceptionRecord]:
        """The exception record of each lead nobody could take."""
        leads, source = self.leads, self.source
        return [
            exception_record(leads[at][0], details, source, result.reason, result.distribution)
            for at, details, result in self.records
            if result.reason is not None
        ]

    def outbox(self) -> list[OutboxMessage]:
        """The assignment messages, then the automation jobs."""
        ctx, leads = self.ctx, self.leads
        link = ctx.config.settings.lead_link
        mails = [
            assignment_message(
                message_id=message_id,
                lead=leads[position][0],
                contact=contact,
                assignee=ctx.user(assignee),
                link_template=link,
                now=self.now,
            )
            for message_id, position, contact, assignee in self.messages
        ]
        return mails + self.jobs


class StoreUnit:
    """A command's unit of work, as intake reads and writes it: :meth:`take` stores a chunk
    and publishes its events once the command commits."""

    def __init__(self, command: Command) -> None:
        uow = self.uow = command.uow
        self.command = command
        self.find_leads_by_external_ids = uow.find_leads_by_external_ids
        self.find_contacts = uow.find_contacts
        self.get_contact = uow.get_contact
        self.cursors = uow.cursors
        self.routed_counts = uow.routed_counts
        self.open_counts = uow.open_counts
        self.save_cursor = uow.save_cursor
        self.new_ids = command.ctx.new_ids

    def take(self, records: Records) -> None:
        records.build()
        uow = self.uow
        if records.new_contacts:
            uow.add_contacts(list(records.new_contacts.values()))
        for contact in records.changed_contacts.values():
            uow.update_contact(contact)
        if records.leads:
            uow.add_leads(records.leads)
        if records.events:
            uow.append_events(records.events)
        for record in records.exception_records():
            uow.put_exception(record)
        outbox = records.outbox()
        if outbox:
            uow.add_messages(outbox)
        self.command.publish(records.events, jobs=len(records.jobs))
