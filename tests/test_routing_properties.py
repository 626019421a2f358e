"""Routing rules over many random configurations (hypothesis).

* a naive reference router (written from DESIGN D7, no indexes) agrees with
  the engine on every decision;
* among members who stay eligible, round-robin counts never differ by more
  than one, whatever the filters, pauses and departures of the others;
* paused members, inactive users, members whose filters exclude the lead and
  members over their cap never receive it;
* the fast path (no trace) decides exactly as the traced path.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadflow.model import License, LoanPurpose, User
from leadflow.routing import (
    Directory,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    RoutingState,
    Verdict,
    VolumeCap,
    route,
)
from leadflow.routing.directory import PolicyIndex
from routing_helpers import NOW, directory, lead, member

STATES = ["TX", "OK", "CA", "NY"]
PURPOSES = [LoanPurpose.PURCHASE, LoanPurpose.REFINANCE_CASH_OUT, LoanPurpose.HELOC]


@attrs.frozen
class Setup:
    users: list[User]
    members: list[PolicyMember]
    leads: list[tuple[str | None, LoanPurpose]]
    cap: int


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    ids = sorted(draw(st.sets(st.integers(1, 40), min_size=1, max_size=12)))
    users, members = [], []
    for uid in ids:
        licenses = tuple(License(s) for s in draw(st.sets(st.sampled_from(STATES), max_size=2)))
        users.append(
            attrs.evolve(
                member(uid, licenses=licenses),
                active=draw(st.booleans()) or draw(st.booleans()),
                permissions=draw(st.sampled_from([frozenset({"receive_leads"}), frozenset()]))
                if draw(st.integers(0, 5)) == 0
                else frozenset({"receive_leads"}),
            )
        )
        filters = MemberFilters(
            states=draw(st.frozensets(st.sampled_from(STATES), max_size=2)),
            loan_purposes=draw(st.frozensets(st.sampled_from(PURPOSES), max_size=2)),
            require_license=draw(st.booleans()),
            max_leads=draw(st.sampled_from([(), (VolumeCap(Period.DAY, 3),)])),
        )
        members.append(
            PolicyMember(
                user_id=uid,
                paused=draw(st.integers(0, 4)) == 0,
                filters=filters if draw(st.booleans()) else MemberFilters(),
            )
        )
    leads = draw(
        st.lists(
            st.tuples(st.sampled_from([*STATES, None]), st.sampled_from(PURPOSES)), max_size=40
        )
    )
    return Setup(users, members, leads, draw(st.integers(1, 12)))


def build(setup: Setup) -> Directory:
    policy = RoutingPolicy(key="west_rr", name="W", teams=("west",), members=tuple(setup.members))
    return directory(setup.users, [policy], cap=setup.cap)


def reference_choice(
    setup: Setup,
    state: RoutingState,
    history: list[int],
    state_code: str | None,
    purpose: LoanPurpose,
) -> int | None:
    """DESIGN D7 spelled out plainly, for comparison."""
    candidates = sorted(
        (u for u in setup.users if u.active and "receive_leads" in u.permissions),
        key=lambda u: u.user_id,
    )[: setup.cap]
    settings = {m.user_id: m for m in setup.members}
    eligible = []
    for user in candidates:
        m = settings[user.user_id]
        f = m.filters
        if m.paused:
            continue
        if f.states and state_code not in f.states:
            continue
        if f.loan_purposes and purpose not in f.loan_purposes:
            continue
        if f.require_license and not (state_code and user.licensed_in(state_code, NOW.date())):
            continue
        if any(state.load(user.user_id).count(c.per, NOW.date()) >= c.count for c in f.max_leads):
            continue
        eligible.append(user.user_id)
    if not eligible:
        return None

    def last_turn(uid: int) -> int:  # -1: never assigned
        return max((turn for turn, got in enumerate(history) if got == uid), default=-1)

    # the least recently assigned; never-assigned members first, by user id
    return min(eligible, key=lambda uid: (last_turn(uid), uid))


@given(setups())
def test_the_engine_agrees_with_a_plain_reading_of_the_rules(setup: Setup) -> None:
    d = build(setup)
    state = RoutingState()
    history: list[int] = []
    for state_code, purpose in setup.leads:
        expected = reference_choice(setup, state, history, state_code, purpose)
        result = route(lead(state_code, purpose), "purchased_leads", d, state, NOW)
        assert result.assignee_id == expected
        # the trace and the stored decision are read from the same decision
        decision = result.decision
        assert decision.assignee == result.assignee_id
        chosen = [e.user_id for e in result.trace if e.verdict is Verdict.CHOSEN]
        assert chosen == ([] if expected is None else [expected])
        winners = [step.winner for step in decision.steps if step.winner is not None]
        assert winners == chosen
        for step in decision.steps:  # nobody is both chosen and passed over by one policy
            assert step.winner not in {uid for _, ids in step.passed for uid in ids}
        if result.assignee_id is not None:
            settings = {m.user_id: m for m in setup.members}
            chosen = settings[result.assignee_id]
            user = d.user(result.assignee_id)
            assert user.active
            assert not chosen.paused
            history.append(result.assignee_id)
        state = result.state


@st.composite
def fairness_cases(
    draw: st.DrawFn,
) -> tuple[list[User], list[PolicyMember], list[str], dict[int, int], set[int]]:
    ids = sorted(draw(st.sets(st.integers(1, 30), min_size=2, max_size=10)))
    steady = draw(st.sets(st.sampled_from(ids), min_size=1))
    members, leaving = [], {}
    for uid in ids:
        if uid in steady:
            members.append(PolicyMember(user_id=uid))
            continue
        kind = draw(st.sampled_from(["filtered", "paused", "leaving"]))
        if kind == "filtered":
            members.append(
                PolicyMember(
                    user_id=uid,
                    filters=MemberFilters(
                        states=draw(st.frozensets(st.sampled_from(STATES), min_size=1))
                    ),
                )
            )
        elif kind == "paused":
            members.append(PolicyMember(user_id=uid, paused=True))
        else:
            members.append(PolicyMember(user_id=uid))
            leaving[uid] = draw(st.integers(0, 30))
    leads = draw(st.lists(st.sampled_from(STATES), min_size=1, max_size=60))
    return [member(uid) for uid in ids], members, leads, leaving, steady


@given(fairness_cases())
def test_round_robin_counts_of_steady_members_differ_by_at_most_one(
    case: tuple[list[User], list[PolicyMember], list[str], dict[int, int], set[int]],
) -> None:
    users, members, leads, leaving, steady = case
    policy = RoutingPolicy(key="west_rr", name="W", teams=("west",), members=tuple(members))
    state = RoutingState()
    counts: Counter[int] = Counter()
    for step, state_code in enumerate(leads):
        present = [
            u if leaving.get(u.user_id, 10**6) > step else attrs.evolve(u, active=False)
            for u in users
        ]
        d = directory(present, [policy])
        result = route(lead(state_code), "purchased_leads", d, state, NOW)
        state = result.state
        assert result.assignee_id is not None  # a steady member is always eligible
        counts[result.assignee_id] += 1
        steady_counts = [counts[uid] for uid in steady]
        assert max(steady_counts) - min(steady_counts) <= 1
        gone = [uid for uid, at in leaving.items() if at <= step]
        assert result.assignee_id not in gone


@given(setups())
def test_excluded_members_never_receive_the_lead(setup: Setup) -> None:
    d = build(setup)
    settings = {m.user_id: m for m in setup.members}
    state = RoutingState()
    for state_code, purpose in setup.leads:
        result = route(lead(state_code, purpose), "purchased_leads", d, state, NOW)
        uid = result.assignee_id
        if uid is not None:
            user, m = d.user(uid), settings[uid]
            f = m.filters
            assert user.active
            assert "receive_leads" in user.permissions
            assert not m.paused
            assert not f.states or state_code in f.states
            assert not f.loan_purposes or purpose in f.loan_purposes
            assert not f.require_license or (
                state_code and user.licensed_in(state_code, date(2026, 3, 10))
            )
            for cap in f.max_leads:
                assert state.load(uid).count(cap.per, date(2026, 3, 10)) < cap.count
        state = result.state


@given(setups())
def test_a_router_decides_as_route_chained_by_hand(setup: Setup) -> None:
    from leadflow.routing import Router

    d = build(setup)
    router = Router(d)
    state = RoutingState()
    for state_code, purpose in setup.leads:
        by_hand = route(lead(state_code, purpose), "purchased_leads", d, state, NOW)
        batched = router.route(lead(state_code, purpose), "purchased_leads", NOW)
        assert (batched.assignee_id, batched.outcome, batched.reason) == (
            by_hand.assignee_id,
            by_hand.outcome,
            by_hand.reason,
        )
        state = by_hand.state
        assert router.state == state


_STATES = ["TX", "OK", "FL"]
_ZIPS = ["75001", "75002", "02134", None]


@st.composite
def indexed_policies(draw: st.DrawFn) -> PolicyIndex:
    users, members = [], []
    for uid in range(1, draw(st.integers(1, 5)) + 1):
        licenses = tuple(
            License(state, expires_on=draw(st.sampled_from([None, date(2026, 3, 9)])))
            for state in draw(st.sets(st.sampled_from(_STATES), max_size=2))
        )
        users.append(
            User(user_id=uid, first_name=f"U{uid}", last_name="X", email=f"u{uid}@example.com",
                 licenses=licenses)
        )  # fmt: skip
        filters = MemberFilters(
            states=frozenset(draw(st.sets(st.sampled_from(_STATES), max_size=2))),
            zips=frozenset(draw(st.sets(st.sampled_from(["750", "75001", "02134"]), max_size=1))),
            loan_purposes=frozenset(
                draw(st.sets(st.sampled_from([LoanPurpose.PURCHASE, LoanPurpose.TBD]), max_size=1))
            ),
            require_license=draw(st.booleans()),
        )
        members.append(PolicyMember(user_id=uid, paused=draw(st.booleans()), filters=filters))
    policy = RoutingPolicy(key="p", name="P", teams=("t",), members=tuple(members))
    return PolicyIndex(policy, tuple(users), ())


@given(
    indexed_policies(),
    st.lists(
        st.tuples(
            st.sampled_from([*_STATES, None]),
            st.sampled_from(_ZIPS),
            st.sampled_from([LoanPurpose.PURCHASE, LoanPurpose.TBD]),
            st.sampled_from([date(2026, 3, 9), date(2026, 3, 10)]),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_cached_member_masks_equal_masks_worked_out_afresh(
    index: PolicyIndex, leads: list[tuple[str | None, str | None, LoanPurpose, date]]
) -> None:
    for state, zip_code, purpose, day in leads:
        cached = index.masks(state, zip_code, purpose, None, day)
        index._cache.clear()
        assert index.masks(state, zip_code, purpose, None, day) == cached
