"""Shared builders for the playbook tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from leadflow.model import (
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    Permission,
    Role,
    User,
)
from leadflow.stages import Playbook

T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def user(
    user_id: int = 7,
    *,
    started_on: date | None = date(2025, 1, 1),
    permissions: frozenset[str] = frozenset({Permission.RECEIVE_LEADS}),
    role: Role = Role.MEMBER,
) -> User:
    return User(
        user_id=user_id,
        first_name="Daniel",
        last_name="Davis",
        email=f"user{user_id}@example.com",
        role=role,
        permissions=permissions,
        started_on=started_on,
    )


def new_lead(playbook: Playbook, *, assignee: int | None = 7, n: int = 1) -> Lead:
    return Lead(
        lead_id=UUID(int=n),
        contact_id=UUID(int=1000 + n),
        created_at=T0,
        updated_at=T0,
        attributes=LeadAttributes(source="referral"),
        stage=playbook.initial_stage.key,
        assignee_id=assignee,
    )


def call_event(due: datetime, n: int = 1, notes: str | None = "Discuss rate lock") -> FollowUp:
    return FollowUp(
        follow_up_id=UUID(int=500 + n),
        kind=FollowUpKind.EVENT,
        subject=FollowUpSubject.CALL,
        due=due,
        duration=timedelta(minutes=30),
        notes=notes,
    )
