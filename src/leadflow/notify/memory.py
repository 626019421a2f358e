"""A :class:`~leadflow.notify.protocol.Notifier` that keeps what it sends, for tests and demos."""

from __future__ import annotations

import threading

from leadflow.notify.protocol import DeliveryError
from leadflow.storage.protocol import OutboxMessage

__all__ = ["MemoryNotifier"]


class MemoryNotifier:
    """Records every message it delivers in :attr:`sent`, in order.

    It can be told to fail, to exercise retries:

    * ``fail_next(n)``: the next ``n`` sends raise :class:`DeliveryError`;
    * ``down = True``: every send raises :class:`DeliveryError` until it is
      set back to ``False``.

    Failed attempts are recorded in :attr:`refused`. Thread-safe: several
    threads may send through one notifier.
    """

    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[OutboxMessage] = []
        self.refused: list[OutboxMessage] = []
        self.down = down
        self._failures_left = 0
        self._lock = threading.Lock()

    def fail_next(self, times: int = 1) -> None:
        """Make the next ``times`` sends fail (on top of any still pending)."""
        if times < 0:
            raise ValueError(f"times must be 0 or more, not {times}")
        with self._lock:
            self._failures_left += times

    def send(self, message: OutboxMessage) -> None:
        """Record ``message`` as sent, or raise DeliveryError if told to fail."""
        with self._lock:
            if self.down or self._failures_left > 0:
                reason = "the notifier is down" if self.down else "told to fail this send"
                if not self.down:
                    self._failures_left -= 1
                self.refused.append(message)
                raise DeliveryError(
                    f"could not deliver message {message.message_id} to "
                    f"{message.recipient}: {reason}"
                )
            self.sent.append(message)
