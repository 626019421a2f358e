"""The after-commit event bus: every command publishes what it stored, once, after its commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desk_helpers import make_desk, row
from leadflow.command import Committed
from leadflow.errors import PermissionDenied
from leadflow.events import (
    LeadAssigned,
    LeadCreated,
    LeadStageChanged,
    OutcomeLogged,
)
from leadflow.stages import call_log
from leadflow.storage import MemoryStore, Store
from leadflow.storage.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "b.db")
    yield made
    made.close()


def kinds(seen: list[Committed]) -> list[list[str]]:
    return [[event.kind for event in committed.events] for committed in seen]


def test_a_command_publishes_its_events_once_after_its_commit(store: Store) -> None:
    desk, _ = make_desk(store)
    seen: list[Committed] = []

    def subscriber(committed: Committed) -> None:
        # called after the commit: what it was given is in the store already
        for event in committed.events:
            if isinstance(event, LeadCreated):
                assert desk.get_lead(event.lead_id).lead_id == event.lead_id
        seen.append(committed)

    desk.subscribe(subscriber)
    created = desk.create_lead(row(), source="purchased_leads")
    assert created.lead is not None
    assert kinds(seen) == [[LeadCreated.kind, LeadAssigned.kind]]
    holder = created.lead.assignee_id
    assert holder is not None
    desk.log_outcome(created.lead.lead_id, "left_vm", actor=holder)
    assert len(seen) == 2
    assert OutcomeLogged.kind in kinds(seen)[1]
    assert all(committed.jobs == 0 for committed in seen)  # no journeys registered


def test_a_failed_command_publishes_nothing_and_unsubscribing_stops_it(store: Store) -> None:
    desk, _ = make_desk(store)
    seen: list[Committed] = []
    unsubscribe = desk.subscribe(seen.append)
    created = desk.create_lead(row(), source="purchased_leads")
    assert created.lead is not None
    holder = created.lead.assignee_id
    other = next(uid for uid in (2, 3, 4) if uid != holder)
    with pytest.raises(PermissionDenied):
        desk.log_outcome(created.lead.lead_id, "left_vm", actor=other)
    assert len(seen) == 1  # the creation only
    unsubscribe()
    desk.add_note(created.lead.contact_id, "called back", actor=holder or 2)
    assert len(seen) == 1


def test_an_import_publishes_once_per_chunk(store: Store) -> None:
    desk, _ = make_desk(store)
    seen: list[Committed] = []
    desk.subscribe(seen.append)
    rows = [row(f"Lead{n}", "Person") for n in range(5)]
    report = desk.import_rows(rows, source="purchased_leads", chunk_size=2)
    assert report.assigned == 5
    assert [len(committed.events) for committed in seen] == [4, 4, 2]  # created + assigned
    created = [e for c in seen for e in c.events if isinstance(e, LeadCreated)]
    assert len(created) == 5


def test_the_sweep_publishes_the_changes_it_made(store: Store) -> None:
    desk, clock = make_desk(store, playbook=call_log())
    created = desk.create_lead(row(), source="purchased_leads")
    assert created.lead is not None
    seen: list[Committed] = []
    desk.subscribe(seen.append)
    clock.tick(days=2, minutes=1)
    assert desk.advance().leads == 1
    changes = [e for c in seen for e in c.events if isinstance(e, LeadStageChanged)]
    assert [(e.from_stage, e.to_stage) for e in changes] == [("not_scheduled", "past_due")]
    seen.clear()
    assert desk.advance().leads == 0
    assert seen == []  # nothing changed, nothing published


def test_a_subscriber_that_fails_never_undoes_the_command(store: Store) -> None:
    desk, _ = make_desk(store)

    def broken(_: Committed) -> None:
        raise RuntimeError("the host's handler is down")

    desk.subscribe(broken)
    with pytest.raises(RuntimeError, match="handler is down"):
        desk.create_lead(row(), source="purchased_leads")
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 1
