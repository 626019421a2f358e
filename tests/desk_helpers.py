"""An organisation, stores and a desk with a hand-driven clock, for the desk tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import attrs

from leadflow.desk import LeadDesk
from leadflow.model import License, Permission, Role, Team, User
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing import Distribution, LeadSource, RoutingPolicy
from leadflow.stages import Playbook, lead_management
from leadflow.storage.protocol import Store

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
RECEIVE = frozenset({Permission.RECEIVE_LEADS})


def person(
    uid: int, first: str, *, role: Role = Role.MEMBER, teams: frozenset[str] = frozenset({"west"})
) -> User:
    return User(
        user_id=uid,
        first_name=first,
        last_name="Officer",
        email=f"{first.lower()}@example.com",
        role=role,
        permissions=RECEIVE,
        licenses=(License("TX"),),
        teams=teams,
        started_on=date(2025, 1, 5),
    )


def org(**settings: object) -> OrgConfig:
    chosen: dict[str, object] = {"name": "Acme Lending", "timezone": "America/Chicago", **settings}
    return OrgConfig(
        settings=OrgSettings(**chosen),  # type: ignore[arg-type]
        users=(
            person(1, "Daniel", role=Role.ADMIN, teams=frozenset()),
            person(2, "Maria"),
            person(3, "Kelly"),
            person(4, "Annie"),
        ),
        teams=(Team(key="west", name="West Region"),),
        policies=(
            RoutingPolicy(key="west_rr", name="West round robin", teams=("west",)),
            RoutingPolicy(
                key="direct_daniel",
                name="Direct to Daniel",
                distribution=Distribution.DIRECT,
                user=1,
            ),
        ),
        sources=(
            LeadSource(
                key="purchased_leads",
                name="Purchased Leads",
                description="Leads bought from a partner",
                channel="Partner",
                primary_policy="west_rr",
                fallback_policy="direct_daniel",
            ),
            LeadSource(key="referral", name="Referral", channel="Referral"),
        ),
    )


@attrs.define
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


def entropy() -> Iterator[bytes]:
    for n in count(1):
        yield n.to_bytes(10, "big")


def make_desk(
    store: Store,
    config: OrgConfig | None = None,
    playbook: Playbook | None = None,
    **options: Any,
) -> tuple[LeadDesk, Clock]:
    config = config or org()
    LeadDesk.configure(store, config, actor=None, at=T0)
    clock = Clock()
    ids = entropy()
    desk = LeadDesk(
        store,
        config=config,
        playbook=playbook or lead_management(),
        clock=clock,
        entropy=lambda n: next(ids),
        **options,
    )
    return desk, clock


def row(first: str = "Annie", last: str = "Quince", **fields: str) -> dict[str, str]:
    base = {
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}@example.com",
    }
    base.update(fields)
    return base
