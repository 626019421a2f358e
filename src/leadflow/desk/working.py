"""Working a lead: outcomes, stages, follow-ups, claims, notes, changes: a person's own work."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.desk._base import Handler
from leadflow.errors import FieldError, ValidationError
from leadflow.events import FieldChange, LeadUpdated, NoteAdded, apply_events
from leadflow.model import (
    SYSTEM,
    Actor,
    ContactDetails,
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    Priority,
    User,
)
from leadflow.queue import ownership
from leadflow.stages import transitions
from leadflow.stages.transitions import Transition
from leadflow.validate import LeadDraft, to_row

__all__ = ["WorkHandler"]


class WorkHandler(Handler):
    """The commands of working a lead (see :class:`leadflow.desk.LeadDesk`)."""

    def log_outcome(
        self,
        lead_id: UUID,
        disposition: str,
        *,
        actor: int | User,
        follow_up: FollowUp | None = None,
        call_back: datetime | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Log a call, text or email outcome (see :func:`leadflow.stages.log_outcome`).

        ``call_back`` schedules a 30-minute call at that moment with the
        outcome, in the same unit of work (a shorthand for a ``follow_up``
        the desk makes): the outcome and its follow-up are stored together
        or not at all.
        """
        what = "logging an outcome"
        user = self.ctx.person(actor, what)
        approver = self.ctx.user(approval) if approval is not None else None
        if follow_up is not None and call_back is not None:
            raise ValidationError(
                [FieldError("call_back", call_back.isoformat(), "give a follow_up or a call_back")]
            )

        def move(lead: Lead, now: datetime) -> Transition:
            chosen = follow_up
            if call_back is not None:
                chosen = FollowUp(
                    follow_up_id=self.ctx.new_id(now),
                    kind=FollowUpKind.EVENT,
                    subject=FollowUpSubject.CALL,
                    due=call_back,
                    notes=note,
                    duration=timedelta(minutes=30),
                )
            return transitions.log_outcome(
                self.ctx.playbook,
                lead,
                disposition,
                user,
                now,
                follow_up=chosen,
                note=note,
                approval=approver,
                via=via,
            )

        return self.apply(lead_id, move, worker=(user, what))

    def set_stage(
        self,
        lead_id: UUID,
        stage: str,
        *,
        actor: int | User,
        outcome: str | None = None,
        note: str | None = None,
        approval: int | None = None,
        via: int | None = None,
    ) -> Lead:
        """Move a lead to ``stage`` (see :func:`leadflow.stages.set_stage`)."""
        what = "moving a lead's stage"
        user = self.ctx.person(actor, what)
        approver = self.ctx.user(approval) if approval is not None else None
        key = self.ctx.playbook.stage_key(stage)
        return self.apply(
            lead_id,
            lambda lead, now: transitions.set_stage(
                self.ctx.playbook,
                lead,
                key,
                user,
                now,
                approval=approver,
                note=note,
                outcome=outcome,
                via=via,
            ),
            worker=(user, what),
        )

    def schedule_follow_up(
        self,
        lead_id: UUID,
        due: datetime,
        *,
        actor: int | User,
        kind: FollowUpKind = FollowUpKind.EVENT,
        subject: FollowUpSubject = FollowUpSubject.CALL,
        notes: str | None = None,
        duration: timedelta | None = timedelta(minutes=30),
        priority: Priority = Priority.NORMAL,
        assignee: int | None = None,
    ) -> Lead:
        """Schedule a follow-up event (15/30/60 minutes) or task on a lead."""
        what = "scheduling a follow-up"
        user = self.ctx.person(actor, what)

        def move(lead: Lead, now: datetime) -> Transition:
            follow_up = FollowUp(
                follow_up_id=self.ctx.new_id(now),
                kind=kind,
                subject=subject,
                due=due,
                notes=notes,
                duration=duration if kind is FollowUpKind.EVENT else None,
                priority=priority,
                assignee_id=assignee if kind is FollowUpKind.TASK else None,
            )
            return transitions.schedule_follow_up(self.ctx.playbook, lead, follow_up, user, now)

        return self.apply(lead_id, move, worker=(user, what))

    def general_follow_up(
        self,
        lead_id: UUID,
        interval: relativedelta | timedelta,
        *,
        actor: int | User,
        notes: str | None = None,
    ) -> Lead:
        """ "Call me back in X": a task due per the playbook's follow-up rule."""
        what = "scheduling a follow-up"
        user = self.ctx.person(actor, what)
        return self.apply(
            lead_id,
            lambda lead, now: transitions.general_follow_up(
                self.ctx.playbook,
                lead,
                user,
                now,
                interval,
                follow_up_id=self.ctx.new_id(now),
                notes=notes,
            ),
            worker=(user, what),
        )

    def claim(self, lead_id: UUID, *, actor: int | User) -> Lead:
        """Take a lead from the pool (Conflict if someone else holds it)."""
        user = self.ctx.person(actor, "claiming a lead")
        return self.apply(
            lead_id, lambda lead, now: ownership.claim(self.ctx.playbook, lead, user, now)
        )

    def release(self, lead_id: UUID, *, actor: int | User) -> Lead:
        """Put a lead back in the pool."""
        user = self.ctx.person(actor, "releasing a lead")
        return self.apply(
            lead_id, lambda lead, now: ownership.release(self.ctx.playbook, lead, user, now)
        )

    def assign(self, lead_id: UUID, assignee: int, *, actor: int | Actor = SYSTEM) -> Lead:
        """Assign or reassign a lead (the system actor and admins: anyone; others: themselves)."""
        user = self.ctx.actor(actor)
        target = self.ctx.user(assignee)
        return self.apply(
            lead_id,
            lambda lead, now: ownership.assign(self.ctx.playbook, lead, target, user, now),
        )

    def add_note(
        self, contact_id: UUID, text: str, *, actor: int | User, lead_id: UUID | None = None
    ) -> NoteAdded:
        """A note on a contact, optionally tied to one of its leads (a touch of that lead)."""
        what = "adding a note"
        user = self.ctx.person(actor, what)
        if not text.strip():
            raise ValidationError([FieldError("note", text, "is blank")])
        now = self.ctx.now()
        with self.ctx.command() as command:
            uow = command.uow
            contact = uow.get_contact(contact_id)
            if lead_id is None:
                ownership.require_holder(
                    contact.owner_id, user, what, f"contact {contact.contact_id}"
                )
                note = NoteAdded(
                    at=now, actor=user.user_id, contact_id=contact.contact_id, text=text
                )
                stamped = self.ctx.stamp([note])
                uow.append_events(stamped)
                command.publish(stamped)
                return note
            lead = self.load_current(command, lead_id, now)
            ownership.require_worker(self.ctx.playbook, lead, user, what)
            if lead.contact_id != contact.contact_id:
                raise ValidationError(
                    [FieldError("lead_id", str(lead_id), f"is not a lead of contact {contact_id}")]
                )
            result = transitions.add_note(self.ctx.playbook, lead, text, user, now)
            self.save(command, lead, result.lead, result.events)
            event = result.events[0]
            assert isinstance(event, NoteAdded)
            return event

    def update_lead(
        self,
        lead_id: UUID,
        changes: Mapping[str, str | None],
        *,
        actor: int | User,
        via: int | None = None,
    ) -> Lead:
        """Change lead attributes from raw strings; the activity log keeps the field diffs.

        Only lead attribute columns may be given (contact details live on the
        contact); system fields are refused, as on creation.
        """
        what = "changing a lead"
        user = self.ctx.person(actor, what)
        contact_columns = {"first_name", "last_name", "email", "cell_phone"}
        refused = [
            FieldError(k, v, "is a contact field: change it on the contact")
            for k, v in changes.items()
            if k in contact_columns
        ]
        if refused:
            raise ValidationError(refused)

        def move(lead: Lead, now: datetime) -> Transition:
            if lead.killed_at is not None:
                raise ValidationError(
                    [FieldError("lead", str(lead.lead_id), "was killed and cannot be changed")]
                )
            current = to_row(LeadDraft(contact=_PLACEHOLDER_CONTACT, attributes=lead.attributes))
            merged = {**current, **changes}
            merged.pop("lead_stage", None)
            draft = self.ctx.validator().validate(merged)
            diffs = _diff(lead.attributes, draft.attributes)
            if not diffs:
                return Transition(lead, ())
            event = LeadUpdated(
                at=now, actor=user.user_id, via=via, lead_id=lead.lead_id, changes=tuple(diffs)
            )
            updated = attrs.evolve(apply_events(lead, [event]), attributes=draft.attributes)
            return Transition(updated, (event,))

        return self.apply(lead_id, move, worker=(user, what))


_PLACEHOLDER_CONTACT = ContactDetails(
    first_name="-", last_name="-", email="placeholder@example.com"
)


def _diff(old: LeadAttributes, new: LeadAttributes) -> list[FieldChange]:
    changes = []
    for field in attrs.fields(LeadAttributes):
        before, after = getattr(old, field.name), getattr(new, field.name)
        if before != after:
            changes.append(FieldChange(field.name, _shown(before), _shown(after)))
    return changes


def _shown(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
