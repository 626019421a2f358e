"""Builders for the routing tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from leadflow.model import LeadAttributes, License, LoanPurpose, Permission, Role, Team, User
from leadflow.routing import Directory, LeadSource, RoutingPolicy

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
RECEIVE = frozenset({Permission.RECEIVE_LEADS})


def member(
    user_id: int,
    *,
    teams: frozenset[str] = frozenset({"west"}),
    active: bool = True,
    permissions: frozenset[str] = RECEIVE,
    licenses: tuple[License, ...] = (),
    role: Role = Role.MEMBER,
) -> User:
    return User(
        user_id=user_id,
        first_name=f"User{user_id}",
        last_name="Officer",
        email=f"u{user_id}@example.com",
        role=role,
        active=active,
        permissions=permissions,
        licenses=licenses,
        teams=teams,
        started_on=date(2025, 1, 1),
    )


def directory(
    users: list[User],
    policies: list[RoutingPolicy],
    sources: list[LeadSource] | None = None,
    **options: object,
) -> Directory:
    teams = sorted({t for u in users for t in u.teams})
    if sources is None:
        sources = [
            LeadSource(
                key="purchased_leads",
                name="Purchased Leads",
                description="Leads bought from a partner",
                channel="Partner",
                primary_policy=policies[0].key if policies else None,
                fallback_policy=policies[1].key if len(policies) > 1 else None,
            )
        ]
    return Directory(
        users=users,
        teams=[Team(key=t, name=t.title()) for t in teams],
        policies=policies,
        sources=sources,
        **options,  # type: ignore[arg-type]
    )


def lead(
    state: str | None = "TX",
    purpose: LoanPurpose = LoanPurpose.PURCHASE,
    zip_code: str | None = None,
) -> LeadAttributes:
    return LeadAttributes(
        source="purchased_leads",
        loan_purpose=purpose,
        property_state=state,
        property_zip=zip_code,
    )
