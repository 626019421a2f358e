"""Delivering the outbox: :func:`deliver_outbox` and :func:`outbox_status` (DESIGN D10).

A command queues its messages in the outbox in the same unit of work as the
change they announce, so a message exists exactly when the change committed.
Delivery happens afterwards, here, outside any transaction: a mail server
that is slow or down never holds a database lock, and never loses or undoes
an assignment.

For each due message :func:`deliver_outbox`

1. **claims** it in a short unit of work: re-reads it, checks it is still
   pending and due, and moves its ``next_attempt_at`` forward by a lease (five
   minutes), so another run -- another thread, another process -- skips it;
2. **sends** it through the notifier, outside any unit of work;
3. **records** the outcome in another short unit of work: ``SENT``; or one
   more attempt, the error, and the next attempt after an exponential backoff
   (``backoff * 2**attempts_before``, at most a day); or ``FAILED`` once
   ``max_attempts`` attempts failed. Failed messages stay in the store, listed
   by :func:`outbox_status` and ``messages(status=FAILED)``; nothing is deleted.

**At least once.** A message is sent once by concurrent runs. But if the
process dies after the notifier sent a message and before the outcome was
recorded, the message is still pending with its lease, and is sent again
once the lease has run out. Emails carry a ``Message-ID`` derived from the
outbox message id (see :class:`~leadflow.notify.smtp.SmtpNotifier`), the
same on every attempt, so a receiver can drop the duplicate.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.notify.protocol import DeliveryError, Notifier
from leadflow.storage.protocol import (
    AUTOMATION_KIND,
    OutboxMessage,
    OutboxStatus,
    Store,
    UnitOfWork,
)

__all__ = [
    "DEFAULT_LEASE",
    "MAX_BACKOFF",
    "DeliveryReport",
    "deliver_outbox",
    "failed_attempt",
    "outbox_status",
    "retry_delay",
    "sent_attempt",
]

#: How long a claimed message is reserved for the run that claimed it.
DEFAULT_LEASE = timedelta(minutes=5)
#: The longest wait between two attempts, however many failed.
MAX_BACKOFF = timedelta(days=1)


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """What one :func:`deliver_outbox` run did.

    ``sent``: messages delivered. ``failed_now``: attempts that failed and
    will be retried. ``gave_up``: messages whose last allowed attempt failed,
    now ``FAILED``. ``remaining``: pending messages after the run (due or not).
    """

    sent: int = 0
    failed_now: int = 0
    gave_up: int = 0
    remaining: int = 0


def retry_delay(attempts_before: int, backoff: timedelta) -> timedelta:
    """The wait after a failed attempt: ``backoff * 2**attempts_before``, at most a day."""
    factor = 1 << min(max(attempts_before, 0), 30)  # 2**30 backoffs is past any cap
    if backoff >= MAX_BACKOFF / factor:  # compared before multiplying: no overflow
        return MAX_BACKOFF
    return backoff * factor


def _is_due(message: OutboxMessage, now: datetime) -> bool:
    return message.next_attempt_at is None or message.next_attempt_at <= now


def _pending(uow: UnitOfWork, message_id: UUID) -> OutboxMessage | None:
    for message in uow.messages(status=OutboxStatus.PENDING):
        if message.message_id == message_id:
            return message
    return None


def _check_arguments(
    now: datetime, limit: int, max_attempts: int, backoff: timedelta, lease: timedelta
) -> None:
    errors = []
    if now.tzinfo is None or now.utcoffset() is None:
        errors.append(FieldError("now", now, "must be a timezone-aware datetime"))
    if limit < 1:
        errors.append(FieldError("limit", limit, "must be 1 or more"))
    if max_attempts < 1:
        errors.append(FieldError("max_attempts", max_attempts, "must be 1 or more"))
    if backoff <= timedelta(0):
        errors.append(FieldError("backoff", backoff, "must be longer than 0"))
    if lease <= timedelta(0):
        errors.append(FieldError("lease", lease, "must be longer than 0"))
    if errors:
        raise ValidationError(errors)


def deliver_outbox(
    store: Store,
    notifier: Notifier,
    now: datetime,
    *,
    limit: int = 100,
    max_attempts: int = 8,
    backoff: timedelta = timedelta(minutes=1),
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """Send the pending messages that are due at ``now``, oldest first, at most ``limit``.

    See the module documentation for the claim / send / record steps, the
    backoff and the at-least-once caveat. Safe to run from several threads or
    processes at once on one store: each message is sent by one of them.

    ``now`` is the moment the run starts. A claim's lease is counted from
    ``now`` plus the (real) time the run has taken so far, so a long run
    never claims a message with a lease that has already run out. ``lease``
    must be longer than one send takes (the notifier's timeout).

    Only :class:`~leadflow.notify.protocol.DeliveryError` counts as a failed
    attempt. Any other exception from the notifier (a bug) propagates; the
    message it was sending stays claimed until its lease runs out, then is
    tried again.
    """
    _check_arguments(now, limit, max_attempts, backoff, lease)
    started = time.monotonic()
    with store.unit_of_work() as uow:
        due = [
            m.message_id
            for m in uow.messages(status=OutboxStatus.PENDING)
            if m.kind != AUTOMATION_KIND and _is_due(m, now)
        ]
    sent = failed_now = gave_up = 0
    for message_id in due[:limit]:
        lease_until = now + timedelta(seconds=time.monotonic() - started) + lease
        with store.unit_of_work() as uow:
            message = _pending(uow, message_id)
            if message is None or not _is_due(message, now):
                continue  # another run sent it, or holds it
            uow.update_message(attrs.evolve(message, next_attempt_at=lease_until))

        try:
            notifier.send(message)
        except DeliveryError as error:
            problem: str | None = str(error)
        else:
            problem = None

        with store.unit_of_work() as uow:
            recorded = _record(uow, message_id, lease_until, problem, now, max_attempts, backoff)
        if problem is None:
            sent += 1
        elif recorded is OutboxStatus.FAILED:
            gave_up += 1
        else:
            failed_now += 1

    with store.unit_of_work() as uow:
        remaining = sum(
            m.kind != AUTOMATION_KIND for m in uow.messages(status=OutboxStatus.PENDING)
        )
    return DeliveryReport(sent=sent, failed_now=failed_now, gave_up=gave_up, remaining=remaining)


def _record(
    uow: UnitOfWork,
    message_id: UUID,
    lease_until: datetime,
    problem: str | None,
    now: datetime,
    max_attempts: int,
    backoff: timedelta,
) -> OutboxStatus | None:
    """Store the outcome of one attempt; the message's new status, or ``None`` if left alone.

    The message is left alone when it is no longer pending (a run that took
    over after our lease ran out recorded it) and, for a failure, when another
    run holds it now (its outcome counts; a success always counts).
    """
    current = _pending(uow, message_id)
    if current is None:
        return None
    if problem is None:
        outcome = sent_attempt(current)
    elif current.next_attempt_at == lease_until:
        outcome = failed_attempt(current, problem, now, max_attempts, backoff)
    else:
        return None
    uow.update_message(outcome)
    return outcome.status


def sent_attempt(message: OutboxMessage, note: str = "") -> OutboxMessage:
    """``message`` after the attempt that sent (or ran) it; ``note`` says what it did not do."""
    return attrs.evolve(
        message,
        status=OutboxStatus.SENT,
        attempts=message.attempts + 1,
        next_attempt_at=None,
        last_error=note,
    )


def failed_attempt(
    message: OutboxMessage, error: str, now: datetime, max_attempts: int, backoff: timedelta
) -> OutboxMessage:
    """``message`` after one more failed attempt at ``now``: retried after a backoff, or failed.

    The next attempt comes ``retry_delay(attempts_before, backoff)`` later;
    once ``max_attempts`` attempts failed, the message is ``FAILED`` for good.
    """
    attempts = message.attempts + 1
    if attempts >= max_attempts:
        return attrs.evolve(
            message,
            status=OutboxStatus.FAILED,
            attempts=attempts,
            next_attempt_at=None,
            last_error=error,
        )
    return attrs.evolve(
        message,
        attempts=attempts,
        next_attempt_at=now + retry_delay(message.attempts, backoff),
        last_error=error,
    )


def outbox_status(store: Store, *, kind: str | None = None) -> dict[str, int]:
    """How many messages the outbox holds, by status: ``{"pending": 3, "sent": 40, "failed": 1}``.

    Every status is listed, with 0 when it has none. ``kind`` counts only
    the entries of that kind (``"lead_assigned"`` mails, ``"automation"``
    jobs); ``None`` counts them all.
    """
    counts = {str(status): 0 for status in OutboxStatus}
    with store.unit_of_work() as uow:
        for message in uow.messages():
            if kind is None or message.kind == kind:
                counts[str(message.status)] += 1
    return counts
