"""Aging: what time alone does to a lead, computed from its facts and ``now`` (DESIGN D6).

:func:`advance` applies, in time order, every rule whose moment has come and
returns the new lead with its events, each stamped at the rule's own moment
(not at ``now``). :func:`next_change_at` gives the next such moment, so a
store can index it and a sweep touches only the leads whose time has come.

Because each step is stamped at its moment and depends only on the lead's
facts, advancing once after ten days gives the same lead and the same
events as advancing every hour -- provided the lead is advanced to the time
of each command before the command is applied (the application service does
this).

The rules: a hold set by a stage effect ends (investor Offer Rejected, 7
days: released unless the lead moved on); the playbook's speed-to-lead limit
releases a routed lead nobody tried to contact in time, marked for
re-routing; and the playbook's own aging rules (:mod:`leadflow.stages.aging`),
such as the call log's Missed, Past Due, Abandoned and Available.

A snooze needs no aging: the queue compares it with ``now`` (see
:func:`leadflow.queue.order.queue_ready_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from leadflow.errors import ConfigError, require_aware
from leadflow.events import AssignmentMethod as Method
from leadflow.events import Event, Released, apply_events
from leadflow.model import Lead
from leadflow.stages.aging import (
    FollowUpPassed,
    ScheduleCleared,
    StageTimeout,
    TouchRevives,
    Untouched,
)
from leadflow.stages.durations import format_duration
from leadflow.stages.playbook import Playbook
from leadflow.stages.transitions import Transition, enter_stage_events

__all__ = ["Step", "advance", "next_change_at", "next_step", "untouched_since"]

_ROUTED = frozenset({str(Method.ROUTING), str(Method.FALLBACK)})
_MAX_STEPS = 1000


@attrs.frozen
class Step:
    """The next thing time will do to a lead: at ``moment``, the events ``make(moment)``."""

    moment: datetime
    rule: str
    make: Callable[[datetime], list[Event]] = attrs.field(eq=False, repr=False)


def untouched_since(lead: Lead) -> datetime:
    """When the untouched clock started: the last touch, or creation, or a later follow-up due."""
    start = lead.last_touched_at or lead.created_at
    dues = [f.due for f in lead.open_follow_ups]
    return max(start, *dues) if dues else start


def _released(lead: Lead, at: datetime, reason: str, *, reroute: bool = False) -> Released:
    return Released(
        at=at,
        actor=None,
        lead_id=lead.lead_id,
        from_user=lead.assignee_id,
        reason=reason,
        reroute=reroute,
    )


def _move(playbook: Playbook, lead: Lead, to_stage: str, at: datetime) -> list[Event]:
    current, target = playbook.stage(lead.stage), playbook.stage(to_stage)
    return enter_stage_events(
        playbook, lead, target, None, None, at, backward=target.order < current.order
    )


def _candidates(lead: Lead, playbook: Playbook) -> list[Step]:
    steps: list[Step] = []
    stage = playbook.stage(lead.stage)
    if lead.killed_at is not None or stage.terminal:
        return steps
    if lead.release_at is not None and lead.assignee_id is not None:
        reason = f"hold in {stage.label} ended"
        steps.append(Step(lead.release_at, "hold ended", lambda at: [_released(lead, at, reason)]))
    limit = playbook.speed_to_lead
    if (
        limit is not None
        and lead.assignee_id is not None
        and lead.assigned_at is not None
        and lead.assignment_method in _ROUTED
        and (lead.last_attempt_at is None or lead.last_attempt_at < lead.assigned_at)
    ):
        late = f"speed to lead: no contact attempt within {format_duration(limit)}"
        steps.append(
            Step(
                lead.assigned_at + limit,
                "speed to lead",
                lambda at: [_released(lead, at, late, reroute=True)],
            )
        )
    for rule in playbook.aging:
        step = _rule_step(rule, lead, playbook)
        if step is not None:
            steps.append(step)
    return steps


def _rule_step(
    rule: FollowUpPassed | ScheduleCleared | Untouched | StageTimeout | TouchRevives,
    lead: Lead,
    playbook: Playbook,
) -> Step | None:
    name = type(rule).__name__
    if isinstance(rule, StageTimeout):
        if lead.stage != rule.stage:
            return None

        def timeout(at: datetime) -> list[Event]:
            events = _move(playbook, lead, rule.to_stage, at)
            moved = apply_events(lead, events)
            if rule.release and moved.assignee_id is not None:
                stage = playbook.stage(rule.stage)
                events.append(
                    _released(moved, at, f"{format_duration(rule.after)} in {stage.label}")
                )
            return events

        return Step(lead.in_stage_since + rule.after, name, timeout)
    if lead.stage not in rule.stages:
        return None
    if isinstance(rule, FollowUpPassed):
        dues = [f.due for f in lead.open_follow_ups]
        if not dues:
            return None
        at = min(dues) + rule.grace
    elif isinstance(rule, ScheduleCleared):
        if lead.open_follow_ups:
            return None
        at = max(lead.in_stage_since, lead.last_touched_at or lead.created_at)
    elif isinstance(rule, TouchRevives):
        if lead.last_touched_at is None or lead.last_touched_at <= lead.in_stage_since:
            return None
        at = lead.last_touched_at
    else:
        at = untouched_since(lead) + rule.after
    return Step(at, name, lambda moment: _move(playbook, lead, rule.to_stage, moment))


def next_step(lead: Lead, playbook: Playbook) -> Step | None:
    """The earliest rule that would change ``lead``, with its moment; ties go to rule order."""
    best: Step | None = None
    for step in _candidates(lead, playbook):
        if best is None or step.moment < best.moment:
            best = step
    return best


def next_change_at(lead: Lead, playbook: Playbook) -> datetime | None:
    """The next moment time alone would change ``lead``, or ``None`` if it never will.

    Exact: :func:`advance` changes nothing for any ``now`` before it and
    changes something at it.
    """
    step = next_step(lead, playbook)
    return None if step is None else step.moment


def advance(lead: Lead, now: datetime, playbook: Playbook) -> Transition:
    """Apply every time rule whose moment is at or before ``now``, in time order.

    Returns the new lead and the events, each stamped at its rule's moment.
    A killed lead or one in a terminal stage never ages.
    """
    require_aware("now", now)
    events: list[Event] = []
    last: datetime | None = None
    for _ in range(_MAX_STEPS):
        step = next_step(lead, playbook)
        if step is None or step.moment > now:
            return Transition(lead, tuple(events))
        # A rule that became true in the past because of an earlier step applies
        # at that step's moment, so the history never goes back in time.
        moment = step.moment if last is None else max(step.moment, last)
        produced = step.make(moment)
        lead = apply_events(lead, produced)
        events.extend(produced)
        last = moment
    raise ConfigError(
        f"playbook {playbook.key!r}: aging rules keep changing lead {lead.lead_id} at "
        f"{last}; they form a loop"
    )
