"""Aging: the sweep that applies every time rule whose moment has come."""

from __future__ import annotations

from datetime import datetime

import attrs

from leadflow.desk._base import Handler
from leadflow.events import Event
from leadflow.queue import aging

__all__ = ["AdvanceReport", "SweepHandler"]


@attrs.frozen(kw_only=True)
class AdvanceReport:
    """What :meth:`LeadDesk.advance` did: how many leads changed, and the events."""

    leads: int
    events: tuple[Event, ...]
    rerouted: int = 0


class SweepHandler(Handler):
    """``advance``: the aging sweep, a unit of work per batch of due leads."""

    def advance(self, now: datetime | None = None, *, batch: int = 500) -> AdvanceReport:
        """Apply aging to the leads whose ``next_change_at`` has come, and only those.

        Speed-to-lead releases are routed again at once. Each batch is a
        command like any other: its events are published (and the journeys
        they fire run) once it commits.
        """
        ctx = self.ctx
        now = now or ctx.now()
        changed = 0
        rerouted = 0
        events: list[Event] = []
        while True:
            with ctx.command() as command:
                uow = command.uow
                due = uow.due_leads(now, limit=batch)
                for lead in due:
                    moved = aging.advance(lead, now, ctx.playbook)
                    if not moved.events:  # nothing changed: only its next change moves on
                        uow.update_lead(
                            moved.lead,
                            next_change_at=aging.next_change_at(moved.lead, ctx.playbook),
                        )
                        continue
                    self.save(command, lead, moved.lead, moved.events)
                    events.extend(moved.events)
                    changed += 1
                    rerouted += self.reroute_released(command, moved.events, now)
            if len(due) < batch:
                return AdvanceReport(leads=changed, events=tuple(events), rerouted=rerouted)
