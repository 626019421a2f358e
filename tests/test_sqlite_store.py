"""SQLiteStore: the storage contract, plus what only a SQLite file has.

WAL mode, the schema version and its migrations, indexes, reopening the
file, units of work serialised across threads, rollbacks, the errors a
stale version, a duplicate key or a locked database give, and moments in
other offsets ordered by the instant.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import attrs
import pytest

from leadflow.errors import ConfigError, Conflict, NotFound, ValidationError
from leadflow.events import NoteAdded
from leadflow.routing.engine import PolicyCursor
from leadflow.storage import Store
from leadflow.storage.sqlite import SCHEMA_VERSION, SQLiteStore
from leadflow.testing.contract import (
    HOUR,
    T0,
    StoreContract,
    lifecycle,
    make_config,
    make_contact,
    make_lead,
    make_message,
    make_record,
    rolled_back,
    run,
)

CHICAGO = timezone(timedelta(hours=-5))
KOLKATA = timezone(timedelta(hours=5, minutes=30))


class TestSQLiteContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = SQLiteStore(tmp_path / "contract.db")
        yield store
        store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "leads.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(db)
    yield store
    store.close()


def raw(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` read with a plain connection, bypassing the store."""
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


# --------------------------------------------------------------------------- the file


def test_the_file_is_in_wal_mode_with_the_current_schema_version(
    store: SQLiteStore, db: Path
) -> None:
    assert raw(db, "PRAGMA journal_mode") == [("wal",)]
    assert raw(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION >= 1


def test_each_connection_uses_normal_sync_foreign_keys_and_the_busy_timeout(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "t.db", busy_timeout=2.5)
    try:
        with store.unit_of_work() as uow:
            execute = uow._execute
            assert execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
            assert execute("PRAGMA foreign_keys").fetchone() == (1,)
            assert execute("PRAGMA busy_timeout").fetchone() == (2500,)
    finally:
        store.close()


def test_an_empty_file_is_migrated_to_the_current_schema(db: Path) -> None:
    db.touch()  # an empty file is an empty database at version 0
    assert raw(db, "PRAGMA user_version") == [(0,)]
    store = SQLiteStore(db)
    try:
        tables = {name for (name,) in raw(db, "SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "config",
            "config_history",
            "contacts",
            "leads",
            "activity",
            "exceptions",
            "cursors",
            "outbox",
        } <= tables
        assert raw(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert run(store, lambda uow: uow.count_leads()) == 0
    finally:
        store.close()


def test_a_file_from_a_newer_leadflow_is_refused(db: Path) -> None:
    SQLiteStore(db).close()
    connection = sqlite3.connect(db)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    newer = rf"schema version {SCHEMA_VERSION + 1}, newer than this leadflow knows"
    with pytest.raises(ConfigError, match=newer):
        SQLiteStore(db)


def test_a_path_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "leads.db"
    with pytest.raises(ConfigError, match=r"cannot open the leadflow database .*leads\.db"):
        SQLiteStore(missing)
    with pytest.raises(ConfigError, match=str(tmp_path.name)):
        SQLiteStore(tmp_path)  # a directory


def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, just some text that is long enough to have a header\n" * 20)
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        SQLiteStore(junk)


def test_the_query_indexes_exist(store: SQLiteStore, db: Path) -> None:
    rows = raw(db, "SELECT tbl_name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")
    indexes = {(table, " ".join(str(sql).split())) for table, sql in rows}

    def has(table: str, fragment: str) -> bool:
        return any(t == table and fragment in sql for t, sql in indexes)

    assert has("leads", "(assignee_id, stage)")
    assert has("leads", "(next_change_at")
    assert has("leads", "UNIQUE INDEX leads_source_external_id ON leads (source, external_id)")
    assert has("leads", "WHERE external_id IS NOT NULL")
    assert has("leads", "leads_contact_seq ON leads (contact_seq)")
    assert has("leads", "(contact_id) WHERE contact_seq IS NULL")
    assert has("leads", "UNIQUE INDEX leads_seq ON leads (seq)")
    assert has("contacts", "(email)")
    assert has("contacts", "(phone)")
    assert has("contacts", "UNIQUE INDEX contacts_seq ON contacts (seq)")
    assert has("activity", "activity_lead_seq ON activity (lead_seq)")
    assert has("activity", "(lead_id) WHERE lead_seq IS NULL")
    assert has("activity", "(at)")


def test_the_queries_use_their_indexes(store: SQLiteStore) -> None:
    def plan(sql: str, *parameters: object) -> str:
        with store.unit_of_work() as uow:
            return " | ".join(
                row[-1] for row in uow._execute("EXPLAIN QUERY PLAN " + sql, parameters)
            )

    assert "USING INDEX leads_next_change_at" in plan(
        "SELECT doc FROM leads WHERE next_change_at <= ? ORDER BY next_change_at, lead_id", "x"
    )
    assert "TEMP B-TREE" not in plan(
        "SELECT doc FROM leads WHERE next_change_at <= ? ORDER BY next_change_at, lead_id", "x"
    )
    assert "USING INDEX leads_source_external_id" in plan(
        "SELECT doc FROM leads WHERE source = ? AND external_id = ?", "web", "W-1"
    )
    assert "USING INDEX leads_source_external_id" in plan(
        "SELECT external_id, doc FROM leads WHERE source = ?"
        " AND external_id IN (SELECT value FROM json_each(?))",
        "web",
        "[]",
    )
    contacts = plan(
        "SELECT doc FROM contacts WHERE (email IN (SELECT value FROM json_each(?))"
        " OR phone IN (SELECT value FROM json_each(?)))",
        "[]",
        "[]",
    )
    assert "contacts_email" in contacts
    assert "contacts_phone" in contacts
    history = plan(
        "SELECT kind, doc FROM activity WHERE lead_seq = (SELECT seq FROM leads WHERE"
        " lead_id = ?1) OR (lead_seq IS NULL AND lead_id = ?1) ORDER BY seq",
        "x",
    )
    assert "USING INDEX activity_lead_seq" in history
    assert "USING INDEX activity_lead " in history + " "
    assert "SCAN activity" not in history
    of_contact = plan(
        "SELECT doc FROM leads WHERE contact_seq = (SELECT seq FROM contacts WHERE"
        " contact_id = ?1) OR (contact_seq IS NULL AND contact_id = ?1)",
        "x",
    )
    assert "USING INDEX leads_contact_seq" in of_contact
    assert "USING INDEX leads_contact " in of_contact + " "
    assert "SCAN leads" not in of_contact
    by_prefix = plan(
        "SELECT lead_id FROM leads WHERE lead_id >= ? AND lead_id <= ? ORDER BY lead_id LIMIT ?",
        "0190abcd-0000-0000-0000-000000000000",
        "0190abcd-ffff-ffff-ffff-ffffffffffff",
        10,
    )
    assert "SEARCH leads USING COVERING INDEX sqlite_autoindex_leads_1" in by_prefix
    assert "TEMP B-TREE" not in by_prefix


def test_a_version_1_file_is_migrated_and_reads_back_the_same(db: Path) -> None:
    """Files written before leads and events pointed at their contact and lead by number."""
    from leadflow.storage import codec
    from leadflow.storage.sqlite import _MIGRATIONS

    contact = make_contact(email="ada@example.com", owner=7)
    first = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
    second = make_lead(contact_id=contact.contact_id, at=T0 + HOUR)
    orphan = make_lead()  # its contact was never stored
    of_first, of_second, of_orphan = lifecycle(first), lifecycle(second), lifecycle(orphan)
    events = [*of_first, *of_second[:3], *of_orphan[:1]]
    note = NoteAdded(at=T0, actor=7, contact_id=contact.contact_id, text="no lead")
    connection = sqlite3.connect(db, isolation_level=None)
    for statement in _MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    connection.execute(
        "INSERT INTO contacts (contact_id, owner_id, email, phone, created_at, doc)"
        " VALUES (?, 7, 'ada@example.com', NULL, ?, ?)",
        (str(contact.contact_id), T0.isoformat(), codec.contact_to_json(contact)),
    )
    for lead in (first, second, orphan):
        connection.execute(
            "INSERT INTO leads (lead_id, contact_id, source, external_id, assignee_id, stage,"
            " killed, created_at, version, doc) VALUES (?, ?, 'web', ?, ?, 'new', 0, ?, 1, ?)",
            (
                str(lead.lead_id),
                str(lead.contact_id),
                lead.attributes.external_id,
                lead.assignee_id,
                lead.created_at.isoformat(timespec="microseconds"),
                codec.lead_to_json(lead, version=1),
            ),
        )
    for event in [*events, note]:
        lead_id = getattr(event, "lead_id", None)
        connection.execute(
            "INSERT INTO activity (lead_id, contact_id, kind, at, actor, doc)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                None if lead_id is None else str(lead_id),
                None,
                event.kind,
                event.at.isoformat(timespec="microseconds"),
                event.actor,
                codec.event_to_json(event),
            ),
        )
    connection.close()

    store = SQLiteStore(db)
    try:
        assert raw(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        stored = [attrs.evolve(lead, version=1) for lead in (first, second, orphan)]
        later_event = of_second[3]
        third = make_lead(contact_id=contact.contact_id, at=T0 + 2 * HOUR)
        with store.unit_of_work() as uow:
            assert uow.history(first.lead_id) == of_first
            assert uow.history(second.lead_id) == of_second[:3]
            assert uow.history(orphan.lead_id) == of_orphan[:1]
            assert uow.leads_of_contact(contact.contact_id) == stored[:2]
            assert uow.leads_of_contact(orphan.contact_id) == [stored[2]]
            # written after the migration: numbered after the rows before it
            uow.append_events([later_event])
            uow.add_leads([(third, None)])
        with store.unit_of_work() as uow:
            assert uow.history(second.lead_id) == of_second[:4]
            assert uow.leads_of_contact(contact.contact_id) == [
                *stored[:2],
                attrs.evolve(third, version=1),
            ]
            assert uow.count_leads() == 4
        seqs = raw(db, "SELECT seq FROM leads ORDER BY rowid")
        assert seqs == [(1,), (2,), (3,), (4,)]
    finally:
        store.close()


def test_leads_and_events_written_before_their_contact_or_lead_are_found(
    store: SQLiteStore,
) -> None:
    contact = make_contact(email="bo@example.com")
    early = make_lead(contact_id=contact.contact_id)
    events = lifecycle(early)
    with store.unit_of_work() as uow:
        uow.append_events(events[:2])  # before the lead
        uow.add_lead(early, next_change_at=None)  # before its contact
        uow.append_events(events[2:4])
        uow.add_contact(contact)
        late = uow.add_lead(
            make_lead(contact_id=contact.contact_id, at=T0 + HOUR), next_change_at=None
        )
        uow.append_events(events[4:])
        moved = uow.update_lead(
            attrs.evolve(late, contact_id=make_contact().contact_id), next_change_at=None
        )
    with store.unit_of_work() as uow:
        assert uow.history(early.lead_id) == events
        assert uow.leads_of_contact(contact.contact_id) == [attrs.evolve(early, version=1)]
        assert uow.leads_of_contact(moved.contact_id) == [moved]


def test_everything_reads_back_after_reopening_the_file(db: Path) -> None:
    contact = make_contact(email="ada@example.com", phone="+15552014567", owner=7)
    lead = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
    events = lifecycle(lead)
    record = make_record(lead)
    message = make_message(lead_id=lead.lead_id)
    store = SQLiteStore(db)
    with store.unit_of_work() as uow:
        uow.add_contact(contact)
        stored = uow.add_lead(lead, next_change_at=T0 + HOUR)
        uow.append_events(events)
        uow.save_cursor("web_rr", PolicyCursor(7, ((7, -1), (8, 1))))
        uow.put_exception(record)
        uow.add_message(message)
        uow.save_config(make_config(), actor=1, at=T0.astimezone(KOLKATA))
    store.close()

    again = SQLiteStore(db)
    try:
        with again.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.find_lead("web", "W-1") == stored
            assert uow.due_leads(T0 + HOUR) == [stored]
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.history(lead.lead_id) == events
            assert uow.cursors() == {"web_rr": PolicyCursor(7, ((7, -1), (8, 1)))}
            assert uow.get_exception(lead.lead_id) == record
            assert uow.messages() == [message]
            assert uow.load_config() == make_config()
            ((at, actor, config),) = uow.config_history()
            assert (at, actor, config) == (T0, 1, make_config())
            assert at.utcoffset() == KOLKATA.utcoffset(None)  # the offset as written
    finally:
        again.close()


def test_documents_keep_the_original_offset_while_columns_are_utc(
    store: SQLiteStore, db: Path
) -> None:
    at = T0.astimezone(CHICAGO)
    lead = make_lead(at=at)
    run(store, lambda uow: uow.add_lead(lead, next_change_at=at + HOUR))
    ((created, due, doc),) = raw(db, "SELECT created_at, next_change_at, doc FROM leads")
    assert created == "2026-03-02T09:00:00.000000+00:00"
    assert due == "2026-03-02T10:00:00.000000+00:00"
    assert '"created_at":"2026-03-02T04:00:00-05:00"' in str(doc)
    read = run(store, lambda uow: uow.get_lead(lead.lead_id))
    assert read.created_at.utcoffset() == timedelta(hours=-5)


# --------------------------------------------------------------------------- transactions


def test_units_of_work_of_two_threads_serialise(db: Path) -> None:
    store = SQLiteStore(db, busy_timeout=60)
    rounds = 40
    failures: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(rounds):
                with store.unit_of_work() as uow:
                    counter = uow.cursors().get("counter", PolicyCursor(last_user_id=0))
                    assert counter.last_user_id is not None
                    uow.save_cursor("counter", PolicyCursor(last_user_id=counter.last_user_id + 1))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert run(store, lambda uow: uow.cursors()) == {
            "counter": PolicyCursor(last_user_id=2 * rounds)
        }
    finally:
        store.close()


def test_a_database_that_stays_locked_is_a_conflict(db: Path) -> None:
    store = SQLiteStore(db, busy_timeout=0.05)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with (
            pytest.raises(Conflict, match=r"stayed locked for 0\.05 s"),
            store.unit_of_work(),
        ):
            pass  # pragma: no cover - never entered
        blocker.execute("ROLLBACK")
        assert run(store, lambda uow: uow.count_leads()) == 0
    finally:
        blocker.close()
        store.close()


def test_a_rollback_leaves_nothing_behind(store: SQLiteStore, db: Path) -> None:
    contact = make_contact(email="ada@example.com")
    lead = make_lead(contact_id=contact.contact_id, external_id="W-1")
    with rolled_back(store) as uow:
        uow.add_contact(contact)
        uow.add_lead(lead, next_change_at=T0)
        uow.append_events(lifecycle(lead))
        uow.save_cursor("web_rr", PolicyCursor(last_user_id=7))
        uow.put_exception(make_record(lead))
        uow.add_message(make_message(lead_id=lead.lead_id))
        uow.save_config(make_config(), actor=1, at=T0)
    for table in ("config", "config_history", "contacts", "leads", "activity"):
        assert raw(db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    for table in ("exceptions", "cursors", "outbox"):
        assert raw(db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    # and the thread's connection is ready for the next unit of work
    run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
    assert run(store, lambda uow: uow.count_leads()) == 1


def test_a_stale_version_is_a_conflict_naming_both_versions(store: SQLiteStore) -> None:
    stored = run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=None))
    run(store, lambda uow: uow.update_lead(stored, next_change_at=None))
    with (
        store.unit_of_work() as uow,
        pytest.raises(Conflict, match=r"changed by someone else \(stored version 2, yours 1\)"),
    ):
        uow.update_lead(stored, next_change_at=None)


def test_a_duplicate_source_and_external_id_is_a_conflict_naming_both(
    store: SQLiteStore,
) -> None:
    first = run(store, lambda uow: uow.add_lead(make_lead(external_id="A-1"), next_change_at=None))
    with (
        store.unit_of_work() as uow,
        pytest.raises(
            Conflict,
            match=rf"lead source 'web' already has a lead with external id 'A-1' "
            rf"\(lead {first.lead_id}\)",
        ),
    ):
        uow.add_lead(make_lead(external_id="A-1"), next_change_at=None)


def test_misuse_of_a_unit_of_work_or_a_closed_store_is_a_config_error(
    store: SQLiteStore,
) -> None:
    uow = store.unit_of_work()
    with pytest.raises(ConfigError, match="not open"):
        uow.count_leads()
    with store.unit_of_work() as inner:
        with pytest.raises(ConfigError, match="already open in this thread"), store.unit_of_work():
            pass  # pragma: no cover - never entered
        assert inner.count_leads() == 0
    with pytest.raises(ConfigError, match="has ended"):
        inner.count_leads()
    store.close()
    store.close()
    with pytest.raises(ConfigError, match="store is closed"):
        store.unit_of_work()


def test_close_closes_the_connections_of_every_thread(store: SQLiteStore) -> None:
    def work() -> None:
        run(store, lambda uow: uow.count_leads())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    connections = [connection for _, connection in store._connections]
    store.close()
    for connection in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")


def test_naive_moments_are_refused(store: SQLiteStore) -> None:
    naive = T0.replace(tzinfo=None)
    with store.unit_of_work() as uow:
        with pytest.raises(ValidationError, match="now"):
            uow.due_leads(naive)
        with pytest.raises(ValidationError, match="next_change_at"):
            uow.add_lead(make_lead(), next_change_at=naive)
        with pytest.raises(ValidationError, match="since"):
            uow.routed_counts([7], since=naive)


# --------------------------------------------------------------------------- ordering


def test_due_leads_order_moments_in_different_offsets_by_the_instant(store: SQLiteStore) -> None:
    # Text order of the local times would be: Kolkata 14:31, Chicago 04:02, UTC 09:00 ...
    moments = [
        (T0 + timedelta(minutes=1)).astimezone(KOLKATA),  # 09:01 UTC
        (T0 + timedelta(minutes=2)).astimezone(CHICAGO),  # 09:02 UTC
        T0,  # 09:00 UTC
        (T0 - timedelta(microseconds=1)).astimezone(KOLKATA),  # 08:59:59.999999 UTC
        (T0 + timedelta(hours=1)).astimezone(CHICAGO),  # 10:00 UTC, not due
    ]
    with store.unit_of_work() as uow:
        a, b, c, d, e = (uow.add_lead(make_lead(), next_change_at=m) for m in moments)
    with store.unit_of_work() as uow:
        assert uow.due_leads(T0 + timedelta(minutes=5)) == [d, c, a, b]
        assert uow.due_leads((T0 + timedelta(minutes=5)).astimezone(KOLKATA), limit=2) == [d, c]
        assert uow.due_leads(T0.astimezone(CHICAGO)) == [d, c]
        assert e not in uow.due_leads(T0 + timedelta(minutes=59))


def test_activity_and_history_keep_append_order_across_offsets(store: SQLiteStore) -> None:
    lead = make_lead()
    events = lifecycle(lead)
    note = NoteAdded(
        at=(T0 + HOUR).astimezone(KOLKATA), actor=7, contact_id=lead.contact_id, text="Only on me"
    )
    run(store, lambda uow: uow.append_events([*events[:5], note]))
    run(store, lambda uow: uow.append_events(events[5:]))
    with store.unit_of_work() as uow:
        assert uow.history(lead.lead_id) == events
        assert uow.activity(start=T0, end=T0 + 2 * HOUR) == [*events[:5], note, *events[5:]]
        assert uow.activity(start=(T0 + HOUR).astimezone(CHICAGO), end=T0 + 2 * HOUR) == [note]


def test_update_contact_of_a_missing_contact_is_not_found(store: SQLiteStore) -> None:
    contact = make_contact()
    with store.unit_of_work() as uow, pytest.raises(NotFound, match=str(contact.contact_id)):
        uow.update_contact(attrs.evolve(contact, owner_id=3))


# --------------------------------------------------------------------------- the import's batches


def test_the_page_cache_is_set_per_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cache.db", cache_mb=3)
    try:
        assert store._connection().execute("PRAGMA cache_size").fetchone()[0] == -3 * 1024
    finally:
        store.close()
    with pytest.raises(ConfigError, match="cache_mb"):
        SQLiteStore(tmp_path / "cache.db", cache_mb=0)
