"""Running the automation jobs (the seed's journeys) that commands queued."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from leadflow.automation import MAX_DEPTH, AssignTo, Subscription
from leadflow.command import Command, CommandContext, Committed
from leadflow.desk.intake import IntakeHandler
from leadflow.errors import ConfigError, LeadflowError, NotFound, clip
from leadflow.intake import CreateResult, Intake
from leadflow.jobs import AutomationReport, Job, is_due, read_job
from leadflow.model import SYSTEM, LeadAttributes, Origin
from leadflow.notify.delivery import failed_attempt, sent_attempt
from leadflow.storage.protocol import AUTOMATION_KIND, OutboxMessage, OutboxStatus, UnitOfWork
from leadflow.validate import LeadDraft

__all__ = ["Automations"]


class Automations:
    """Runs due automation jobs; with ``run_after_commit``, after every command that queued one.

    It subscribes to the context's event bus: a command that queued jobs
    has them run once it committed (not from inside a run: a run picks up
    the jobs its own actions queue, up to
    :data:`~leadflow.automation.MAX_DEPTH` levels).
    """

    def __init__(
        self, ctx: CommandContext, intake: IntakeHandler, *, run_after_commit: bool = True
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.run_after_commit = run_after_commit
        self.by_key = _checked(ctx, ctx.subscriptions)
        self._running = threading.local()
        # subscribed by a weak reference: the context does not keep this handler alive
        after_commit = weakref.WeakMethod(self._after_commit)

        def subscriber(committed: Committed) -> None:
            method = after_commit()
            if method is not None:
                method(committed)

        ctx.bus.subscribe(subscriber)

    def _after_commit(self, committed: Committed) -> None:
        if committed.jobs and self.run_after_commit and not getattr(self._running, "on", False):
            self.run()

    def run(
        self,
        now: datetime | None = None,
        *,
        limit: int = 100,
        max_attempts: int = 8,
        backoff: timedelta = timedelta(minutes=1),
    ) -> AutomationReport:
        """See :meth:`leadflow.desk.LeadDesk.run_automations`."""
        self._running.on = True
        try:
            return self._run(now, limit, max_attempts, backoff)
        finally:
            self._running.on = False

    def _run(
        self, now: datetime | None, limit: int, max_attempts: int, backoff: timedelta
    ) -> AutomationReport:
        ctx = self.ctx
        now = now or ctx.now()
        ran = skipped = failed_now = gave_up = 0
        created: list[UUID] = []
        for _ in range(MAX_DEPTH + 1):
            with ctx.store.unit_of_work() as uow:
                due = [
                    m.message_id
                    for m in uow.messages(status=OutboxStatus.PENDING)
                    if m.kind == AUTOMATION_KIND and is_due(m, now)
                ]
            if not due:
                break
            for message_id in due[:limit]:
                try:
                    with ctx.command() as command:
                        message = _pending_job(command.uow, message_id, now)
                        if message is None:
                            continue  # another runner did it
                        made = self._run_job(command, read_job(message), now)
                        note = "" if made is not None else "skipped: lead killed"
                        command.uow.update_message(sent_attempt(message, note))
                except Exception as error:
                    status = self._job_failed(message_id, error, now, max_attempts, backoff)
                    failed_now += status is OutboxStatus.PENDING
                    gave_up += status is OutboxStatus.FAILED
                    continue
                if made is None:
                    skipped += 1
                else:
                    ran += 1
                    if made.lead is not None:
                        created.append(made.lead.lead_id)
            limit -= len(due)
            if limit <= 0:
                break
        return AutomationReport(
            ran=ran,
            skipped=skipped,
            failed_now=failed_now,
            gave_up=gave_up,
            created=tuple(created),
        )

    def _run_job(self, command: Command, job: Job, now: datetime) -> CreateResult | None:
        """Run one job's action; ``None`` if there is nothing to do (the lead was killed)."""
        ctx, uow = self.ctx, command.uow
        subscription = self.by_key.get(job.subscription)
        if subscription is None:
            raise NotFound(f"subscription {job.subscription!r} is not registered with this desk")
        lead = uow.get_lead(job.lead_id)
        if lead.killed_at is not None:
            return None
        contact = uow.get_contact(lead.contact_id)
        action = subscription.action
        assignee: int | None = None
        if action.assign_to is AssignTo.CONTACT_OWNER:
            assignee = contact.owner_id
        elif action.assign_to is AssignTo.CONTACT_ASSIGNEE:
            assignee = contact.assignee_id
        elif action.assign_to is AssignTo.JOURNEY_USER:
            assignee = action.journey_user
        if assignee is not None and not ctx.user(assignee).active:
            assignee = None  # the role names nobody who can take it: the source routes it
        draft = LeadDraft(contact=contact.details, attributes=LeadAttributes(source=action.source))
        intake = Intake(
            source=action.source,
            actor=SYSTEM,
            origin=Origin.JOURNEY,
            assign_to=assignee,
            contact_id=contact.contact_id,
            depth=job.depth,
        )
        return self.intake.create_in(command, draft, intake)

    def _job_failed(
        self,
        message_id: UUID,
        error: Exception,
        now: datetime,
        max_attempts: int,
        backoff: timedelta,
    ) -> OutboxStatus | None:
        """Record a failed attempt on the job; its new status (``None``: done elsewhere)."""
        with self.ctx.store.unit_of_work() as uow:
            message = _pending_job(uow, message_id, now)
            if message is None:
                return None
            text = str(error) if isinstance(error, LeadflowError) else repr(error)
            changed = failed_attempt(message, text, now, max_attempts, backoff)
            uow.update_message(changed)
            return changed.status


def _checked(ctx: CommandContext, subscriptions: Sequence[Subscription]) -> dict[str, Subscription]:
    """The subscriptions by key; a ConfigError listing every one that cannot run."""
    by_key: dict[str, Subscription] = {}
    problems = []
    for subscription in subscriptions:
        if subscription.key in by_key:
            problems.append(f"subscription {clip(subscription.key)!r} is registered twice")
        by_key[subscription.key] = subscription
        action = subscription.action
        if action.source not in ctx.directory.sources:
            problems.append(
                f"subscription {clip(subscription.key)!r}: lead source {clip(action.source)!r}"
                " is not configured"
            )
        if action.journey_user is not None and action.journey_user not in ctx.directory.users:
            problems.append(
                f"subscription {clip(subscription.key)!r}: journey user {action.journey_user}"
                " does not exist"
            )
    if problems:
        raise ConfigError(problems)
    return by_key


def _pending_job(uow: UnitOfWork, message_id: UUID, now: datetime) -> OutboxMessage | None:
    """The job, if it is still pending and due."""
    for message in uow.messages(status=OutboxStatus.PENDING):
        if message.message_id == message_id:
            return message if is_due(message, now) else None
    return None
