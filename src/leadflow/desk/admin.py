"""Routing administration: the exception list, assigning by hand, offers, the configuration."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from leadflow.command import system_clock, timezone_named
from leadflow.desk._base import Handler
from leadflow.errors import ConfigError, NotFound, PermissionDenied, clip
from leadflow.events import AssignmentMethod
from leadflow.model import SYSTEM, Actor, Lead
from leadflow.org import OrgConfig, config_changes
from leadflow.queue import ownership
from leadflow.routing.engine import Offer, Router
from leadflow.routing.exceptions import (
    ExceptionFilter,
    ExceptionRecord,
    assign_exception,
    exception_record,
    ignore_exception,
    list_exceptions,
    unignore_exception,
)
from leadflow.stages.playbook import Playbook
from leadflow.storage.protocol import Store, UnitOfWork

__all__ = ["AdminHandler", "configure"]


class AdminHandler(Handler):
    """The exception list, assigning leads by hand and settling offers."""

    def exceptions(
        self, *, show_ignored: bool = False, where: ExceptionFilter | None = None
    ) -> list[ExceptionRecord]:
        with self.ctx.store.unit_of_work() as uow:
            records = uow.exceptions()
        return list_exceptions(records, show_ignored=show_ignored, where=where)

    def assign_exception(
        self, lead_id: UUID, assignee: int, *, actor: int | Actor = SYSTEM
    ) -> Lead:
        """Assign an unassigned lead from the exception list; its record is closed."""
        user = self.ctx.actor(actor)
        self.ctx.require_admin(user, "assign leads from the exception list")
        target = self.ctx.user(assignee)
        now = self.ctx.now()
        with self.ctx.command() as command:
            uow = command.uow
            record = uow.get_exception(lead_id)
            closed = assign_exception(record, target, now)
            lead = self.load_current(command, lead_id, now)
            result = ownership.assign(
                self.ctx.playbook, lead, target, user, now, method=AssignmentMethod.EXCEPTION
            )
            stored = self.save(command, lead, result.lead, result.events)
            contact = uow.get_contact(lead.contact_id)
            if contact.owner_id is None:
                uow.update_contact(attrs.evolve(contact, owner_id=assignee))
            uow.put_exception(closed)
            self.notify_assignments(command, stored, result.events, now)
            return stored

    def ignore_exception(
        self, lead_id: UUID, *, actor: int | Actor = SYSTEM, ignored: bool = True
    ) -> ExceptionRecord:
        """Hide (or, with ``ignored=False``, show again) an exception record."""
        self.ctx.require_admin(self.ctx.actor(actor), "ignore exception records")
        with self.ctx.command() as command:
            uow = command.uow
            record = uow.get_exception(lead_id)
            changed = ignore_exception(record) if ignored else unignore_exception(record)
            uow.put_exception(changed)
            return changed

    def resolve_offer(self, lead_id: UUID, offer: Offer, accepted_by: int | None) -> Lead:
        """Settle a ring-all / first-claim offer made when the lead was created."""
        now = self.ctx.now()
        with self.ctx.command() as command:
            uow = command.uow
            lead = self.load_current(command, lead_id, now)
            state = self.ctx.routing_state(uow, offer.source, now)
            result = Router(self.ctx.directory, state).resolve_offer(offer, accepted_by, now)
            if result.assignee_id is None:
                if result.reason is not None:
                    contact = uow.get_contact(lead.contact_id)
                    uow.put_exception(
                        exception_record(
                            lead,
                            contact.details,
                            self.ctx.directory.source(offer.source),
                            result.reason,
                            result.distribution,
                        )
                    )
                return lead
            return self.assign_routed(command, lead, result, now, chosen_by=accepted_by)


def configure(
    store: Store,
    config: OrgConfig,
    *,
    actor: int | Actor | None = SYSTEM,
    at: datetime | None = None,
    playbook: Playbook | None = None,
) -> list[str]:
    """Save ``config`` in ``store``; returns what changed, one line a change.

    The first configuration is saved as given. A later one is applied
    to the stored leads, contacts and exceptions as they are, and each
    policy's rotation state is kept for the members that remain; the
    configuration history keeps every version with who saved it and
    when. ``actor`` is the system actor (the default; ``None`` too) or
    an active admin of the stored configuration.

    A configuration that would orphan stored data is refused with a
    :class:`ConfigError` naming what depends on what, and nothing
    changes: a source removed while leads point at it, a user removed
    (rather than deactivated) while they hold leads or own contacts, a
    playbook without a stage that stored leads are in. ``playbook`` is
    the new configuration's playbook when the caller has loaded it.
    """
    config.directory(timezone_named(config.settings.timezone))  # validate before saving
    actor_id = actor if isinstance(actor, int) or actor is None else actor.user_id
    with store.unit_of_work() as uow:
        current = uow.load_config()
        if current is None:
            changes = ["configuration created"]
        else:
            active = {u.user_id: u for u in current.users if u.active}
            if actor_id is not None and actor_id not in active:
                raise NotFound(f"user {actor_id} is not an active user of this organisation")
            if actor_id is not None and not active[actor_id].is_admin:
                raise PermissionDenied(
                    f"only an admin may change the configuration; user {actor_id} is not one"
                )
            changes = config_changes(current, config)
            if not changes:
                return []
            problems = _orphans(uow, current, config, playbook)
            if problems:
                raise ConfigError(problems)
        uow.save_config(config, actor=actor_id, at=at or system_clock())
    return changes


def _orphans(
    uow: UnitOfWork, current: OrgConfig, config: OrgConfig, playbook: Playbook | None
) -> list[str]:
    """What stored data the change from ``current`` to ``config`` would leave pointing nowhere."""
    problems: list[str] = []
    sources = {s.key for s in config.sources}
    removed_sources = {s.key for s in current.sources} - sources
    if removed_sources:
        by_source = uow.lead_counts("source")
        for key in sorted(removed_sources):
            if by_source.get(key):
                problems.append(
                    f"source {clip(key)!r} is removed but {by_source[key]} stored lead(s) came"
                    " from it: keep the source (a source key is permanent)"
                )
    users = {u.user_id for u in config.users}
    removed_users = sorted(u.user_id for u in current.users if u.user_id not in users)
    if removed_users:
        by_assignee = uow.lead_counts("assignee_id")
        by_owner = uow.contact_counts_by_owner()
        for user_id in removed_users:
            held, owned = by_assignee.get(user_id, 0), by_owner.get(user_id, 0)
            if held or owned:
                problems.append(
                    f"user {user_id} is removed but holds {held} lead(s) and owns {owned}"
                    " contact(s): deactivate the user instead (active = false)"
                )
    if playbook is None and config.settings.playbook != current.settings.playbook:
        from leadflow.io.playbooks import load_playbook

        playbook = load_playbook(config.settings.playbook)
    if playbook is not None:
        stages = {stage.key for stage in playbook.stages}
        by_stage = uow.lead_counts("stage")
        for stage, count in sorted(by_stage.items(), key=lambda item: str(item[0])):
            if count and stage not in stages:
                problems.append(
                    f"playbook {config.settings.playbook!r} has no stage {stage!r}, which"
                    f" {count} stored lead(s) are in"
                )
    return problems
