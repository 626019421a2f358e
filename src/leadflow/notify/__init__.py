"""Notifications: the messages leadflow queues in the outbox, and (later) their delivery."""

from leadflow.notify.messages import assignment_message

__all__ = ["assignment_message"]
