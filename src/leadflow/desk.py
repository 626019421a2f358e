"""LeadDesk: the application service, where the pure core meets a store and a clock.

Every command is one unit of work: it reads what it needs, brings the lead up
to date with the clock (aging), applies the pure rule, and writes the lead,
its contact, the activity, the routing cursor, the exception record and the
outbox message together -- or nothing, if anything fails::

    desk = LeadDesk(SQLiteStore("leadflow.db"))
    created = desk.create_lead({"first_name": "Annie", ...}, source="referral", actor=1)
    desk.log_outcome(created.lead.lead_id, "no_answer", actor=7)
    for entry in desk.queue(7):
        ...

The desk reads the clock (``clock``, injectable: tests and the CLI's
``--now`` pass their own) and the randomness for ids (``entropy``); the core
it calls never does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.errors import ConfigError, FieldError, PermissionDenied, ValidationError
from leadflow.events import (
    AssignmentMethod,
    Claimed,
    Event,
    FieldChange,
    LeadAssigned,
    LeadCreated,
    LeadReassigned,
    LeadUpdated,
    NoteAdded,
    Released,
    apply_events,
)
from leadflow.ids import ENTROPY_BYTES, uuid7
from leadflow.model import (
    Contact,
    ContactDetails,
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    MatchScope,
    Origin,
    Priority,
    User,
    match_contact,
)
from leadflow.notify.messages import assignment_message
from leadflow.org import OrgConfig
from leadflow.queue import aging, ownership
from leadflow.queue import order as queue_order
from leadflow.routing.config import Distribution
from leadflow.routing.directory import Directory
from leadflow.routing.engine import Offer, Outcome, Router, RoutingResult, RoutingState, UserLoad
from leadflow.routing.exceptions import (
    ExceptionFilter,
    ExceptionRecord,
    assign_exception,
    exception_record,
    ignore_exception,
    list_exceptions,
    unignore_exception,
)
from leadflow.stages import transitions
from leadflow.stages.playbook import Playbook
from leadflow.stages.transitions import Transition
from leadflow.storage.protocol import Store, UnitOfWork
from leadflow.validate import LeadDraft, RowValidator, to_row

__all__ = ["CreateResult", "ImportReport", "LeadDesk", "RowOutcome", "system_clock"]


def system_clock() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class CreateResult:
    """What :meth:`LeadDesk.create_lead` did.

    ``outcome`` is the routing outcome (``assigned``, ``offered``,
    ``unassigned``, ``held``) or ``rejected`` (nothing stored, ``lead`` is
    ``None``). ``duplicate`` is set when an import row's external id was
    already stored (nothing new stored; ``lead`` is the existing one).
    """

    outcome: Outcome
    lead: Lead | None
    contact: Contact | None
    routing: RoutingResult | None = None
    contact_matched: bool = False
    duplicate: bool = False


@attrs.frozen(kw_only=True)
class RowOutcome:
    """One row of an import: its 1-based number, the raw row and what became of it.

    ``status`` is ``assigned``, ``unassigned`` (held or kept with an
    exception), ``rejected`` (``error`` says why) or ``duplicate``.
    """

    row_number: int
    row: Mapping[str, str | None]
    status: str
    lead: Lead | None = None
    contact: Contact | None = None
    routing: RoutingResult | None = None
    error: ValidationError | None = None


@attrs.frozen(kw_only=True)
class ImportReport:
    """Totals of an import: ``rows == assigned + unassigned + rejected + duplicates``."""

    rows: int = 0
    assigned: int = 0
    unassigned: int = 0
    rejected: int = 0
    duplicates: int = 0

    def counted(self, status: str) -> ImportReport:
        field = {"duplicate": "duplicates"}.get(status, status)
        return attrs.evolve(self, rows=self.rows + 1, **{field: getattr(self, field) + 1})


@attrs.frozen(kw_only=True)
class AdvanceReport:
    """What :meth:`LeadDesk.advance` did: how many leads changed, and the events."""

    leads: int
    events: tuple[Event, ...]
    rerouted: int = 0


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone {name!r} is not a known IANA time zone") from None


class LeadDesk:
    """The application service. See the module documentation.

    ``store`` keeps everything; ``config`` is the organisation's
    configuration (``None``: the one saved in the store); ``playbook`` the
    lifecycle (``None``: the one the configuration names); ``clock`` gives
    ``now``; ``entropy(n)`` gives ``n`` random bytes for ids.
    """

    def __init__(
        self,
        store: Store,
        *,
        config: OrgConfig | None = None,
        playbook: Playbook | None = None,
        clock: Callable[[], datetime] = system_clock,
        entropy: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.store = store
        if config is None:
            with store.unit_of_work() as uow:
                config = uow.load_config()
            if config is None:
                raise ConfigError(
                    "no organisation is configured in this store: "
                    "save one with LeadDesk.configure (or `leadflow init`)"
                )
        self.config = config
        if playbook is None:
            from leadflow.io.playbooks import load_playbook

            playbook = load_playbook(config.settings.playbook)
        self.playbook = playbook
        self.timezone = _timezone(config.settings.timezone)
        self.directory: Directory = config.directory(self.timezone)
        self.clock = clock
        self.entropy = entropy
        self._terminal = frozenset(s.key for s in playbook.stages if s.terminal)

    # ------------------------------------------------------------------ basics

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigError("the desk's clock returned a naive datetime")
        return now

    def _id(self, now: datetime) -> UUID:
        return uuid7(now, self.entropy(ENTROPY_BYTES))

    def user(self, user_id: int) -> User:
        """A configured user; NotFound otherwise."""
        return self.directory.user(user_id)

    def _actor(self, actor: int | User) -> User:
        return actor if isinstance(actor, User) else self.user(actor)

    def _require_admin(self, actor: User, what: str) -> None:
        if not actor.is_admin:
            raise PermissionDenied(f"only an admin may {what}; user {actor.user_id} is not one")

    @staticmethod
    def configure(
        store: Store, config: OrgConfig, *, actor: int | None, at: datetime | None = None
    ) -> None:
        """Save ``config`` in ``store``; the change is kept in the configuration history.

        The first configuration may be saved by anyone (``actor`` ``None``:
        the installer); later ones only by an admin of the stored configuration.
        """
        config.directory(_timezone(config.settings.timezone))  # validate before saving
        with store.unit_of_work() as uow:
            current = uow.load_config()
            if current is not None:
                admins = {u.user_id for u in current.users if u.is_admin and u.active}
                if actor not in admins:
                    raise PermissionDenied(
                        f"only an admin may change the configuration; user {actor} is not one"
                    )
            uow.save_config(config, actor=actor, at=at or system_clock())

    # ------------------------------------------------------------------ persistence helpers

    def _save(self, uow: UnitOfWork, before: Lead, after: Lead, events: Sequence[Event]) -> Lead:
        if after is before or not events:
            return before
        stored = uow.update_lead(after, next_change_at=aging.next_change_at(after, self.playbook))
        uow.append_events(events)
        return stored

    def _load_current(self, uow: UnitOfWork, lead_id: UUID, now: datetime) -> Lead:
        """The lead, advanced to ``now`` (its aging events stored)."""
        lead = uow.get_lead(lead_id)
        moved = aging.advance(lead, now, self.playbook)
        if moved.events:
            lead = self._save(uow, lead, moved.lead, moved.events)
            self._after_aging(uow, moved.events, now)
        return lead

    def _apply(
        self,
        lead_id: UUID,
        move: Callable[[Lead, datetime], Transition],
    ) -> Lead:
        now = self.now()
        with self.store.unit_of_work() as uow:
            lead = self._load_current(uow, lead_id, now)
            result = move(lead, now)
            stored = self._save(uow, lead, result.lead, result.events)
            self._notify_assignments(uow, stored, result.events, now)
            return stored

    def _after_aging(self, uow: UnitOfWork, events: Sequence[Event], now: datetime) -> int:
        """Re-route leads that a speed-to-lead rule released; returns how many."""
        rerouted = 0
        for event in events:
            if isinstance(event, Released) and event.reroute:
                lead = uow.get_lead(event.lead_id)
                contact = uow.get_contact(lead.contact_id)
                state = self._routing_state(uow, lead.attributes.source, now)
                result = Router(self.directory, state).route(
                    lead.attributes, lead.attributes.source, now, contact_matched=True
                )
                if result.assignee_id is not None:
                    assigned = LeadAssigned(
                        at=now,
                        actor=None,
                        lead_id=lead.lead_id,
                        assignee_id=result.assignee_id,
                        method=result.method or AssignmentMethod.ROUTING,
                        policy=result.policy,
                    )
                    new = apply_events(lead, [assigned])
                    stored = self._save(uow, lead, new, [assigned])
                    if result.policy is not None:
                        uow.save_cursor(result.policy, result.state.cursor(result.policy))
                    self._notify_assignments(uow, stored, [assigned], now, contact=contact)
                    rerouted += 1
        return rerouted

    def _notify_assignments(
        self,
        uow: UnitOfWork,
        lead: Lead,
        events: Iterable[Event],
        now: datetime,
        *,
        contact: Contact | None = None,
    ) -> None:
        if not self.config.settings.notify_on_assignment:
            return
        for event in events:
            if isinstance(event, LeadAssigned):
                assignee = event.assignee_id
            elif isinstance(event, LeadReassigned):
                assignee = event.to_assignee
            elif isinstance(event, Claimed):
                continue  # the claimer chose it: no mail
            else:
                continue
            contact = contact or uow.get_contact(lead.contact_id)
            uow.add_message(
                assignment_message(
                    message_id=self._id(now),
                    lead=lead,
                    contact=contact,
                    assignee=self.user(assignee),
                    link_template=self.config.settings.lead_link,
                    now=now,
                )
            )

    # ------------------------------------------------------------------ routing state

    def _period_starts(self, now: datetime) -> tuple[date, datetime, datetime, datetime]:
        local = now.astimezone(self.timezone)
        day = local.date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.timezone)
        week = midnight - timedelta(days=day.weekday())
        month = midnight.replace(day=1)
        return day, midnight, week, month

    def _needs_loads(self, source: str) -> bool:
        """Whether routing this source reads load counts (volume caps, least loaded)."""
        found = self.directory.sources.get(source)
        if found is None:
            return False
        for key in (found.primary_policy, found.fallback_policy):
            if key is None:
                continue
            policy = self.directory.policy(key)
            if policy.distribution is Distribution.LEAST_LOADED:
                return True
            if any(m.filters.max_leads for m in policy.members):
                return True
        return False

    def _routing_state(self, uow: UnitOfWork, source: str, now: datetime) -> RoutingState:
        """The cursors, and the load counts of the source's candidates when routing reads them."""
        if not self._needs_loads(source):
            return RoutingState(uow.cursors(), {})
        owners = sorted(self.directory.pool_owners(source))
        if not owners:
            return RoutingState(uow.cursors(), {})
        day, midnight, week, month = self._period_starts(now)
        today = uow.routed_counts(owners, since=midnight)
        this_week = uow.routed_counts(owners, since=week)
        this_month = uow.routed_counts(owners, since=month)
        opened = uow.open_counts(owners, exclude_stages=self._terminal)
        loads = {
            uid: UserLoad(
                day=day,
                today=today.get(uid, 0),
                this_week=this_week.get(uid, 0),
                this_month=this_month.get(uid, 0),
                open_leads=opened.get(uid, 0),
            )
            for uid in owners
        }
        return RoutingState(uow.cursors(), loads)

    # ------------------------------------------------------------------ creating leads

    def validator(self, *, source: str | None = None, ignore_unknown: bool = False) -> RowValidator:
        """A row validator for this organisation's sources and playbook stages."""
        return RowValidator(
            source=source,
            sources=self.directory.sources.keys(),
            stages=self.playbook.stage_names(),
            ignore_unknown=ignore_unknown,
        )

    def create_lead(
        self,
        row: Mapping[str, str | None] | LeadDraft,
        *,
        actor: int | None,
        source: str | None = None,
        origin: Origin = Origin.MANUAL,
        assignee: int | None = None,
        contact_id: UUID | None = None,
        via: int | None = None,
    ) -> CreateResult:
        """Validate, match the contact, route (or assign) and store one new lead.

        ``actor`` is the user creating it (``None`` for an automation). A
        non-admin creating a lead by hand gets it; an admin may name
        ``assignee``. ``contact_id`` attaches the lead to that contact (the
        contact page's "+New Lead"). Raises ValidationError with every field
        error; returns a ``rejected`` result when nobody could take the lead,
        its contact is new and the organisation rejects such leads.
        """
        draft = row if isinstance(row, LeadDraft) else self.validator(source=source).validate(row)
        now = self.now()
        with self.store.unit_of_work() as uow:
            state = self._routing_state(uow, draft.attributes.source, now)
            router = Router(self.directory, state)
            return self._create(
                uow,
                router,
                draft,
                now,
                actor=actor,
                origin=origin,
                assignee=assignee,
                contact_id=contact_id,
                via=via,
            )

    def _create(
        self,
        uow: UnitOfWork,
        router: Router,
        draft: LeadDraft,
        now: datetime,
        *,
        actor: int | None,
        origin: Origin,
        assignee: int | None,
        contact_id: UUID | None,
        via: int | None,
        save_cursor: bool = True,
    ) -> CreateResult:
        attributes = draft.attributes
        external_id = attributes.external_id
        if external_id is not None:
            existing = uow.find_lead(attributes.source, external_id)
            if existing is not None:
                return CreateResult(
                    outcome=Outcome.ASSIGNED if existing.assignee_id else Outcome.UNASSIGNED,
                    lead=existing,
                    contact=None,
                    duplicate=True,
                )
        creator = self._actor(actor) if actor is not None and origin is Origin.MANUAL else None
        contact = self._match(uow, draft.contact, attributes.source, actor, contact_id)
        requested = assignee if assignee is not None else draft.assignee_id
        result = router.route(
            attributes,
            attributes.source,
            now,
            creator=creator,
            assignee=requested,
            contact_matched=contact is not None,
            trace=False,
        )
        if result.outcome is Outcome.REJECTED:
            return CreateResult(outcome=Outcome.REJECTED, lead=None, contact=None, routing=result)

        matched = contact is not None
        if contact is None:
            contact = Contact(
                contact_id=self._id(now),
                details=draft.contact,
                created_at=now,
                owner_id=result.assignee_id,
            )
            uow.add_contact(contact)
        elif contact.owner_id is None and result.assignee_id is not None:
            contact = attrs.evolve(contact, owner_id=result.assignee_id)
            uow.update_contact(contact)

        lead = Lead(
            lead_id=self._id(now),
            contact_id=contact.contact_id,
            created_at=now,
            updated_at=now,
            attributes=attributes,
            stage=draft.stage or self.playbook.initial_stage.key,
            origin=origin,
        )
        events: list[Event] = [
            LeadCreated(
                at=now,
                actor=actor,
                via=via,
                lead_id=lead.lead_id,
                contact_id=contact.contact_id,
                source=attributes.source,
                origin=origin,
                stage=lead.stage,
            )
        ]
        if result.assignee_id is not None:
            routed = result.method in (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)
            events.append(
                LeadAssigned(
                    at=now,
                    actor=None if routed else actor,
                    via=None if routed else via,
                    lead_id=lead.lead_id,
                    assignee_id=result.assignee_id,
                    method=result.method or AssignmentMethod.ROUTING,
                    policy=result.policy,
                )
            )
        lead = apply_events(lead, events)
        stored = uow.add_lead(lead, next_change_at=aging.next_change_at(lead, self.playbook))
        uow.append_events(events)
        if save_cursor and result.policy is not None and result.assignee_id is not None:
            uow.save_cursor(result.policy, result.state.cursor(result.policy))
        if result.outcome in (Outcome.UNASSIGNED, Outcome.HELD) and result.reason is not None:
            uow.put_exception(
                exception_record(
                    stored,
                    draft.contact,
                    self.directory.source(attributes.source),
                    result.reason,
                    result.distribution,
                )
            )
        self._notify_assignments(uow, stored, events, now, contact=contact)
        return CreateResult(
            outcome=result.outcome,
            lead=stored,
            contact=contact,
            routing=result,
            contact_matched=matched,
        )

    def _match(
        self,
        uow: UnitOfWork,
        details: ContactDetails,
        source: str,
        actor: int | None,
        contact_id: UUID | None,
    ) -> Contact | None:
        if contact_id is not None:
            return uow.get_contact(contact_id)
        scope = self.config.settings.contact_matching
        if scope is MatchScope.ACCOUNT and actor is None:
            scope = MatchScope.POLICY_POOL
        owners: frozenset[int] | None = None
        if scope is MatchScope.ACCOUNT:
            owners = frozenset({actor}) if actor is not None else frozenset()
        elif scope is MatchScope.POLICY_POOL:
            owners = self.directory.pool_owners(source)
        found = uow.find_contacts(
            emails=[details.email] if details.email else [],
            phones=[details.cell_phone] if details.cell_phone else [],
            owners=owners,
        )
        return match_contact(
            details,
            found,
            scope,
            acting_user=actor,
            pool=owners or (),
        )

    def import_rows(
        self,
        rows: Iterable[Mapping[str, str | None]],
        *,
        source: str,
        actor: int,
        assign_to: int | None = None,
        ignore_unknown: bool = False,
        chunk_size: int = 500,
        on_row: Callable[[RowOutcome], None] | None = None,
    ) -> ImportReport:
        """Import a batch of raw rows that share one lead source.

        Either every lead goes to ``assign_to``, or every lead is routed by
        the source's policies. Rows are validated one by one; a bad row is
        rejected with every field error and the rest go on. Rows are stored
        in chunks of ``chunk_size``, each one unit of work: a crash leaves
        whole leads only. Re-importing the same rows creates nothing twice:
        a row whose ``external_id`` is already stored for this source is
        reported as a duplicate. ``on_row`` receives every row's outcome, in
        order, after its chunk is committed.
        """
        actor_user = self._actor(actor)
        self.directory.source(source)
        if assign_to is not None:
            self._require_admin(actor_user, "assign a whole import to one user")
            if not self.user(assign_to).active:
                raise PermissionDenied(f"user {assign_to} is inactive and cannot be assigned leads")
        validator = self.validator(source=source, ignore_unknown=ignore_unknown)
        report = ImportReport()
        for chunk in _chunks(enumerate(rows, start=1), chunk_size):
            outcomes = self._import_chunk(chunk, validator, source, actor, assign_to)
            for outcome in outcomes:
                report = report.counted(outcome.status)
                if on_row is not None:
                    on_row(outcome)
        return report

    def _import_chunk(
        self,
        chunk: list[tuple[int, Mapping[str, str | None]]],
        validator: RowValidator,
        source: str,
        actor: int,
        assign_to: int | None,
    ) -> list[RowOutcome]:
        now = self.now()
        outcomes: list[RowOutcome] = []
        drafts: list[tuple[int, Mapping[str, str | None], LeadDraft]] = []
        for number, row in chunk:
            try:
                drafts.append((number, row, validator.validate(row, number)))
            except ValidationError as error:
                outcomes.append(
                    RowOutcome(row_number=number, row=row, status="rejected", error=error)
                )
        with self.store.unit_of_work() as uow:
            router = Router(self.directory, self._routing_state(uow, source, now))
            seen: dict[str, Lead] = {}
            for number, row, draft in drafts:
                ext = draft.attributes.external_id
                if ext is not None and ext in seen:
                    outcomes.append(
                        RowOutcome(row_number=number, row=row, status="duplicate", lead=seen[ext])
                    )
                    continue
                result = self._create(
                    uow,
                    router,
                    draft,
                    now,
                    actor=actor,
                    origin=Origin.IMPORT,
                    assignee=assign_to,
                    contact_id=None,
                    via=None,
                    save_cursor=False,
                )
                if result.duplicate:
                    status = "duplicate"
                elif result.outcome is Outcome.REJECTED:
                    status = "rejected"
                elif result.outcome is Outcome.ASSIGNED:
                    status = "assigned"
                else:
                    status = "unassigned"
                refusal = None
                if status == "rejected":
                    reason = result.routing.reason if result.routing else None
                    refusal = ValidationError(
                        [
                            FieldError(
                                "lead_source",
                                source,
                                f"nobody could take the lead ({reason}) and its contact is new: "
                                "rejected by the organisation's unroutable setting",
                            )
                        ],
                        row=number,
                    )
                if result.lead is not None and ext is not None:
                    seen[ext] = result.lead
                outcomes.append(
                    RowOutcome(
                        row_number=number,
                        row=row,
                        status=status,
                        lead=result.lead,
                        contact=result.contact,
                        routing=result.routing,
                        error=refusal,
                    )
                )
            # the cursors, once per chunk, in the same unit of work as its assignments
            before = uow.cursors()
            for policy, cursor in router.state.cursors.items():
                if before.get(policy) != cursor:
                    uow.save_cursor(policy, cursor)
        outcomes.sort(key=lambda o: o.row_number)
        return outcomes

    # ------------------------------------------------------------------ working leads

    def get_lead(self, lead_id: UUID) -> Lead:
        with self.store.unit_of_work() as uow:
            return uow.get_lead(lead_id)

    def log_outcome(
        self,
        lead_id: UUID,
        disposition: str,
        *,
        actor: int,
        follow_up: FollowUp | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Log a call, text or email outcome (see :func:`leadflow.stages.log_outcome`)."""
        user = self._actor(actor)
        approver = self.user(approval) if approval is not None else None
        return self._apply(
            lead_id,
            lambda lead, now: transitions.log_outcome(
                self.playbook,
                lead,
                disposition,
                user,
                now,
                follow_up=follow_up,
                note=note,
                approval=approver,
                via=via,
            ),
        )

    def set_stage(
        self,
        lead_id: UUID,
        stage: str,
        *,
        actor: int,
        outcome: str | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Move a lead to ``stage`` (see :func:`leadflow.stages.set_stage`)."""
        user = self._actor(actor)
        approver = self.user(approval) if approval is not None else None
        key = self.playbook.stage_names().get(" ".join(stage.lower().split()), stage)
        return self._apply(
            lead_id,
            lambda lead, now: transitions.set_stage(
                self.playbook,
                lead,
                key,
                user,
                now,
                approval=approver,
                note=note,
                outcome=outcome,
                via=via,
            ),
        )

    def schedule_follow_up(
        self,
        lead_id: UUID,
        due: datetime,
        *,
        actor: int,
        kind: FollowUpKind = FollowUpKind.EVENT,
        subject: FollowUpSubject = FollowUpSubject.CALL,
        notes: str | None = None,
        duration: timedelta | None = timedelta(minutes=30),
        priority: Priority = Priority.NORMAL,
        assignee: int | None = None,
    ) -> Lead:
        """Schedule a follow-up event (15/30/60 minutes) or task on a lead."""
        user = self._actor(actor)

        def move(lead: Lead, now: datetime) -> Transition:
            follow_up = FollowUp(
                follow_up_id=self._id(now),
                kind=kind,
                subject=subject,
                due=due,
                notes=notes,
                duration=duration if kind is FollowUpKind.EVENT else None,
                priority=priority,
                assignee_id=assignee if kind is FollowUpKind.TASK else None,
            )
            return transitions.schedule_follow_up(self.playbook, lead, follow_up, user, now)

        return self._apply(lead_id, move)

    def general_follow_up(
        self,
        lead_id: UUID,
        interval: relativedelta | timedelta,
        *,
        actor: int,
        notes: str | None = None,
    ) -> Lead:
        """ "Call me back in X": a task due per the playbook's follow-up rule."""
        user = self._actor(actor)
        return self._apply(
            lead_id,
            lambda lead, now: transitions.general_follow_up(
                self.playbook, lead, user, now, interval, follow_up_id=self._id(now), notes=notes
            ),
        )

    def claim(self, lead_id: UUID, *, actor: int) -> Lead:
        """Take a lead from the pool (Conflict if someone else holds it)."""
        user = self._actor(actor)
        return self._apply(
            lead_id, lambda lead, now: ownership.claim(self.playbook, lead, user, now)
        )

    def release(self, lead_id: UUID, *, actor: int) -> Lead:
        """Put a lead back in the pool."""
        user = self._actor(actor)
        return self._apply(
            lead_id, lambda lead, now: ownership.release(self.playbook, lead, user, now)
        )

    def assign(self, lead_id: UUID, assignee: int, *, actor: int) -> Lead:
        """Assign or reassign a lead (admins: anyone; others: themselves)."""
        user = self._actor(actor)
        target = self.user(assignee)
        return self._apply(
            lead_id,
            lambda lead, now: ownership.assign(self.playbook, lead, target, user, now),
        )

    def add_note(
        self, contact_id: UUID, text: str, *, actor: int, lead_id: UUID | None = None
    ) -> NoteAdded:
        """A note on a contact, optionally tied to one of its leads (a touch of that lead)."""
        user = self._actor(actor)
        if not text.strip():
            raise ValidationError([FieldError("note", text, "is blank")])
        now = self.now()
        with self.store.unit_of_work() as uow:
            contact = uow.get_contact(contact_id)
            if lead_id is None:
                note = NoteAdded(
                    at=now, actor=user.user_id, contact_id=contact.contact_id, text=text
                )
                uow.append_events([note])
                return note
            lead = self._load_current(uow, lead_id, now)
            if lead.contact_id != contact.contact_id:
                raise ValidationError(
                    [FieldError("lead_id", str(lead_id), f"is not a lead of contact {contact_id}")]
                )
            result = transitions.add_note(self.playbook, lead, text, user, now)
            self._save(uow, lead, result.lead, result.events)
            event = result.events[0]
            assert isinstance(event, NoteAdded)
            return event

    def update_lead(
        self,
        lead_id: UUID,
        changes: Mapping[str, str | None],
        *,
        actor: int,
        via: int | None = None,
    ) -> Lead:
        """Change lead attributes from raw strings; the activity log keeps the field diffs.

        Only lead attribute columns may be given (contact details live on the
        contact); system fields are refused, as on creation.
        """
        user = self._actor(actor)
        contact_columns = {"first_name", "last_name", "email", "cell_phone"}
        refused = [
            FieldError(k, v, "is a contact field: change it on the contact")
            for k, v in changes.items()
            if k in contact_columns
        ]
        if refused:
            raise ValidationError(refused)

        def move(lead: Lead, now: datetime) -> Transition:
            if lead.killed_at is not None:
                raise ValidationError(
                    [FieldError("lead", str(lead.lead_id), "was killed and cannot be changed")]
                )
            current = to_row(LeadDraft(contact=_PLACEHOLDER_CONTACT, attributes=lead.attributes))
            merged = {**current, **changes}
            merged.pop("lead_stage", None)
            draft = self.validator().validate(merged)
            diffs = _diff(lead.attributes, draft.attributes)
            if not diffs:
                return Transition(lead, ())
            event = LeadUpdated(
                at=now, actor=user.user_id, via=via, lead_id=lead.lead_id, changes=tuple(diffs)
            )
            updated = attrs.evolve(apply_events(lead, [event]), attributes=draft.attributes)
            return Transition(updated, (event,))

        return self._apply(lead_id, move)

    # ------------------------------------------------------------------ time

    def advance(self, now: datetime | None = None, *, batch: int = 500) -> AdvanceReport:
        """Apply aging to the leads whose ``next_change_at`` has come, and only those.

        Speed-to-lead releases are routed again at once.
        """
        now = now or self.now()
        changed = 0
        rerouted = 0
        events: list[Event] = []
        while True:
            with self.store.unit_of_work() as uow:
                due = uow.due_leads(now, limit=batch)
                for lead in due:
                    moved = aging.advance(lead, now, self.playbook)
                    uow.update_lead(
                        moved.lead, next_change_at=aging.next_change_at(moved.lead, self.playbook)
                    )
                    if moved.events:
                        uow.append_events(moved.events)
                        events.extend(moved.events)
                        changed += 1
                        rerouted += self._after_aging(uow, moved.events, now)
            if len(due) < batch:
                return AdvanceReport(leads=changed, events=tuple(events), rerouted=rerouted)

    # ------------------------------------------------------------------ views

    def queue(self, user_id: int, *, limit: int | None = 50) -> list[queue_order.QueueEntry]:
        """The user's call queue, in order, with reasons."""
        now = self.now()
        with self.store.unit_of_work() as uow:
            leads = [
                aging.advance(lead, now, self.playbook).lead
                for lead in uow.leads_of_assignee(user_id, exclude_stages=self._terminal)
            ]
        return queue_order.build_queue(leads, user_id, now, self.playbook, limit=limit)

    def why_not(self, lead_id: UUID, user_id: int) -> queue_order.WhyNot | None:
        now = self.now()
        with self.store.unit_of_work() as uow:
            lead = aging.advance(uow.get_lead(lead_id), now, self.playbook).lead
        return queue_order.why_not(lead, user_id, now, self.playbook)

    def pool(self, user_id: int, *, limit: int | None = 50) -> list[Lead]:
        """What anyone may take (the same for every user)."""
        self.user(user_id)
        now = self.now()
        with self.store.unit_of_work() as uow:
            leads = [
                aging.advance(lead, now, self.playbook).lead
                for lead in uow.pool_leads(
                    pool_stages=self.playbook.pool_stages, exclude_stages=self._terminal
                )
            ]
        return ownership.pool(leads, self.playbook, limit=limit)

    def history(self, lead_id: UUID) -> list[Event]:
        """The lead's activity, in order."""
        with self.store.unit_of_work() as uow:
            uow.get_lead(lead_id)
            return uow.history(lead_id)

    # ------------------------------------------------------------------ exceptions

    def exceptions(
        self, *, show_ignored: bool = False, where: ExceptionFilter | None = None
    ) -> list[ExceptionRecord]:
        with self.store.unit_of_work() as uow:
            records = uow.exceptions()
        return list_exceptions(records, show_ignored=show_ignored, where=where)

    def assign_exception(self, lead_id: UUID, assignee: int, *, actor: int) -> Lead:
        """Assign an unassigned lead from the exception list; its record is closed."""
        user = self._actor(actor)
        self._require_admin(user, "assign leads from the exception list")
        target = self.user(assignee)
        now = self.now()
        with self.store.unit_of_work() as uow:
            record = uow.get_exception(lead_id)
            closed = assign_exception(record, target, now)
            lead = self._load_current(uow, lead_id, now)
            result = ownership.assign(
                self.playbook, lead, target, user, now, method=AssignmentMethod.EXCEPTION
            )
            stored = self._save(uow, lead, result.lead, result.events)
            contact = uow.get_contact(lead.contact_id)
            if contact.owner_id is None:
                uow.update_contact(attrs.evolve(contact, owner_id=assignee))
            uow.put_exception(closed)
            self._notify_assignments(uow, stored, result.events, now)
            return stored

    def ignore_exception(
        self, lead_id: UUID, *, actor: int, ignored: bool = True
    ) -> ExceptionRecord:
        """Hide (or, with ``ignored=False``, show again) an exception record."""
        self._require_admin(self._actor(actor), "ignore exception records")
        with self.store.unit_of_work() as uow:
            record = uow.get_exception(lead_id)
            changed = ignore_exception(record) if ignored else unignore_exception(record)
            uow.put_exception(changed)
            return changed

    def resolve_offer(self, lead_id: UUID, offer: Offer, accepted_by: int | None) -> Lead:
        """Settle a ring-all / first-claim offer made when the lead was created."""
        now = self.now()
        with self.store.unit_of_work() as uow:
            lead = self._load_current(uow, lead_id, now)
            state = self._routing_state(uow, offer.source, now)
            result = Router(self.directory, state).resolve_offer(offer, accepted_by, now)
            if result.assignee_id is None:
                if result.reason is not None:
                    contact = uow.get_contact(lead.contact_id)
                    uow.put_exception(
                        exception_record(
                            lead,
                            contact.details,
                            self.directory.source(offer.source),
                            result.reason,
                            result.distribution,
                        )
                    )
                return lead
            event = LeadAssigned(
                at=now,
                actor=accepted_by,
                lead_id=lead.lead_id,
                assignee_id=result.assignee_id,
                method=result.method or AssignmentMethod.ROUTING,
                policy=result.policy,
            )
            stored = self._save(uow, lead, apply_events(lead, [event]), [event])
            if result.policy is not None:
                uow.save_cursor(result.policy, result.state.cursor(result.policy))
            self._notify_assignments(uow, stored, [event], now)
            return stored


_PLACEHOLDER_CONTACT = ContactDetails(
    first_name="-", last_name="-", email="placeholder@example.com"
)


def _diff(old: LeadAttributes, new: LeadAttributes) -> list[FieldChange]:
    changes = []
    for field in attrs.fields(LeadAttributes):
        before, after = getattr(old, field.name), getattr(new, field.name)
        if before != after:
            changes.append(FieldChange(field.name, _shown(before), _shown(after)))
    return changes


def _shown(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _chunks(
    items: Iterable[tuple[int, Mapping[str, str | None]]], size: int
) -> Iterator[list[tuple[int, Mapping[str, str | None]]]]:
    chunk: list[tuple[int, Mapping[str, str | None]]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
