"""Domain events: the activity-log vocabulary (DESIGN D9).

Every change to a lead is described by one or more events. Core functions
return them beside the new value; the application service stores them in the
activity log in the same unit of work, and subscribers react to them after
commit. Events are plain frozen values: they do no I/O and know no format.

Every event carries who did it (``actor``: a user id, or ``None`` for the
system -- routing, aging, an automation), on whose behalf (``via``: the user
acting for someone else, as in the seed's "By Daniel via Jason") and when
(``at``, timezone-aware), and through which interface the command came
(``interface``: the command line or a host's code; ``None`` in activity
recorded before interfaces were). ``actor`` ``None`` is the organisation's
system actor (DESIGN D12), shown as "System". Lead events carry the ``lead_id``; a note may be
tied to a lead or only to the contact.

Each class has a stable ``kind`` (``"lead_stage_changed"``), used as the type
tag when an event is stored, and a ``label`` for people ("Lead Stage
Changed"); :meth:`Event.describe` gives the one-line text of the activity tab.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import attrs

from leadflow.errors import FieldError, ValidationError, require_aware
from leadflow.model import FollowUp, FollowUpStatus, Interface, Lead, Origin, StageChange, User

__all__ = [
    "EVENT_TYPES",
    "AssignmentMethod",
    "Claimed",
    "Decision",
    "DecisionStep",
    "Event",
    "FieldChange",
    "FollowUpClosed",
    "FollowUpScheduled",
    "LeadAssigned",
    "LeadCreated",
    "LeadEvent",
    "LeadKilled",
    "LeadReassigned",
    "LeadStageChanged",
    "LeadUpdated",
    "NoteAdded",
    "OutcomeLogged",
    "ReleaseScheduled",
    "Released",
    "Signal",
    "actor_label",
    "apply_event",
    "apply_events",
    "changes_of",
]


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime) -> None:
    require_aware(attribute.name, value)


class AssignmentMethod(enum.StrEnum):
    """How an assignee was chosen."""

    #: The source's primary routing policy chose the user.
    ROUTING = "routing"
    #: The source's fallback policy chose the user after the primary failed.
    FALLBACK = "fallback"
    #: A non-admin created the lead and got it themselves (DESIGN D7).
    SELF = "self"
    #: An admin named the assignee, bypassing the routing policies.
    OVERRIDE = "override"
    #: A user assigned or reassigned an existing lead by hand.
    MANUAL = "manual"
    #: An unassigned lead was assigned from the exception list (DESIGN D8).
    EXCEPTION = "exception"
    #: A user took the lead from a pool (claim, Lead Bank, investor cloud).
    POOL = "pool"
    #: The lead's contact owner, assignee or a journey's user (automations).
    RELATIONSHIP = "relationship"


@attrs.frozen(kw_only=True)
class Event:
    """Base of every activity. ``actor`` ``None`` means the system actor did it."""

    kind: ClassVar[str] = "event"
    label: ClassVar[str] = "Event"

    at: datetime = attrs.field(validator=_aware)
    actor: int | None
    via: int | None = None
    #: How the command that wrote it came in (the desk stamps it when storing).
    interface: Interface | None = None

    def describe(self) -> str:
        """One line for a person: what happened, without who and when."""
        return self.label + "."


@attrs.frozen(kw_only=True)
class LeadEvent(Event):
    """An event about one lead."""

    lead_id: UUID


@attrs.frozen(cache_hash=True)  # a key of the routing's caches of decisions
class DecisionStep:
    """One routing policy tried for a lead: who got it (or was offered it), why nobody
    could, and the user ids of the members passed over, grouped by the rule that passed
    them over (``paused``, ``filter_state``, ``volume_cap``, ``eligible``: the rotation
    chose another...). Values are the routing enums' spellings."""

    policy: str
    distribution: str
    winner: int | None = None
    offered: tuple[int, ...] = ()
    reason: str | None = None
    passed: tuple[tuple[str, tuple[int, ...]], ...] = ()


@attrs.frozen
class Decision:
    """How a lead was routed, kept in its activity (:mod:`leadflow.routing.decision`).

    ``method`` is how it was assigned (``None``: it was not); ``reason`` why
    nobody could take it and ``primary_reason`` why its primary policy
    could not; ``steps`` the policies tried, in order (none when a person or
    an override chose the assignee).
    """

    outcome: str
    method: AssignmentMethod | None = None
    assignee: int | None = None
    reason: str | None = None
    primary_reason: str | None = None
    steps: tuple[DecisionStep, ...] = ()


@attrs.frozen(kw_only=True)
class LeadCreated(LeadEvent):
    kind: ClassVar[str] = "lead_created"
    label: ClassVar[str] = "Lead Created"

    contact_id: UUID
    source: str
    origin: Origin
    stage: str
    #: How routing decided, when the lead was created.
    decision: Decision | None = None

    def describe(self) -> str:
        return f"Lead created from source {self.source} ({self.origin})."


@attrs.frozen(kw_only=True)
class LeadAssigned(LeadEvent):
    """A lead without an assignee got one."""

    kind: ClassVar[str] = "lead_assigned"
    label: ClassVar[str] = "Lead Assigned"

    assignee_id: int
    method: AssignmentMethod
    policy: str | None = None
    #: How routing decided, when it assigned the lead after its creation (a re-route,
    #: an accepted offer).
    decision: Decision | None = None

    def describe(self) -> str:
        by = f" by policy {self.policy}" if self.policy else ""
        return f"Assigned to user {self.assignee_id} ({self.method}{by})."


@attrs.frozen(kw_only=True)
class LeadReassigned(LeadEvent):
    """A lead moved from one assignee to another."""

    kind: ClassVar[str] = "lead_reassigned"
    label: ClassVar[str] = "Lead Reassigned"

    from_assignee: int
    to_assignee: int
    method: AssignmentMethod = AssignmentMethod.MANUAL

    def describe(self) -> str:
        return f"Reassigned from user {self.from_assignee} to user {self.to_assignee}."


@attrs.frozen
class FieldChange:
    """One field of a lead that an update changed (values as shown to people)."""

    field: str
    old: str | None
    new: str | None


@attrs.frozen(kw_only=True)
class LeadUpdated(LeadEvent):
    """Lead attributes changed; ``changes`` is the field-by-field diff."""

    kind: ClassVar[str] = "lead_updated"
    label: ClassVar[str] = "Lead Updated"

    changes: tuple[FieldChange, ...]

    def describe(self) -> str:
        parts = [f"{c.field}: {c.old or '(blank)'} -> {c.new or '(blank)'}" for c in self.changes]
        return "Lead opportunity details updated: " + "; ".join(parts) + "."


@attrs.frozen(kw_only=True)
class LeadStageChanged(LeadEvent):
    kind: ClassVar[str] = "lead_stage_changed"
    label: ClassVar[str] = "Lead Stage Changed"

    from_stage: str
    to_stage: str
    backward: bool = False
    outcome: str | None = None

    def describe(self) -> str:
        outcome = f" (outcome: {self.outcome})" if self.outcome else ""
        back = " (moved back)" if self.backward else ""
        return f"Changed from {self.from_stage} to {self.to_stage}{outcome}{back}."


@attrs.frozen(kw_only=True)
class OutcomeLogged(LeadEvent):
    """A disposition (call/SMS/email outcome) was logged on the lead."""

    kind: ClassVar[str] = "outcome_logged"
    label: ClassVar[str] = "Outcome Logged"

    disposition: str
    channel: str
    direction: str
    contact_attempt: bool = False
    report: str | None = None
    snoozed_until: datetime | None = None
    note: str | None = None

    def describe(self) -> str:
        parts = [f"Outcome: {self.disposition} ({self.direction} {self.channel})."]
        if self.snoozed_until is not None:
            parts.append(f"Out of the queue until {self.snoozed_until.isoformat()}.")
        if self.note:
            parts.append(f"Note: {self.note}")
        return " ".join(parts)


@attrs.frozen(kw_only=True)
class NoteAdded(Event):
    """A note on a contact, optionally tied to one of the contact's leads."""

    kind: ClassVar[str] = "note_added"
    label: ClassVar[str] = "Note Added"

    contact_id: UUID
    text: str
    lead_id: UUID | None = None

    def describe(self) -> str:
        return f"Note: {self.text}"


@attrs.frozen(kw_only=True)
class Claimed(LeadEvent):
    kind: ClassVar[str] = "claimed"
    label: ClassVar[str] = "Claimed"

    user_id: int
    previous_owner: int | None = None

    def describe(self) -> str:
        taken = f" (taken from user {self.previous_owner})" if self.previous_owner else ""
        return f"Claimed by user {self.user_id}{taken}."


@attrs.frozen(kw_only=True)
class Released(LeadEvent):
    """The lead went back to the pool; ``reason`` says why (a user, a stage, aging)."""

    kind: ClassVar[str] = "released"
    label: ClassVar[str] = "Released"

    from_user: int | None
    reason: str
    #: The lead should be routed again (speed-to-lead); the application acts on it.
    reroute: bool = False

    def describe(self) -> str:
        who = f" from user {self.from_user}" if self.from_user is not None else ""
        again = " It will be routed again." if self.reroute else ""
        return f"Released to the pool{who}: {self.reason}.{again}"


@attrs.frozen(kw_only=True)
class FollowUpScheduled(LeadEvent):
    """A follow-up (scheduled event or task) was set for the lead."""

    kind: ClassVar[str] = "follow_up_scheduled"
    label: ClassVar[str] = "Follow-up Scheduled"

    follow_up: FollowUp

    def describe(self) -> str:
        f = self.follow_up
        notes = f" Notes: {f.notes}" if f.notes else ""
        return f"{f.subject} {f.kind} due {f.due.isoformat()}.{notes}"


@attrs.frozen(kw_only=True)
class FollowUpClosed(LeadEvent):
    """A follow-up was done (or cancelled); it no longer holds or heads the queue."""

    kind: ClassVar[str] = "follow_up_closed"
    label: ClassVar[str] = "Follow-up Closed"

    follow_up_id: UUID
    status: FollowUpStatus

    def describe(self) -> str:
        return f"Follow-up {self.follow_up_id} {self.status}."


@attrs.frozen(kw_only=True)
class ReleaseScheduled(LeadEvent):
    """The lead stays with its owner until ``release_at``, then goes to the pool."""

    kind: ClassVar[str] = "release_scheduled"
    label: ClassVar[str] = "Release Scheduled"

    release_at: datetime = attrs.field(validator=_aware)
    reason: str

    def describe(self) -> str:
        return f"Held until {self.release_at.isoformat()}, then released: {self.reason}."


@attrs.frozen(kw_only=True)
class LeadKilled(LeadEvent):
    """The lead reached a kill stage: it leaves every queue and every automation."""

    kind: ClassVar[str] = "lead_killed"
    label: ClassVar[str] = "Lead Killed"

    stage: str

    def describe(self) -> str:
        return f"Killed by stage {self.stage}: out of every queue and automation."


@attrs.frozen(kw_only=True)
class Signal(LeadEvent):
    """A named event for the host (``notify_underwriter``, ``kpi_offer_made``...).

    The playbook names it; the host turns it into a text, a KPI credit or a
    form. It changes nothing on the lead.
    """

    kind: ClassVar[str] = "signal"
    label: ClassVar[str] = "Signal"

    name: str
    stage: str

    def describe(self) -> str:
        return f"Signal {self.name} (stage {self.stage})."


#: Every event class by its ``kind``, for stores that persist events.
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        LeadCreated,
        LeadAssigned,
        LeadReassigned,
        LeadUpdated,
        LeadStageChanged,
        OutcomeLogged,
        NoteAdded,
        Claimed,
        Released,
        FollowUpScheduled,
        FollowUpClosed,
        ReleaseScheduled,
        LeadKilled,
        Signal,
    )
}


# --------------------------------------------------------------------------- applying events


def actor_label(event: Event, users: Mapping[int, User] | None = None) -> str:
    """Who did ``event``, for a person: "System" or the user (named when ``users`` has them).

    The user acting for them (``via``) and the interface follow:
    ``"System (cli)"``, ``"Daniel Ruiz via user 4 (api)"``.
    """

    def name(user_id: int) -> str:
        user = users.get(user_id) if users is not None else None
        return user.name if user is not None else f"user {user_id}"

    who = "System" if event.actor is None else name(event.actor)
    if event.via is not None:
        who += f" via {name(event.via)}"
    if event.interface is not None:
        who += f" ({event.interface})"
    return who


def apply_event(lead: Lead, event: Event) -> Lead:
    """The lead after ``event``: :func:`changes_of` applied to it.

    Core transitions decide which events happen and fold them over the lead
    with this function, so the events returned always describe exactly what
    changed, and a store can rebuild a lead from its activity log.
    """
    return attrs.evolve(lead, **changes_of(lead, event))


def changes_of(lead: Lead, event: Event) -> dict[str, Any]:
    """The fields ``event`` changes on ``lead``, and their new values: the one place where
    lead facts change.

    Every event sets ``updated_at``; an event by a person (``actor`` not
    ``None``) also sets ``last_touched_at``. A :class:`Signal` changes
    nothing else. An event of another lead is a ValidationError.
    """
    if isinstance(event, NoteAdded) and event.lead_id != lead.lead_id:
        raise ValidationError(
            [FieldError("lead_id", str(event.lead_id), f"note is not for lead {lead.lead_id}")]
        )
    if isinstance(event, LeadEvent) and event.lead_id != lead.lead_id:
        raise ValidationError(
            [FieldError("lead_id", str(event.lead_id), f"event is not for lead {lead.lead_id}")]
        )
    changes: dict[str, Any] = {"updated_at": max(lead.updated_at, event.at)}
    if event.actor is not None:
        changes["last_touched_at"] = event.at
    if isinstance(event, LeadStageChanged):
        changes["stage"] = event.to_stage
        changes["stage_entered_at"] = event.at
        changes["release_at"] = None  # a pending hold ends when the lead moves on
        changes["outcome"] = event.outcome
        changes["stage_history"] = (
            *lead.stage_history,
            StageChange(
                from_stage=event.from_stage,
                to_stage=event.to_stage,
                at=event.at,
                actor=event.actor,
                backward=event.backward,
                outcome=event.outcome,
            ),
        )
    elif isinstance(event, OutcomeLogged):
        changes["last_outcome"] = event.disposition
        changes["snoozed_until"] = event.snoozed_until
        if event.contact_attempt:
            changes["contact_attempts"] = lead.contact_attempts + 1
            changes["last_attempt_at"] = event.at
            if lead.first_attempt_at is None:
                changes["first_attempt_at"] = event.at
        if event.report is not None:
            changes["reports"] = (*lead.reports, event.report)
    elif isinstance(event, FollowUpScheduled):
        changes["follow_ups"] = (*lead.follow_ups, event.follow_up)
    elif isinstance(event, FollowUpClosed):
        changes["follow_ups"] = tuple(
            attrs.evolve(f, status=event.status) if f.follow_up_id == event.follow_up_id else f
            for f in lead.follow_ups
        )
    elif isinstance(event, ReleaseScheduled):
        changes["release_at"] = event.release_at
    elif isinstance(event, Released):
        changes["assignee_id"] = None
        changes["release_at"] = None
        changes["assigned_at"] = None
        changes["assignment_method"] = None
    elif isinstance(event, LeadKilled):
        changes["killed_at"] = event.at
        changes["snoozed_until"] = None
        changes["release_at"] = None
    elif isinstance(event, LeadAssigned):
        changes["assignee_id"] = event.assignee_id
        changes["assigned_at"] = event.at
        changes["assignment_method"] = str(event.method)
    elif isinstance(event, LeadReassigned):
        changes["assignee_id"] = event.to_assignee
        changes["release_at"] = None
        changes["assigned_at"] = event.at
        changes["assignment_method"] = str(event.method)
    elif isinstance(event, Claimed):
        changes["assignee_id"] = event.user_id
        changes["release_at"] = None
        changes["assigned_at"] = event.at
        changes["assignment_method"] = str(AssignmentMethod.POOL)
    return changes


def apply_events(lead: Lead, events: Iterable[Event]) -> Lead:
    """Fold :func:`apply_event` over ``events`` in order."""
    for event in events:
        lead = apply_event(lead, event)
    return lead
