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

Ring-all and first-claim policies return an :class:`Offer`;
:func:`resolve_offer` settles it with the first acceptance, or fails it
(``no_answer`` / ``no_claim``) and moves on to the fallback.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import NamedTuple

import attrs

from leadflow.errors import PermissionDenied
from leadflow.events import AssignmentMethod
from leadflow.model import Lead, LeadAttributes, User
from leadflow.routing.config import (
    OFFER_DISTRIBUTIONS,
    Distribution,
    FailureReason,
    LeadSource,
    Period,
    Unroutable,
)
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


@attrs.frozen
class PolicyCursor:
    """Where a policy's rotation stands: the last user assigned, and weighted-RR weights."""

    last_user_id: int | None = None
    weights: tuple[tuple[int, int], ...] = ()


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

    def _with(
        self, *, policy: str | None, cursor: PolicyCursor | None, user_id: int, load: UserLoad
    ) -> RoutingState:
        cursors = self.cursors
        if policy is not None and cursor is not None:
            cursors = {**self.cursors, policy: cursor}
        return RoutingState(cursors, {**self.loads, user_id: load})


@attrs.frozen
class _LiveState(RoutingState):
    """A :class:`Router`'s running state: updated in place instead of copied per lead."""

    def _with(
        self, *, policy: str | None, cursor: PolicyCursor | None, user_id: int, load: UserLoad
    ) -> RoutingState:
        if policy is not None and cursor is not None:
            self.cursors[policy] = cursor  # type: ignore[index]
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


class Verdict(enum.StrEnum):
    """What one team member's evaluation for one lead came to (the first rule that applied)."""

    INACTIVE = "inactive"
    NO_RECEIVE_LEADS = "no_receive_leads"
    BEYOND_CAP = "beyond_cap"
    PAUSED = "paused"
    FILTER_STATE = "filter_state"
    FILTER_ZIP = "filter_zip"
    FILTER_LOAN_PURPOSE = "filter_loan_purpose"
    FILTER_CREDIT_RATING = "filter_credit_rating"
    NO_STATE_LICENSE = "no_state_license"
    VOLUME_CAP = "volume_cap"
    ELIGIBLE = "eligible"
    CHOSEN = "chosen"
    OFFERED = "offered"


@attrs.frozen
class TraceEntry:
    """One member of one policy, and what the routing of this lead made of them."""

    policy: str
    user_id: int
    verdict: Verdict
    detail: str = ""


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
    when the fallback was used. ``trace`` is empty unless asked for.
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
    trace: tuple[TraceEntry, ...] = ()

    @property
    def assigned(self) -> bool:
        return self.outcome is Outcome.ASSIGNED

    def why_not(self, user_id: int) -> TraceEntry | None:
        """The trace entry of ``user_id`` in the last policy that considered them."""
        found = None
        for entry in self.trace:
            if entry.user_id == user_id:
                found = entry
        return found


# --------------------------------------------------------------------------- evaluation


def _bits(mask: int, start: int, size: int) -> Iterator[int]:
    """Indexes of the set bits of ``mask``, from ``start`` upwards, wrapping."""
    for i in range(start, size):
        if mask >> i & 1:
            yield i
    for i in range(start):
        if mask >> i & 1:
            yield i


class _Evaluation(NamedTuple):  # a tuple: made for every lead routed
    eligible: int
    reason: FailureReason | None
    trace: tuple[TraceEntry, ...]


def _evaluate(
    index: PolicyIndex,
    attributes: LeadAttributes,
    state: RoutingState,
    day: date,
    want_trace: bool,
) -> _Evaluation:
    size = index.size
    st, zp = attributes.property_state, attributes.property_zip
    active = index.all & ~index.paused
    if want_trace:
        state_ok = index.state_mask(st)
        zip_ok = index.zip_mask(zp)
        purpose_ok = index.purpose_mask(attributes.loan_purpose)
        credit_ok = index.credit_mask(attributes.credit_rating)
        filtered = active & state_ok & zip_ok & purpose_ok & credit_ok
        licensed = filtered & index.license_mask(st, day)
    else:
        filtered, licensed = index.masks(
            st, zp, attributes.loan_purpose, attributes.credit_rating, day
        )
    over = 0
    for bit, user_id, caps in index.capped:
        if licensed & bit:
            load = state.load(user_id)
            for cap in caps:
                if load.count(cap.per, day) >= cap.count:
                    over |= bit
                    break
    eligible = licensed & ~over

    reason: FailureReason | None = None
    if not eligible:
        if size == 0:
            reason = FailureReason.NO_AVAILABLE_AGENTS
        elif not active:
            reason = FailureReason.ALL_PAUSED
        elif licensed:
            reason = FailureReason.VOLUME_CAP
        elif filtered:
            reason = FailureReason.NO_STATE_LICENSE
        else:
            reason = FailureReason.NO_AVAILABLE_AGENTS
    if not want_trace:
        return _Evaluation(eligible, reason, ())

    key = index.policy.key
    trace = [TraceEntry(key, e.user_id, Verdict(e.why)) for e in index.excluded]
    checks = (
        (index.paused, Verdict.PAUSED, ""),
        (~state_ok, Verdict.FILTER_STATE, f"property state {st or '(blank)'}"),
        (~zip_ok, Verdict.FILTER_ZIP, f"property zip {zp or '(blank)'}"),
        (~purpose_ok, Verdict.FILTER_LOAN_PURPOSE, f"loan purpose {attributes.loan_purpose}"),
        (~credit_ok, Verdict.FILTER_CREDIT_RATING, f"credit rating {attributes.credit_rating}"),
        (filtered & ~licensed, Verdict.NO_STATE_LICENSE, f"no license for {st or '(blank)'}"),
        (over, Verdict.VOLUME_CAP, "volume cap reached"),
    )
    for i, user_id in enumerate(index.member_ids):
        bit = 1 << i
        for mask, verdict, detail in checks:
            if mask & bit:
                trace.append(TraceEntry(key, user_id, verdict, detail))
                break
        else:
            trace.append(TraceEntry(key, user_id, Verdict.ELIGIBLE))
    trace.sort(key=lambda e: e.user_id)
    return _Evaluation(eligible, reason, tuple(trace))


def _pick(
    index: PolicyIndex, eligible: int, cursor: PolicyCursor, state: RoutingState
) -> tuple[int, PolicyCursor]:
    """The chosen member index and the policy's next cursor, for assigning distributions."""
    distribution = index.policy.distribution
    ids = index.member_ids
    start = index.start_index(cursor.last_user_id)
    if distribution is Distribution.WEIGHTED:
        current = dict(cursor.weights)
        total = 0
        best = -1
        best_weight = 0
        for i in _bits(eligible, 0, index.size):
            weight = index.weights[i]
            total += weight
            current[ids[i]] = current.get(ids[i], 0) + weight
            if best < 0 or current[ids[i]] > best_weight:
                best, best_weight = i, current[ids[i]]
        current[ids[best]] -= total
        weights = tuple(sorted((uid, w) for uid, w in current.items() if uid in set(ids)))
        return best, PolicyCursor(ids[best], weights)
    if distribution is Distribution.LEAST_LOADED:
        best = min(
            _bits(eligible, start, index.size),
            key=lambda i: state.load(ids[i]).open_leads,
        )
        return best, PolicyCursor(ids[best], cursor.weights)
    above = eligible >> start << start
    chosen = above if above else eligible
    best = (chosen & -chosen).bit_length() - 1
    return best, PolicyCursor(ids[best], cursor.weights)


class _Attempt(NamedTuple):  # a tuple: made for every lead routed
    """One policy's answer: an assignee, an offer, or a failure."""

    policy: str
    distribution: Distribution
    assignee: int | None = None
    cursor: PolicyCursor | None = None
    offer_to: tuple[int, ...] = ()
    reason: FailureReason | None = None
    trace: tuple[TraceEntry, ...] = ()


def _try_policy(
    directory: Directory,
    policy_key: str,
    attributes: LeadAttributes,
    state: RoutingState,
    day: date,
    want_trace: bool,
) -> _Attempt:
    index = directory.index(policy_key)
    policy = index.policy
    evaluation = _evaluate(index, attributes, state, day, want_trace)
    if not evaluation.eligible:
        return _Attempt(
            policy_key, policy.distribution, reason=evaluation.reason, trace=evaluation.trace
        )
    cursor = state.cursor(policy_key)
    if policy.distribution in OFFER_DISTRIBUTIONS:
        start = index.start_index(cursor.last_user_id)
        order = [index.member_ids[i] for i in _bits(evaluation.eligible, start, index.size)]
        if policy.distribution is Distribution.RING_ALL:
            order = order[: policy.ring_size]
        trace = tuple(
            attrs.evolve(e, verdict=Verdict.OFFERED) if e.user_id in order else e
            for e in evaluation.trace
        )
        return _Attempt(policy_key, policy.distribution, offer_to=tuple(order), trace=trace)
    chosen, new_cursor = _pick(index, evaluation.eligible, cursor, state)
    assignee = index.member_ids[chosen]
    trace = evaluation.trace
    if trace:
        trace = tuple(
            attrs.evolve(e, verdict=Verdict.CHOSEN) if e.user_id == assignee else e for e in trace
        )
    return _Attempt(
        policy_key, policy.distribution, assignee=assignee, cursor=new_cursor, trace=trace
    )


def _local_day(directory: Directory, now: datetime) -> date:
    return directory.local_date(now)  # checks that now is aware


def _assigned(
    state: RoutingState,
    user_id: int,
    day: date,
    method: AssignmentMethod,
    *,
    policy: str | None = None,
    cursor: PolicyCursor | None = None,
    distribution: Distribution | None = None,
    via_fallback: bool = False,
    primary_reason: FailureReason | None = None,
    trace: tuple[TraceEntry, ...] = (),
) -> RoutingResult:
    routed = method in (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)
    load = state.load(user_id).plus_one(day, routed=routed)
    return RoutingResult(
        outcome=Outcome.ASSIGNED,
        state=state._with(policy=policy, cursor=cursor, user_id=user_id, load=load),
        assignee_id=user_id,
        method=method,
        policy=policy,
        distribution=distribution,
        via_fallback=via_fallback,
        primary_reason=primary_reason,
        trace=trace,
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
    trace: tuple[TraceEntry, ...] = (),
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
        trace=trace,
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
    want_trace: bool,
    start_with_fallback: bool = False,
    primary_reason: FailureReason | None = None,
    earlier_trace: tuple[TraceEntry, ...] = (),
) -> RoutingResult:
    plan: list[tuple[str, bool]] = []
    if source.primary_policy is not None and not start_with_fallback:
        plan.append((source.primary_policy, False))
    if source.fallback_policy is not None:
        plan.append((source.fallback_policy, True))
    trace = earlier_trace
    last: _Attempt | None = None
    last_is_fallback = False
    for policy_key, is_fallback in plan:
        attempt = _try_policy(directory, policy_key, attributes, state, day, want_trace)
        trace += attempt.trace
        if attempt.assignee is not None:
            return _assigned(
                state,
                attempt.assignee,
                day,
                AssignmentMethod.FALLBACK if is_fallback else AssignmentMethod.ROUTING,
                policy=policy_key,
                cursor=attempt.cursor,
                distribution=attempt.distribution,
                via_fallback=is_fallback,
                primary_reason=primary_reason,
                trace=trace,
            )
        if attempt.offer_to:
            policy = directory.policy(policy_key)
            offer = Offer(
                source=source.key,
                policy=policy_key,
                distribution=policy.distribution,
                candidates=attempt.offer_to,
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
                distribution=policy.distribution,
                via_fallback=is_fallback,
                primary_reason=primary_reason,
                offer=offer,
                trace=trace,
            )
        if not is_fallback:
            primary_reason = attempt.reason
        last, last_is_fallback = attempt, is_fallback
    if last is None:
        reason = primary_reason or FailureReason.NO_POLICY
        return _unrouted(directory, state, reason, contact_matched, trace=trace)
    assert last.reason is not None
    return _unrouted(
        directory,
        state,
        last.reason,
        contact_matched,
        policy=last.policy,
        distribution=last.distribution,
        via_fallback=last_is_fallback,
        primary_reason=primary_reason if last_is_fallback else None,
        trace=trace,
    )


def _first_policy_assigns(
    directory: Directory,
    source: LeadSource,
    attributes: LeadAttributes,
    state: RoutingState,
    day: date,
) -> RoutingResult | None:
    """What :func:`_from_attempts` decides when the first policy it tries assigns the lead
    (the usual case), without a trace; ``None`` in every other case.

    The same steps as :func:`_try_policy`, :func:`_evaluate` and :func:`_pick`
    for that one policy, without the objects they pass along: a batch routes
    millions of leads. Nothing is changed unless the lead is assigned.
    """
    key = source.primary_policy
    via_fallback = key is None
    if key is None:
        key = source.fallback_policy
        if key is None:
            return None
    index = directory.index(key)
    distribution = index.policy.distribution
    if distribution in OFFER_DISTRIBUTIONS:
        return None
    _, licensed = index.masks(
        attributes.property_state,
        attributes.property_zip,
        attributes.loan_purpose,
        attributes.credit_rating,
        day,
    )
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
        return None
    chosen, cursor = _pick(index, eligible, state.cursor(key), state)
    return _assigned(
        state,
        index.member_ids[chosen],
        day,
        AssignmentMethod.FALLBACK if via_fallback else AssignmentMethod.ROUTING,
        policy=key,
        cursor=cursor,
        distribution=distribution,
        via_fallback=via_fallback,
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
    trace: bool = True,
) -> RoutingResult:
    """Decide who gets a new lead; see the module documentation for the order of rules.

    ``creator`` is the user creating the lead by hand (``None`` for imports,
    journeys and the API). ``assignee`` is an explicit assignee, allowed for
    admins and imports. ``contact_matched`` says whether the lead joined an
    existing contact, which decides between *unassigned* and *held/rejected*
    when nobody can take it. ``trace=False`` skips the per-member trace (for
    bulk routing); the decision is the same.
    """
    attributes = lead.attributes if isinstance(lead, Lead) else lead
    source_obj = directory.source(source) if isinstance(source, str) else source
    day = _local_day(directory, now)
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
    if not trace:
        quick = _first_policy_assigns(directory, source_obj, attributes, state, day)
        if quick is not None:
            return quick
    return _from_attempts(
        directory,
        source_obj,
        attributes,
        state,
        now,
        day,
        contact_matched=contact_matched,
        want_trace=trace,
    )


def resolve_offer(
    offer: Offer,
    accepted_by: int | None,
    now: datetime,
    *,
    directory: Directory,
    state: RoutingState,
    trace: bool = True,
) -> RoutingResult:
    """Settle an offer: the first acceptance before it expires wins.

    ``accepted_by`` must be one of the offer's candidates and still active.
    With nobody (``None``) or after ``expires_at`` the offer fails with
    ``no_answer`` (ring-all) or ``no_claim`` (first-claim); a failed primary
    offer goes on to the source's fallback policy, and a lead nobody takes
    ends unassigned, held or rejected as :func:`route` decides.
    """
    day = _local_day(directory, now)
    if accepted_by is not None and now <= offer.expires_at:
        if accepted_by not in offer.candidates:
            raise PermissionDenied(
                f"user {accepted_by} was not offered this lead (offered to: "
                f"{', '.join(map(str, offer.candidates))})"
            )
        if not directory.user(accepted_by).active:
            raise PermissionDenied(f"user {accepted_by} is inactive and cannot accept leads")
        index = directory.index(offer.policy)
        cursor = attrs.evolve(state.cursor(offer.policy), last_user_id=accepted_by)
        return _assigned(
            state,
            accepted_by,
            day,
            AssignmentMethod.FALLBACK if offer.via_fallback else AssignmentMethod.ROUTING,
            policy=offer.policy,
            cursor=cursor,
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
            want_trace=trace,
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
    state: read :attr:`state` for an immutable snapshot to store. The trace
    is off by default.
    """

    def __init__(self, directory: Directory, state: RoutingState | None = None) -> None:
        base = state or RoutingState()
        self.directory = directory
        self._live = _LiveState(dict(base.cursors), dict(base.loads))

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
        trace: bool = False,
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
            trace=trace,
        )

    def resolve_offer(
        self, offer: Offer, accepted_by: int | None, now: datetime, *, trace: bool = False
    ) -> RoutingResult:
        """Settle an offer, as :func:`resolve_offer`, and keep the new state."""
        return resolve_offer(
            offer, accepted_by, now, directory=self.directory, state=self._live, trace=trace
        )
