"""What every command shares: the command context and the after-commit event bus.

A command (creating leads, logging an outcome, a sweep...) runs over one
:class:`CommandContext` -- the store, the clock, the ids, the organisation's
directory and playbook -- inside one unit of work opened by
:meth:`CommandContext.command`. The command hands the events it stored to
:meth:`Command.publish`; once the unit of work has committed, the
:class:`EventBus` gives them to its subscribers (the desk's journeys, a
host's own handlers), in the order they were stored. A command that fails
publishes nothing: subscribers only ever see what the store kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from leadflow.automation import Subscription
from leadflow.errors import ConfigError, FieldError, PermissionDenied, ValidationError
from leadflow.events import Event
from leadflow.ids import ENTROPY_BYTES, moment_problem, uuid7_batch, uuid7_next
from leadflow.model import SYSTEM, Actor, Interface, SystemActor, User
from leadflow.org import OrgConfig
from leadflow.routing.config import Distribution
from leadflow.routing.directory import Directory
from leadflow.routing.engine import PolicyCursor, RoutingState, UserLoad
from leadflow.stages.playbook import Playbook
from leadflow.storage.protocol import Store, UnitOfWork
from leadflow.validate import RowValidator

__all__ = [
    "Command",
    "CommandContext",
    "Committed",
    "EventBus",
    "RoutingReads",
    "Subscriber",
    "system_clock",
    "timezone_named",
]


def system_clock() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def timezone_named(name: str) -> tzinfo:
    """The IANA time zone ``name``; a ConfigError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone {name!r} is not a known IANA time zone") from None


@attrs.frozen
class Committed:
    """What one command stored: its events, in order, and how many automation jobs it queued."""

    events: Sequence[Event]
    jobs: int = 0


#: A handler of what a command committed: called once per command, after its commit.
Subscriber = Callable[[Committed], None]


class EventBus:
    """Hands what each command stored to the subscribers once the command has committed.

    Subscribers are called in the order they subscribed, each with one
    command's :class:`Committed`. A subscriber that raises stops the ones
    after it, for that command only; the command's changes stay committed.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns the function that removes it again."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, committed: Committed) -> None:
        """Give ``committed`` (one command's) to every subscriber; nothing when it is empty."""
        if committed.events or committed.jobs:
            for subscriber in tuple(self._subscribers):
                subscriber(committed)


@attrs.define
class Command:
    """One command's unit of work, and what it stored, to publish once it commits."""

    ctx: CommandContext
    uow: UnitOfWork
    events: list[Event] = attrs.field(factory=list)
    jobs: int = 0

    def publish(self, events: Sequence[Event], *, jobs: int = 0) -> None:
        """Publish ``events`` (stored in this unit of work) and count ``jobs`` (automation
        jobs it queued) once it commits."""
        self.events.extend(events)
        self.jobs += jobs


class RoutingReads(Protocol):
    """What routing reads of a store: the cursors and the load counts."""

    def cursors(self) -> dict[str, PolicyCursor]: ...

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]: ...

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]: ...


class CommandContext:
    """The store, the clock, the ids and the organisation every command works with.

    ``clock`` gives ``now``; ``entropy(n)`` gives ``n`` random bytes for ids;
    ``interface`` is recorded on every event stored; ``subscriptions`` are the
    automations the commands fire.
    """

    def __init__(
        self,
        store: Store,
        config: OrgConfig,
        playbook: Playbook,
        *,
        clock: Callable[[], datetime] = system_clock,
        entropy: Callable[[int], bytes] = os.urandom,
        interface: Interface | str = Interface.API,
        subscriptions: Sequence[Subscription] = (),
    ) -> None:
        self.store = store
        #: The automations (the seed's journeys) the commands fire.
        self.subscriptions: tuple[Subscription, ...] = tuple(subscriptions)
        self.config = config
        self.playbook = playbook
        self.timezone = timezone_named(config.settings.timezone)
        self.directory: Directory = config.directory(self.timezone)
        self.clock = clock
        self.entropy = entropy
        self.interface = Interface(interface)
        self.bus = EventBus()
        self.terminal = frozenset(s.key for s in playbook.stages if s.terminal)
        #: Whether routing each source reads load counts, worked out once per source.
        self._loads: dict[str, bool] = {}
        #: The last id made: the next sorts after it (see uuid7_next).
        self._last_id: UUID | None = None
        self._ids_lock = threading.Lock()

    # ------------------------------------------------------------------ time and ids

    def now(self) -> datetime:
        """The clock; a naive or out-of-range moment is refused."""
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigError("the desk's clock returned a naive datetime")
        problem = moment_problem(now)
        if problem is not None:
            raise ValidationError([FieldError("now", now.isoformat(), problem)])
        return now

    def new_id(self, now: datetime) -> UUID:
        """A fresh id made at ``now``, after every id made before."""
        with self._ids_lock:
            made = self._last_id = uuid7_next(self._last_id, now, self.entropy(ENTROPY_BYTES))
        return made

    def new_ids(self, now: datetime, count: int) -> Iterator[UUID]:
        """Fresh ids made at ``now``, as many as asked for, in the order :meth:`new_id` makes them.

        With the default entropy (:func:`os.urandom`) the first ``count``
        are made from one read of it; any more come from :meth:`new_id`.
        """
        made: list[UUID] = []
        if self.entropy is os.urandom and count > 0:
            with self._ids_lock:
                made = uuid7_batch(now, os.urandom(count * ENTROPY_BYTES), after=self._last_id)
                if made:
                    self._last_id = made[-1]
        yield from made
        while True:
            yield self.new_id(now)

    # ------------------------------------------------------------------ who acts

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

    def person(self, actor: int | Actor, what: str) -> User:
        """The user doing their own work; the system actor is refused."""
        who = self.actor(actor)
        if isinstance(who, SystemActor):
            raise PermissionDenied(f"{what} is a person's own work: name the user doing it")
        return who

    def require_admin(self, actor: Actor, what: str) -> None:
        if not actor.is_admin:
            raise PermissionDenied(f"only an admin may {what}; user {actor.user_id} is not one")

    def stamp(self, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` with this context's interface recorded on each."""
        interface = self.interface
        if all(e.interface is interface for e in events):
            return events
        return [
            e if e.interface is interface else attrs.evolve(e, interface=interface) for e in events
        ]

    # ------------------------------------------------------------------ commands

    @contextmanager
    def command(self) -> Iterator[Command]:
        """A command's unit of work; once it committed, its events are published."""
        with self.store.unit_of_work() as uow:
            command = Command(self, uow)
            yield command
        self.bus.publish(Committed(command.events, command.jobs))

    def validator(self, *, source: str | None = None, ignore_unknown: bool = False) -> RowValidator:
        """A row validator for this organisation's sources and playbook stages."""
        return RowValidator(
            source=source,
            sources=self.directory.sources.keys(),
            stages=self.playbook.stage_names(),
            ignore_unknown=ignore_unknown,
        )

    # ------------------------------------------------------------------ routing state

    def period_starts(self, now: datetime) -> tuple[date, datetime, datetime, datetime]:
        """The local day of ``now``, and when its day, week and month began."""
        local = now.astimezone(self.timezone)
        day = local.date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.timezone)
        week = midnight - timedelta(days=day.weekday())
        month = midnight.replace(day=1)
        return day, midnight, week, month

    def needs_loads(self, source: str) -> bool:
        """Whether routing this source reads load counts (volume caps, least loaded)."""
        known = self._loads.get(source)
        if known is None:
            known = self._loads[source] = self._reads_loads(source)
        return known

    def _reads_loads(self, source: str) -> bool:
        plans = self.directory.plans.get(source)
        return plans is not None and any(
            index.capped or index.policy.distribution is Distribution.LEAST_LOADED
            for index, _ in plans[False]  # the primary policy and the fallback
        )

    def routing_state(self, reads: RoutingReads, source: str, now: datetime) -> RoutingState:
        """The cursors, and the load counts of the source's candidates when routing reads them."""
        if not self.needs_loads(source):
            return RoutingState(reads.cursors(), {})
        owners = sorted(self.directory.pool_owners(source))
        if not owners:
            return RoutingState(reads.cursors(), {})
        day, midnight, week, month = self.period_starts(now)
        today = reads.routed_counts(owners, since=midnight)
        this_week = reads.routed_counts(owners, since=week)
        this_month = reads.routed_counts(owners, since=month)
        opened = reads.open_counts(owners, exclude_stages=self.terminal)
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
        return RoutingState(reads.cursors(), loads)
