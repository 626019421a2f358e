"""What the desk's command handlers share: saving a lead's change, aging it first, mail."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from uuid import UUID

from leadflow.automation import fired
from leadflow.command import Command, CommandContext
from leadflow.events import Event, LeadAssigned, LeadReassigned, Released, apply_events
from leadflow.intake.records import assignment
from leadflow.jobs import job_message
from leadflow.model import Contact, Lead, User
from leadflow.notify.messages import assignment_message
from leadflow.queue import aging, ownership
from leadflow.routing.engine import Router, RoutingResult
from leadflow.stages.transitions import Transition

__all__ = ["Handler"]


class Handler:
    """A group of commands over one :class:`~leadflow.command.CommandContext`."""

    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx

    def save(self, command: Command, before: Lead, after: Lead, events: Sequence[Event]) -> Lead:
        """Store the lead's change and its events; the automations they fire are queued and
        the events published once the command commits."""
        if after is before or not events:
            return before
        ctx, uow = self.ctx, command.uow
        stored = uow.update_lead(after, next_change_at=aging.next_change_at(after, ctx.playbook))
        stamped = ctx.stamp(events)
        uow.append_events(stamped)
        command.publish(stamped, jobs=self._queue_automations(command, stored, events))
        return stored

    def _queue_automations(
        self, command: Command, lead: Lead, events: Iterable[Event], *, depth: int = 0
    ) -> int:
        """Write a job for each subscription ``events`` fire on ``lead``; how many."""
        subscriptions = self.ctx.subscriptions
        jobs = 0
        for event in events if subscriptions else ():
            for subscription in fired(subscriptions, event, lead, depth=depth):
                command.uow.add_message(
                    job_message(
                        self.ctx.new_id(event.at), subscription, event, lead.lead_id, depth=depth
                    )
                )
                jobs += 1
        return jobs

    def load_current(self, command: Command, lead_id: UUID, now: datetime) -> Lead:
        """The lead, advanced to ``now`` (its aging events stored)."""
        lead = command.uow.get_lead(lead_id)
        moved = aging.advance(lead, now, self.ctx.playbook)
        if moved.events:
            lead = self.save(command, lead, moved.lead, moved.events)
            self.reroute_released(command, moved.events, now)
        return lead

    def apply(
        self,
        lead_id: UUID,
        move: Callable[[Lead, datetime], Transition],
        *,
        worker: tuple[User, str] | None = None,
    ) -> Lead:
        """Run ``move`` on the lead as it is now and save what it did, in one unit of work.

        ``worker`` is the user working the lead and what they do: refused
        unless they may work it (:func:`leadflow.queue.ownership.may_work`).
        """
        now = self.ctx.now()
        with self.ctx.command() as command:
            lead = self.load_current(command, lead_id, now)
            if worker is not None:
                ownership.require_worker(self.ctx.playbook, lead, *worker)
            result = move(lead, now)
            stored = self.save(command, lead, result.lead, result.events)
            self.notify_assignments(command, stored, result.events, now)
            return stored

    def assign_routed(
        self,
        command: Command,
        lead: Lead,
        result: RoutingResult,
        now: datetime,
        *,
        chosen_by: int | None = None,
        contact: Contact | None = None,
    ) -> Lead:
        """Assign ``lead`` as routing ``result`` decided (``chosen_by``: the user who accepted
        its offer), with its cursor and its mail."""
        assert result.assignee_id is not None
        event = assignment(
            lead.lead_id,
            result,
            now,
            interface=self.ctx.interface,
            chosen_by=chosen_by,
            with_decision=True,
        )
        stored = self.save(command, lead, apply_events(lead, [event]), [event])
        if result.policy is not None:
            command.uow.save_cursor(result.policy, result.state.cursor(result.policy))
        self.notify_assignments(command, stored, [event], now, contact=contact)
        return stored

    def reroute_released(self, command: Command, events: Sequence[Event], now: datetime) -> int:
        """Route again the leads that a speed-to-lead rule released; returns how many."""
        ctx, uow = self.ctx, command.uow
        rerouted = 0
        for event in events:
            if isinstance(event, Released) and event.reroute:
                lead = uow.get_lead(event.lead_id)
                contact = uow.get_contact(lead.contact_id)
                source = lead.attributes.source
                state = ctx.routing_state(uow, source, now)
                result = Router(ctx.directory, state).route(
                    lead.attributes, source, now, contact_matched=True
                )
                if result.assignee_id is not None:
                    self.assign_routed(command, lead, result, now, contact=contact)
                    rerouted += 1
        return rerouted

    def notify_assignments(
        self,
        command: Command,
        lead: Lead,
        events: Iterable[Event],
        now: datetime,
        *,
        contact: Contact | None = None,
    ) -> None:
        """Queue the assignment mail of each assignment in ``events`` (not of a claim)."""
        ctx = self.ctx
        if not ctx.config.settings.notify_on_assignment:
            return
        for event in events:
            if isinstance(event, LeadAssigned):
                assignee = event.assignee_id
            elif isinstance(event, LeadReassigned):
                assignee = event.to_assignee
            else:  # a claim (the claimer chose it: no mail), or no assignment
                continue
            contact = contact or command.uow.get_contact(lead.contact_id)
            command.uow.add_message(
                assignment_message(
                    message_id=ctx.new_id(now),
                    lead=lead,
                    contact=contact,
                    assignee=ctx.user(assignee),
                    link_template=ctx.config.settings.lead_link,
                    now=now,
                )
            )
