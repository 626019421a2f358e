"""Automations (the seed's journeys): react to lead events with a condition on the lead.

A :class:`Subscription` names a trigger (Lead Created, Lead Updated, Lead
Stage Changed -- optionally to one stage), a condition on any lead attribute
(:class:`~leadflow.predicates.Criteria`) and an action. The built-in action
:class:`CreateLead` creates a new lead for the same contact from a lead
source, assigned by that source's routing, or -- as an override -- to the
contact's owner, the contact's assignee or the journey's user.

This module decides which subscriptions an event fires; the application
service (:class:`~leadflow.desk.LeadDesk`) runs them after the command has
committed, records failures and retries them, and never lets a subscriber
undo the command. Killed leads fire nothing. A chain of automations is cut
at :data:`MAX_DEPTH` levels, so a subscription cannot trigger itself into a
loop.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from leadflow.errors import ConfigError, clip
from leadflow.events import Event, LeadCreated, LeadStageChanged, LeadUpdated
from leadflow.model import KEY_PATTERN, KEY_RULE, Lead
from leadflow.predicates import Criteria

__all__ = ["MAX_DEPTH", "AssignTo", "CreateLead", "Subscription", "Trigger", "fired"]

#: How many automations deep a chain may go (a lead created by an automation
#: that was created by an automation...). Events of deeper leads fire nothing.
MAX_DEPTH = 3


class Trigger(enum.StrEnum):
    LEAD_CREATED = "lead_created"
    LEAD_UPDATED = "lead_updated"
    LEAD_STAGE_CHANGED = "lead_stage_changed"


class AssignTo(enum.StrEnum):
    """Who gets a lead an automation creates, instead of the source's routing."""

    CONTACT_OWNER = "contact_owner"
    CONTACT_ASSIGNEE = "contact_assignee"
    JOURNEY_USER = "journey_user"


@attrs.frozen(kw_only=True)
class CreateLead:
    """Create a lead for the triggering lead's contact, from ``source``.

    ``assign_to`` overrides routing (``None``: route by the source's
    policies); with ``JOURNEY_USER``, ``journey_user`` is that user.
    """

    source: str
    assign_to: AssignTo | None = None
    journey_user: int | None = None


@attrs.frozen(kw_only=True)
class Subscription:
    """When ``trigger`` happens to a lead matching ``criteria``, run ``action``.

    ``to_stage`` limits a stage-changed trigger to changes into that stage.
    """

    key: str
    trigger: Trigger
    action: CreateLead
    criteria: Criteria = attrs.field(factory=Criteria)
    to_stage: str | None = None
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        problems = []
        if not KEY_PATTERN.fullmatch(self.key):
            problems.append(f"subscription key {clip(self.key)!r} is not a system key: {KEY_RULE}")
        if self.to_stage is not None and self.trigger is not Trigger.LEAD_STAGE_CHANGED:
            problems.append(
                f"subscription {clip(self.key)!r}: to_stage needs the stage-changed trigger"
            )
        action = self.action
        if (action.assign_to is AssignTo.JOURNEY_USER) != (action.journey_user is not None):
            problems.append(
                f"subscription {clip(self.key)!r}: journey_user goes with assign_to = journey_user"
            )
        if problems:
            raise ConfigError(problems)

    def fires_on(self, event: Event, lead: Lead) -> bool:
        """Whether ``event`` (about ``lead``, as it is after the event) fires this subscription."""
        if not self.enabled or lead.killed_at is not None:
            return False
        if self.trigger is Trigger.LEAD_CREATED and not isinstance(event, LeadCreated):
            return False
        if self.trigger is Trigger.LEAD_UPDATED and not isinstance(event, LeadUpdated):
            return False
        if self.trigger is Trigger.LEAD_STAGE_CHANGED:
            if not isinstance(event, LeadStageChanged):
                return False
            if self.to_stage is not None and event.to_stage != self.to_stage:
                return False
        return self.criteria.matches(lead)


def fired(
    subscriptions: Iterable[Subscription], event: Event, lead: Lead, *, depth: int
) -> list[Subscription]:
    """The subscriptions ``event`` fires, in order; none at :data:`MAX_DEPTH` or deeper."""
    if depth >= MAX_DEPTH:
        return []
    return [s for s in subscriptions if s.fires_on(event, lead)]
