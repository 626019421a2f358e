"""Who holds a lead: claim, release, assign, and the pool everyone sees (DESIGN D4).

* :func:`claim` -- first come, first served: a user takes a lead from the
  pool; if someone else holds it the claim is refused with
  :class:`~leadflow.errors.Conflict`. Leads in the playbook's pool stages
  (the call log's Abandoned) may be taken even though they are still owned.
* :func:`release` -- the holder (or an admin) sends the lead back to the pool.
* :func:`assign` -- an admin assigns or reassigns to any active user; a user
  may assign only to themselves, by the same rules as a claim.
* :func:`may_work` / :func:`require_worker` -- who may work a lead (log an
  outcome, move its stage, schedule a follow-up, add a note, change it): its
  holder; anyone while nobody holds it or it is in a pool stage (the pool is
  there "for anyone to work"); an admin; a user with the ``work_any_lead``
  permission. Anyone else is refused with
  :class:`~leadflow.errors.PermissionDenied`.
* :func:`pool` -- the leads everyone may take (the investor "cloud", the
  call log's Lead Bank): unowned, not killed, not final, plus owned leads in
  pool stages. A claimed lead is in nobody else's pool.

These functions decide; making a claim atomic against other processes is the
store's job (the application service re-reads and writes under a version
check).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime

from leadflow.errors import Conflict, FieldError, PermissionDenied, ValidationError
from leadflow.events import (
    AssignmentMethod,
    Claimed,
    Event,
    LeadAssigned,
    LeadReassigned,
    Released,
)
from leadflow.model import Actor, Lead, Permission, User
from leadflow.stages.playbook import Playbook
from leadflow.stages.transitions import Transition

__all__ = [
    "assign",
    "claim",
    "in_pool",
    "may_act_for",
    "may_work",
    "pool",
    "release",
    "require_holder",
    "require_worker",
]


def _check_workable(playbook: Playbook, lead: Lead, what: str) -> None:
    if lead.killed_at is not None:
        raise ValidationError(
            [FieldError("lead", str(lead.lead_id), f"was killed and cannot be {what}")]
        )
    stage = playbook.stage(lead.stage)
    if stage.terminal:
        raise ValidationError(
            [
                FieldError(
                    "lead", str(lead.lead_id), f"is {stage.label} (final) and cannot be {what}"
                )
            ]
        )


def _check_active(user: User) -> None:
    if not user.active:
        raise PermissionDenied(f"user {user.user_id} is inactive and cannot hold leads")


def in_pool(lead: Lead, playbook: Playbook) -> bool:
    """Whether anyone may take ``lead`` now."""
    if lead.killed_at is not None or playbook.stage(lead.stage).terminal:
        return False
    return lead.assignee_id is None or lead.stage in playbook.pool_stages


def may_act_for(holder: int | None, user: User) -> bool:
    """Whether ``user`` may work what ``holder`` holds (a lead, a contact).

    Anyone may while nobody holds it; otherwise its holder, an admin, or a
    user with the ``work_any_lead`` permission.
    """
    return (
        holder is None
        or holder == user.user_id
        or user.is_admin
        or user.has_permission(Permission.WORK_ANY_LEAD)
    )


def may_work(playbook: Playbook, lead: Lead, user: User) -> bool:
    """Whether ``user`` may work ``lead``: :func:`may_act_for` its holder, or a pool stage."""
    return may_act_for(lead.assignee_id, user) or lead.stage in playbook.pool_stages


def require_holder(holder: int | None, user: User, what: str, thing: str) -> None:
    """Refuse ``user`` doing ``what`` on ``thing`` unless :func:`may_act_for` ``holder``."""
    if not may_act_for(holder, user):
        raise PermissionDenied(
            f"{what}: {thing} is held by user {holder}; only they, an admin or a user"
            f" with the {Permission.WORK_ANY_LEAD.value!r} permission may work it"
            f" (user {user.user_id} may not)"
        )


def require_worker(playbook: Playbook, lead: Lead, user: User, what: str) -> None:
    """Refuse ``user`` doing ``what`` on ``lead`` unless :func:`may_work`; changes nothing."""
    if lead.stage not in playbook.pool_stages:
        require_holder(lead.assignee_id, user, what, f"lead {lead.lead_id}")


def claim(
    playbook: Playbook, lead: Lead, user: User, now: datetime, *, via: int | None = None
) -> Transition:
    """``user`` takes ``lead``. Refused with :class:`Conflict` if someone else holds it.

    Claiming a lead one already holds changes nothing.
    """
    _check_workable(playbook, lead, "claimed")
    _check_active(user)
    if lead.assignee_id == user.user_id:
        return Transition(lead, ())
    if not in_pool(lead, playbook):
        raise Conflict(
            f"lead {lead.lead_id} is held by user {lead.assignee_id}; "
            "it can be taken only after it is released"
        )
    event = Claimed(
        at=now,
        actor=user.user_id,
        via=via,
        lead_id=lead.lead_id,
        user_id=user.user_id,
        previous_owner=lead.assignee_id,
    )
    return Transition.of(lead, [event])


def release(
    playbook: Playbook,
    lead: Lead,
    user: User,
    now: datetime,
    *,
    reason: str = "released by its holder",
    via: int | None = None,
) -> Transition:
    """Send ``lead`` back to the pool. Only its holder or an admin may."""
    _check_workable(playbook, lead, "released")
    if lead.assignee_id is None:
        raise ValidationError(
            [FieldError("lead", str(lead.lead_id), "is not held by anyone: nothing to release")]
        )
    if lead.assignee_id != user.user_id and not user.is_admin:
        raise PermissionDenied(
            f"lead {lead.lead_id} is held by user {lead.assignee_id}; only they or an admin "
            "may release it"
        )
    event = Released(
        at=now,
        actor=user.user_id,
        via=via,
        lead_id=lead.lead_id,
        from_user=lead.assignee_id,
        reason=reason,
    )
    return Transition.of(lead, [event])


def assign(
    playbook: Playbook,
    lead: Lead,
    assignee: User,
    actor: Actor,
    now: datetime,
    *,
    method: AssignmentMethod = AssignmentMethod.MANUAL,
    policy: str | None = None,
    via: int | None = None,
) -> Transition:
    """Assign ``lead`` to ``assignee``: Lead Assigned, or Lead Reassigned if it had one.

    An admin (or the system actor) may assign to any active user. Anyone
    else may only assign to themselves, which is a claim. Assigning to the
    current assignee changes nothing.
    """
    _check_workable(playbook, lead, "assigned")
    _check_active(assignee)
    if isinstance(actor, User) and not actor.is_admin:
        if assignee.user_id != actor.user_id:
            raise PermissionDenied(
                f"user {actor.user_id} may assign leads only to themselves; "
                "an admin may assign them to anyone"
            )
        return claim(playbook, lead, actor, now, via=via)
    if lead.assignee_id == assignee.user_id:
        return Transition(lead, ())
    event: Event
    if lead.assignee_id is None:
        event = LeadAssigned(
            at=now,
            actor=actor.user_id,
            via=via,
            lead_id=lead.lead_id,
            assignee_id=assignee.user_id,
            method=method,
            policy=policy,
        )
    else:
        event = LeadReassigned(
            at=now,
            actor=actor.user_id,
            via=via,
            lead_id=lead.lead_id,
            from_assignee=lead.assignee_id,
            to_assignee=assignee.user_id,
            method=method,
        )
    return Transition.of(lead, [event])


def pool(
    leads: Iterable[Lead],
    playbook: Playbook,
    *,
    limit: int | None = None,
) -> list[Lead]:
    """The leads anyone may take, longest waiting first (by time in their stage).

    The same for every user: a lead someone holds is in nobody's pool unless
    its stage is a pool stage.
    """
    eligible = (lead for lead in leads if in_pool(lead, playbook))

    def key(lead: Lead) -> tuple[datetime, str]:
        return lead.in_stage_since, str(lead.lead_id)

    if limit is None:
        return sorted(eligible, key=key)
    return heapq.nsmallest(limit, eligible, key=key)
