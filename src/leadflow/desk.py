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
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Generic, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.automation import MAX_DEPTH, AssignTo, Subscription, fired
from leadflow.errors import (
    AmbiguousId,
    ConfigError,
    FieldError,
    LeadflowError,
    NotFound,
    PermissionDenied,
    ValidationError,
    clip,
    show_value,
)
from leadflow.events import (
    AssignmentMethod,
    Claimed,
    Event,
    FieldChange,
    LeadAssigned,
    LeadCreated,
    LeadEvent,
    LeadReassigned,
    LeadUpdated,
    NoteAdded,
    Released,
    apply_events,
)
from leadflow.ids import ENTROPY_BYTES, moment_problem, uuid7, uuid7_batch, uuid7_next
from leadflow.jobs import AutomationReport, Job, is_due, job_message, read_job
from leadflow.model import (
    SYSTEM,
    Actor,
    Contact,
    ContactDetails,
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Interface,
    Lead,
    LeadAttributes,
    MatchScope,
    Origin,
    Priority,
    SystemActor,
    User,
    match_contact,
    with_version,
)
from leadflow.notify.delivery import failed_attempt
from leadflow.notify.messages import assignment_message
from leadflow.org import OrgConfig, config_changes
from leadflow.queue import aging, ownership
from leadflow.queue import order as queue_order
from leadflow.reports import (
    Period,
    PeriodKind,
    ReportRow,
    StageSummary,
    activity_report,
    period_of,
    summarize,
)
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
from leadflow.storage.protocol import (
    AUTOMATION_KIND,
    OutboxMessage,
    OutboxStatus,
    Store,
    UnitOfWork,
)
from leadflow.validate import LeadDraft, RowValidator, to_row

__all__ = [
    "ActivityReport",
    "AdvanceReport",
    "CreateResult",
    "ImportReport",
    "LeadDesk",
    "QueuePage",
    "RowOutcome",
    "system_clock",
]


_HEX = re.compile(r"[0-9a-f]+")
#: The hex digits of each dash-separated group of a lead id's text.
_ID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
#: The most matches of a prefix looked up (and listed in an AmbiguousId).
_MOST_MATCHES = 1000


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
class ActivityReport:
    """A Lead Management Activity Report: the period, its rows and the summaries."""

    period: Period
    rows: tuple[ReportRow, ...]
    per_assignee: tuple[StageSummary, ...]
    organization: StageSummary


@attrs.frozen(kw_only=True)
class QueuePage:
    """What a queue screen shows: the first entries, how many there are, who they are."""

    entries: tuple[queue_order.QueueEntry, ...]
    #: Entries in the whole queue (``len(entries)`` when it all fits).
    total: int
    #: The contact details of the shown entries' leads, by contact id.
    contacts: Mapping[UUID, ContactDetails]


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
    ``subscriptions`` are the automations (the seed's journeys) the desk
    runs: after each command that fired one, unless ``run_subscriptions``
    is false (then the host calls :meth:`run_automations`, e.g. from a
    worker). ``interface`` is recorded on every event the desk stores (the
    CLI's desk says ``cli``; a host's, ``api``).

    Batch and administrative commands (imports, :meth:`advance`,
    :meth:`assign`, the exception list, :meth:`configure`) take an
    ``actor`` that defaults to :data:`~leadflow.model.SYSTEM`, the
    organisation's system actor (DESIGN D12): a host runs them without
    inventing a user. A person's own work (:meth:`log_outcome`,
    :meth:`set_stage`, :meth:`claim`, :meth:`release`, follow-ups, notes,
    :meth:`queue`) names the user.
    """

    def __init__(
        self,
        store: Store,
        *,
        config: OrgConfig | None = None,
        playbook: Playbook | None = None,
        clock: Callable[[], datetime] = system_clock,
        entropy: Callable[[int], bytes] = os.urandom,
        subscriptions: Sequence[Subscription] = (),
        run_subscriptions: bool = True,
        interface: Interface | str = Interface.API,
    ) -> None:
        self.store = store
        self.interface = Interface(interface)
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
        #: The last id this desk made: the next sorts after it (see uuid7_next).
        self._last_id: UUID | None = None
        self._ids_lock = threading.Lock()
        self._terminal = frozenset(s.key for s in playbook.stages if s.terminal)
        self.subscriptions: tuple[Subscription, ...] = tuple(subscriptions)
        self._subscriptions = self._check_subscriptions(self.subscriptions)
        self.run_subscriptions = run_subscriptions
        self._local = threading.local()

    # ------------------------------------------------------------------ basics

    def now(self) -> datetime:
        """The desk's clock; a naive or out-of-range moment is refused."""
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigError("the desk's clock returned a naive datetime")
        problem = moment_problem(now)
        if problem is not None:
            raise ValidationError([FieldError("now", now.isoformat(), problem)])
        return now

    def _id(self, now: datetime) -> UUID:
        """A fresh id made at ``now``, after every id this desk made before."""
        with self._ids_lock:
            made = self._last_id = uuid7_next(self._last_id, now, self.entropy(ENTROPY_BYTES))
        return made

    def _ids(self, now: datetime, count: int) -> list[UUID]:
        """``count`` fresh ids made at ``now`` from one read of :func:`os.urandom`."""
        with self._ids_lock:
            made = uuid7_batch(now, os.urandom(count * ENTROPY_BYTES), after=self._last_id)
            if made:
                self._last_id = made[-1]
        return made

    def user(self, user_id: int) -> User:
        """A configured user; NotFound otherwise."""
        return self.directory.user(user_id)

    def actor(self, actor: int | Actor | None) -> Actor:
        """Who acts: the system actor (``None`` or :data:`SYSTEM`) or a configured user.

        An unknown user id is NotFound; an inactive user may not act
        (PermissionDenied).
        """
        if actor is None or isinstance(actor, SystemActor):
            return SYSTEM
        user = actor if isinstance(actor, User) else self.user(actor)
        if not user.active:
            raise PermissionDenied(f"user {user.user_id} ({user.name}) is inactive")
        return user

    def _person(self, actor: int | Actor, what: str) -> User:
        """The user doing their own work; the system actor is refused."""
        who = self.actor(actor)
        if isinstance(who, SystemActor):
            raise PermissionDenied(f"{what} is a person's own work: name the user doing it")
        return who

    def _require_admin(self, actor: Actor, what: str) -> None:
        if not actor.is_admin:
            raise PermissionDenied(f"only an admin may {what}; user {actor.user_id} is not one")

    def _stamp(self, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` with the desk's interface recorded on each."""
        interface = self.interface
        if all(e.interface is interface for e in events):
            return events
        return [
            e if e.interface is interface else attrs.evolve(e, interface=interface) for e in events
        ]

    @staticmethod
    def configure(
        store: Store,
        config: OrgConfig,
        *,
        actor: int | Actor | None = SYSTEM,
        at: datetime | None = None,
        playbook: Playbook | None = None,
    ) -> list[str]:
        """Save ``config`` in ``store``; returns what changed, one line a change.

        The first configuration is saved as given. A later one is applied
        to the stored leads, contacts and exceptions as they are, and each
        policy's rotation state is kept for the members that remain; the
        configuration history keeps every version with who saved it and
        when. ``actor`` is the system actor (the default; ``None`` too) or
        an active admin of the stored configuration.

        A configuration that would orphan stored data is refused with a
        :class:`ConfigError` naming what depends on what, and nothing
        changes: a source removed while leads point at it, a user removed
        (rather than deactivated) while they hold leads or own contacts, a
        playbook without a stage that stored leads are in. ``playbook`` is
        the new configuration's playbook when the caller has loaded it.
        """
        config.directory(_timezone(config.settings.timezone))  # validate before saving
        actor_id = actor if isinstance(actor, int) or actor is None else actor.user_id
        with store.unit_of_work() as uow:
            current = uow.load_config()
            if current is None:
                changes = ["configuration created"]
            else:
                active = {u.user_id: u for u in current.users if u.active}
                if actor_id is not None and actor_id not in active:
                    raise NotFound(f"user {actor_id} is not an active user of this organisation")
                if actor_id is not None and not active[actor_id].is_admin:
                    raise PermissionDenied(
                        f"only an admin may change the configuration; user {actor_id} is not one"
                    )
                changes = config_changes(current, config)
                if not changes:
                    return []
                problems = _orphans(uow, current, config, playbook)
                if problems:
                    raise ConfigError(problems)
            uow.save_config(config, actor=actor_id, at=at or system_clock())
        return changes

    # ------------------------------------------------------------------ persistence helpers

    def _save(self, uow: UnitOfWork, before: Lead, after: Lead, events: Sequence[Event]) -> Lead:
        if after is before or not events:
            return before
        stored = uow.update_lead(after, next_change_at=aging.next_change_at(after, self.playbook))
        uow.append_events(self._stamp(events))
        self._queue_automations(uow, stored, events)
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
        *,
        worker: tuple[User, str] | None = None,
    ) -> Lead:
        """Run ``move`` on the lead as it is now and save what it did, in one unit of work.

        ``worker`` is the user working the lead and what they do: refused
        unless they may work it (:func:`leadflow.queue.ownership.may_work`).
        """
        now = self.now()
        with self._command() as uow:
            lead = self._load_current(uow, lead_id, now)
            if worker is not None:
                ownership.require_worker(self.playbook, lead, *worker)
            result = move(lead, now)
            stored = self._save(uow, lead, result.lead, result.events)
            self._notify_assignments(uow, stored, result.events, now)
            return stored

    # ------------------------------------------------------------------ automations

    def _check_subscriptions(
        self, subscriptions: Sequence[Subscription]
    ) -> dict[str, Subscription]:
        by_key: dict[str, Subscription] = {}
        problems = []
        for subscription in subscriptions:
            if subscription.key in by_key:
                problems.append(f"subscription {clip(subscription.key)!r} is registered twice")
            by_key[subscription.key] = subscription
            action = subscription.action
            if action.source not in self.directory.sources:
                problems.append(
                    f"subscription {clip(subscription.key)!r}: lead source {clip(action.source)!r}"
                    " is not configured"
                )
            if action.journey_user is not None and action.journey_user not in self.directory.users:
                problems.append(
                    f"subscription {clip(subscription.key)!r}: journey user {action.journey_user}"
                    " does not exist"
                )
        if problems:
            raise ConfigError(problems)
        return by_key

    @contextmanager
    def _command(self) -> Iterator[UnitOfWork]:
        """A command's unit of work; once it committed, the automations it fired run."""
        with self.store.unit_of_work() as uow:
            yield uow
        if self.run_subscriptions and getattr(self._local, "queued", False):
            self._local.queued = False
            self.run_automations()

    def _queue_automations(
        self, uow: UnitOfWork, lead: Lead, events: Iterable[Event], *, depth: int = 0
    ) -> None:
        """Write a job for each subscription ``events`` fire on ``lead`` (as it is after them)."""
        if not self.subscriptions:
            return
        for event in events:
            for subscription in fired(self.subscriptions, event, lead, depth=depth):
                uow.add_message(
                    job_message(self._id(event.at), subscription, event, lead.lead_id, depth=depth)
                )
                self._local.queued = True

    def run_automations(
        self,
        now: datetime | None = None,
        *,
        limit: int = 100,
        max_attempts: int = 8,
        backoff: timedelta = timedelta(minutes=1),
    ) -> AutomationReport:
        """Run the automation jobs that are due, oldest first (at most ``limit``).

        Each job runs in its own unit of work with marking it done, so an
        action runs once even with several runners. A job whose action
        fails is rolled back alone and recorded: one more attempt, the
        error, and the next attempt after ``backoff * 2**attempts`` (at most
        a day); after ``max_attempts`` it is ``failed`` and stays in the
        outbox (``outbox_status(store, kind="automation")``). The command
        that fired it is never undone. Jobs that the run's own actions fire
        (an automation's lead firing another subscription) run in the same
        call, up to :data:`~leadflow.automation.MAX_DEPTH` levels.
        """
        now = now or self.now()
        ran = skipped = failed_now = gave_up = 0
        created: list[UUID] = []
        for _ in range(MAX_DEPTH + 1):
            with self.store.unit_of_work() as uow:
                due = [
                    m.message_id
                    for m in uow.messages(status=OutboxStatus.PENDING)
                    if m.kind == AUTOMATION_KIND and is_due(m, now)
                ]
            if not due:
                break
            for message_id in due[:limit]:
                try:
                    with self.store.unit_of_work() as uow:
                        message = _pending_job(uow, message_id, now)
                        if message is None:
                            continue  # another runner did it
                        made = self._run_job(uow, read_job(message), now)
                        uow.update_message(
                            attrs.evolve(
                                message,
                                status=OutboxStatus.SENT,
                                attempts=message.attempts + 1,
                                next_attempt_at=None,
                                last_error="" if made is not None else "skipped: lead killed",
                            )
                        )
                except Exception as error:
                    status = self._job_failed(message_id, error, now, max_attempts, backoff)
                    failed_now += status is OutboxStatus.PENDING
                    gave_up += status is OutboxStatus.FAILED
                    continue
                if made is None:
                    skipped += 1
                else:
                    ran += 1
                    if made.lead is not None:
                        created.append(made.lead.lead_id)
            limit -= len(due)
            if limit <= 0:
                break
        self._local.queued = False
        return AutomationReport(
            ran=ran,
            skipped=skipped,
            failed_now=failed_now,
            gave_up=gave_up,
            created=tuple(created),
        )

    def _run_job(self, uow: UnitOfWork, job: Job, now: datetime) -> CreateResult | None:
        """Run one job's action; ``None`` if there is nothing to do (the lead was killed)."""
        subscription = self._subscriptions.get(job.subscription)
        if subscription is None:
            raise NotFound(f"subscription {job.subscription!r} is not registered with this desk")
        lead = uow.get_lead(job.lead_id)
        if lead.killed_at is not None:
            return None
        contact = uow.get_contact(lead.contact_id)
        action = subscription.action
        assignee: int | None = None
        if action.assign_to is AssignTo.CONTACT_OWNER:
            assignee = contact.owner_id
        elif action.assign_to is AssignTo.CONTACT_ASSIGNEE:
            assignee = contact.assignee_id
        elif action.assign_to is AssignTo.JOURNEY_USER:
            assignee = action.journey_user
        if assignee is not None and not self.user(assignee).active:
            assignee = None  # the role names nobody who can take it: the source routes it
        draft = LeadDraft(contact=contact.details, attributes=LeadAttributes(source=action.source))
        router = Router(self.directory, self._routing_state(uow, action.source, now))
        return self._create(
            uow,
            router,
            draft,
            now,
            actor=SYSTEM,
            origin=Origin.JOURNEY,
            assignee=assignee,
            contact_id=contact.contact_id,
            via=None,
            depth=job.depth,
        )

    def _job_failed(
        self,
        message_id: UUID,
        error: Exception,
        now: datetime,
        max_attempts: int,
        backoff: timedelta,
    ) -> OutboxStatus | None:
        """Record a failed attempt on the job; its new status (``None``: done elsewhere)."""
        with self.store.unit_of_work() as uow:
            message = _pending_job(uow, message_id, now)
            if message is None:
                return None
            text = str(error) if isinstance(error, LeadflowError) else repr(error)
            changed = failed_attempt(message, text, now, max_attempts, backoff)
            uow.update_message(changed)
            return changed.status

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
        actor: int | Actor | None = SYSTEM,
        source: str | None = None,
        origin: Origin = Origin.MANUAL,
        assignee: int | None = None,
        contact_id: UUID | None = None,
        via: int | None = None,
    ) -> CreateResult:
        """Validate, match the contact, route (or assign) and store one new lead.

        ``actor`` is the user creating it, or the system actor (the
        default; ``None`` is the same) for an import, an automation or a
        host's API. A non-admin creating a lead by hand gets it; an admin
        or the system actor may name ``assignee``. ``contact_id`` attaches
        the lead to that contact (the contact page's "+New Lead"). Raises
        ValidationError with every field error; returns a ``rejected``
        result when nobody could take the lead, its contact is new and the
        organisation rejects such leads.
        """
        who = self.actor(actor)
        draft = row if isinstance(row, LeadDraft) else self.validator(source=source).validate(row)
        now = self.now()
        with self._command() as uow:
            state = self._routing_state(uow, draft.attributes.source, now)
            router = Router(self.directory, state)
            return self._create(
                uow,
                router,
                draft,
                now,
                actor=who,
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
        actor: Actor,
        origin: Origin,
        assignee: int | None,
        contact_id: UUID | None,
        via: int | None,
        save_cursor: bool = True,
        depth: int = 0,
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
        creator = actor if isinstance(actor, User) and origin is Origin.MANUAL else None
        actor_id = actor.user_id
        contact = self._match(uow, draft.contact, attributes.source, actor_id, contact_id)
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
                actor=actor_id,
                via=via,
                interface=self.interface,
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
                    actor=None if routed else actor_id,
                    via=None if routed else via,
                    interface=self.interface,
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
        self._queue_automations(uow, stored, events, depth=depth)
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
        actor: int | Actor | None = SYSTEM,
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
        order, after its chunk is committed. ``actor`` is the system actor
        (the default) or the importing user.
        """
        actor_user = self.actor(actor)
        self.directory.source(source)
        if assign_to is not None:
            self._require_admin(actor_user, "assign a whole import to one user")
            if not self.user(assign_to).active:
                raise PermissionDenied(f"user {assign_to} is inactive and cannot be assigned leads")
        actor_id = actor_user.user_id
        validator = self.validator(source=source, ignore_unknown=ignore_unknown)
        counts = dict.fromkeys(_IMPORT_STATUSES, 0)
        for chunk in _chunks(enumerate(rows, start=1), chunk_size):
            statuses, outcomes = self._import_chunk(
                chunk, validator, source, actor_id, assign_to, outcomes=on_row is not None
            )
            for status in statuses:
                counts[status] += 1
            if on_row is not None:
                for outcome in outcomes:
                    on_row(outcome)
        return ImportReport(
            rows=sum(counts.values()),
            assigned=counts["assigned"],
            unassigned=counts["unassigned"],
            rejected=counts["rejected"],
            duplicates=counts["duplicate"],
        )

    def _import_chunk(
        self,
        chunk: list[tuple[int, Mapping[str, str | None]]],
        validator: RowValidator,
        source: str,
        actor: int | None,
        assign_to: int | None,
        *,
        outcomes: bool = True,
    ) -> tuple[list[str], list[RowOutcome]]:
        """Validate, dedupe, match, route and store one chunk in one unit of work.

        What :meth:`_create` does for each row, with the store read and
        written once per chunk instead of once per row. Returns every row's
        status in row order and, when ``outcomes``, its :class:`RowOutcome`.
        """
        now = self.now()
        statuses: list[str] = []
        drafts = _validated(validator, chunk)
        with self._command() as uow:
            state = self._routing_state(uow, source, now)
            stored_cursors = dict(state.cursors)
            batch = _ImportBatch(self, uow, source, actor, assign_to, now, drafts)
            router = Router(self.directory, state)
            route = router.route
            source_obj = self.directory.source(source)
            match = batch.match
            new_lead = batch.new_lead
            seen = batch.stored
            made: dict[str, int] = {}  # external id -> position in batch.leads, within the chunk
            # (position of the row, position of its lead in batch.leads or -1, result, contact)
            rows: list[tuple[int, int, RoutingResult | None, Contact | None]] = []
            keep = rows.append if outcomes else _skip
            for position, (_, _, draft) in enumerate(drafts):
                if isinstance(draft, ValidationError):
                    statuses.append("rejected")
                    continue
                attributes = draft.attributes
                ext = attributes.external_id
                if ext is not None:
                    if ext in made:
                        statuses.append("duplicate")
                        keep((position, made[ext], None, None))
                        continue
                    if ext in seen:
                        statuses.append("duplicate")
                        keep((position, -1, None, None))
                        continue
                contact = match(draft.contact)
                result = route(
                    attributes,
                    source_obj,
                    now,
                    assignee=assign_to if assign_to is not None else draft.assignee_id,
                    contact_matched=contact is not None,
                )
                outcome = result.outcome
                if outcome is Outcome.REJECTED:
                    statuses.append("rejected")
                    keep((position, -1, result, None))
                    continue
                contact, lead_at = new_lead(draft, contact, result)
                if ext is not None:
                    made[ext] = lead_at
                statuses.append("assigned" if outcome is Outcome.ASSIGNED else "unassigned")
                keep((position, lead_at, result, contact))
            batch.write()
            # the cursors, once per chunk, in the same unit of work as its assignments
            for policy, cursor in router.state.cursors.items():
                if stored_cursors.get(policy) != cursor:
                    uow.save_cursor(policy, cursor)
        if not outcomes:
            return statuses, []
        results = [
            RowOutcome(row_number=number, row=row, status="rejected", error=draft)
            if isinstance(draft, ValidationError)
            else _PENDING
            for number, row, draft in drafts
        ]
        for position, lead_at, routed, contact in rows:
            number, row, draft = drafts[position]
            assert isinstance(draft, LeadDraft)
            if routed is None:  # a duplicate: of a lead stored before, or earlier in the chunk
                ext = draft.attributes.external_id
                assert ext is not None
                lead = batch.stored_lead(lead_at) if lead_at >= 0 else seen[ext]
                results[position] = RowOutcome(
                    row_number=number, row=row, status="duplicate", lead=lead
                )
            elif lead_at < 0:  # refused by the unroutable setting
                results[position] = RowOutcome(
                    row_number=number,
                    row=row,
                    status="rejected",
                    routing=routed,
                    error=ValidationError(
                        [
                            FieldError(
                                "lead_source",
                                source,
                                f"nobody could take the lead ({routed.reason}) and its contact "
                                "is new: rejected by the organisation's unroutable setting",
                            )
                        ],
                        row=number,
                    ),
                )
            else:
                results[position] = RowOutcome(
                    row_number=number,
                    row=row,
                    status="assigned" if routed.outcome is Outcome.ASSIGNED else "unassigned",
                    lead=batch.stored_lead(lead_at),
                    contact=contact,
                    routing=routed,
                )
        return statuses, results

    # ------------------------------------------------------------------ working leads

    def get_lead(self, lead_id: UUID) -> Lead:
        with self.store.unit_of_work() as uow:
            return uow.get_lead(lead_id)

    def log_outcome(
        self,
        lead_id: UUID,
        disposition: str,
        *,
        actor: int | User,
        follow_up: FollowUp | None = None,
        call_back: datetime | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Log a call, text or email outcome (see :func:`leadflow.stages.log_outcome`).

        ``call_back`` schedules a 30-minute call at that moment with the
        outcome, in the same unit of work (a shorthand for a ``follow_up``
        the desk makes): the outcome and its follow-up are stored together
        or not at all.
        """
        what = "logging an outcome"
        user = self._person(actor, what)
        approver = self.user(approval) if approval is not None else None
        if follow_up is not None and call_back is not None:
            raise ValidationError(
                [FieldError("call_back", call_back.isoformat(), "give a follow_up or a call_back")]
            )

        def move(lead: Lead, now: datetime) -> Transition:
            chosen = follow_up
            if call_back is not None:
                chosen = FollowUp(
                    follow_up_id=self._id(now),
                    kind=FollowUpKind.EVENT,
                    subject=FollowUpSubject.CALL,
                    due=call_back,
                    notes=note,
                    duration=timedelta(minutes=30),
                )
            return transitions.log_outcome(
                self.playbook,
                lead,
                disposition,
                user,
                now,
                follow_up=chosen,
                note=note,
                approval=approver,
                via=via,
            )

        return self._apply(lead_id, move, worker=(user, what))

    def set_stage(
        self,
        lead_id: UUID,
        stage: str,
        *,
        actor: int | User,
        outcome: str | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Move a lead to ``stage`` (see :func:`leadflow.stages.set_stage`)."""
        what = "moving a lead's stage"
        user = self._person(actor, what)
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
            worker=(user, what),
        )

    def schedule_follow_up(
        self,
        lead_id: UUID,
        due: datetime,
        *,
        actor: int | User,
        kind: FollowUpKind = FollowUpKind.EVENT,
        subject: FollowUpSubject = FollowUpSubject.CALL,
        notes: str | None = None,
        duration: timedelta | None = timedelta(minutes=30),
        priority: Priority = Priority.NORMAL,
        assignee: int | None = None,
    ) -> Lead:
        """Schedule a follow-up event (15/30/60 minutes) or task on a lead."""
        what = "scheduling a follow-up"
        user = self._person(actor, what)

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

        return self._apply(lead_id, move, worker=(user, what))

    def general_follow_up(
        self,
        lead_id: UUID,
        interval: relativedelta | timedelta,
        *,
        actor: int | User,
        notes: str | None = None,
    ) -> Lead:
        """ "Call me back in X": a task due per the playbook's follow-up rule."""
        what = "scheduling a follow-up"
        user = self._person(actor, what)
        return self._apply(
            lead_id,
            lambda lead, now: transitions.general_follow_up(
                self.playbook, lead, user, now, interval, follow_up_id=self._id(now), notes=notes
            ),
            worker=(user, what),
        )

    def claim(self, lead_id: UUID, *, actor: int | User) -> Lead:
        """Take a lead from the pool (Conflict if someone else holds it)."""
        user = self._person(actor, "claiming a lead")
        return self._apply(
            lead_id, lambda lead, now: ownership.claim(self.playbook, lead, user, now)
        )

    def release(self, lead_id: UUID, *, actor: int | User) -> Lead:
        """Put a lead back in the pool."""
        user = self._person(actor, "releasing a lead")
        return self._apply(
            lead_id, lambda lead, now: ownership.release(self.playbook, lead, user, now)
        )

    def assign(self, lead_id: UUID, assignee: int, *, actor: int | Actor = SYSTEM) -> Lead:
        """Assign or reassign a lead (the system actor and admins: anyone; others: themselves)."""
        user = self.actor(actor)
        target = self.user(assignee)
        return self._apply(
            lead_id,
            lambda lead, now: ownership.assign(self.playbook, lead, target, user, now),
        )

    def add_note(
        self, contact_id: UUID, text: str, *, actor: int | User, lead_id: UUID | None = None
    ) -> NoteAdded:
        """A note on a contact, optionally tied to one of its leads (a touch of that lead)."""
        what = "adding a note"
        user = self._person(actor, what)
        if not text.strip():
            raise ValidationError([FieldError("note", text, "is blank")])
        now = self.now()
        with self._command() as uow:
            contact = uow.get_contact(contact_id)
            if lead_id is None:
                ownership.require_holder(
                    contact.owner_id, user, what, f"contact {contact.contact_id}"
                )
                note = NoteAdded(
                    at=now, actor=user.user_id, contact_id=contact.contact_id, text=text
                )
                uow.append_events(self._stamp([note]))
                return note
            lead = self._load_current(uow, lead_id, now)
            ownership.require_worker(self.playbook, lead, user, what)
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
        actor: int | User,
        via: int | None = None,
    ) -> Lead:
        """Change lead attributes from raw strings; the activity log keeps the field diffs.

        Only lead attribute columns may be given (contact details live on the
        contact); system fields are refused, as on creation.
        """
        what = "changing a lead"
        user = self._person(actor, what)
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

        return self._apply(lead_id, move, worker=(user, what))

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
            with self._command() as uow:
                due = uow.due_leads(now, limit=batch)
                for lead in due:
                    moved = aging.advance(lead, now, self.playbook)
                    if not moved.events:  # nothing changed: only its next change moves on
                        uow.update_lead(
                            moved.lead,
                            next_change_at=aging.next_change_at(moved.lead, self.playbook),
                        )
                        continue
                    # saved as every command saves: its journeys run after the commit
                    self._save(uow, lead, moved.lead, moved.events)
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

    def queue_page(self, user_id: int, *, limit: int | None = 50) -> QueuePage:
        """The first ``limit`` entries of the user's queue, how many it holds, their contacts."""
        entries = self.queue(user_id, limit=None)
        shown = entries if limit is None else entries[:limit]
        with self.store.unit_of_work() as uow:
            contacts = {
                e.lead.contact_id: uow.get_contact(e.lead.contact_id).details for e in shown
            }
        return QueuePage(entries=tuple(shown), total=len(entries), contacts=contacts)

    def resolve_lead_id(self, text: str) -> UUID:
        """The lead id ``text`` names: a whole id, or a unique prefix of 8 characters or more.

        Case and dashes do not matter (``0190F3A27C41`` is
        ``0190f3a2-7c41``). NotFound when no lead fits; :class:`AmbiguousId`
        (a NotFound) listing the ids when several do.
        """
        typed = text.strip().lower()
        try:
            return UUID(typed)
        except ValueError:
            pass
        digits = typed.replace("-", "")
        if len(digits) < 8 or not _HEX.fullmatch(digits):
            raise NotFound(
                f"{show_value(text)} is not a lead id: give the whole id or at least"
                " its first 8 characters"
            )
        prefix = "-".join(digits[a:b] for a, b in _ID_GROUPS if digits[a:b])
        if len(digits) in (8, 12, 16, 20) and typed.endswith("-"):
            prefix += "-"
        with self.store.unit_of_work() as uow:
            matches = uow.lead_ids_with_prefix(prefix, limit=_MOST_MATCHES)
        if not matches:
            raise NotFound(f"no lead id starts with {show_value(text)}")
        if len(matches) > 1:
            raise AmbiguousId(prefix, matches)
        return matches[0]

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

    def activity_report(self, kind: PeriodKind | str, day: date) -> ActivityReport:
        """The Lead Management Activity Report of the week or month containing ``day``.

        ``kind`` is ``weekly`` (Monday to Sunday) or ``monthly``, both in the
        organisation's time zone. Rows are the leads with activity in the
        period, oldest first; the stage flags, assignee and last outcome are
        read from each lead's history up to the end of the period, so a past
        period's report never changes.
        """
        try:
            period_kind = PeriodKind(kind)
        except ValueError:
            raise ValidationError(
                [FieldError("kind", kind, "must be 'weekly' or 'monthly'")]
            ) from None
        period = period_of(period_kind, day, self.timezone)
        with self.store.unit_of_work() as uow:
            events = uow.activity(start=period.start, end=period.end)
            lead_ids = {e.lead_id for e in events if isinstance(e, LeadEvent | NoteAdded)}
            lead_ids.discard(None)  # a note on a contact only
            leads = {i: uow.get_lead(i) for i in lead_ids if i is not None}
            contacts = {
                lead.contact_id: uow.get_contact(lead.contact_id) for lead in leads.values()
            }
            histories = {i: uow.history(i) for i in leads}
        rows = list(
            activity_report(
                period,
                events,
                leads,
                contacts,
                self.directory.users,
                self.playbook,
                organization_id=self.config.settings.organization_id,
                lead_events=histories,
            )
        )
        per_assignee, organization = summarize(rows)
        return ActivityReport(
            period=period,
            rows=tuple(rows),
            per_assignee=tuple(per_assignee),
            organization=organization,
        )

    def exceptions(
        self, *, show_ignored: bool = False, where: ExceptionFilter | None = None
    ) -> list[ExceptionRecord]:
        with self.store.unit_of_work() as uow:
            records = uow.exceptions()
        return list_exceptions(records, show_ignored=show_ignored, where=where)

    def assign_exception(
        self, lead_id: UUID, assignee: int, *, actor: int | Actor = SYSTEM
    ) -> Lead:
        """Assign an unassigned lead from the exception list; its record is closed."""
        user = self.actor(actor)
        self._require_admin(user, "assign leads from the exception list")
        target = self.user(assignee)
        now = self.now()
        with self._command() as uow:
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
        self, lead_id: UUID, *, actor: int | Actor = SYSTEM, ignored: bool = True
    ) -> ExceptionRecord:
        """Hide (or, with ``ignored=False``, show again) an exception record."""
        self._require_admin(self.actor(actor), "ignore exception records")
        with self._command() as uow:
            record = uow.get_exception(lead_id)
            changed = ignore_exception(record) if ignored else unignore_exception(record)
            uow.put_exception(changed)
            return changed

    def resolve_offer(self, lead_id: UUID, offer: Offer, accepted_by: int | None) -> Lead:
        """Settle a ring-all / first-claim offer made when the lead was created."""
        now = self.now()
        with self._command() as uow:
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


def _orphans(
    uow: UnitOfWork, current: OrgConfig, config: OrgConfig, playbook: Playbook | None
) -> list[str]:
    """What stored data the change from ``current`` to ``config`` would leave pointing nowhere."""
    problems: list[str] = []
    sources = {s.key for s in config.sources}
    removed_sources = {s.key for s in current.sources} - sources
    if removed_sources:
        by_source = uow.lead_counts("source")
        for key in sorted(removed_sources):
            if by_source.get(key):
                problems.append(
                    f"source {clip(key)!r} is removed but {by_source[key]} stored lead(s) came"
                    " from it: keep the source (a source key is permanent)"
                )
    users = {u.user_id for u in config.users}
    removed_users = sorted(u.user_id for u in current.users if u.user_id not in users)
    if removed_users:
        by_assignee = uow.lead_counts("assignee_id")
        by_owner = uow.contact_counts_by_owner()
        for user_id in removed_users:
            held, owned = by_assignee.get(user_id, 0), by_owner.get(user_id, 0)
            if held or owned:
                problems.append(
                    f"user {user_id} is removed but holds {held} lead(s) and owns {owned}"
                    " contact(s): deactivate the user instead (active = false)"
                )
    if playbook is None and config.settings.playbook != current.settings.playbook:
        from leadflow.io.playbooks import load_playbook

        playbook = load_playbook(config.settings.playbook)
    if playbook is not None:
        stages = {stage.key for stage in playbook.stages}
        by_stage = uow.lead_counts("stage")
        for stage, count in sorted(by_stage.items(), key=lambda item: str(item[0])):
            if count and stage not in stages:
                problems.append(
                    f"playbook {config.settings.playbook!r} has no stage {stage!r}, which"
                    f" {count} stored lead(s) are in"
                )
    return problems


def _pending_job(uow: UnitOfWork, message_id: UUID, now: datetime) -> OutboxMessage | None:
    """The job, if it is still pending and due."""
    for message in uow.messages(status=OutboxStatus.PENDING):
        if message.message_id == message_id:
            return message if is_due(message, now) else None
    return None


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


def _validated(
    validator: RowValidator, chunk: list[tuple[int, Mapping[str, str | None]]]
) -> list[tuple[int, Mapping[str, str | None], LeadDraft | ValidationError]]:
    """Each row of ``chunk`` with its draft or its error, as ``validator.validate`` gives them.

    Rows with the same columns (a CSV file's, a form's) are validated as one
    table (:meth:`RowValidator.validate_table`, a column at a time); others
    one by one.
    """
    headers = tuple(chunk[0][1]) if chunk else ()
    if len(chunk) > 1 and all(tuple(row) == headers for _, row in chunk):
        numbers = [number for number, _ in chunk]
        table = [list(row.values()) for _, row in chunk]
        results = validator.validate_table(headers, table, numbers)  # type: ignore[arg-type]
        return [(number, row, result) for (number, row), result in zip(chunk, results, strict=True)]
    drafts: list[tuple[int, Mapping[str, str | None], LeadDraft | ValidationError]] = []
    validate = validator.validate
    for number, row in chunk:
        try:
            drafts.append((number, row, validate(row, number)))
        except ValidationError as error:  # kept without its traceback (this frame: a cycle)
            drafts.append((number, row, error.with_traceback(None)))
    return drafts


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


# --------------------------------------------------------------------------- imports

_IMPORT_STATUSES = ("assigned", "unassigned", "rejected", "duplicate")
_next_change_at = aging.next_change_at


def _skip(_: object) -> None:
    """Keeps nothing (a chunk's rows, when nobody asked for their outcomes)."""


#: A placeholder in a chunk's list of outcomes, replaced before anyone sees it.
_PENDING = RowOutcome(row_number=0, row={}, status="")

_T = TypeVar("_T", bound=attrs.AttrsInstance)
_new = object.__new__


class _Template(Generic[_T]):
    """Copies of one validated attrs value with some fields replaced, skipping ``__init__``.

    ``template(a, b)`` equals ``attrs.evolve(value, **{vary[0]: a, vary[1]: b})``
    at a fraction of the cost: the fields copied were validated when
    ``value`` was built, and the caller passes replacements that are valid
    by construction (fresh ids, validated drafts, aware moments). Fields are
    set through their slots, as ``__init__`` sets them.
    """

    def __init__(self, value: _T, *vary: str) -> None:
        cls = type(value)
        if hasattr(cls, "__attrs_post_init__"):
            raise TypeError(f"{cls.__name__} checks more than its fields: build it normally")
        names = [field.name for field in attrs.fields(cls)]
        self._cls = cls
        self._fixed = [
            (getattr(cls, name).__set__, getattr(value, name)) for name in names if name not in vary
        ]
        self._vary = [getattr(cls, name).__set__ for name in vary]

    def __call__(self, *values: object) -> _T:
        made: _T = _new(self._cls)
        for set_field, value in self._fixed:
            set_field(made, value)
        for set_field, value in zip(self._vary, values, strict=True):
            set_field(made, value)
        return made


class _ImportBatch:
    """One chunk of an import inside its unit of work: the reads, the new values, the writes.

    Built with the chunk's drafts, it reads the leads already stored for
    their external ids and the contacts they may match, once. Then, row by
    row, :meth:`match` finds a row's contact (among those, and those the
    chunk made or changed) and :meth:`new_lead` makes its contact, lead,
    events, exception record and message, exactly as
    :meth:`LeadDesk._create` would. :meth:`write` stores them all.
    """

    def __init__(
        self,
        desk: LeadDesk,
        uow: UnitOfWork,
        source: str,
        actor: int | None,
        assign_to: int | None,
        now: datetime,
        drafts: Sequence[tuple[int, Mapping[str, str | None], LeadDraft | ValidationError]],
    ) -> None:
        self.desk = desk
        self.uow = uow
        self.source = desk.directory.source(source)
        self.actor = actor
        self.now = now
        valid = [draft for _, _, draft in drafts if isinstance(draft, LeadDraft)]

        externals = {ext for d in valid if (ext := d.attributes.external_id) is not None}
        #: Leads stored before this chunk, by external id.
        self.stored = uow.find_leads_by_external_ids(source, externals) if externals else {}

        # The contacts this chunk's rows may match, as LeadDesk._match finds them.
        scope = desk.config.settings.contact_matching
        owners: frozenset[int] | None = None
        if scope is MatchScope.ACCOUNT and actor is None:  # as LeadDesk._match
            scope = MatchScope.POLICY_POOL
        if scope is MatchScope.ACCOUNT:
            owners = frozenset({actor}) if actor is not None else frozenset()
        elif scope is MatchScope.POLICY_POOL:
            owners = desk.directory.pool_owners(source)
        self.scope = scope
        self.pool: Collection[int] = owners or ()
        stored = self.stored
        # rows with a stored external id are duplicates: they match no contact
        fresh = [d for d in valid if d.attributes.external_id not in stored]
        emails = {d.contact.email for d in fresh if d.contact.email}
        phones = {d.contact.cell_phone for d in fresh if d.contact.cell_phone}
        found = (
            uow.find_contacts(emails=emails, phones=phones, owners=owners)
            if emails or phones
            else []
        )
        #: Every contact the chunk may match, at its latest version, by id.
        self.contacts: dict[UUID, Contact] = {}
        self.by_email: dict[str, list[UUID]] = {}
        self.by_phone: dict[str, list[UUID]] = {}
        for contact in found:
            self._index(contact)

        # What the chunk writes.
        self.new_contacts: dict[UUID, Contact] = {}
        self.changed_contacts: dict[UUID, Contact] = {}
        self.leads: list[tuple[Lead, datetime | None]] = []
        self.events: list[Event] = []
        #: (position of the lead, its contact details, the routing result)
        self.records: list[tuple[int, ContactDetails, RoutingResult]] = []
        #: (message id, position of the lead, its contact, the assignee)
        self.messages: list[tuple[UUID, int, Contact, int]] = []
        #: the automation jobs the chunk's new leads fire
        self.subscriptions = desk.subscriptions
        self.jobs: list[OutboxMessage] = []

        # Constants of the chunk.
        self.notify = desk.config.settings.notify_on_assignment
        self.playbook = desk.playbook
        self.initial_stage = desk.playbook.initial_stage.key
        self._ids = _IdMaker(desk, now, 3 * len(fresh))
        self._templates: (
            tuple[
                _Template[Contact],
                _Template[Lead],
                _Template[LeadCreated],
                _Template[LeadAssigned],
            ]
            | None
        ) = None

    def _index(self, contact: Contact) -> None:
        contact_id = contact.contact_id
        self.contacts[contact_id] = contact
        email, phone = contact.details.email, contact.details.cell_phone
        if email:
            self.by_email.setdefault(email, []).append(contact_id)
        if phone:
            self.by_phone.setdefault(phone, []).append(contact_id)

    def match(self, details: ContactDetails) -> Contact | None:
        """The contact a new lead with ``details`` joins, as :meth:`LeadDesk._match` finds it."""
        by_email = self.by_email.get(details.email) if details.email else None
        by_phone = self.by_phone.get(details.cell_phone) if details.cell_phone else None
        if by_email is None and by_phone is None:
            return None
        contacts = self.contacts
        candidates = [contacts[i] for i in by_email or ()] + [contacts[i] for i in by_phone or ()]
        return match_contact(
            details, candidates, self.scope, acting_user=self.actor, pool=self.pool
        )

    def _make_templates(
        self, draft: LeadDraft
    ) -> tuple[
        _Template[Contact], _Template[Lead], _Template[LeadCreated], _Template[LeadAssigned]
    ]:
        """Templates of the chunk's contacts, leads and events, validated once."""
        now, actor, interface = self.now, self.actor, self.desk.interface
        some_id = self._ids.peek()
        contact = Contact(contact_id=some_id, details=draft.contact, created_at=now)
        lead = apply_events(
            Lead(
                lead_id=some_id,
                contact_id=some_id,
                created_at=now,
                updated_at=now,
                attributes=draft.attributes,
                stage=self.initial_stage,
                origin=Origin.IMPORT,
            ),
            [
                LeadCreated(
                    at=now,
                    actor=actor,
                    lead_id=some_id,
                    contact_id=some_id,
                    source=self.source.key,
                    origin=Origin.IMPORT,
                    stage=self.initial_stage,
                )
            ],
        )
        created = LeadCreated(
            at=now,
            actor=actor,
            interface=interface,
            lead_id=some_id,
            contact_id=some_id,
            source=self.source.key,
            origin=Origin.IMPORT,
            stage=self.initial_stage,
        )
        assigned = LeadAssigned(
            at=now,
            actor=None,
            interface=interface,
            lead_id=some_id,
            assignee_id=0,
            method=AssignmentMethod.ROUTING,
        )
        self._templates = (
            _Template(contact, "contact_id", "details", "owner_id"),
            _Template(
                lead,
                "lead_id",
                "contact_id",
                "attributes",
                "stage",
                "assignee_id",
                "assigned_at",
                "assignment_method",
            ),
            _Template(created, "lead_id", "contact_id", "stage"),
            _Template(assigned, "actor", "lead_id", "assignee_id", "method", "policy"),
        )
        return self._templates

    def new_lead(
        self, draft: LeadDraft, contact: Contact | None, result: RoutingResult
    ) -> tuple[Contact, int]:
        """Make the row's contact (or give its match an owner), lead, events, record, message.

        Returns the row's contact and the position of its lead in :attr:`leads`.
        """
        templates = self._templates or self._make_templates(draft)
        make_contact, make_lead, make_created, make_assigned = templates
        now = self.now
        assignee = result.assignee_id
        if contact is None:
            contact = make_contact(self._ids.next(), draft.contact, assignee)
            self.new_contacts[contact.contact_id] = contact
            self._index(contact)
        elif contact.owner_id is None and assignee is not None:
            contact = attrs.evolve(contact, owner_id=assignee)
            contact_id = contact.contact_id
            self.contacts[contact_id] = contact
            if contact_id in self.new_contacts:  # made by this chunk: store it as it ends
                self.new_contacts[contact_id] = contact
            else:
                self.changed_contacts[contact_id] = contact
        contact_id = contact.contact_id
        lead_id = self._ids.next()
        stage = draft.stage or self.initial_stage
        events = self.events
        first_event = len(events)
        events.append(make_created(lead_id, contact_id, stage))
        if assignee is not None:
            method = result.method or AssignmentMethod.ROUTING
            routed = result.method in (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)
            events.append(
                make_assigned(
                    None if routed else self.actor, lead_id, assignee, method, result.policy
                )
            )
            lead = make_lead(
                lead_id, contact_id, draft.attributes, stage, assignee, now, str(method)
            )
        else:
            lead = make_lead(lead_id, contact_id, draft.attributes, stage, None, None, None)
        position = len(self.leads)
        self.leads.append((lead, _next_change_at(lead, self.playbook)))
        if result.outcome in (Outcome.UNASSIGNED, Outcome.HELD) and result.reason is not None:
            self.records.append((position, draft.contact, result))
        if self.notify and assignee is not None:
            self.messages.append((self._ids.next(), position, contact, assignee))
        if self.subscriptions:  # as LeadDesk._queue_automations, in the same order of ids
            for event in events[first_event:]:
                for subscription in fired(self.subscriptions, event, lead, depth=0):
                    self.jobs.append(
                        job_message(self._ids.next(), subscription, event, lead_id, depth=0)
                    )
        return contact, position

    def write(self) -> None:
        """Store everything the chunk made."""
        uow, desk = self.uow, self.desk
        if self.new_contacts:
            uow.add_contacts(list(self.new_contacts.values()))
        for contact in self.changed_contacts.values():
            uow.update_contact(contact)
        if self.leads:
            uow.add_leads(self.leads)
        leads = self.leads
        if self.events:
            uow.append_events(self.events)
        for position, details, result in self.records:
            assert result.reason is not None
            uow.put_exception(
                exception_record(
                    leads[position][0], details, self.source, result.reason, result.distribution
                )
            )
        if self.messages:
            link = desk.config.settings.lead_link
            uow.add_messages(
                [
                    assignment_message(
                        message_id=message_id,
                        lead=leads[position][0],
                        contact=contact,
                        assignee=desk.user(assignee),
                        link_template=link,
                        now=self.now,
                    )
                    for message_id, position, contact, assignee in self.messages
                ]
            )
        if self.jobs:
            uow.add_messages(self.jobs)
            desk._local.queued = True

    def stored_lead(self, position: int) -> Lead:
        """The lead at ``position`` as :meth:`write` stored it (at version 1)."""
        return with_version(self.leads[position][0], 1)


class _IdMaker:
    """The chunk's ids, made as :meth:`LeadDesk._id` makes them, in the same order.

    With the default entropy (:func:`os.urandom`) the random bytes of the
    whole chunk are read, and its ids made, at once: :meth:`next` hands them
    out (``most`` is how many the chunk may need at most).
    """

    def __init__(self, desk: LeadDesk, now: datetime, most: int) -> None:
        self._now = now
        self._desk = desk
        made = desk._ids(now, most) if desk.entropy is os.urandom else []
        self.next: Callable[[], UUID] = _then(made, self._draw).__next__

    def _draw(self) -> UUID:
        return self._desk._id(self._now)

    def peek(self) -> UUID:
        """An id for a template, drawn without using any entropy (never stored)."""
        return uuid7(self._now, bytes(ENTROPY_BYTES))


def _then(made: list[UUID], draw: Callable[[], UUID]) -> Iterator[UUID]:
    """The ids ``made`` already, then as many more as asked for, each from ``draw``."""
    yield from made
    while True:
        yield draw()
