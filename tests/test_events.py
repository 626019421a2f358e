"""The activity vocabulary of DESIGN D9."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from leadflow.errors import ValidationError
from leadflow.events import (
    EVENT_TYPES,
    AssignmentMethod,
    Claimed,
    FieldChange,
    FollowUpScheduled,
    LeadAssigned,
    LeadCreated,
    LeadEvent,
    LeadReassigned,
    LeadStageChanged,
    LeadUpdated,
    NoteAdded,
    OutcomeLogged,
    Released,
)
from leadflow.model import FollowUp, FollowUpKind, FollowUpSubject, Origin

AT = datetime(2026, 2, 5, 16, 12, tzinfo=UTC)
LEAD = UUID(int=1)


def test_every_d9_activity_has_a_kind() -> None:
    assert set(EVENT_TYPES) == {
        "lead_created",
        "lead_assigned",
        "lead_reassigned",
        "lead_updated",
        "lead_stage_changed",
        "outcome_logged",
        "note_added",
        "claimed",
        "released",
        "follow_up_scheduled",
        "follow_up_closed",
        "release_scheduled",
        "lead_killed",
        "signal",
    }
    assert all(cls.kind == kind for kind, cls in EVENT_TYPES.items())


def test_events_describe_what_happened() -> None:
    cases = [
        (
            LeadStageChanged(
                at=AT,
                actor=7,
                via=9,
                lead_id=LEAD,
                from_stage="contact_attempted",
                to_stage="application_submitted",
            ),
            "Changed from contact_attempted to application_submitted.",
        ),
        (
            LeadCreated(
                at=AT,
                actor=None,
                lead_id=LEAD,
                contact_id=UUID(int=2),
                source="referral",
                origin=Origin.IMPORT,
                stage="new",
            ),
            "Lead created from source referral (import).",
        ),
        (
            LeadAssigned(
                at=AT,
                actor=None,
                lead_id=LEAD,
                assignee_id=7,
                method=AssignmentMethod.FALLBACK,
                policy="direct_daniel",
            ),
            "Assigned to user 7 (fallback by policy direct_daniel).",
        ),
        (
            LeadReassigned(at=AT, actor=1, lead_id=LEAD, from_assignee=7, to_assignee=8),
            "Reassigned from user 7 to user 8.",
        ),
        (
            LeadUpdated(
                at=AT,
                actor=7,
                lead_id=LEAD,
                changes=(FieldChange("loan_amount", None, "250000.00"),),
            ),
            "Lead opportunity details updated: loan_amount: (blank) -> 250000.00.",
        ),
        (
            OutcomeLogged(
                at=AT,
                actor=7,
                lead_id=LEAD,
                disposition="left_vm",
                channel="call",
                direction="outbound",
                snoozed_until=AT,
                note="Tried again",
            ),
            "Outcome: left_vm (outbound call). Out of the queue until 2026-02-05T16:12:00+00:00."
            " Note: Tried again",
        ),
        (NoteAdded(at=AT, actor=7, contact_id=UUID(int=2), text="Call back"), "Note: Call back"),
        (Claimed(at=AT, actor=7, lead_id=LEAD, user_id=7), "Claimed by user 7."),
        (
            Released(at=AT, actor=None, lead_id=LEAD, from_user=7, reason="offer rejected 7 days"),
            "Released to the pool from user 7: offer rejected 7 days.",
        ),
        (
            FollowUpScheduled(
                at=AT,
                actor=7,
                lead_id=LEAD,
                follow_up=FollowUp(
                    follow_up_id=UUID(int=5),
                    kind=FollowUpKind.EVENT,
                    subject=FollowUpSubject.CALL,
                    due=AT,
                    duration=timedelta(minutes=15),
                    notes="Rate lock",
                ),
            ),
            "Call event due 2026-02-05T16:12:00+00:00. Notes: Rate lock",
        ),
    ]
    for event, text in cases:
        assert event.describe() == text
        assert event.label[0].isupper()


def test_a_note_may_stand_without_a_lead() -> None:
    note = NoteAdded(at=AT, actor=7, contact_id=UUID(int=2), text="hello")
    assert note.lead_id is None
    assert not isinstance(note, LeadEvent)


def test_event_times_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="at = 2026-01-01T00:00:00: must be a timezone-aware"):
        Claimed(at=datetime(2026, 1, 1), actor=1, lead_id=LEAD, user_id=1)
