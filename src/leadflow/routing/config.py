"""Routing configuration: lead sources, routing policies, members and their filters (DESIGN D7).

Each object validates itself when built and raises
:class:`~leadflow.errors.ConfigError` naming the offending entry. A
:class:`~leadflow.routing.directory.Directory` checks how they refer to each
other (a source's policy exists, a policy's teams exist...).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import timedelta

import attrs

from leadflow.errors import ConfigError, clip
from leadflow.model import KEY_PATTERN, KEY_RULE, CreditRating, LoanPurpose
from leadflow.values import USPS_STATES

__all__ = [
    "DEFAULT_CAP",
    "Distribution",
    "FailureReason",
    "LeadSource",
    "MemberFilters",
    "Period",
    "PolicyMember",
    "RoutingPolicy",
    "Unroutable",
    "VolumeCap",
]

#: The seed's limit on routing candidates per policy.
DEFAULT_CAP = 50


class Distribution(enum.StrEnum):
    """How a policy picks among its eligible members."""

    #: The eligible member the policy assigned least recently (never-assigned first, by id).
    ROUND_ROBIN = "round_robin"
    #: Always the policy's one user, if eligible.
    DIRECT = "direct"
    #: Smooth weighted round robin: each member gets leads in proportion to its weight.
    WEIGHTED = "weighted"
    #: The member with the fewest open leads; ties least recently assigned first.
    LEAST_LOADED = "least_loaded"
    #: Offered to up to ``ring_size`` eligible members at once; the first to accept wins.
    RING_ALL = "ring_all"
    #: Offered to every eligible member; the first to claim wins.
    FIRST_CLAIM = "first_claim"


#: Distributions that make an offer instead of assigning at once.
OFFER_DISTRIBUTIONS = frozenset({Distribution.RING_ALL, Distribution.FIRST_CLAIM})


class FailureReason(enum.StrEnum):
    """Why a lead was not assigned (the seed's lead-exception reasons)."""

    NO_POLICY = "no_policy"
    NO_AVAILABLE_AGENTS = "no_available_agents"
    NO_STATE_LICENSE = "no_state_license"
    ALL_PAUSED = "all_paused"
    VOLUME_CAP = "volume_cap"
    NO_ANSWER = "no_answer"
    NO_CLAIM = "no_claim"
    FATAL_ERROR = "fatal_error"

    @property
    def description(self) -> str:
        return _FAILURE_TEXT[self]


_FAILURE_TEXT = {
    FailureReason.NO_POLICY: "the lead source has no routing policy",
    FailureReason.NO_AVAILABLE_AGENTS: "no available agent matched the filters",
    FailureReason.NO_STATE_LICENSE: "no available agent holds a license for the property state",
    FailureReason.ALL_PAUSED: "every agent of the policy is paused",
    FailureReason.VOLUME_CAP: "every matching agent reached their lead volume cap",
    FailureReason.NO_ANSWER: "no agent answered the ring-all offer in time",
    FailureReason.NO_CLAIM: "no agent claimed the offered lead in time",
    FailureReason.FATAL_ERROR: "routing failed with an unexpected error",
}


class Unroutable(enum.StrEnum):
    """What happens to a lead nobody could take and whose contact is new (DESIGN D7)."""

    #: Keep it unassigned, with an exception record; nothing is lost (the default).
    HOLD = "hold"
    #: Refuse it as an error.
    REJECT = "reject"


class Period(enum.StrEnum):
    """A volume cap's calendar period, counted in the organisation's time zone."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@attrs.frozen
class VolumeCap:
    """At most ``count`` leads routed to the member per ``period``."""

    per: Period
    count: int

    def __attrs_post_init__(self) -> None:
        if self.count < 0:
            raise ConfigError(f"volume cap count must be 0 or more, not {self.count}")


_ZIP_FILTER = re.compile(r"[0-9]{3}|[0-9]{5}")


@attrs.frozen(kw_only=True)
class MemberFilters:
    """Which leads one member of a policy may receive. Empty means no restriction.

    * ``states``: property states (USPS codes);
    * ``zips``: 5-digit ZIP codes or 3-digit prefixes;
    * ``loan_purposes``, ``credit_ratings``;
    * ``require_license``: the member must hold a license, valid on the
      routing day, for the property state (a lead without a state fails it);
    * ``max_leads``: volume caps per day, week or month.

    A lead that leaves a filtered field blank does not pass that filter.
    """

    states: frozenset[str] = frozenset()
    zips: frozenset[str] = frozenset()
    loan_purposes: frozenset[LoanPurpose] = frozenset()
    credit_ratings: frozenset[CreditRating] = frozenset()
    require_license: bool = False
    max_leads: tuple[VolumeCap, ...] = ()

    def problems(self) -> list[str]:
        problems = [
            f"state {s!r} is not a USPS code" for s in sorted(self.states - set(USPS_STATES))
        ]
        problems += [
            f"zip filter {z!r} is not 5 digits or a 3-digit prefix"
            for z in sorted(self.zips)
            if not _ZIP_FILTER.fullmatch(z)
        ]
        periods = [cap.per for cap in self.max_leads]
        problems += [f"two volume caps per {p}" for p in set(periods) if periods.count(p) > 1]
        return problems


@attrs.frozen(kw_only=True)
class PolicyMember:
    """Per-member settings of a policy: paused, weight (for ``weighted``), filters."""

    user_id: int
    paused: bool = False
    weight: int = 1
    filters: MemberFilters = MemberFilters()


def _check_key(kind: str, key: str) -> list[str]:
    if not KEY_PATTERN.fullmatch(key):
        return [f"{kind} key {clip(key)!r} is not a system key: {KEY_RULE}"]
    return []


@attrs.frozen(kw_only=True)
class RoutingPolicy:
    """Who may receive leads routed by this policy, and how one is picked.

    The target is one or more ``teams`` or exactly one ``user`` (a ``direct``
    policy). ``members`` holds per-member settings; a team member without an
    entry is an active, unfiltered member of weight 1. ``ring_size`` bounds a
    ring-all offer; ``offer_expires_after`` is how long an offer stays open.
    """

    key: str
    name: str
    distribution: Distribution = Distribution.ROUND_ROBIN
    teams: tuple[str, ...] = ()
    user: int | None = None
    members: tuple[PolicyMember, ...] = ()
    ring_size: int = 10
    offer_expires_after: timedelta = timedelta(minutes=5)

    def __attrs_post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError([f"policy {clip(self.key)!r}: {p}" for p in problems])

    def problems(self) -> list[str]:
        problems = _check_key("policy", self.key)
        if self.user is None and not self.teams:
            problems.append("targets nobody: name one or more teams, or one user")
        if self.user is not None and self.teams:
            problems.append("targets both teams and a user: choose one")
        if self.distribution is Distribution.DIRECT and self.user is None:
            problems.append("a direct policy targets exactly one user")
        seen: set[int] = set()
        for member in self.members:
            if member.user_id in seen:
                problems.append(f"member {member.user_id} is listed twice")
            seen.add(member.user_id)
            if member.weight < 1:
                problems.append(f"member {member.user_id}: weight must be 1 or more")
            problems += [f"member {member.user_id}: {p}" for p in member.filters.problems()]
        if self.ring_size < 1:
            problems.append("ring_size must be 1 or more")
        if self.offer_expires_after <= timedelta(0):
            problems.append("offer_expires_after must be positive")
        return problems

    def member(self, user_id: int) -> PolicyMember:
        """The settings of ``user_id`` (defaults if the policy lists none for them)."""
        for member in self.members:
            if member.user_id == user_id:
                return member
        return PolicyMember(user_id=user_id)


@attrs.frozen(kw_only=True)
class LeadSource:
    """Where leads come from. ``key`` is the unique, immutable system key.

    ``channel`` is the marketing channel (the exception list's "lead
    provider"). A source without a primary policy is assigned by hand; a
    fallback without a primary is a configuration error.
    """

    key: str
    name: str
    description: str = ""
    channel: str = ""
    primary_policy: str | None = None
    fallback_policy: str | None = None

    def __attrs_post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError([f"source {clip(self.key)!r}: {p}" for p in problems])

    def problems(self) -> list[str]:
        problems = _check_key("source", self.key)
        if not self.name.strip():
            problems.append("name is blank")
        if self.fallback_policy is not None and self.primary_policy is None:
            problems.append(
                f"has a fallback policy ({self.fallback_policy!r}) but no primary policy; "
                "a fallback needs a primary"
            )
        if self.fallback_policy is not None and self.fallback_policy == self.primary_policy:
            problems.append("its fallback policy is its primary policy")
        return problems


def duplicate_keys(kind: str, keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    problems: list[str] = []
    for key in keys:
        if key in seen:
            problems.append(f"{kind} {clip(key)!r} is defined twice")
        seen.add(key)
    return problems
