"""The routing decision: who gets a new lead (DESIGN D7).

:func:`route` takes the lead's attributes, its source, the
:class:`~leadflow.routing.directory.Directory` and the current
:class:`RoutingState` (cursors and the load counts the caller passes in),
and returns a :class:`RoutingResult`: assigned, offered, or not assigned
with the most specific failure reason, the new state to store atomically
with the assignment, and -- when asked -- a trace of every team member and
the first rule that excluded them.

Order of decisions:

1. a non-admin creating a lead gets it themselves, routing ignored; an
   admin (or an import) naming an assignee overrides routing;
2. the source's primary policy; if it cannot assign, its fallback policy;
3. if neither can: the lead is kept **unassigned** with an exception record
   when its contact matched an existing one, else **held** or **rejected**
   by the organisation's ``unroutable`` setting.

Inside a policy, round robin gives the lead to the eligible member the
policy assigned least recently (members it never assigned first, by user
id): plain rotation by user id when everyone is eligible, and fair inside
each group of members eligible for the same leads when filters, caps or
pauses split them. Least-loaded ties and the order of an offer follow the
same rule; :class:`PolicyCursor` stores it.

Ring-all and first-claim policies return an :class:`Offer`;
:func:`resolve_offer` settles it with the first acceptance, or fails it
(``no_answer`` / ``no_claim``) and moves on to the fallback.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from itertools import chain, islice
from typing import Any

import attrs

from leadflow.errors import PermissionDenied
from leadflow.events import AssignmentMethod, Decision
from leadflow.model import Lead, LeadAttributes, User
from leadflow.routing.config import (
    OFFER_DISTRIBUTIONS,
    Distribution,
    FailureReason,
    LeadSource,
    Period,
    Unroutable,
)
from leadflow.routing.decision import Step, TraceEntry, Verdict, decision_of, trace_of
from leadflow.routing.directory import Directory, PolicyIndex

__all__ = [
    "Offer",
    "Outcome",
    "PolicyCursor",
    "Router",
    "RoutingResult",
    "RoutingState",
    "TraceEntry",
    "UserLoad",
    "Verdict",
    "resolve_offer",
    "route",
]


# --------------------------------------------------------------------------- state


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@attrs.frozen
class UserLoad:
    """How many leads a user was routed in the current day, week and month, and holds open.

    Counts are kept with the period they belong to (a local date), so a
    count from yesterday reads as 0 today. The caller fills these from its
    store; :func:`route` returns them updated for the user it assigned.
    """

    day: date | None = None
    today: int = 0
    this_week: int = 0
    this_month: int = 0
    open_leads: int = 0

    def count(self, period: Period, day: date) -> int:
        if self.day == day:  # the same day is the same week and month
            if period is Period.DAY:
                return self.today
            return self.this_week if period is Period.WEEK else self.this_month
        if self.day is None:
            return 0
        if period is Period.DAY:
            return self.today if self.day == day else 0
        if period is Period.WEEK:
            return self.this_week if _week_start(self.day) == _week_start(day) else 0
        same_month = (self.day.year, self.day.month) == (day.year, day.month)
        return self.this_month if same_month else 0

    def plus_one(self, day: date, *, routed: bool) -> UserLoad:
        if not routed:
            return attrs.evolve(self, open_leads=self.open_leads + 1)
        if self.day == day:
            return UserLoad(
                day, self.today + 1, self.this_week + 1, self.this_month + 1, self.open_leads + 1
            )
        return UserLoad(
            day=day,
            today=self.count(Period.DAY, day) + 1,
            this_week=self.count(Period.WEEK, day) + 1,
            this_month=self.count(Period.MONTH, day) + 1,
            open_leads=self.open_leads + 1,
        )


@attrs.frozen(init=False)
class PolicyCursor:
    """Where a policy's rotation stands (DESIGN D7): stored with each assignment it makes.

    ``recent`` lists the members the policy assigned, each once, least
    recently assigned first: its last entry is the member assigned last, and
    a member missing from it was never assigned by the policy. ``weights``
    holds the weighted round robin's running weight of each member (by user
    id; a member missing from it is at 0).

    ``PolicyCursor(7)`` or ``PolicyCursor(last_user_id=7)``, the shape of
    cursors before the rotation was kept per member, is the rotation in which
    user 7 was assigned last and nobody else has a turn recorded.
    """

    recent: tuple[int, ...] = ()
    weights: tuple[tuple[int, int], ...] = ()

    def __init__(
        self,
        last_user_id: int | None = None,
        weights: Iterable[tuple[int, int]] = (),
        *,
        recent: Iterable[int] = (),
    ) -> None:
        order = tuple(recent)
        if last_user_id is not None:
            order = (*(uid for uid in order if uid != last_user_id), last_user_id)
        self.__attrs_init__(order, tuple(weights))

    @property
    def last_user_id(self) -> int | None:
        """The member the policy assigned most recently (``None`` before its first)."""
        return self.recent[-1] if self.recent else None


def _bits(mask: int) -> Iterator[int]:
    """Indexes of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _Rotation:
    """A policy's rotation over the members of one :class:`PolicyIndex`, changed in place.

    ``never`` is the bitmask of the members the policy never assigned;
    ``order`` the other members' indexes, least recently assigned first;
    ``current`` the weighted round robin's running weight of each member.
    Built from a :class:`PolicyCursor`, whose members that are no longer
    candidates of the policy are dropped, and read back as one by
    :meth:`cursor`. ``moved`` says whether an assignment changed it since.
    """

    __slots__ = ("current", "index", "moved", "never", "order")

    def __init__(self, index: PolicyIndex, cursor: PolicyCursor) -> None:
        position = index.position
        order = [i for i in map(position.get, cursor.recent) if i is not None]
        if len(set(order)) < len(order):  # a repeated entry counts where it was last
            order = list(dict.fromkeys(reversed(order)))[::-1]
        current = [0] * index.size
        for user_id, weight in cursor.weights:
            i = position.get(user_id)
            if i is not None:
                current[i] = weight
        self.index = index
        self.never = index.all & ~sum(map(index.bits.__getitem__, order))
        self.order = order
        self.current = current
        self.moved = False

    def by_recency(self, eligible: int) -> Iterator[int]:
        """The members of ``eligible``, least recently assigned by the policy first.

        The one ordering rule of every distribution (DESIGN D7): members the
        policy never assigned come first, by user id (bit order is user-id
        order), then the others in the order of their last assignment.
        """
        yield from _bits(eligible & self.never)
        for i in self.order:
            if eligible >> i & 1:
                yield i

    def take(self, i: int) -> None:
        """Record member ``i`` as the member the policy assigned most recently."""
        bit = 1 << i
        if self.never & bit:
            self.never ^= bit
        else:
            self.order.remove(i)
        self.order.append(i)
        self.moved = True

    def cursor(self) -> PolicyCursor:
        ids = self.index.member_ids
        current = self.current
        weights: tuple[tuple[int, int], ...] = ()
        if any(current):
            weights = tuple((ids[i], w) for i, w in enumerate(current) if w)
        return PolicyCursor(weights=weights, recent=tuple(map(ids.__getitem__, self.order)))


_NO_LOAD = UserLoad()
_NO_CURSOR = PolicyCursor()


@attrs.frozen
class RoutingState:
    """Everything routing remembers between leads: cursors per policy, loads per user."""

    cursors: Mapping[str, PolicyCursor] = attrs.field(factory=dict)
    loads: Mapping[int, UserLoad] = attrs.field(factory=dict)

    def cursor(self, policy: str) -> PolicyCursor:
        return self.cursors.get(policy, _NO_CURSOR)

    def load(self, user_id: int) -> UserLoad:
        return self.loads.get(user_id, _NO_LOAD)

    def _rotation(self, policy: str, index: PolicyIndex) -> _Rotation:
        """The policy's rotation, to read or move: this state's is a private copy."""
        return _Rotation(index, self.cursor(policy))

    def _with(
        self, policy: str | None, rotation: _Rotation | None, user_id: int, load: UserLoad
    ) -> RoutingState:
        cursors = self.cursors
        if policy is not None and rotation is not None:
            cursors = {**self.cursors, policy: rotation.cursor()}
        return RoutingState(cursors, {**self.loads, user_id: load})


class _LiveCursors(Mapping[str, PolicyCursor]):
    """A :class:`Router`'s cursors: those it started from, and its rotations read as cursors."""

    def __init__(self, stored: Mapping[str, PolicyCursor]) -> None:
        self.stored = dict(stored)
        self.rotations: dict[str, _Rotation] = {}

    def __getitem__(self, policy: str) -> PolicyCursor:
        rotation = self.rotations.get(policy)
        if rotation is not None and rotation.moved:
            return rotation.cursor()
        return self.stored[policy]

    def __iter__(self) -> Iterator[str]:
        moved = (key for key, r in self.rotations.items() if r.moved and key not in self.stored)
        return chain(self.stored, moved)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@attrs.frozen
class _LiveState(RoutingState):
    """A :class:`Router`'s running state: updated in place instead of copied per lead.

    ``cursors`` is a :class:`_LiveCursors`: each policy's rotation is built
    once from its stored cursor and then moved in place.
    """

    def _rotation(self, policy: str, index: PolicyIndex) -> _Rotation:
        cursors: _LiveCursors = self.cursors  # type: ignore[assignment]
        rotation = cursors.rotations.get(policy)
        if rotation is None or rotation.index is not index:
            old = rotation  # None, or built for another directory: go on from where it stands
            rotation = _Rotation(index, cursors.get(policy, _NO_CURSOR))
            rotation.moved = old is not None and old.moved
            cursors.rotations[policy] = rotation
        return rotation

    def _with(
        self, policy: str | None, rotation: _Rotation | None, user_id: int, load: UserLoad
    ) -> RoutingState:
        self.loads[user_id] = load  # type: ignore[index]
        return self


# --------------------------------------------------------------------------- results


class Outcome(enum.StrEnum):
    ASSIGNED = "assigned"
    OFFERED = "offered"
    #: Nobody took it; its contact matched, so it is kept with an exception record.
    UNASSIGNED = "unassigned"
    #: Nobody took it and its contact is new; kept (``unroutable = "hold"``).
    HELD = "held"
    #: Nobody took it and its contact is new; refused (``unroutable = "reject"``).
    REJECTED = "rejected"


@attrs.frozen(kw_only=True)
class Offer:
    """A lead offered to several users at once; the first to accept gets it."""

    source: str
    policy: str
    distribution: Distribution
    candidates: tuple[int, ...]
    created_at: datetime
    expires_at: datetime
    attributes: LeadAttributes
    via_fallback: bool = False
    primary_reason: FailureReason | None = None
    contact_matched: bool = False


@attrs.frozen(kw_only=True)
class RoutingResult:
    """The decision for one lead, and the state to store with it.

    ``policy`` is the policy that assigned or offered the lead (or the last
    one tried); ``distribution`` is that policy's distribution (for the
    exception record). ``primary_reason`` says why the primary policy failed
    when the fallback was used.
    """

    outcome: Outcome
    state: RoutingState
    assignee_id: int | None = None
    method: AssignmentMethod | None = None
    policy: str | None = None
    distribution: Distribution | None = None
    via_fallback: bool = False
    reason: FailureReason | None = None
    primary_reason: FailureReason | None = None
    offer: Offer | None = None
    #: Each policy tried, as routing saw it (read :attr:`trace` or :attr:`decision`).
    steps: tuple[Step, ...] = attrs.field(default=(), eq=False, repr=False)

    @property
    def assigned(self) -> bool:
        return self.outcome is Outcome.ASSIGNED

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        """Every member of every policy tried, with the first rule that excluded them (or
        what they got): computed from the decision when read."""
        return trace_of(self.steps)

    @property
    def decision(self) -> Decision:
        """The compact, storable record of this decision (see :mod:`leadflow.routing.decision`)."""
        return decision_of(
            str(self.outcome),
            self.steps,
            method=self.method,
            assignee=self.assignee_id,
            reason=self.reason,
            primary_reason=self.primary_reason,
        )

    def why_not(self, user_id: int) -> TraceEntry | None:
        """The trace entry of ``user_id`` in the last policy that considered them."""
        found = None
        for entry in self.trace:
            if entry.user_id == user_id:
                found = entry
        return found


# --------------------------------------------------------------------------- evaluation


def _pick(index: PolicyIndex, eligible: int, rotation: _Rotation, state: RoutingState) -> int:
    """The chosen member's index, for the assigning distributions; moves ``rotation``.

    Call it only for a lead that is being assigned to the member it returns.
    Round robin and direct take the least recently assigned eligible member;
    least loaded the one with the fewest open leads, ties least recent first;
    weighted the highest running weight (smooth weighted round robin), ties
    by user id.
    """
    distribution = index.policy.distribution
    if distribution is Distribution.WEIGHTED:
        current = rotation.current
        weights = index.weights
        total = 0
        best = -1
        best_weight = 0
        for i in _bits(eligible):
            weight = weights[i]
            total += weight
            running = current[i] = current[i] + weight
            if best < 0 or running > best_weight:
                best, best_weight = i, running
        current[best] -= total
    elif distribution is Distribution.LEAST_LOADED:
        ids = index.member_ids
        fewest = -1
        tied = 0
        for i in _bits(eligible):
            open_leads = state.load(ids[i]).open_leads
            if fewest < 0 or open_leads < fewest:
                fewest, tied = open_leads, 1 << i
            elif open_leads == fewest:
                tied |= 1 << i
        best = next(rotation.by_recency(tied))
    else:
        best = next(rotation.by_recency(eligible))
    rotation.take(best)
    return best


#: ``Step(*fields)`` without the named tuple's Python-level ``__new__``: a step is made for every
#: policy tried for every lead.
_step: Callable[[tuple[Any, ...]], Step] = partial(tuple.__new__, Step)


def _try_policy(
    index: PolicyIndex,
    attributes: LeadAttributes,
    state: RoutingState,
    day: date,
) -> tuple[Step, _Rotation | None]:
    """One policy's answer (its step: an assignee, an offer or a failure) and, when it
    assigns, its moved rotation.

    The members eligible are those that pass pause, the filters and the
    license check (the masks of the lead's profile) and are under their
    volume caps; when none is, the most specific reason says why.
    """
    policy = index.policy
    profile = index.masks(
        attributes.property_state,
        attributes.property_zip,
        attributes.loan_purpose,
        attributes.credit_rating,
        day,
    )
    licensed = profile.licensed
    over = 0
    for bit, user_id, caps in index.capped:
        if licensed & bit:
            load = state.load(user_id)
            for cap in caps:
                if load.count(cap.per, day) >= cap.count:
                    over |= bit
                    break
    eligible = licensed & ~over
    if not eligible:
        if index.size == 0:
            reason = FailureReason.NO_AVAILABLE_AGENTS
        elif not index.all & ~index.paused:
            reason = FailureReason.ALL_PAUSED
        elif licensed:
            reason = FailureReason.VOLUME_CAP
        elif profile.filtered:
            reason = FailureReason.NO_STATE_LICENSE
        else:
            reason = FailureReason.NO_AVAILABLE_AGENTS
        return _step((index, attributes, profile, over, reason, None, ())), None
    rotation = state._rotation(index.policy.key, index)
    if policy.distribution in OFFER_DISTRIBUTIONS:
        # least recently assigned first; the rotation moves when someone accepts
        limit = policy.ring_size if policy.distribution is Distribution.RING_ALL else None
        ranked = islice(rotation.by_recency(eligible), limit)
        order = tuple(index.member_ids[i] for i in ranked)
        return _step((index, attributes, profile, over, None, None, order)), None
    chosen = index.member_ids[_pick(index, eligible, rotation, state)]
    return _step((index, attributes, profile, over, None, chosen, ())), rotation


def _assigned(
    state: RoutingState,
    user_id: int,
    day: date,
    method: AssignmentMethod,
    policy: str | None = None,
    rotation: _Rotation | None = None,
    distribution: Distribution | None = None,
    via_fallback: bool = False,
    primary_reason: FailureReason | None = None,
    steps: tuple[Step, ...] = (),
) -> RoutingResult:
    routed = method in (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)
    load = state.load(user_id).plus_one(day, routed=routed)
    return RoutingResult(
        outcome=Outcome.ASSIGNED,
        state=state._with(policy, rotation, user_id, load),
        assignee_id=user_id,
        method=method,
        policy=policy,
        distribution=distribution,
        via_fallback=via_fallback,
        primary_reason=primary_reason,
        steps=steps,
    )


def _unrouted(
    directory: Directory,
    state: RoutingState,
    reason: FailureReason,
    contact_matched: bool,
    *,
    policy: str | None = None,
    distribution: Distribution | None = None,
    via_fallback: bool = False,
    primary_reason: FailureReason | None = None,
    steps: tuple[Step, ...] = (),
) -> RoutingResult:
    if contact_matched:
        outcome = Outcome.UNASSIGNED
    elif directory.unroutable is Unroutable.HOLD:
        outcome = Outcome.HELD
    else:
        outcome = Outcome.REJECTED
    return RoutingResult(
        outcome=outcome,
        state=state,
        policy=policy,
        distribution=distribution,
        via_fallback=via_fallback,
        reason=reason,
        primary_reason=primary_reason,
        steps=steps,
    )


def _from_attempts(
    directory: Directory,
    source: LeadSource,
    attributes: LeadAttributes,
    state: RoutingState,
    now: datetime,
    day: date,
    *,
    contact_matched: bool,
    start_with_fallback: bool = False,
    primary_reason: FailureReason | None = None,
) -> RoutingResult:
    steps: tuple[Step, ...] = ()
    last: Step | None = None
    last_is_fallback = False
    for index, is_fallback in directory.plans[source.key][start_with_fallback]:
        policy_key = index.policy.key
        step, rotation = _try_policy(index, attributes, state, day)
        steps += (step,)
        distribution = step.policy_index.policy.distribution
        if step.chosen is not None:
            method = AssignmentMethod.FALLBACK if is_fallback else AssignmentMethod.ROUTING
            return _assigned(
                state,
                step.chosen,
                day,
                method,
                policy_key,
                rotation,
                distribution,
                is_fallback,
                primary_reason,
                steps,
            )
        if step.offered:
            policy = step.policy_index.policy
            offer = Offer(
                source=source.key,
                policy=policy_key,
                distribution=distribution,
                candidates=step.offered,
                created_at=now,
                expires_at=now + policy.offer_expires_after,
                attributes=attributes,
                via_fallback=is_fallback,
                primary_reason=primary_reason,
                contact_matched=contact_matched,
            )
            return RoutingResult(
                outcome=Outcome.OFFERED,
                state=state,
                policy=policy_key,
                distribution=distribution,
                via_fallback=is_fallback,
                primary_reason=primary_reason,
                offer=offer,
                steps=steps,
            )
        if not is_fallback:
            primary_reason = step.reason
        last, last_is_fallback = step, is_fallback
    if last is None:
        reason = primary_reason or FailureReason.NO_POLICY
        return _unrouted(directory, state, reason, contact_matched, steps=steps)
    assert last.reason is not None
    return _unrouted(
        directory,
        state,
        last.reason,
        contact_matched,
        policy=last.policy,
        distribution=last.policy_index.policy.distribution,
        via_fallback=last_is_fallback,
        primary_reason=primary_reason if last_is_fallback else None,
        steps=steps,
    )


def route(
    lead: Lead | LeadAttributes,
    source: str | LeadSource,
    directory: Directory,
    state: RoutingState,
    now: datetime,
    *,
    creator: User | None = None,
    assignee: int | None = None,
    contact_matched: bool = False,
) -> RoutingResult:
    """Decide who gets a new lead; see the module documentation for the order of rules.

    ``creator`` is the user creating the lead by hand (``None`` for imports,
    journeys and the API). ``assignee`` is an explicit assignee, allowed for
    admins and imports. ``contact_matched`` says whether the lead joined an
    existing contact, which decides between *unassigned* and *held/rejected*
    when nobody can take it. The result records what routing saw, so its
    ``trace`` and ``decision`` can be read afterwards at no cost to others.
    """
    attributes = lead.attributes if isinstance(lead, Lead) else lead
    source_obj = directory.source(source) if isinstance(source, str) else source
    day = directory.local_date(now)  # checks that now is aware
    if creator is not None and not creator.is_admin:
        if assignee is not None and assignee != creator.user_id:
            raise PermissionDenied(
                f"user {creator.user_id} is not an admin: a lead they create is assigned "
                "to them, and only an admin may name another assignee"
            )
        return _assigned(state, creator.user_id, day, AssignmentMethod.SELF)
    if assignee is not None:
        user = directory.user(assignee)
        if not user.active:
            raise PermissionDenied(f"user {assignee} is inactive and cannot be assigned leads")
        return _assigned(state, assignee, day, AssignmentMethod.OVERRIDE)
    return _from_attempts(
        directory,
        source_obj,
        attributes,
        state,
        now,
        day,
        contact_matched=contact_matched,
    )


def resolve_offer(
    offer: Offer,
    accepted_by: int | None,
    now: datetime,
    *,
    directory: Directory,
    state: RoutingState,
) -> RoutingResult:
    """Settle an offer: the first acceptance before it expires wins.

    ``accepted_by`` must be one of the offer's candidates and still active.
    With nobody (``None``) or after ``expires_at`` the offer fails with
    ``no_answer`` (ring-all) or ``no_claim`` (first-claim); a failed primary
    offer goes on to the source's fallback policy, and a lead nobody takes
    ends unassigned, held or rejected as :func:`route` decides.
    """
    day = directory.local_date(now)  # checks that now is aware
    if accepted_by is not None and now <= offer.expires_at:
        if accepted_by not in offer.candidates:
            raise PermissionDenied(
                f"user {accepted_by} was not offered this lead (offered to: "
                f"{', '.join(map(str, offer.candidates))})"
            )
        if not directory.user(accepted_by).active:
            raise PermissionDenied(f"user {accepted_by} is inactive and cannot accept leads")
        index = directory.index(offer.policy)
        rotation = state._rotation(offer.policy, index)
        accepted = index.position.get(accepted_by)
        if accepted is not None:  # still a candidate of the policy: the most recent now
            rotation.take(accepted)
        return _assigned(
            state,
            accepted_by,
            day,
            AssignmentMethod.FALLBACK if offer.via_fallback else AssignmentMethod.ROUTING,
            policy=offer.policy,
            rotation=rotation,
            distribution=index.policy.distribution,
            via_fallback=offer.via_fallback,
            primary_reason=offer.primary_reason,
        )
    reason = (
        FailureReason.NO_ANSWER
        if offer.distribution is Distribution.RING_ALL
        else FailureReason.NO_CLAIM
    )
    source = directory.source(offer.source)
    if not offer.via_fallback and source.fallback_policy is not None:
        return _from_attempts(
            directory,
            source,
            offer.attributes,
            state,
            now,
            day,
            contact_matched=offer.contact_matched,
            start_with_fallback=True,
            primary_reason=reason,
        )
    return _unrouted(
        directory,
        state,
        reason,
        offer.contact_matched,
        policy=offer.policy,
        distribution=offer.distribution,
        via_fallback=offer.via_fallback,
        primary_reason=offer.primary_reason,
    )


class Router:
    """Routes many leads in a row, keeping the routing state in place.

    Each call decides exactly as :func:`route` with the state left by the
    previous call; only the state is updated in place instead of copied,
    which matters for batches of millions. Results share the router's running
    state: read :attr:`state` for an immutable snapshot to store. Each
    result's ``trace`` and ``decision`` are computed from its steps when read.
    """

    def __init__(self, directory: Directory, state: RoutingState | None = None) -> None:
        base = state or RoutingState()
        self.directory = directory
        self._live = _LiveState(_LiveCursors(base.cursors), dict(base.loads))

    @property
    def state(self) -> RoutingState:
        """A snapshot of the current cursors and loads."""
        return RoutingState(dict(self._live.cursors), dict(self._live.loads))

    def route(
        self,
        lead: Lead | LeadAttributes,
        source: str | LeadSource,
        now: datetime,
        *,
        creator: User | None = None,
        assignee: int | None = None,
        contact_matched: bool = False,
    ) -> RoutingResult:
        """Route one lead, as :func:`route`, and keep the new state."""
        return route(
            lead,
            source,
            self.directory,
            self._live,
            now,
            creator=creator,
            assignee=assignee,
            contact_matched=contact_matched,
        )

    def resolve_offer(self, offer: Offer, accepted_by: int | None, now: datetime) -> RoutingResult:
        """Settle an offer, as :func:`resolve_offer`, and keep the new state."""
        return resolve_offer(offer, accepted_by, now, directory=self.directory, state=self._live)
