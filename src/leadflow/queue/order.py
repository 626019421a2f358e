"""Who should call which lead, now: queue eligibility and order (DESIGN D4).

A lead is in a user's queue when it is assigned to (or claimed by) that
user, is not killed and not in a terminal stage, its snooze has ended, and
no future follow-up holds it. The queue is ordered:

1. **due follow-ups** -- earliest due first, then priority High > Normal > Low;
2. **new leads** never contacted -- oldest first (speed to lead);
3. **the rest** -- least recently touched first.

Every entry says why it is there. :func:`why_not` says why a lead is not.
:func:`build_queue` with ``limit`` selects the top entries with a bounded
heap, so the top 50 of a million leads costs one pass, not a sort.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from uuid import UUID

import attrs

from leadflow.model import FollowUp, FollowUpStatus, Lead, User
from leadflow.stages.playbook import Playbook

__all__ = [
    "NotInQueue",
    "QueueEntry",
    "Reason",
    "WhyNot",
    "build_queue",
    "queue_ready_at",
    "why_not",
]


class Reason(enum.StrEnum):
    """Why a lead is in the queue."""

    FOLLOW_UP_DUE = "follow_up_due"
    NEW_LEAD = "new_lead"
    RETRY_AFTER_SNOOZE = "retry_after_snooze"
    RETRY = "retry"


class NotInQueue(enum.StrEnum):
    """Why a lead is not in a user's queue."""

    KILLED = "killed"
    TERMINAL = "terminal"
    UNASSIGNED = "unassigned"
    OWNED_BY_OTHER = "owned_by_other"
    SNOOZED = "snoozed"
    FOLLOW_UP_PENDING = "follow_up_pending"


@attrs.frozen
class QueueEntry:
    """One lead in a queue, with the reason it is there and its due follow-up."""

    lead: Lead
    reason: Reason
    follow_up: FollowUp | None = None

    @property
    def notes(self) -> str | None:
        """The due follow-up's notes, shown beside the lead."""
        return self.follow_up.notes if self.follow_up else None


@attrs.frozen
class WhyNot:
    """Why a lead is not in a user's queue, and until when (if it will come back by itself)."""

    reason: NotInQueue
    until: datetime | None = None
    owner: int | None = None

    def __str__(self) -> str:
        if self.reason is NotInQueue.SNOOZED and self.until:
            return f"snoozed until {self.until.isoformat()}"
        if self.reason is NotInQueue.FOLLOW_UP_PENDING and self.until:
            return f"follow-up at {self.until.isoformat()}"
        if self.reason is NotInQueue.OWNED_BY_OTHER:
            return f"owned by user {self.owner}"
        return {
            NotInQueue.KILLED: "killed",
            NotInQueue.TERMINAL: "in a final stage",
            NotInQueue.UNASSIGNED: "unassigned (in the pool)",
        }.get(self.reason, str(self.reason))


def _due_follow_up(lead: Lead, now: datetime) -> FollowUp | None:
    due = [f for f in lead.open_follow_ups if f.due <= now]
    return min(due, key=lambda f: (f.due, f.priority.rank)) if due else None


def queue_ready_at(lead: Lead, now: datetime) -> datetime | None:
    """When ``lead`` comes back to its owner's queue by itself, if it is held now.

    ``None`` when neither a snooze nor a future follow-up holds it (due
    follow-ups release it at once).
    """
    if _due_follow_up(lead, now) is not None:
        return None
    holds = [f.due for f in lead.open_follow_ups if f.due > now]
    if lead.snoozed_until is not None and lead.snoozed_until > now:
        holds.append(lead.snoozed_until)
    return max(holds) if holds else None


def why_not(lead: Lead, user: User | int, now: datetime, playbook: Playbook) -> WhyNot | None:
    """Why ``lead`` is not in ``user``'s queue at ``now``; ``None`` if it is."""
    user_id = user if isinstance(user, int) else user.user_id
    if lead.killed_at is not None:
        return WhyNot(NotInQueue.KILLED)
    if playbook.stage(lead.stage).terminal:
        return WhyNot(NotInQueue.TERMINAL)
    if lead.assignee_id is None:
        return WhyNot(NotInQueue.UNASSIGNED)
    if lead.assignee_id != user_id:
        return WhyNot(NotInQueue.OWNED_BY_OTHER, owner=lead.assignee_id)
    if _due_follow_up(lead, now) is None:
        future = [f.due for f in lead.open_follow_ups if f.due > now]
        if future:
            return WhyNot(NotInQueue.FOLLOW_UP_PENDING, until=min(future))
        if lead.snoozed_until is not None and lead.snoozed_until > now:
            return WhyNot(NotInQueue.SNOOZED, until=lead.snoozed_until)
    return None


_Key = tuple[int, datetime, int, UUID]


def _rank(lead: Lead, now: datetime) -> _Key | None:
    """The lead's place in its owner's queue, or ``None`` if a snooze or follow-up holds it."""
    if lead.follow_ups:
        due: FollowUp | None = None
        held = False
        for f in lead.follow_ups:
            if f.status is not FollowUpStatus.OPEN:
                continue
            if f.due > now:
                held = True
            elif due is None or (f.due, f.priority.rank) < (due.due, due.priority.rank):
                due = f
        if due is not None:
            return (0, due.due, due.priority.rank, lead.lead_id)
        if held:
            return None
    if lead.snoozed_until is not None and lead.snoozed_until > now:
        return None
    if lead.last_outcome is None:  # no call, text or email logged yet
        return (1, lead.created_at, 0, lead.lead_id)
    return (2, lead.last_touched_at or lead.created_at, 0, lead.lead_id)


def _entry(lead: Lead, key: _Key, now: datetime) -> QueueEntry:
    if key[0] == 0:
        return QueueEntry(lead, Reason.FOLLOW_UP_DUE, _due_follow_up(lead, now))
    if key[0] == 1:
        return QueueEntry(lead, Reason.NEW_LEAD)
    reason = Reason.RETRY_AFTER_SNOOZE if lead.snoozed_until is not None else Reason.RETRY
    return QueueEntry(lead, reason)


def build_queue(
    leads: Iterable[Lead],
    user: User | int,
    now: datetime,
    playbook: Playbook,
    *,
    limit: int | None = None,
) -> list[QueueEntry]:
    """``user``'s queue at ``now``, in order, each entry with its reason.

    ``leads`` may be any iterable (a store's candidates, a generator over a
    file); with ``limit`` only the first ``limit`` entries are kept, using a
    heap of that size. Ties are broken by lead id, so the order is total.
    """
    user_id = user if isinstance(user, int) else user.user_id
    terminal = frozenset(s.key for s in playbook.stages if s.terminal)

    def ranked() -> Iterable[tuple[_Key, Lead]]:
        for lead in leads:
            if lead.assignee_id != user_id or lead.killed_at is not None or lead.stage in terminal:
                continue
            key = _rank(lead, now)
            if key is not None:
                yield key, lead

    first = itemgetter(0)
    if limit is None:
        chosen = sorted(ranked(), key=first)
    else:
        chosen = heapq.nsmallest(limit, ranked(), key=first)
    return [_entry(lead, key, now) for key, lead in chosen]
