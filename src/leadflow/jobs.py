"""Automation jobs: the outbox entries that run a subscription after its command committed.

When a command's events fire a :class:`~leadflow.automation.Subscription`,
the desk writes one job per (event, subscription) into the outbox, in the
same unit of work as the command: the job exists exactly when the command
committed, and is never lost if the process stops right after. The desk then
runs the due jobs (:meth:`~leadflow.desk.LeadDesk.run_automations`), each in
its own unit of work together with marking the job ``sent``: an action runs
once, and a failing action is rolled back alone, recorded on its job
(attempts, error, next attempt after a backoff) and retried; after
``max_attempts`` the job is ``failed`` and stays visible. The command that
fired it is never undone.

A job is an :class:`~leadflow.storage.OutboxMessage` of kind
:data:`AUTOMATION_KIND`: ``recipient`` is the subscription's key,
``lead_id`` the lead whose event fired it, ``subject`` a readable line and
``body_text`` the job itself as JSON (see :class:`Job`). Notification
delivery (:func:`leadflow.notify.deliver_outbox`) leaves these entries alone.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

import attrs

from leadflow.automation import Subscription
from leadflow.errors import FieldError, ValidationError
from leadflow.events import Event
from leadflow.storage.protocol import AUTOMATION_KIND, OutboxMessage

__all__ = ["AUTOMATION_KIND", "AutomationReport", "Job", "is_due", "job_message", "read_job"]


@attrs.frozen(kw_only=True)
class Job:
    """One run of a subscription: which, for which lead, fired by which event, how deep.

    ``depth`` is how many automations led to it: 1 for a job fired by a
    person's or the system's command, one more for a job fired by a lead an
    automation created (see :data:`leadflow.automation.MAX_DEPTH`).
    """

    subscription: str
    lead_id: UUID
    event: str
    depth: int


@attrs.frozen(kw_only=True)
class AutomationReport:
    """What one :meth:`~leadflow.desk.LeadDesk.run_automations` call did.

    ``ran``: jobs whose action ran and committed. ``skipped``: jobs with
    nothing left to do (their lead was killed since). ``failed_now``: jobs
    that failed and will be retried. ``gave_up``: jobs whose last allowed
    attempt failed, now ``failed``. ``created``: the leads the actions made.
    """

    ran: int = 0
    skipped: int = 0
    failed_now: int = 0
    gave_up: int = 0
    created: tuple[UUID, ...] = ()


def job_message(
    message_id: UUID, subscription: Subscription, event: Event, lead_id: UUID, *, depth: int
) -> OutboxMessage:
    """The outbox entry of the job ``event`` fires on ``subscription`` (due at once)."""
    job = {
        "subscription": subscription.key,
        "lead_id": str(lead_id),
        "event": type(event).__name__,
        "depth": depth + 1,
    }
    return OutboxMessage(
        message_id=message_id,
        created_at=event.at,
        kind=AUTOMATION_KIND,
        recipient=subscription.key,
        subject=(
            f"{subscription.key}: {subscription.trigger} on lead {lead_id}"
            f" -> create a lead from {subscription.action.source!r}"
        ),
        body_text=json.dumps(job, sort_keys=True),
        lead_id=lead_id,
        next_attempt_at=event.at,
    )


def read_job(message: OutboxMessage) -> Job:
    """The job an outbox entry of kind ``automation`` holds; ValidationError if unreadable."""
    try:
        data = json.loads(message.body_text)
        return Job(
            subscription=str(data["subscription"]),
            lead_id=UUID(str(data["lead_id"])),
            event=str(data["event"]),
            depth=int(data["depth"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError(
            [FieldError("body_text", message.body_text, f"is not an automation job ({error})")]
        ) from None


def is_due(message: OutboxMessage, now: datetime) -> bool:
    """Whether a pending entry may be tried at ``now``."""
    return message.next_attempt_at is None or message.next_attempt_at <= now
