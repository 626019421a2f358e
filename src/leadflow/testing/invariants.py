"""Invariant checkers: assertions any host can run on its own rules and data.

Each checker raises :class:`AssertionError` with a readable reason when the
invariant does not hold, so it can be used in a hypothesis property as is::

    from leadflow.testing.invariants import check_transition

    result = log_outcome(playbook, lead, "no_answer", user, now)
    check_transition(lead, result.lead, result.events)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from leadflow import events as ev
from leadflow.events import Event, apply_events
from leadflow.model import Lead
from leadflow.stages.playbook import Playbook

__all__ = ["EXPLAINS", "changed_fields", "check_forward_only", "check_transition"]

_ALWAYS = frozenset({"updated_at", "last_touched_at"})

#: Which lead fields each kind of event may change (besides ``updated_at`` and
#: ``last_touched_at``, which any event may change).
EXPLAINS: Mapping[type[Event], frozenset[str]] = {
    ev.LeadStageChanged: frozenset(
        {"stage", "stage_entered_at", "outcome", "stage_history", "release_at"}
    ),
    ev.OutcomeLogged: frozenset(
        {
            "last_outcome",
            "snoozed_until",
            "contact_attempts",
            "first_attempt_at",
            "last_attempt_at",
            "reports",
        }
    ),
    ev.FollowUpScheduled: frozenset({"follow_ups"}),
    ev.FollowUpClosed: frozenset({"follow_ups"}),
    ev.ReleaseScheduled: frozenset({"release_at"}),
    ev.Released: frozenset({"assignee_id", "release_at", "assigned_at", "assignment_method"}),
    ev.LeadKilled: frozenset({"killed_at", "snoozed_until", "release_at"}),
    ev.LeadAssigned: frozenset({"assignee_id", "assigned_at", "assignment_method"}),
    ev.LeadReassigned: frozenset({"assignee_id", "release_at", "assigned_at", "assignment_method"}),
    ev.Claimed: frozenset({"assignee_id", "release_at", "assigned_at", "assignment_method"}),
    ev.NoteAdded: frozenset(),
    ev.Signal: frozenset(),
}


def changed_fields(old: Lead, new: Lead) -> set[str]:
    """The names of the lead fields that differ between ``old`` and ``new``."""
    return {f.name for f in attrs.fields(Lead) if getattr(old, f.name) != getattr(new, f.name)}


def check_transition(old: Lead, new: Lead, events: Sequence[Event]) -> None:
    """The events describe exactly what changed from ``old`` to ``new``.

    * folding the events over ``old`` gives ``new``;
    * every changed field is one some event of the list may change;
    * no events means no change;
    * identity, contact, creation time and attributes never change here.
    """
    replayed = apply_events(old, events)
    assert replayed == new, f"replaying the events gives {replayed!r}, not {new!r}"
    changed = changed_fields(old, new)
    if not events:
        assert not changed, f"no events, yet {sorted(changed)} changed"
        return
    allowed = set(_ALWAYS)
    for event in events:
        allowed |= EXPLAINS.get(type(event), frozenset())
    unexplained = changed - allowed
    assert not unexplained, f"{sorted(unexplained)} changed, but no event says so: {events}"
    fixed = {"lead_id", "contact_id", "created_at", "attributes", "origin", "version"} & changed
    assert not fixed, f"{sorted(fixed)} must never change in a transition"


def check_forward_only(playbook: Playbook, stages: Iterable[str]) -> None:
    """Along a sequence of stages reached by dispositions, the stage order never decreases."""
    last_key, last_order = "", None
    for key in stages:
        order = playbook.stage(key).order
        assert last_order is None or order >= last_order, (
            f"stage went back from {last_key} (order {last_order}) to {key} (order {order})"
        )
        last_key, last_order = key, order
