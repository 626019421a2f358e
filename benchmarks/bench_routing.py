"""Routing speed: leads per second through route(), and how flat it stays.

Usage: python benchmarks/bench_routing.py [N]      (default N = 1,000,000)

1. N synthetic leads over a 50-member round-robin policy where every member
   has state and loan-purpose filters (and some a license requirement and a
   daily cap); the routing state is carried from lead to lead as a batch
   import does. Reported for the first and the last tenth of the run, to
   show the cost does not grow with the number of leads routed before.
2. The same policy with 5 and with 50 candidates, where most members are
   filtered out of each lead: the cost per lead should stay flat.

A Router is timed (route() with the state kept in place, as a batch import
does, and no per-member trace: that is for people asking "why").
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime

from leadflow.model import LeadAttributes, License, LoanPurpose, Permission, Team, User
from leadflow.routing import (
    Directory,
    LeadSource,
    MemberFilters,
    Period,
    PolicyMember,
    Router,
    RoutingPolicy,
    VolumeCap,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
STATES = ["TX", "OK", "CA", "NY", "FL", "IL", "WA", "CO", "GA", "AZ"]
PURPOSES = list(LoanPurpose)


def org(size: int, seed: int = 1, *, catch_all: bool = False) -> Directory:
    rnd = random.Random(seed)
    users, members = [], []
    for uid in range(1, size + 1):
        users.append(
            User(
                user_id=uid,
                first_name=f"U{uid}",
                last_name="Officer",
                email=f"u{uid}@example.com",
                permissions=frozenset({Permission.RECEIVE_LEADS}),
                licenses=tuple(License(s) for s in rnd.sample(STATES, 4)),
                teams=frozenset({"west"}),
                started_on=date(2025, 1, 1),
            )
        )
        if catch_all and uid == 1:
            members.append(PolicyMember(user_id=uid))
            continue
        members.append(
            PolicyMember(
                user_id=uid,
                filters=MemberFilters(
                    states=frozenset(rnd.sample(STATES, 3)),
                    loan_purposes=frozenset(rnd.sample(PURPOSES, 4)),
                    require_license=uid % 3 == 0,
                    max_leads=(VolumeCap(Period.DAY, 10**9),) if uid % 7 == 0 else (),
                ),
            )
        )
    policy = RoutingPolicy(key="west_rr", name="West", teams=("west",), members=tuple(members))
    return Directory(
        users=users,
        teams=[Team(key="west", name="West")],
        policies=[policy],
        sources=[LeadSource(key="purchased_leads", name="Purchased", primary_policy="west_rr")],
    )


def leads(n: int, seed: int = 2) -> list[LeadAttributes]:
    rnd = random.Random(seed)
    pool = [
        LeadAttributes(
            source="purchased_leads",
            loan_purpose=rnd.choice(PURPOSES),
            property_state=rnd.choice(STATES),
        )
        for _ in range(997)
    ]
    return [pool[i % len(pool)] for i in range(n)]


def time_routing(
    directory: Directory, batch: list[LeadAttributes]
) -> tuple[float, int, list[float]]:
    router = Router(directory)
    assigned = 0
    tenth = max(1, len(batch) // 10)
    marks = []
    start = last = time.perf_counter()
    for i, attributes in enumerate(batch, start=1):
        result = router.route(attributes, "purchased_leads", NOW)
        assigned += result.assignee_id is not None
        if i % tenth == 0:
            now = time.perf_counter()
            marks.append(tenth / (now - last))
            last = now
    return time.perf_counter() - start, assigned, marks


def main(n: int) -> None:
    directory = org(50)
    batch = leads(n)
    elapsed, assigned, marks = time_routing(directory, batch)
    print(f"{n:,} leads, 50-member policy with state/purpose/license filters:")
    print(f"  {n / elapsed:,.0f} leads/s ({elapsed:.1f} s), {assigned:,} assigned")
    print(f"  first tenth {marks[0]:,.0f} leads/s, last tenth {marks[-1]:,.0f} leads/s")
    sample = batch[:200_000]
    print("member 1 takes anything, every other member has filters (most filtered out):")
    for size in (5, 50):
        t, got, _ = time_routing(org(size, catch_all=True), sample)
        print(f"  {size:>2} candidates: {len(sample) / t:,.0f} leads/s ({got:,} assigned)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
