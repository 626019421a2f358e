"""MemoryStore passes the storage contract; so does a host's own adapter.

:class:`LoggingStore` stands for a host's adapter: it wraps a MemoryStore,
delegates every call and counts units of work. Plugging it into
:class:`~leadflow.testing.contract.StoreContract` takes one fixture, exactly
as ``docs/storage.md`` shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

import attrs
import pytest

import leadflow.storage
from desk_helpers import make_desk, org
from leadflow.desk import RowOutcome
from leadflow.errors import ConfigError, ValidationError
from leadflow.events import Event, LeadCreated, apply_events
from leadflow.model import Contact, Lead
from leadflow.org import OrgConfig
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage import MemoryStore, OutboxMessage, OutboxStatus, Store, UnitOfWork
from leadflow.storage.protocol import LeadGrouping
from leadflow.testing.contract import T0, StoreContract, make_lead, rolled_back, run


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = MemoryStore()
        yield store
        store.close()


# --------------------------------------------------------------------------- a host's adapter


class _LoggingUnitOfWork:
    """Delegates every call to the wrapped unit of work and logs its name."""

    def __init__(self, inner: UnitOfWork, calls: list[str]) -> None:
        self._inner = inner
        self._calls = calls

    def load_config(self) -> OrgConfig | None:
        self._calls.append("load_config")
        return self._inner.load_config()

    def save_config(self, config: OrgConfig, *, actor: int | None, at: datetime) -> None:
        self._calls.append("save_config")
        self._inner.save_config(config, actor=actor, at=at)

    def config_history(self) -> list[tuple[datetime, int | None, OrgConfig]]:
        self._calls.append("config_history")
        return self._inner.config_history()

    def get_lead(self, lead_id: UUID) -> Lead:
        self._calls.append("get_lead")
        return self._inner.get_lead(lead_id)

    def find_lead(self, source: str, external_id: str) -> Lead | None:
        self._calls.append("find_lead")
        return self._inner.find_lead(source, external_id)

    def add_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        self._calls.append("add_lead")
        return self._inner.add_lead(lead, next_change_at=next_change_at)

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> dict[str, Lead]:
        self._calls.append("find_leads_by_external_ids")
        return self._inner.find_leads_by_external_ids(source, external_ids)

    def add_leads(self, leads: Sequence[tuple[Lead, datetime | None]]) -> None:
        self._calls.append("add_leads")
        self._inner.add_leads(leads)

    def update_lead(self, lead: Lead, *, next_change_at: datetime | None) -> Lead:
        self._calls.append("update_lead")
        return self._inner.update_lead(lead, next_change_at=next_change_at)

    def leads_of_assignee(
        self, user_id: int, *, exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        self._calls.append("leads_of_assignee")
        return self._inner.leads_of_assignee(user_id, exclude_stages=exclude_stages)

    def pool_leads(
        self, *, pool_stages: Collection[str] = (), exclude_stages: Collection[str] = ()
    ) -> list[Lead]:
        self._calls.append("pool_leads")
        return self._inner.pool_leads(pool_stages=pool_stages, exclude_stages=exclude_stages)

    def due_leads(self, now: datetime, *, limit: int | None = None) -> list[Lead]:
        self._calls.append("due_leads")
        return self._inner.due_leads(now, limit=limit)

    def leads_of_contact(self, contact_id: UUID) -> list[Lead]:
        self._calls.append("leads_of_contact")
        return self._inner.leads_of_contact(contact_id)

    def lead_ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        self._calls.append("lead_ids_with_prefix")
        return self._inner.lead_ids_with_prefix(prefix, limit=limit)

    def count_leads(self) -> int:
        self._calls.append("count_leads")
        return self._inner.count_leads()

    def lead_counts(self, by: LeadGrouping) -> dict[str | int | None, int]:
        self._calls.append("lead_counts")
        return self._inner.lead_counts(by)

    def contact_counts_by_owner(self) -> dict[int, int]:
        self._calls.append("contact_counts_by_owner")
        return self._inner.contact_counts_by_owner()

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]:
        self._calls.append("routed_counts")
        return self._inner.routed_counts(user_ids, since=since)

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]:
        self._calls.append("open_counts")
        return self._inner.open_counts(user_ids, exclude_stages=exclude_stages)

    def get_contact(self, contact_id: UUID) -> Contact:
        self._calls.append("get_contact")
        return self._inner.get_contact(contact_id)

    def add_contact(self, contact: Contact) -> None:
        self._calls.append("add_contact")
        self._inner.add_contact(contact)

    def add_contacts(self, contacts: Sequence[Contact]) -> None:
        self._calls.append("add_contacts")
        self._inner.add_contacts(contacts)

    def update_contact(self, contact: Contact) -> None:
        self._calls.append("update_contact")
        self._inner.update_contact(contact)

    def find_contacts(
        self,
        *,
        emails: Collection[str] = (),
        phones: Collection[str] = (),
        owners: Collection[int] | None = None,
    ) -> list[Contact]:
        self._calls.append("find_contacts")
        return self._inner.find_contacts(emails=emails, phones=phones, owners=owners)

    def cursors(self) -> dict[str, PolicyCursor]:
        self._calls.append("cursors")
        return self._inner.cursors()

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None:
        self._calls.append("save_cursor")
        self._inner.save_cursor(policy, cursor)

    def append_events(self, events: Sequence[Event]) -> None:
        self._calls.append("append_events")
        self._inner.append_events(events)

    def history(self, lead_id: UUID) -> list[Event]:
        self._calls.append("history")
        return self._inner.history(lead_id)

    def activity(self, *, start: datetime, end: datetime) -> list[Event]:
        self._calls.append("activity")
        return self._inner.activity(start=start, end=end)

    def put_exception(self, record: ExceptionRecord) -> None:
        self._calls.append("put_exception")
        self._inner.put_exception(record)

    def get_exception(self, lead_id: UUID) -> ExceptionRecord:
        self._calls.append("get_exception")
        return self._inner.get_exception(lead_id)

    def exceptions(self, *, include_closed: bool = False) -> list[ExceptionRecord]:
        self._calls.append("exceptions")
        return self._inner.exceptions(include_closed=include_closed)

    def add_message(self, message: OutboxMessage) -> None:
        self._calls.append("add_message")
        self._inner.add_message(message)

    def add_messages(self, messages: Sequence[OutboxMessage]) -> None:
        self._calls.append("add_messages")
        self._inner.add_messages(messages)

    def update_message(self, message: OutboxMessage) -> None:
        self._calls.append("update_message")
        self._inner.update_message(message)

    def messages(self, *, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        self._calls.append("messages")
        return self._inner.messages(status=status)


class LoggingStore:
    """A host's adapter: a MemoryStore underneath, counting units of work and logging calls."""

    def __init__(self) -> None:
        self._inner = MemoryStore()
        self.opened = 0
        self.committed = 0
        self.rolled_back = 0
        self.calls: list[str] = []

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        self.opened += 1
        try:
            with self._inner.unit_of_work() as inner:
                yield _LoggingUnitOfWork(inner, self.calls)
        except BaseException:
            self.rolled_back += 1
            raise
        self.committed += 1

    def close(self) -> None:
        self._inner.close()


class TestHostStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = LoggingStore()
        yield store
        store.close()
        assert store.opened >= 1
        assert store.committed + store.rolled_back == store.opened
        assert store.calls


def test_the_host_store_counts_units_of_work() -> None:
    store = LoggingStore()
    run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=None))
    with rolled_back(store) as uow:
        uow.count_leads()
    assert (store.opened, store.committed, store.rolled_back) == (2, 1, 1)
    assert store.calls == ["add_lead", "count_leads"]


# --------------------------------------------------------------------------- MemoryStore only


def test_a_closed_store_cannot_be_used() -> None:
    store = MemoryStore()
    run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=None))
    store.close()
    with pytest.raises(ConfigError, match="store is closed"):
        store.unit_of_work()
    store.close()  # closing twice is harmless
    with pytest.raises(ConfigError, match="store is closed"):
        store.unit_of_work()


def test_a_store_closed_before_the_block_starts_refuses_it() -> None:
    store = MemoryStore()
    transaction = store.unit_of_work()
    store.close()
    with pytest.raises(ConfigError, match="store is closed"), transaction:
        pass


def test_a_unit_of_work_cannot_be_used_after_its_block() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.count_leads()
    with pytest.raises(ConfigError, match="has ended"):
        uow.count_leads()


def test_a_unit_of_work_inside_another_on_one_thread_is_refused() -> None:
    store = MemoryStore()
    lead = make_lead()
    with store.unit_of_work() as outer:
        outer.add_lead(lead, next_change_at=None)
        with pytest.raises(ConfigError, match="already open"), store.unit_of_work():
            pass
    assert run(store, lambda uow: uow.get_lead(lead.lead_id)).version == 1


def test_naive_datetimes_are_refused() -> None:
    store = MemoryStore()
    naive = datetime(2026, 3, 2, 9, 0)
    with store.unit_of_work() as uow:
        with pytest.raises(ValidationError, match="next_change_at"):
            uow.add_lead(make_lead(), next_change_at=naive)
        with pytest.raises(ValidationError, match="now"):
            uow.due_leads(naive)
        assert uow.count_leads() == 0


def test_threads_never_lose_a_read_modify_write() -> None:
    store = MemoryStore()
    threads, rounds = 8, 50
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def increment() -> None:
        try:
            start.wait()
            for _ in range(rounds):
                with store.unit_of_work() as uow:
                    count = uow.cursors().get("counter", PolicyCursor(last_user_id=0))
                    time.sleep(0)  # let another thread run between the read and the write
                    assert count.last_user_id is not None
                    uow.save_cursor("counter", PolicyCursor(last_user_id=count.last_user_id + 1))
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    workers = [threading.Thread(target=increment) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert run(store, lambda uow: uow.cursors()) == {
        "counter": PolicyCursor(last_user_id=threads * rounds)
    }


def test_a_unit_of_work_waits_for_the_one_another_thread_holds() -> None:
    store = MemoryStore()
    lead = make_lead()
    inside, seen = threading.Event(), []

    def reader() -> None:
        inside.wait()
        with store.unit_of_work() as uow:
            seen.append(uow.count_leads())

    thread = threading.Thread(target=reader)
    thread.start()
    with store.unit_of_work() as uow:
        uow.add_lead(lead, next_change_at=T0)
        inside.set()
        thread.join(timeout=0.05)
        assert thread.is_alive()  # still waiting for this unit of work
        assert seen == []
    thread.join()
    assert seen == [1]


def test_the_storage_package_exports_the_protocol_and_the_backends() -> None:
    assert leadflow.storage.MemoryStore is MemoryStore
    assert {"Store", "UnitOfWork", "OutboxMessage", "OutboxStatus", "SQLiteStore"} <= set(
        leadflow.storage.__all__
    )
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = leadflow.storage.Nope


def test_sqlite_store_is_imported_on_first_use() -> None:
    sqlite = pytest.importorskip("leadflow.storage.sqlite")
    assert leadflow.storage.SQLiteStore is sqlite.SQLiteStore


# --------------------------------------------------------------------------- the import's leads
# (that every way in stores the same leads is tests/test_intake_paths.py)


def test_the_batched_import_builds_leads_as_their_events_would() -> None:
    store = MemoryStore()
    desk, _ = make_desk(store, org())
    rows = [
        {"first_name": "Ann", "last_name": "Lead", "email": "ann@example.com"},
        {"first_name": "Bob", "last_name": "Lead", "email": "bob@example.com", "assignee_id": "4"},
        {
            "first_name": "Cy",
            "last_name": "Lead",
            "cell_phone": "5552014567",
            "lead_stage": "engaged",
        },
    ]
    seen: list[RowOutcome] = []
    desk.import_rows(rows, source="purchased_leads", actor=1, on_row=seen.append)
    desk.import_rows(rows[:1], source="referral", actor=1, on_row=seen.append)  # held
    with store.unit_of_work() as uow:
        for outcome in seen:
            lead = outcome.lead
            assert lead is not None
            events = uow.history(lead.lead_id)
            created = events[0]
            assert isinstance(created, LeadCreated)
            start = Lead(
                lead_id=lead.lead_id,
                contact_id=created.contact_id,
                created_at=created.at,
                updated_at=created.at,
                attributes=lead.attributes,
                stage=created.stage,
                origin=created.origin,
            )
            assert attrs.evolve(apply_events(start, events), version=1) == lead
            assert uow.get_lead(lead.lead_id) == lead
