"""The routing directory: users, teams, policies and sources, with per-policy indexes.

A :class:`Directory` is one configuration of an organisation. Building it
checks every cross-reference and computes, once, each policy's candidates
(DESIGN D7: the union of the target teams' members, minus inactive users and
users without ``receive_leads``, sorted by user id, the first ``cap`` kept)
and bitmask indexes of its members' filters. Routing a lead is then a few
dictionary lookups and bit operations, whatever the number of leads routed
before and whatever the number of members filtered out.

When users, teams or policies change, build a new directory: deactivating
user 10 brings user 51 into a capped policy at the next routing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import NamedTuple

import attrs

from leadflow.errors import ConfigError, NotFound, clip, require_aware
from leadflow.model import CreditRating, LoanPurpose, Permission, Team, User
from leadflow.routing.config import (
    DEFAULT_CAP,
    LeadSource,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
    duplicate_keys,
)

__all__ = ["Directory", "Excluded", "PolicyIndex"]

_CACHE_SIZE = 65536


class Profile(NamedTuple):
    """The members of a policy each filter lets through, as bitmasks, for one lead profile.

    ``filtered`` passes pause and every filter; ``licensed`` those of them
    that pass the license check too.
    """

    filtered: int
    licensed: int
    state_ok: int
    zip_ok: int
    purpose_ok: int
    credit_ok: int


@attrs.frozen
class Excluded:
    """A team member who is not a routing candidate, and why."""

    user_id: int
    why: str  # "inactive", "no_receive_leads" or "beyond_cap"


def _bit_map(pairs: Iterable[tuple[object, int]]) -> dict[object, int]:
    masks: dict[object, int] = {}
    for key, bit in pairs:
        masks[key] = masks.get(key, 0) | bit
    return masks


class PolicyIndex:
    """One policy's candidates and filter bitmasks (bit ``i`` is ``members[i]``)."""

    def __init__(
        self, policy: RoutingPolicy, users: tuple[User, ...], excluded: tuple[Excluded, ...]
    ):
        self.policy = policy
        self.users = users
        self.member_ids = tuple(u.user_id for u in users)
        #: Each member's index (its bit) by user id.
        self.position: dict[int, int] = {uid: i for i, uid in enumerate(self.member_ids)}
        self.settings: tuple[PolicyMember, ...] = tuple(policy.member(u.user_id) for u in users)
        self.excluded = excluded
        self.size = len(users)
        self.all = (1 << self.size) - 1
        #: Each member's bit, by index.
        self.bits = bits = tuple(1 << i for i in range(self.size))
        filters = [s.filters for s in self.settings]
        self.paused = sum(b for b, s in zip(bits, self.settings, strict=True) if s.paused)
        self.weights = tuple(s.weight for s in self.settings)

        def split(attr: str) -> tuple[int, dict[object, int]]:
            free = sum(b for b, f in zip(bits, filters, strict=True) if not getattr(f, attr))
            allowed = _bit_map(
                (value, b) for b, f in zip(bits, filters, strict=True) for value in getattr(f, attr)
            )
            return free, allowed

        self._state_free, self._states = split("states")
        self._purpose_free, self._purposes = split("loan_purposes")
        self._credit_free, self._credits = split("credit_ratings")
        self._zip_free, self._zips = split("zips")
        self.needs_license = sum(b for b, f in zip(bits, filters, strict=True) if f.require_license)
        self._licensed_forever = _bit_map(
            (lic.state, b)
            for b, u in zip(bits, users, strict=True)
            for lic in u.licenses
            if lic.expires_on is None
        )
        self._licensed_until: dict[str, list[tuple[int, date]]] = {}
        for b, u in zip(bits, users, strict=True):
            for lic in u.licenses:
                if lic.expires_on is not None:
                    self._licensed_until.setdefault(lic.state, []).append((b, lic.expires_on))
        self._cache: dict[tuple[object, ...], Profile] = {}
        #: Decision steps made from this index, by what they depend on (see
        #: :mod:`leadflow.routing.decision`): a batch makes few distinct ones.
        self.steps: dict[tuple[object, ...], object] = {}
        #: Decisions whose first step is this policy's, by what they hold: the same few.
        self.decisions: dict[tuple[object, ...], object] = {}
        self.capped: tuple[tuple[int, int, tuple[VolumeCap, ...]], ...] = tuple(
            (b, u.user_id, f.max_leads)
            for b, u, f in zip(bits, users, filters, strict=True)
            if f.max_leads
        )

    def state_mask(self, state: str | None) -> int:
        return self._state_free | (self._states.get(state, 0) if state else 0)

    def purpose_mask(self, purpose: LoanPurpose) -> int:
        return self._purpose_free | self._purposes.get(purpose, 0)

    def credit_mask(self, credit: CreditRating | None) -> int:
        return self._credit_free | (self._credits.get(credit, 0) if credit else 0)

    def zip_mask(self, zip_code: str | None) -> int:
        if not zip_code:
            return self._zip_free
        return self._zip_free | self._zips.get(zip_code, 0) | self._zips.get(zip_code[:3], 0)

    def license_mask(self, state: str | None, day: date) -> int:
        """Members that pass the license filter: those without it, and those licensed."""
        if not self.needs_license:
            return self.all
        licensed = 0
        if state:
            licensed = self._licensed_forever.get(state, 0)
            for bit, expires in self._licensed_until.get(state, ()):
                if day <= expires:
                    licensed |= bit
        return (self.all & ~self.needs_license) | licensed

    def masks(
        self,
        state: str | None,
        zip_code: str | None,
        purpose: LoanPurpose,
        credit: CreditRating | None,
        day: date,
    ) -> Profile:
        """Which members each filter lets through for a lead of this profile (see :class:`Profile`).

        Cached per distinct lead profile: a batch of a million leads has few.
        """
        # a zip code tells members apart only when one of them filters on zips, and
        # the day only when a license that counts here expires
        key = (
            state,
            zip_code if self._zips else None,
            purpose,
            credit,
            day if self.needs_license and self._licensed_until else None,
        )
        hit = self._cache.get(key)
        if hit is None:
            state_ok = self.state_mask(state)
            zip_ok = self.zip_mask(zip_code)
            purpose_ok = self.purpose_mask(purpose)
            credit_ok = self.credit_mask(credit)
            filtered = self.all & ~self.paused & state_ok & zip_ok & purpose_ok & credit_ok
            licensed = filtered & self.license_mask(state, day)
            hit = Profile(filtered, licensed, state_ok, zip_ok, purpose_ok, credit_ok)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = hit
        return hit


#: The policies to try for a lead, in order, each with whether it is the fallback.
_Plan = tuple[tuple[PolicyIndex, bool], ...]


def _plans(source: LeadSource, indexes: Mapping[str, PolicyIndex]) -> tuple[_Plan, _Plan]:
    """A source's plans: from its primary policy on, and its fallback alone."""
    fallback_key, primary_key = source.fallback_policy, source.primary_policy
    fallback: _Plan = ((indexes[fallback_key], True),) if fallback_key else ()
    if primary_key is None:
        return fallback, fallback
    return ((indexes[primary_key], False), *fallback), fallback


class Directory:
    """An organisation's routing configuration, validated and indexed once.

    ``cap`` is the most candidates a policy considers (50 by default, the
    seed's limit); ``unroutable`` says what happens to a lead nobody could
    take whose contact is new; ``timezone`` is where volume-cap days, weeks
    and months are counted.
    """

    def __init__(
        self,
        *,
        users: Iterable[User],
        teams: Iterable[Team] = (),
        policies: Iterable[RoutingPolicy] = (),
        sources: Iterable[LeadSource] = (),
        cap: int = DEFAULT_CAP,
        unroutable: Unroutable = Unroutable.HOLD,
        timezone: tzinfo = UTC,
    ) -> None:
        users, teams, policies, sources = list(users), list(teams), list(policies), list(sources)
        problems = duplicate_keys("team", (t.key for t in teams))
        problems += duplicate_keys("policy", (p.key for p in policies))
        problems += duplicate_keys("source", (s.key for s in sources))
        ids = [u.user_id for u in users]
        problems += [
            f"user {i} is defined twice" for i in sorted({i for i in ids if ids.count(i) > 1})
        ]
        if cap < 1:
            problems.append(f"routing cap must be 1 or more, not {cap}")
        self.users: Mapping[int, User] = {u.user_id: u for u in users}
        self.teams: Mapping[str, Team] = {t.key: t for t in teams}
        self.policies: Mapping[str, RoutingPolicy] = {p.key: p for p in policies}
        self.sources: Mapping[str, LeadSource] = {s.key: s for s in sources}
        self.cap = cap
        self.unroutable = unroutable
        self.timezone = timezone
        for user in users:
            problems += [
                f"user {user.user_id}: team {clip(t)!r} does not exist"
                for t in sorted(user.teams)
                if t not in self.teams
            ]
        for policy in policies:
            where = f"policy {clip(policy.key)!r}"
            problems += [
                f"{where}: team {clip(t)!r} does not exist"
                for t in policy.teams
                if t not in self.teams
            ]
            if policy.user is not None and policy.user not in self.users:
                problems.append(f"{where}: user {policy.user} does not exist")
            targeted = self._team_members(policy)
            problems += [
                f"{where}: member {m.user_id} is not in the policy's target"
                for m in policy.members
                if m.user_id not in targeted
            ]
        for source in sources:
            for kind, key in (
                ("primary", source.primary_policy),
                ("fallback", source.fallback_policy),
            ):
                if key is not None and key not in self.policies:
                    problems.append(
                        f"source {clip(source.key)!r}: {kind} policy {clip(key)!r} does not exist"
                    )
        if problems:
            raise ConfigError(problems)
        self._indexes = {p.key: self._index(p) for p in policies}
        #: The policies (their indexes) to try for a lead of each source, in order, each
        #: with whether it is the fallback: ``plans[key][False]`` from the primary on,
        #: ``plans[key][True]`` the fallback alone (after a failed offer).
        self.plans: dict[str, tuple[_Plan, _Plan]] = {
            s.key: _plans(s, self._indexes) for s in sources
        }
        self._last: tuple[datetime | None, date] = (None, date.min)

    def _team_members(self, policy: RoutingPolicy) -> set[int]:
        if policy.user is not None:
            return {policy.user}
        wanted = set(policy.teams)
        return {u.user_id for u in self.users.values() if u.teams & wanted}

    def _index(self, policy: RoutingPolicy) -> PolicyIndex:
        candidates: list[User] = []
        excluded: list[Excluded] = []
        for user_id in sorted(self._team_members(policy)):
            user = self.users[user_id]
            if not user.active:
                excluded.append(Excluded(user_id, "inactive"))
            elif not user.has_permission(Permission.RECEIVE_LEADS):
                excluded.append(Excluded(user_id, "no_receive_leads"))
            elif len(candidates) >= self.cap:
                excluded.append(Excluded(user_id, "beyond_cap"))
            else:
                candidates.append(user)
        return PolicyIndex(policy, tuple(candidates), tuple(excluded))

    def local_date(self, now: datetime) -> date:
        """The organisation's calendar date at ``now`` (cached for repeated instants).

        Raises :class:`~leadflow.errors.ValidationError` for a naive ``now``.
        """
        last_now, last_day = self._last
        if now is last_now:
            return last_day
        require_aware("now", now)
        day = now.astimezone(self.timezone).date()
        self._last = (now, day)  # one assignment: safe to share between threads
        return day

    # ------------------------------------------------------------------ lookups

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise NotFound(f"user {user_id} does not exist") from None

    def source(self, key: str) -> LeadSource:
        try:
            return self.sources[key]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none configured"
            close = difflib.get_close_matches(key, self.sources, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(
                f"lead source {clip(key)!r} does not exist{hint} (sources: {known})"
            ) from None

    def policy(self, key: str) -> RoutingPolicy:
        try:
            return self.policies[key]
        except KeyError:
            raise NotFound(f"routing policy {clip(key)!r} does not exist") from None

    def index(self, policy_key: str) -> PolicyIndex:
        """The precomputed candidates and filter masks of a policy."""
        try:
            return self._indexes[policy_key]
        except KeyError:
            raise NotFound(f"routing policy {clip(policy_key)!r} does not exist") from None

    def candidates(self, policy_key: str) -> tuple[User, ...]:
        """The policy's routing candidates, by user id, at most ``cap`` of them."""
        return self.index(policy_key).users

    def pool_owners(self, source_key: str) -> frozenset[int]:
        """The user ids whose contacts a lead of this source is matched against (D2 policy_pool)."""
        source = self.source(source_key)
        owners: set[int] = set()
        for key in (source.primary_policy, source.fallback_policy):
            if key is not None:
                owners.update(self.index(key).member_ids)
        return frozenset(owners)
