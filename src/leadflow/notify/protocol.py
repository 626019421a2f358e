"""The notifier protocol: what :func:`~leadflow.notify.delivery.deliver_outbox` sends through.

A :class:`Notifier` delivers one :class:`~leadflow.storage.protocol.OutboxMessage`
(an email, a chat message, a text...) or raises :class:`DeliveryError` saying
why it could not. It never touches the store: recording the outcome (sent,
retry later, given up) is the job of
:func:`~leadflow.notify.delivery.deliver_outbox`.

Implementations: :class:`~leadflow.notify.smtp.SmtpNotifier` (email through
an SMTP server), :class:`~leadflow.notify.memory.MemoryNotifier` (for tests
and demos).
"""

from __future__ import annotations

from typing import Protocol

from leadflow.errors import LeadflowError
from leadflow.storage.protocol import OutboxMessage

__all__ = ["DeliveryError", "Notifier"]


class DeliveryError(LeadflowError):
    """A message could not be delivered; the message says where it went wrong and why.

    The failure may be temporary (a server down, a timeout) or not (an
    address refused): :func:`~leadflow.notify.delivery.deliver_outbox` retries
    both, with backoff, until the message's attempts run out.
    """


class Notifier(Protocol):
    """Sends outbox messages, one at a time."""

    def send(self, message: OutboxMessage) -> None:
        """Deliver ``message``; raise :class:`DeliveryError` if it could not be delivered.

        Returning normally means the message was handed over (for email: the
        server accepted it). Sending the same message twice must be harmless
        to the recipient beyond a duplicate -- delivery is at least once.
        """
        ...
