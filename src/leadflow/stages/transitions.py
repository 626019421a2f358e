"""Moving a lead through its playbook: pure functions from a lead to a new lead and events.

Each function checks everything first and raises a specific
:class:`~leadflow.errors.LeadflowError` if the move is not allowed, leaving
nothing changed; otherwise it decides the events the move causes and folds
them over the lead with :func:`~leadflow.events.apply_event`, so the events
returned describe exactly what changed.

* :func:`log_outcome` -- a disposition: counts attempts and reports, snoozes,
  moves the stage **forward only** (a later No Answer on an Engaged lead
  keeps it Engaged, but still snoozes it), closes due follow-ups, schedules
  a new one if given.
* :func:`set_stage` -- an explicit stage change by a user: forward freely,
  backward only from stages that allow it, out of a terminal stage only with
  its reopen permission; outcomes required where the stage needs one.
* :func:`schedule_follow_up`, :func:`general_follow_up`, :func:`close_follow_up`.

A killed lead (investor red statuses) refuses every one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.errors import FieldError, PermissionDenied, ValidationError, require_aware
from leadflow.events import (
    Event,
    FollowUpClosed,
    FollowUpScheduled,
    LeadKilled,
    LeadStageChanged,
    NoteAdded,
    OutcomeLogged,
    Released,
    ReleaseScheduled,
    Signal,
    apply_events,
)
from leadflow.model import (
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    FollowUpSubject,
    Lead,
    Priority,
    User,
)
from leadflow.stages.guards import Guard, GuardContext
from leadflow.stages.playbook import Disposition, Ownership, Playbook, Stage

__all__ = [
    "Transition",
    "add_note",
    "close_follow_up",
    "enter_stage_events",
    "general_follow_up",
    "log_outcome",
    "schedule_follow_up",
    "set_stage",
]


@attrs.frozen
class Transition:
    """The result of a move: the new lead and the events that made it."""

    lead: Lead
    events: tuple[Event, ...]

    @classmethod
    def of(cls, lead: Lead, events: Iterable[Event]) -> Transition:
        """The move that ``events`` make: ``lead`` with them applied, and the events."""
        made = tuple(events)
        return cls(apply_events(lead, made), made)


def _refuse_if_killed(playbook: Playbook, lead: Lead, field: str, value: str) -> None:
    if lead.killed_at is not None:
        label = playbook.stage(lead.stage).label if playbook.has_stage(lead.stage) else lead.stage
        raise ValidationError(
            [
                FieldError(
                    field,
                    value,
                    f"cannot be applied: lead {lead.lead_id} was killed ({label}) on "
                    f"{lead.killed_at.isoformat()} and accepts no further change",
                )
            ]
        )


def _check(guards: Iterable[Guard], ctx: GuardContext) -> None:
    for guard in guards:
        guard.check(ctx)


def enter_stage_events(
    playbook: Playbook,
    lead: Lead,
    target: Stage,
    actor: int | None,
    via: int | None,
    now: datetime,
    *,
    backward: bool = False,
    outcome: str | None = None,
) -> list[Event]:
    """The events of entering ``target``: the change itself, then the stage's effects.

    Used by every move into a stage -- dispositions, explicit changes,
    scheduling, aging -- so a stage's effects (release, hold, kill, signals)
    apply however the lead got there.
    """
    common: dict[str, Any] = {"at": now, "actor": actor, "via": via, "lead_id": lead.lead_id}
    events: list[Event] = [
        LeadStageChanged(
            **common, from_stage=lead.stage, to_stage=target.key, backward=backward, outcome=outcome
        )
    ]
    effect = target.effect
    if effect.kill:
        events.append(LeadKilled(**common, stage=target.key))
    elif lead.assignee_id is not None:
        if effect.ownership is Ownership.RELEASE_NOW:
            events.append(
                Released(**common, from_user=lead.assignee_id, reason=f"stage {target.label}")
            )
        elif effect.ownership is Ownership.RELEASE_AFTER:
            assert effect.release_after is not None
            events.append(
                ReleaseScheduled(
                    **common,
                    release_at=now + effect.release_after,
                    reason=f"stage {target.label} held for {effect.release_after}",
                )
            )
    events.extend(Signal(**common, name=name, stage=target.key) for name in effect.signals)
    return events


def _check_follow_up(follow_up: FollowUp, lead: Lead, now: datetime) -> None:
    if follow_up.due < now:
        raise ValidationError(
            [FieldError("follow_up", follow_up.due, f"is in the past (now is {now.isoformat()})")]
        )
    if any(f.follow_up_id == follow_up.follow_up_id for f in lead.follow_ups):
        raise ValidationError(
            [FieldError("follow_up", str(follow_up.follow_up_id), "is already on this lead")]
        )


def _follow_up_events(
    playbook: Playbook,
    lead: Lead,
    follow_up: FollowUp,
    actor: int | None,
    via: int | None,
    now: datetime,
) -> list[Event]:
    events: list[Event] = [
        FollowUpScheduled(at=now, actor=actor, via=via, lead_id=lead.lead_id, follow_up=follow_up)
    ]
    moves_to = playbook.follow_up.moves_to
    if moves_to is not None and lead.stage != moves_to:
        current, target = playbook.stage(lead.stage), playbook.stage(moves_to)
        if not current.terminal and target.order >= current.order:
            events += enter_stage_events(playbook, lead, target, actor, via, now)
    return events


def log_outcome(
    playbook: Playbook,
    lead: Lead,
    disposition: str,
    actor: User,
    now: datetime,
    *,
    follow_up: FollowUp | None = None,
    note: str | None = None,
    approval: User | None = None,
    via: int | None = None,
) -> Transition:
    """Log ``disposition`` on ``lead`` as ``actor`` at ``now``.

    * the disposition's guards, and the guards of the stage it would enter,
      must hold;
    * the stage moves to the disposition's ``to_stage`` only if that is not
      backwards (by order) and the current stage is not terminal;
    * the snooze becomes ``now + disposition.snooze``, or none; a
      ``follow_up`` replaces the snooze and holds the lead until it is due;
    * open follow-ups already due are closed as done (the call was made);
    * attempts and reports are counted.

    Raises :class:`ValidationError` for an unknown or disabled disposition, a
    killed lead, a follow-up in the past or a failed report/note guard, and
    :class:`PermissionDenied` for a failed permission/approval guard.
    """
    require_aware("now", now)
    _refuse_if_killed(playbook, lead, "disposition", disposition)
    chosen: Disposition = playbook.disposition(disposition)
    if not chosen.enabled:
        raise ValidationError(
            [FieldError("disposition", disposition, f"is disabled in {playbook.name}")]
        )
    if follow_up is not None:
        _check_follow_up(follow_up, lead, now)
    ctx = GuardContext(
        subject=f"disposition '{chosen.key}'",
        lead=lead,
        actor=actor,
        now=now,
        approval=approval,
        note=note,
    )
    _check(chosen.guards, ctx)

    current = playbook.stage(lead.stage)
    target: Stage | None = None
    if chosen.to_stage is not None and chosen.to_stage != lead.stage and not current.terminal:
        candidate = playbook.stage(chosen.to_stage)
        if candidate.order >= current.order:
            target = candidate
            _check(candidate.guards, attrs.evolve(ctx, subject=f"stage '{candidate.key}'"))

    if target is not None and target.effect.kill and follow_up is not None:
        raise ValidationError(
            [FieldError("follow_up", follow_up.due, f"{target.label} kills the lead: no follow-up")]
        )
    snoozed_until = None
    if follow_up is None and chosen.snooze is not None:
        snoozed_until = now + chosen.snooze
    uid = actor.user_id
    common: dict[str, Any] = {"at": now, "via": via, "lead_id": lead.lead_id}
    events: list[Event] = [
        OutcomeLogged(
            **common,
            actor=uid,
            disposition=chosen.key,
            channel=str(chosen.channel),
            direction=str(chosen.direction),
            contact_attempt=chosen.contact_attempt,
            report=chosen.report,
            snoozed_until=snoozed_until,
            note=note,
        )
    ]
    events += [
        FollowUpClosed(**common, actor=uid, follow_up_id=f.follow_up_id, status=FollowUpStatus.DONE)
        for f in lead.open_follow_ups
        if f.due <= now
    ]
    moved = lead
    if target is not None:
        stage_events = enter_stage_events(playbook, lead, target, uid, via, now)
        events += stage_events
        moved = apply_events(lead, stage_events)
    if follow_up is not None:
        events += _follow_up_events(playbook, moved, follow_up, uid, via, now)
    return Transition.of(lead, events)


def set_stage(
    playbook: Playbook,
    lead: Lead,
    stage: str,
    actor: User,
    now: datetime,
    *,
    approval: User | None = None,
    note: str | None = None,
    outcome: str | None = None,
    via: int | None = None,
) -> Transition:
    """Move ``lead`` to ``stage`` by an explicit choice of ``actor``.

    Forward moves are always allowed; a backward move only from a stage with
    ``allow_backward`` (the event records ``backward=True``); leaving a
    terminal stage only for a user holding its ``reopen_permission``. A stage
    with outcomes (Closed) needs ``outcome``. The target stage's guards must
    hold. A ``note`` is logged with the change. Moving to the stage the lead
    is already in (with the same outcome) changes nothing and returns no
    events.
    """
    require_aware("now", now)
    _refuse_if_killed(playbook, lead, "stage", stage)
    target = playbook.stage(stage)
    current = playbook.stage(lead.stage)
    if not target.enabled:
        raise ValidationError([FieldError("stage", stage, f"is disabled in {playbook.name}")])
    if target.system_only and target.key != lead.stage:
        raise ValidationError(
            [
                FieldError(
                    "stage", stage, f"{target.label} is set by the playbook's rules, not by hand"
                )
            ]
        )
    if target.outcomes:
        if outcome is None or target.outcome(outcome) is None:
            allowed = ", ".join(o.key for o in target.outcomes)
            raise ValidationError(
                [FieldError("outcome", outcome, f"{target.label} needs an outcome: {allowed}")]
            )
    elif outcome is not None:
        raise ValidationError([FieldError("outcome", outcome, f"{target.label} takes no outcome")])
    if target.key == lead.stage and outcome == lead.outcome:
        return Transition(lead, ())

    backward = target.order < current.order
    if current.terminal and target.key != current.key:
        if current.reopen_permission is None:
            raise ValidationError(
                [FieldError("stage", stage, f"{current.label} is final: the lead cannot leave it")]
            )
        if not actor.has_permission(current.reopen_permission):
            raise PermissionDenied(
                f"reopening a lead from {current.label} needs the "
                f"'{current.reopen_permission}' permission, which user {actor.user_id} "
                "does not have"
            )
    elif backward and not current.allow_backward:
        raise ValidationError(
            [
                FieldError(
                    "stage",
                    stage,
                    f"is before {current.label}, and {playbook.name} does not allow moving "
                    f"a lead back from {current.label}",
                )
            ]
        )
    ctx = GuardContext(
        subject=f"stage '{target.key}'",
        lead=lead,
        actor=actor,
        now=now,
        approval=approval,
        note=note,
    )
    _check(target.guards, ctx)

    events = enter_stage_events(
        playbook, lead, target, actor.user_id, via, now, backward=backward, outcome=outcome
    )
    if note is not None and note.strip():
        events.append(
            NoteAdded(
                at=now,
                actor=actor.user_id,
                via=via,
                contact_id=lead.contact_id,
                lead_id=lead.lead_id,
                text=note,
            )
        )
    return Transition.of(lead, events)


def schedule_follow_up(
    playbook: Playbook,
    lead: Lead,
    follow_up: FollowUp,
    actor: User,
    now: datetime,
    *,
    via: int | None = None,
) -> Transition:
    """Add ``follow_up`` to ``lead``; it holds the lead out of the queue until it is due.

    If the playbook's follow-up rule has ``moves_to`` (the call log's
    Scheduled), the lead moves there unless that would be backwards or the
    lead is in a terminal stage.
    """
    require_aware("now", now)
    _refuse_if_killed(playbook, lead, "follow_up", str(follow_up.follow_up_id))
    _check_follow_up(follow_up, lead, now)
    events = _follow_up_events(playbook, lead, follow_up, actor.user_id, via, now)
    return Transition.of(lead, events)


def general_follow_up(
    playbook: Playbook,
    lead: Lead,
    actor: User,
    now: datetime,
    interval: relativedelta | timedelta,
    *,
    follow_up_id: UUID,
    subject: FollowUpSubject = FollowUpSubject.CALL,
    notes: str | None = None,
    priority: Priority = Priority.NORMAL,
    via: int | None = None,
) -> Transition:
    """ "Call me back in X": a task for ``actor`` due per the playbook's follow-up rule.

    The investor rule halves the interval: asked for 6 months on 10 March,
    the task is due on 10 June.
    """
    require_aware("now", now)
    follow_up = FollowUp(
        follow_up_id=follow_up_id,
        kind=FollowUpKind.TASK,
        subject=subject,
        due=playbook.follow_up.due(now, interval),
        notes=notes,
        assignee_id=actor.user_id,
        priority=priority,
    )
    return schedule_follow_up(playbook, lead, follow_up, actor, now, via=via)


def add_note(
    playbook: Playbook,
    lead: Lead,
    text: str,
    actor: User,
    now: datetime,
    *,
    via: int | None = None,
) -> Transition:
    """A note on ``lead`` by ``actor``: a touch that restarts the untouched clocks."""
    require_aware("now", now)
    _refuse_if_killed(playbook, lead, "note", text)
    if not text.strip():
        raise ValidationError([FieldError("note", text, "is blank")])
    event = NoteAdded(
        at=now,
        actor=actor.user_id,
        via=via,
        contact_id=lead.contact_id,
        lead_id=lead.lead_id,
        text=text,
    )
    return Transition.of(lead, [event])


def close_follow_up(
    playbook: Playbook,
    lead: Lead,
    follow_up_id: UUID,
    actor: User,
    now: datetime,
    *,
    status: FollowUpStatus = FollowUpStatus.DONE,
    via: int | None = None,
) -> Transition:
    """Mark an open follow-up done or cancelled."""
    require_aware("now", now)
    _refuse_if_killed(playbook, lead, "follow_up", str(follow_up_id))
    if status is FollowUpStatus.OPEN:
        raise ValidationError([FieldError("status", str(status), "must be done or cancelled")])
    if not any(f.follow_up_id == follow_up_id and f.is_open for f in lead.follow_ups):
        raise ValidationError(
            [FieldError("follow_up", str(follow_up_id), "is not an open follow-up of this lead")]
        )
    event = FollowUpClosed(
        at=now,
        actor=actor.user_id,
        via=via,
        lead_id=lead.lead_id,
        follow_up_id=follow_up_id,
        status=status,
    )
    return Transition.of(lead, [event])
