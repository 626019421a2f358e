"""Notifications (DESIGN D10): the messages leadflow queues in the outbox, and their delivery.

* :func:`assignment_message` -- the email telling a user a lead was assigned to them;
* :class:`Notifier` -- what sends a message (:class:`SmtpNotifier` for email,
  :class:`MemoryNotifier` for tests), raising :class:`DeliveryError` when it cannot;
* :func:`deliver_outbox` -- sends the due messages after commit, with retries
  and backoff, and returns a :class:`DeliveryReport`; :func:`outbox_status`
  counts the messages by status.
"""

from leadflow.notify.delivery import DeliveryReport, deliver_outbox, outbox_status
from leadflow.notify.memory import MemoryNotifier
from leadflow.notify.messages import assignment_message
from leadflow.notify.protocol import DeliveryError, Notifier
from leadflow.notify.smtp import SmtpNotifier

__all__ = [
    "DeliveryError",
    "DeliveryReport",
    "MemoryNotifier",
    "Notifier",
    "SmtpNotifier",
    "assignment_message",
    "deliver_outbox",
    "outbox_status",
]
