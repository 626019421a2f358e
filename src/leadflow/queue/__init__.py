"""Who should call which lead, now: the queue, ownership and aging (DESIGN D4, D6).

* :mod:`~leadflow.queue.order` -- :func:`build_queue`, :func:`why_not`;
* :mod:`~leadflow.queue.ownership` -- :func:`claim`, :func:`release`,
  :func:`assign`, :func:`pool`;
* :mod:`~leadflow.queue.aging` -- :func:`advance`, :func:`next_change_at`;
* :mod:`~leadflow.queue.views` -- the call log's tabs.

All pure: leads and ``now`` in, decisions and events out.
"""

from leadflow.queue.aging import advance, next_change_at, untouched_since
from leadflow.queue.order import (
    NotInQueue,
    QueueEntry,
    Reason,
    WhyNot,
    build_queue,
    queue_ready_at,
    why_not,
)
from leadflow.queue.ownership import assign, claim, in_pool, pool, release
from leadflow.queue.views import CallLogTabs, TabRow, call_log_tabs

__all__ = [
    "CallLogTabs",
    "NotInQueue",
    "QueueEntry",
    "Reason",
    "TabRow",
    "WhyNot",
    "advance",
    "assign",
    "build_queue",
    "call_log_tabs",
    "claim",
    "in_pool",
    "next_change_at",
    "pool",
    "queue_ready_at",
    "release",
    "untouched_since",
    "why_not",
]
