"""Routing decisions: candidates, the 50-user cap, distributions, fallback, reasons, trace."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow.errors import ConfigError, NotFound, PermissionDenied, ValidationError
from leadflow.events import AssignmentMethod
from leadflow.model import CreditRating, LeadAttributes, License, LoanPurpose, Role
from leadflow.routing import (
    Distribution,
    FailureReason,
    LeadSource,
    MemberFilters,
    Outcome,
    Period,
    PolicyCursor,
    PolicyMember,
    RoutingPolicy,
    RoutingState,
    Unroutable,
    UserLoad,
    Verdict,
    VolumeCap,
    resolve_offer,
    route,
)
from leadflow.routing.decision import describe
from routing_helpers import NOW, directory, lead, member

WEST_RR = RoutingPolicy(key="west_rr", name="West round robin", teams=("west",))
DANIEL = RoutingPolicy(
    key="direct_daniel", name="Direct to Daniel", distribution=Distribution.DIRECT, user=1
)


def run(dir_, n: int, attrs=None, state=None, **kw):  # type: ignore[no-untyped-def]
    state = state or RoutingState()
    results = []
    for _ in range(n):
        result = route(attrs or lead(), "purchased_leads", dir_, state, NOW, **kw)
        state = result.state
        results.append(result)
    return results, state


def test_only_the_fifty_lowest_ids_receive_leads() -> None:
    users = [member(i) for i in range(1, 121)]
    d = directory(users, [WEST_RR])
    results, state = run(d, 500)
    receivers = Counter(r.assignee_id for r in results)
    assert set(receivers) == set(range(1, 51))
    assert max(receivers.values()) - min(receivers.values()) <= 1
    assert d.candidates("west_rr")[-1].user_id == 50
    users[9] = member(10, active=False)  # deactivate user 10
    d2 = directory(users, [WEST_RR])
    assert [u.user_id for u in d2.candidates("west_rr")][-1] == 51
    results2, _ = run(d2, 50, state=state)
    assert 51 in {r.assignee_id for r in results2}
    assert 10 not in {r.assignee_id for r in results2}
    trace = route(lead(), "purchased_leads", d2, state, NOW).why_not(52)
    assert trace is not None
    assert trace.verdict is Verdict.BEYOND_CAP


def test_round_robin_takes_the_least_recently_assigned_and_wraps() -> None:
    d = directory([member(i) for i in (3, 5, 8)], [WEST_RR])
    results, state = run(d, 4)
    assert [r.assignee_id for r in results] == [3, 5, 8, 3]
    assert state.cursor("west_rr") == PolicyCursor(recent=(5, 8, 3))
    assert state.cursor("west_rr").last_user_id == 3
    # user 5 leaves and user 9 joins: 9 was never assigned and goes first, then 8 and 3
    d2 = directory([member(3), member(5, active=False), member(8), member(9)], [WEST_RR])
    results2, state2 = run(d2, 4, state=state)
    assert [r.assignee_id for r in results2] == [9, 8, 3, 9]
    assert state2.cursor("west_rr").recent == (8, 3, 9)


def test_a_stored_rotation_drops_users_who_left_and_puts_new_ones_first() -> None:
    d = directory([member(i) for i in (2, 4, 6)], [WEST_RR])
    state = RoutingState(cursors={"west_rr": PolicyCursor(recent=(6, 5, 2))})
    results, state = run(d, 4, state=state)
    assert [r.assignee_id for r in results] == [4, 6, 2, 4]
    assert state.cursor("west_rr").recent == (6, 2, 4)


def test_filters_states_zips_purposes_credit() -> None:
    texas = PolicyMember(user_id=1, filters=MemberFilters(states=frozenset({"TX"})))
    refi = PolicyMember(
        user_id=2, filters=MemberFilters(loan_purposes=frozenset({LoanPurpose.REFINANCE_CASH_OUT}))
    )
    zips = PolicyMember(user_id=3, filters=MemberFilters(zips=frozenset({"750", "02134"})))
    good_credit = PolicyMember(
        user_id=4, filters=MemberFilters(credit_ratings=frozenset({CreditRating.EXCELLENT}))
    )
    policy = RoutingPolicy(
        key="west_rr", name="W", teams=("west",), members=(texas, refi, zips, good_credit)
    )
    d = directory([member(i) for i in (1, 2, 3, 4)], [policy])

    def who(attrs) -> set[int]:  # type: ignore[no-untyped-def]
        result = route(attrs, "purchased_leads", d, RoutingState(), NOW)
        return {e.user_id for e in result.trace if e.verdict in (Verdict.ELIGIBLE, Verdict.CHOSEN)}

    assert who(lead("TX")) == {1}
    assert who(lead("CA", LoanPurpose.REFINANCE_CASH_OUT)) == {2}
    assert who(lead("CA", zip_code="75012")) == {3}
    assert who(lead("CA", zip_code="75201")) == set()
    assert who(lead("MA", zip_code="02134")) == {3}
    assert who(lead("MA", zip_code="02135")) == set()
    excellent = LeadAttributes(
        source="purchased_leads", property_state="NV", credit_rating=CreditRating.EXCELLENT
    )
    assert who(excellent) == {4}


def test_license_match_with_expiry() -> None:
    needs = MemberFilters(require_license=True)
    policy = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(PolicyMember(user_id=1, filters=needs), PolicyMember(user_id=2, filters=needs)),
    )
    users = [
        member(1, licenses=(License("TX", expires_on=date(2026, 3, 9)),)),
        member(2, licenses=(License("TX", expires_on=date(2026, 3, 10)), License("OK"))),
    ]
    d = directory(users, [policy])
    assert route(lead("TX"), "purchased_leads", d, RoutingState(), NOW).assignee_id == 2
    later = NOW + timedelta(days=1)
    result = route(lead("TX"), "purchased_leads", d, RoutingState(), later)
    assert result.reason is FailureReason.NO_STATE_LICENSE
    assert route(lead("OK"), "purchased_leads", d, RoutingState(), later).assignee_id == 2
    assert (
        route(lead(None), "purchased_leads", d, RoutingState(), NOW).reason
        is FailureReason.NO_STATE_LICENSE
    )


def test_only_license_blocked_leads_fail_with_no_state_license() -> None:
    needs = MemberFilters(require_license=True)
    policy = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(
            PolicyMember(user_id=1, filters=needs),
            PolicyMember(user_id=2, filters=MemberFilters(states=frozenset({"CA"}))),
        ),
    )
    d = directory([member(1, licenses=(License("OK"),)), member(2)], [policy])
    result = route(lead("TX"), "purchased_leads", d, RoutingState(), NOW)
    assert result.outcome is Outcome.HELD
    assert result.reason is FailureReason.NO_STATE_LICENSE
    verdicts = {e.user_id: e.verdict for e in result.trace}
    assert verdicts == {1: Verdict.NO_STATE_LICENSE, 2: Verdict.FILTER_STATE}


def test_failure_reasons() -> None:
    paused = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(PolicyMember(user_id=1, paused=True), PolicyMember(user_id=2, paused=True)),
    )
    d = directory([member(1), member(2)], [paused])
    assert (
        route(lead(), "purchased_leads", d, RoutingState(), NOW).reason is FailureReason.ALL_PAUSED
    )
    capped = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(
            PolicyMember(user_id=1, filters=MemberFilters(max_leads=(VolumeCap(Period.DAY, 2),))),
        ),
    )
    d = directory([member(1)], [capped])
    results, _ = run(d, 3)
    assert [r.assignee_id for r in results[:2]] == [1, 1]
    assert results[2].reason is FailureReason.VOLUME_CAP
    no_policy = directory(
        [member(1)], [], sources=[LeadSource(key="purchased_leads", name="Referral")]
    )
    assert (
        route(lead(), "purchased_leads", no_policy, RoutingState(), NOW).reason
        is FailureReason.NO_POLICY
    )
    nobody = directory(
        [member(1, teams=frozenset({"east"})), member(2, active=False)], [WEST_RR, DANIEL]
    )
    # team west has only an inactive member: primary fails; Daniel is eligible for the fallback
    result = route(lead(), "purchased_leads", nobody, RoutingState(), NOW)
    assert result.outcome is Outcome.ASSIGNED
    assert (result.assignee_id, result.method, result.via_fallback) == (
        1,
        AssignmentMethod.FALLBACK,
        True,
    )
    assert result.primary_reason is FailureReason.NO_AVAILABLE_AGENTS
    assert result.policy == "direct_daniel"


def test_volume_caps_count_in_the_org_time_zone_and_reset() -> None:
    capped = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(
            PolicyMember(user_id=1, filters=MemberFilters(max_leads=(VolumeCap(Period.DAY, 1),))),
        ),
    )
    d = directory([member(1)], [capped], timezone=ZoneInfo("America/Chicago"))
    state = RoutingState(
        loads={1: UserLoad(day=date(2026, 3, 10), today=1, this_week=1, this_month=1)}
    )
    # 15:00 UTC on 10 March is 10:00 in Chicago: same local day, capped
    assert route(lead(), "purchased_leads", d, state, NOW).reason is FailureReason.VOLUME_CAP
    # 04:30 UTC on 11 March is 23:30 on 10 March in Chicago (CDT, UTC-5)
    late = NOW.replace(day=11, hour=4, minute=30)
    assert route(lead(), "purchased_leads", d, state, late).reason is FailureReason.VOLUME_CAP
    next_day = NOW.replace(day=11, hour=5, minute=30)
    result = route(lead(), "purchased_leads", d, state, next_day)
    assert result.assignee_id == 1
    assert result.state.load(1).today == 1
    assert result.state.load(1).this_week == 2


def test_fallback_also_fails() -> None:
    paused = RoutingPolicy(
        key="west_rr", name="W", teams=("west",), members=(PolicyMember(user_id=1, paused=True),)
    )
    gone = RoutingPolicy(key="direct_daniel", name="D", distribution=Distribution.DIRECT, user=2)
    d = directory([member(1), member(2, active=False)], [paused, gone])
    matched = route(lead(), "purchased_leads", d, RoutingState(), NOW, contact_matched=True)
    assert matched.outcome is Outcome.UNASSIGNED
    assert matched.reason is FailureReason.NO_AVAILABLE_AGENTS
    assert matched.primary_reason is FailureReason.ALL_PAUSED
    assert matched.via_fallback
    assert route(lead(), "purchased_leads", d, RoutingState(), NOW).outcome is Outcome.HELD
    rejecting = directory(
        [member(1), member(2, active=False)], [paused, gone], unroutable=Unroutable.REJECT
    )
    assert (
        route(lead(), "purchased_leads", rejecting, RoutingState(), NOW).outcome is Outcome.REJECTED
    )


def test_weighted_is_smooth_and_deterministic() -> None:
    policy = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        distribution=Distribution.WEIGHTED,
        members=(PolicyMember(user_id=1, weight=3), PolicyMember(user_id=2, weight=1)),
    )
    d = directory([member(1), member(2)], [policy])
    results, _ = run(d, 8)
    assert [r.assignee_id for r in results] == [1, 1, 2, 1, 1, 1, 2, 1]
    chosen = results[0].why_not(1)
    assert chosen is not None
    assert chosen.detail == "weighted: highest running weight"


def test_least_loaded_ties_go_to_the_least_recently_assigned() -> None:
    policy = RoutingPolicy(
        key="west_rr", name="W", teams=("west",), distribution=Distribution.LEAST_LOADED
    )
    d = directory([member(1), member(2), member(3)], [policy])
    loads = {1: UserLoad(open_leads=5), 2: UserLoad(open_leads=1), 3: UserLoad(open_leads=1)}
    results, state = run(d, 4, state=RoutingState(loads=loads))
    assert [r.assignee_id for r in results] == [2, 3, 2, 3]
    assert state.load(2).open_leads == 3
    # 2 and 3 tie on load; 2 was assigned more recently than 3
    recent = RoutingState(cursors={"west_rr": PolicyCursor(recent=(3, 2))}, loads=loads)
    results, _ = run(d, 4, state=recent)
    assert [r.assignee_id for r in results] == [3, 2, 3, 2]
    chosen = results[0].why_not(3)
    assert chosen is not None
    assert chosen.detail == "least_loaded: fewest open leads, then least_recent"


def test_direct() -> None:
    d = directory([member(1)], [DANIEL])
    assert route(lead(), "purchased_leads", d, RoutingState(), NOW).assignee_id == 1
    paused = RoutingPolicy(
        key="direct_daniel",
        name="D",
        distribution=Distribution.DIRECT,
        user=1,
        members=(PolicyMember(user_id=1, paused=True),),
    )
    d = directory([member(1)], [paused])
    assert (
        route(lead(), "purchased_leads", d, RoutingState(), NOW).reason is FailureReason.ALL_PAUSED
    )


def test_ring_all_offers_to_at_most_ring_size_and_the_first_acceptance_wins() -> None:
    ring = RoutingPolicy(
        key="west_rr", name="W", teams=("west",), distribution=Distribution.RING_ALL, ring_size=3
    )
    d = directory(
        [member(i) for i in range(1, 6)] + [member(9, teams=frozenset({"east"}))],
        [ring],
    )
    result = route(lead(), "purchased_leads", d, RoutingState(), NOW)
    assert result.outcome is Outcome.OFFERED
    offer = result.offer
    assert offer is not None
    assert offer.candidates == (1, 2, 3)
    assert offer.expires_at == NOW + timedelta(minutes=5)
    won = resolve_offer(offer, 2, NOW + timedelta(minutes=1), directory=d, state=result.state)
    assert (won.outcome, won.assignee_id) == (Outcome.ASSIGNED, 2)
    assert won.state.cursor("west_rr").last_user_id == 2
    offered = [(e.user_id, e.detail) for e in result.trace if e.verdict is Verdict.OFFERED]
    assert offered == [(1, "least_recent: 1"), (2, "least_recent: 2"), (3, "least_recent: 3")]
    # the next offer goes to the least recently assigned first: 2 accepted, so it is last
    again = route(lead(), "purchased_leads", d, won.state, NOW)
    assert again.offer is not None
    assert again.offer.candidates == (1, 3, 4)
    after = RoutingState(cursors={"west_rr": PolicyCursor(recent=(4, 5, 1, 3, 2))})
    late_offer = route(lead(), "purchased_leads", d, after, NOW).offer
    assert late_offer is not None
    assert late_offer.candidates == (4, 5, 1)
    with pytest.raises(PermissionDenied, match="was not offered"):
        resolve_offer(offer, 5, NOW, directory=d, state=result.state)
    missed = resolve_offer(offer, None, NOW + timedelta(minutes=6), directory=d, state=result.state)
    assert missed.reason is FailureReason.NO_ANSWER
    late = resolve_offer(offer, 2, NOW + timedelta(minutes=6), directory=d, state=result.state)
    assert late.reason is FailureReason.NO_ANSWER


def test_first_claim_expiry_goes_to_the_fallback() -> None:
    claim = RoutingPolicy(
        key="west_rr", name="W", teams=("west",), distribution=Distribution.FIRST_CLAIM
    )
    d = directory([member(1), member(2), member(3)], [claim, DANIEL])
    result = route(lead(), "purchased_leads", d, RoutingState(), NOW)
    assert result.offer is not None
    assert result.offer.candidates == (1, 2, 3)
    expired = resolve_offer(
        result.offer, None, NOW + timedelta(hours=1), directory=d, state=result.state
    )
    assert (expired.outcome, expired.assignee_id, expired.via_fallback) == (
        Outcome.ASSIGNED,
        1,
        True,
    )
    assert expired.primary_reason is FailureReason.NO_CLAIM


def test_who_may_override() -> None:
    d = directory([member(1), member(2), member(3, role=Role.ADMIN)], [WEST_RR])
    officer = member(2)
    own = route(lead(), "purchased_leads", d, RoutingState(), NOW, creator=officer)
    assert (own.assignee_id, own.method) == (2, AssignmentMethod.SELF)
    with pytest.raises(PermissionDenied, match="only an admin may name another assignee"):
        route(lead(), "purchased_leads", d, RoutingState(), NOW, creator=officer, assignee=1)
    admin = member(3, role=Role.ADMIN)
    forced = route(lead(), "purchased_leads", d, RoutingState(), NOW, creator=admin, assignee=1)
    assert (forced.assignee_id, forced.method) == (1, AssignmentMethod.OVERRIDE)
    routed = route(lead(), "purchased_leads", d, RoutingState(), NOW, creator=admin)
    assert routed.method is AssignmentMethod.ROUTING
    with pytest.raises(NotFound):
        route(lead(), "purchased_leads", d, RoutingState(), NOW, creator=admin, assignee=99)


def test_the_trace_answers_why_a_user_did_not_get_the_lead() -> None:
    policy = RoutingPolicy(
        key="west_rr",
        name="W",
        teams=("west",),
        members=(
            PolicyMember(user_id=7, filters=MemberFilters(states=frozenset({"CA"}))),
            PolicyMember(user_id=8, paused=True),
        ),
    )
    users = [
        member(5, active=False),
        member(6, permissions=frozenset()),
        member(7),
        member(8),
        member(9),
    ]
    d = directory(users, [policy])
    result = route(lead("TX"), "purchased_leads", d, RoutingState(), NOW)
    assert [(e.user_id, e.verdict) for e in result.trace] == [
        (5, Verdict.INACTIVE),
        (6, Verdict.NO_RECEIVE_LEADS),
        (7, Verdict.FILTER_STATE),
        (8, Verdict.PAUSED),
        (9, Verdict.CHOSEN),
    ]
    why = result.why_not(7)
    assert why is not None
    assert why.detail == "property state TX"
    assert result.trace[-1].detail == "least_recent"
    # the stored record of the same decision: the winner, and who was passed over and why
    (step,) = result.decision.steps
    assert (step.policy, step.winner, step.reason) == ("west_rr", 9, None)
    assert step.passed == (
        ("inactive", (5,)),
        ("no_receive_leads", (6,)),
        ("paused", (8,)),
        ("filter_state", (7,)),
    )
    assert describe(result.decision) == [
        "policy west_rr (round_robin): chose user 9 (least_recent)",
        "  passed over, inactive: users 5",
        "  passed over, no_receive_leads: users 6",
        "  passed over, paused: users 8",
        "  passed over, filter_state: users 7",
    ]


def test_configuration_errors_name_the_entry() -> None:
    with pytest.raises(ConfigError, match=r"has a fallback policy .* but no primary policy"):
        LeadSource(key="referral", name="Referral", fallback_policy="direct_daniel")
    with pytest.raises(ConfigError, match="source key 'purchased leads' is not a system key"):
        LeadSource(key="purchased leads", name="P")
    with pytest.raises(ConfigError, match="a direct policy targets exactly one user"):
        RoutingPolicy(key="d", name="D", distribution=Distribution.DIRECT, teams=("west",))
    with pytest.raises(ConfigError, match="member 4: state 'XX' is not a USPS code"):
        RoutingPolicy(
            key="p",
            name="P",
            teams=("w",),
            members=(PolicyMember(user_id=4, filters=MemberFilters(states=frozenset({"XX"}))),),
        )
    for zips in ("7500", "\u0667\u0665\u0660", "\uff17\uff15\uff10\uff10\uff11"):  # 0-9 only
        with pytest.raises(ConfigError, match="is not 5 digits or a 3-digit prefix"):
            RoutingPolicy(
                key="p",
                name="P",
                teams=("w",),
                members=(PolicyMember(user_id=4, filters=MemberFilters(zips=frozenset({zips}))),),
            )
    with pytest.raises(ConfigError) as info:
        directory(
            [member(1)],
            [RoutingPolicy(key="p", name="P", teams=("east",), members=(PolicyMember(user_id=1),))],
            sources=[LeadSource(key="s", name="S", primary_policy="nope")],
        )
    problems = info.value.problems
    assert "policy 'p': team 'east' does not exist" in problems
    assert "source 's': primary policy 'nope' does not exist" in problems
    assert "policy 'p': member 1 is not in the policy's target" in problems
    with pytest.raises(NotFound, match="lead source 'nope' does not exist"):
        route(lead(), "nope", directory([member(1)], [WEST_RR]), RoutingState(), NOW)


def test_any_number_of_sources_share_a_policy() -> None:
    sources = [LeadSource(key=k, name=k, primary_policy="west_rr") for k in ("a", "b", "c")]
    d = directory([member(1), member(2)], [WEST_RR], sources=sources)
    state = RoutingState()
    got = []
    for key in ("a", "b", "c"):
        result = route(lead(), key, d, state, NOW)
        state = result.state
        got.append(result.assignee_id)
    assert got == [1, 2, 1]


def test_a_naive_now_is_refused_also_after_an_aware_one() -> None:
    d = directory([member(i) for i in range(1, 4)], [WEST_RR])
    assert route(lead(), "purchased_leads", d, RoutingState(), NOW).assigned
    for naive in (NOW.replace(tzinfo=None), datetime(2026, 3, 10, 12)):
        with pytest.raises(ValidationError, match=r"now.*timezone-aware"):
            route(lead(), "purchased_leads", d, RoutingState(), naive)
