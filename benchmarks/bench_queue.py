"""Time build_queue: the top 50 of a large list of leads, with a heap, against a full sort.

Usage: python benchmarks/bench_queue.py [N]      (default N = 1,000,000)

Every lead belongs to the same user, in a mix of states: due follow-ups,
new leads, snoozed leads and retries. The leads are built first; only
build_queue is timed.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from leadflow.model import (
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    Priority,
)
from leadflow.queue import build_queue
from leadflow.stages import leads_queue

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def make_leads(n: int, seed: int = 7) -> list[Lead]:
    rnd = random.Random(seed)
    attributes = LeadAttributes(source="purchased_leads")
    leads = []
    for i in range(n):
        created = NOW - timedelta(minutes=rnd.randrange(60 * 24 * 60))
        kind = rnd.random()
        extra: dict[str, object] = {}
        if kind < 0.05:
            extra["follow_ups"] = (
                FollowUp(
                    follow_up_id=UUID(int=i),
                    kind=FollowUpKind.TASK,
                    subject=FollowUpSubject.CALL,
                    due=NOW - timedelta(minutes=rnd.randrange(-600, 600)),
                    priority=rnd.choice(list(Priority)),
                ),
            )
        elif kind < 0.35:
            extra["snoozed_until"] = NOW + timedelta(minutes=rnd.randrange(-120, 120))
            extra["last_outcome"] = "no_answer"
            extra["contact_attempts"] = 1
            extra["last_touched_at"] = created + timedelta(minutes=5)
        elif kind < 0.7:
            extra["last_outcome"] = "sms_sent"
            extra["contact_attempts"] = 1
            extra["last_touched_at"] = created + timedelta(minutes=rnd.randrange(1, 600))
        leads.append(
            Lead(
                lead_id=UUID(int=(1 << 100) + i),
                contact_id=UUID(int=i),
                created_at=created,
                updated_at=created,
                attributes=attributes,
                stage="contact_attempted" if "last_outcome" in extra else "new",
                assignee_id=7,
                **extra,  # type: ignore[arg-type]
            )
        )
    return leads


def main(n: int) -> None:
    book = leads_queue()
    t0 = time.perf_counter()
    leads = make_leads(n)
    print(f"built {n:,} leads in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    top = build_queue(leads, 7, NOW, book, limit=50)
    heap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = build_queue(leads, 7, NOW, book)
    sort_s = time.perf_counter() - t0
    assert [e.lead for e in top] == [e.lead for e in full[:50]]
    print(f"eligible: {len(full):,} of {n:,}")
    print(f"top 50 with a heap: {heap_s:.2f} s ({n / heap_s:,.0f} leads/s)")
    print(f"full sort, for comparison: {sort_s:.2f} s")
    print("first three:", [(e.reason.value, e.lead.lead_id.int - (1 << 100)) for e in top[:3]])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
