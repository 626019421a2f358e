"""Round robin by least recently assigned: fair inside every group of members (DESIGN D7).

A round-robin lead goes to the eligible member whom the policy assigned least
recently (members it never assigned first, by user id). With everyone
eligible that is plain rotation by user id; with filters the members eligible
for the same leads take turns among themselves, whatever the leads of the
other groups in between.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import attrs
from hypothesis import given
from hypothesis import strategies as st

from desk_helpers import make_desk
from leadflow.model import License, LoanPurpose, Team, User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing import (
    Directory,
    LeadSource,
    MemberFilters,
    PolicyCursor,
    PolicyMember,
    Router,
    RoutingPolicy,
    RoutingState,
    Verdict,
    route,
)
from leadflow.storage import codec
from leadflow.storage.memory import MemoryStore
from routing_helpers import NOW, directory, lead, member

SOURCE = "purchased_leads"
STATES = ["TX", "FL", "AZ", "OK"]
ZIPS = ["75001", "75002", "33101", None]
PURPOSES = [LoanPurpose.PURCHASE, LoanPurpose.REFINANCE_CASH_OUT, LoanPurpose.HELOC]


def rr(members: Sequence[PolicyMember] = ()) -> RoutingPolicy:
    return RoutingPolicy(key="west_rr", name="West", teams=("west",), members=tuple(members))


def one_state(user_id: int, state: str) -> PolicyMember:
    return PolicyMember(user_id=user_id, filters=MemberFilters(states=frozenset({state})))


def three_states() -> tuple[list[User], list[PolicyMember]]:
    """Users 1-4 take TX, 5-8 FL and 9-12 AZ."""
    groups = {"TX": range(1, 5), "FL": range(5, 9), "AZ": range(9, 13)}
    users = [member(uid) for ids in groups.values() for uid in ids]
    members = [one_state(uid, state) for state, ids in groups.items() for uid in ids]
    return users, members


def state_mix(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return [rnd.choice(["TX", "FL", "AZ"]) for _ in range(n)]


def spread(counts: Counter[int], ids: Sequence[int]) -> int:
    values = [counts[uid] for uid in ids]
    return max(values) - min(values)


# --------------------------------------------------------------------------- 1. the property


@attrs.frozen
class Stream:
    users: list[User]
    members: list[PolicyMember]
    leads: list[tuple[str | None, str | None, LoanPurpose]]


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    """A policy whose members share a few filter sets, and a mixed stream of leads."""

    def some(values: Sequence[object], most: int) -> st.SearchStrategy[frozenset[object]]:
        # no filter on that field as often as some filter
        chosen = st.frozensets(st.sampled_from(values), min_size=1, max_size=most)
        return st.just(frozenset()) | chosen

    kinds = draw(
        st.lists(
            st.builds(
                MemberFilters,
                states=some(STATES, 2),
                zips=some(["750", "75001", "331"], 1),
                loan_purposes=some(PURPOSES, 2),
                require_license=st.booleans(),
            ),
            min_size=1,
            max_size=3,
        )
    )
    ids = sorted(draw(st.sets(st.integers(1, 60), min_size=3, max_size=14)))
    licensed = draw(st.frozensets(st.sampled_from(STATES)))
    users, members = [], []
    for uid in ids:
        filters = draw(st.sampled_from(kinds))
        paused = draw(st.integers(0, 4)) == 0
        users.append(member(uid, licenses=tuple(License(s) for s in sorted(licensed))))
        members.append(PolicyMember(user_id=uid, filters=filters, paused=paused))
    leads = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*STATES, None]), st.sampled_from(ZIPS), st.sampled_from(PURPOSES)
            ),
            min_size=10,
            max_size=120,
        )
    )
    return Stream(users, members, leads)


def eligible_for(m: PolicyMember, user: User, state: str | None, zip_code: str | None,
                 purpose: LoanPurpose) -> bool:  # fmt: skip
    """The member's filters read plainly (no caps in these streams)."""
    f = m.filters
    if m.paused or (f.states and state not in f.states):
        return False
    if f.zips and not (zip_code and (zip_code in f.zips or zip_code[:3] in f.zips)):
        return False
    if f.loan_purposes and purpose not in f.loan_purposes:
        return False
    return not f.require_license or bool(state and user.licensed_in(state, NOW.date()))


@given(streams())
def test_members_eligible_for_the_same_leads_get_counts_within_one(stream: Stream) -> None:
    d = directory(stream.users, [rr(stream.members)])
    users = {u.user_id: u for u in stream.users}
    # the leads each member could take, over the whole stream: equal sets make a group
    groups: dict[tuple[bool, ...], list[int]] = {}
    for m in stream.members:
        could = tuple(eligible_for(m, users[m.user_id], *lead_) for lead_ in stream.leads)
        groups.setdefault(could, []).append(m.user_id)
    router = Router(d)
    counts: Counter[int] = Counter()
    state = RoutingState()
    for state_code, zip_code, purpose in stream.leads:
        attributes = lead(state_code, purpose, zip_code)
        result = router.route(attributes, SOURCE, NOW)
        single = route(attributes, SOURCE, d, state, NOW)  # the traced path, one lead at a time
        assert single.assignee_id == result.assignee_id
        state = single.state
        if result.assignee_id is not None:
            counts[result.assignee_id] += 1
        for group in groups.values():
            assert spread(counts, group) <= 1, (group, counts)
    assert router.state == state


# --------------------------------------------------------------------------- 2. everyone eligible


@given(st.sets(st.integers(1, 500), min_size=1, max_size=20), st.integers(1, 70))
def test_with_everyone_eligible_it_is_plain_rotation_by_user_id(ids: set[int], n: int) -> None:
    d = directory([member(uid) for uid in ids], [rr()])
    router = Router(d)
    got = [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(n)]
    ordered = sorted(ids)
    assert got == [ordered[i % len(ordered)] for i in range(n)]


# --------------------------------------------------------------------------- 3. the three states


def test_four_users_in_each_of_three_states_share_their_state_evenly() -> None:
    users, members = three_states()
    d = directory(users, [rr(members)])
    router = Router(d)
    counts: Counter[int] = Counter()
    for state_code in state_mix(2000):
        result = router.route(lead(state_code), SOURCE, NOW)
        assert result.assignee_id is not None
        counts[result.assignee_id] += 1
    assert sum(counts.values()) == 2000
    for ids in (range(1, 5), range(5, 9), range(9, 13)):
        assert spread(counts, ids) <= 1, counts


def test_the_three_states_through_an_import_in_chunks() -> None:
    users, members = three_states()
    config = OrgConfig(
        settings=OrgSettings(name="Acme Lending", timezone="America/Chicago"),
        users=tuple(users),
        teams=(Team(key="west", name="West"),),
        policies=(rr(members),),
        sources=(LeadSource(key=SOURCE, name="Purchased", primary_policy="west_rr"),),
    )
    store = MemoryStore()
    desk, _ = make_desk(store, config)
    mix = state_mix(600, seed=11)
    rows = [
        {"first_name": "Lee", "last_name": f"N{i}", "email": f"lee{i}@example.com",
         "property_state": state_code}
        for i, state_code in enumerate(mix)
    ]  # fmt: skip
    counts: Counter[int] = Counter()

    def count(outcome: object) -> None:
        lead_ = getattr(outcome, "lead", None)
        if lead_ is not None and lead_.assignee_id is not None:
            counts[lead_.assignee_id] += 1

    # two imports, in chunks of 37 rows: the rotation is stored and read back between them
    for part in (rows[:250], rows[250:]):
        report = desk.import_rows(part, source=SOURCE, chunk_size=37, on_row=count)
        assert report.assigned == len(part)
    assert sum(counts.values()) == 600
    for ids in (range(1, 5), range(5, 9), range(9, 13)):
        assert spread(counts, ids) <= 1, counts
    with store.unit_of_work() as uow:
        stored = uow.cursors()["west_rr"]
    assert sorted(stored.recent) == list(range(1, 13))


# --------------------------------------------------------------------------- 4. changes mid-stream


def test_members_added_removed_paused_and_back_mid_stream() -> None:
    users = [member(uid) for uid in (2, 4, 6)]
    router = Router(directory(users, [rr()]))
    taken = [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(4)]
    assert taken == [2, 4, 6, 2]
    # user 5 joins: never assigned, so next; then the rotation goes on (4, 6, 2)
    users.append(member(5))
    router = Router(directory(users, [rr()]), router.state)
    taken = [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(5)]
    assert taken == [5, 4, 6, 2, 5]
    # user 4 is paused and user 6 leaves the team
    users = [member(2), member(4), member(5), member(6, active=False)]
    paused = rr([PolicyMember(user_id=4, paused=True)])
    router = Router(directory(users, [paused]), router.state)
    taken = [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(3)]
    assert taken == [2, 5, 2]
    assert router.state.cursor("west_rr").recent == (4, 5, 2)  # user 6 dropped
    # user 4 comes back first (it waited longest), user 6 comes back as new
    users[-1] = member(6)
    router = Router(directory(users, [rr()]), router.state)
    taken = [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(5)]
    assert taken == [6, 4, 5, 2, 6]


def test_a_routers_state_routed_under_another_directory_goes_on_where_it_stands() -> None:
    users = [member(uid) for uid in (1, 2, 3)]
    router = Router(directory(users, [rr()]))
    router.route(lead(), SOURCE, NOW)
    second = router.route(lead(), SOURCE, NOW)
    # the result's state is the router's running state: route it under a directory with user 9
    result = route(lead(), SOURCE, directory([*users, member(9)], [rr()]), second.state, NOW)
    assert result.assignee_id == 3
    assert result.state.cursor("west_rr").recent == (1, 2, 3)
    assert router.route(lead(), SOURCE, NOW).assignee_id == 1
    assert router.state.cursor("west_rr").recent == (2, 3, 1)


# --------------------------------------------------------------------------- 5. stored cursors


def test_a_cursor_stored_in_the_earlier_shape_loads() -> None:
    old = '{"last_user_id":5,"weights":[[5,-1],[6,1]]}'
    cursor = codec.cursor_from_json(old)
    assert cursor == PolicyCursor(recent=(5,), weights=((5, -1), (6, 1)))
    assert cursor.last_user_id == 5
    assert codec.cursor_from_json('{"last_user_id":null,"weights":[]}') == PolicyCursor()
    # user 5 has the only turn recorded: the others go first, by user id, then 5
    d = directory([member(uid) for uid in (4, 5, 6)], [rr()])
    router = Router(d, RoutingState(cursors={"west_rr": cursor}))
    assert [router.route(lead(), SOURCE, NOW).assignee_id for _ in range(4)] == [4, 6, 5, 4]
    assert codec.cursor_from_json(codec.cursor_to_json(router.state.cursor("west_rr"))) == (
        PolicyCursor(recent=(6, 5, 4), weights=((5, -1), (6, 1)))
    )


def test_the_earlier_constructor_still_builds_the_same_cursor() -> None:
    assert PolicyCursor(7) == PolicyCursor(last_user_id=7) == PolicyCursor(recent=(7,))
    assert PolicyCursor(7, recent=(7, 3)) == PolicyCursor(recent=(3, 7))
    assert PolicyCursor().last_user_id is None


# --------------------------------------------------------------------------- 6. the trace


def test_the_trace_names_the_rule_that_chose() -> None:
    users, members = three_states()
    d = directory(users, [rr(members)])
    state = RoutingState(cursors={"west_rr": PolicyCursor(recent=(2, 3, 1))})
    result = route(lead("TX"), SOURCE, d, state, NOW)
    assert result.assignee_id == 4  # never assigned: before 2, 3 and 1
    chosen = result.why_not(4)
    assert chosen is not None
    assert (chosen.verdict, chosen.detail) == (Verdict.CHOSEN, "least_recent")
    nxt = route(lead("TX"), SOURCE, d, result.state, NOW)
    assert nxt.assignee_id == 2  # then the least recent of the others
    eligible = [e.user_id for e in nxt.trace if e.verdict is Verdict.ELIGIBLE]
    assert eligible == [1, 3, 4]


def test_a_directory_is_not_changed_by_routing() -> None:
    users, members = three_states()
    d: Directory = directory(users, [rr(members)])
    state = RoutingState()
    route(lead("FL"), SOURCE, d, state, NOW)
    assert state == RoutingState()
    assert route(lead("FL"), SOURCE, d, state, NOW).assignee_id == 5
