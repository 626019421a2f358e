"""Domain events: the activity-log vocabulary (DESIGN D9).

Every change to a lead is described by one or more events. Core functions
return them beside the new value; the application service stores them in the
activity log in the same unit of work, and subscribers react to them after
commit. Events are plain frozen values: they do no I/O and know no format.

Every event carries who did it (``actor``: a user id, or ``None`` for the
system -- routing, aging, an automation), on whose behalf (``via``: the user
acting for someone else, as in the seed's "By Daniel via Jason") and when
(``at``, timezone-aware). Lead events carry the ``lead_id``; a note may be
tied to a lead or only to the contact.

Each class has a stable ``kind`` (``"lead_stage_changed"``), used as the type
tag when an event is stored, and a ``label`` for people ("Lead Stage
Changed"); :meth:`Event.describe` gives the one-line text of the activity tab.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.model import Origin

__all__ = [
    "EVENT_TYPES",
    "AssignmentMethod",
    "Claimed",
    "Event",
    "FieldChange",
    "FollowUpScheduled",
    "LeadAssigned",
    "LeadCreated",
    "LeadEvent",
    "LeadReassigned",
    "LeadStageChanged",
    "LeadUpdated",
    "NoteAdded",
    "OutcomeLogged",
    "Released",
]


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            [FieldError(attribute.name, value, "must be a timezone-aware datetime")]
        )


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
    """Base of every activity. ``actor`` ``None`` means the system did it."""

    kind: ClassVar[str] = "event"
    label: ClassVar[str] = "Event"

    at: datetime = attrs.field(validator=_aware)
    actor: int | None
    via: int | None = None

    def describe(self) -> str:
        """One line for a person: what happened, without who and when."""
        return self.label + "."


@attrs.frozen(kw_only=True)
class LeadEvent(Event):
    """An event about one lead."""

    lead_id: UUID


@attrs.frozen(kw_only=True)
class LeadCreated(LeadEvent):
    kind: ClassVar[str] = "lead_created"
    label: ClassVar[str] = "Lead Created"

    contact_id: UUID
    source: str
    origin: Origin
    stage: str

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

    def describe(self) -> str:
        return f"Changed from {self.from_stage} to {self.to_stage}."


@attrs.frozen(kw_only=True)
class OutcomeLogged(LeadEvent):
    """A disposition (call/SMS/email outcome) was logged on the lead."""

    kind: ClassVar[str] = "outcome_logged"
    label: ClassVar[str] = "Outcome Logged"

    disposition: str
    note: str | None = None

    def describe(self) -> str:
        note = f" Note: {self.note}" if self.note else ""
        return f"Outcome: {self.disposition}.{note}"


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

    def describe(self) -> str:
        return f"Claimed by user {self.user_id}."


@attrs.frozen(kw_only=True)
class Released(LeadEvent):
    """The lead went back to the pool; ``reason`` says why (a user, a stage, aging)."""

    kind: ClassVar[str] = "released"
    label: ClassVar[str] = "Released"

    from_user: int | None
    reason: str

    def describe(self) -> str:
        who = f" from user {self.from_user}" if self.from_user is not None else ""
        return f"Released to the pool{who}: {self.reason}."


@attrs.frozen(kw_only=True)
class FollowUpScheduled(LeadEvent):
    """A follow-up (scheduled event or task) was set for the lead."""

    kind: ClassVar[str] = "follow_up_scheduled"
    label: ClassVar[str] = "Follow-up Scheduled"

    due: datetime = attrs.field(validator=_aware)
    subject: str
    notes: str | None = None

    def describe(self) -> str:
        return f"{self.subject} follow-up due {self.due.isoformat()}."


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
    )
}
