"""Store-backed figures: import speed into SQLite, and advance() cost with few due leads.

Usage:
  python benchmarks/bench_store.py import [ROWS] [CHUNK]  (default 100,000 and 500)
  python benchmarks/bench_store.py advance            (20,000 and 200,000 leads, 10 due)

import: ROWS generated rows with external ids imported into a fresh SQLite
file through LeadDesk.import_rows, routed by a 50-member round-robin policy
(every member with state and purpose filters), then the same rows again
(all duplicates). Then SQLite's own share: the rows the import stored are
copied into a fresh store file by ``INSERT ... SELECT``, chunk by chunk in
transactions of the import's size, on a connection the store opened -- the same
pages, indexes and commits with no Python per row.

advance: a call-log store of N leads, all scheduled far ahead except 10 that
are due; LeadDesk.advance() is timed and the leads it changed are counted.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from leadflow.desk import LeadDesk
from leadflow.ids import uuid7
from leadflow.model import (
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    License,
    LoanPurpose,
    Permission,
    Role,
    Team,
    User,
)
from leadflow.org import OrgConfig, OrgSettings
from leadflow.queue import next_change_at
from leadflow.routing import LeadSource, MemberFilters, PolicyMember, RoutingPolicy
from leadflow.stages import call_log, lead_management, schedule_follow_up
from leadflow.storage.sqlite import SQLiteStore

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
STATES = ["TX", "OK", "CA", "NY", "FL", "IL", "WA", "CO", "GA", "AZ"]
PURPOSES = [p.value for p in LoanPurpose]


def config(members: int = 50, seed: int = 1) -> OrgConfig:
    rnd = random.Random(seed)
    users = [
        User(
            user_id=1,
            first_name="Ada",
            last_name="Admin",
            email="admin@example.com",
            role=Role.ADMIN,
            permissions=frozenset(),
        )
    ]
    policy_members = []
    for uid in range(2, members + 2):
        users.append(
            User(
                user_id=uid,
                first_name=f"U{uid}",
                last_name="Officer",
                email=f"u{uid}@example.com",
                permissions=frozenset({Permission.RECEIVE_LEADS}),
                licenses=tuple(License(s) for s in rnd.sample(STATES, 4)),
                teams=frozenset({"west"}),
                started_on=date(2025, 1, 1),
            )
        )
        policy_members.append(
            PolicyMember(
                user_id=uid,
                filters=MemberFilters(states=frozenset(rnd.sample(STATES, 6)))
                if uid % 2
                else MemberFilters(),
            )
        )
    return OrgConfig(
        settings=OrgSettings(name="Bench", notify_on_assignment=True),
        users=tuple(users),
        teams=(Team(key="west", name="West"),),
        policies=(
            RoutingPolicy(
                key="west_rr", name="West", teams=("west",), members=tuple(policy_members)
            ),
        ),
        sources=(LeadSource(key="purchased_leads", name="Purchased", primary_policy="west_rr"),),
    )


def rows(n: int, seed: int = 3) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "first_name": f"First{i}",
                "last_name": f"Last{i % 997}",
                "email": f"person{i}@example.com",
                "cell_phone": f"555{rnd.randrange(2000000, 9999999):07d}",
                "loan_purpose": rnd.choice(PURPOSES),
                "loan_amount": f"{rnd.randrange(50_000, 900_000)}",
                "property_state": rnd.choice(STATES),
                "property_zip": f"{rnd.randrange(10000, 99999)}",
                "external_id": f"E-{i}",
            }
        )
    return out


#: The tables an import writes a row of (or two) for each lead.
IMPORTED_TABLES = ("contacts", "leads", "activity", "exceptions", "outbox")


def sqlite_share(stored: Path, fresh: Path, chunks: int) -> float:
    """Seconds SQLite takes to write the rows of ``stored``'s import again, into ``fresh``.

    ``fresh`` is a configured store; each table's imported rows are split
    into ``chunks`` slices by rowid, and slice k of every table is copied in
    one transaction, as the import's chunk k wrote them.
    """
    store = SQLiteStore(fresh)
    connection = store._connection()  # opened with the store's own settings
    connection.execute("ATTACH DATABASE ? AS src", (str(stored),))
    ranges = {}
    for table in IMPORTED_TABLES:
        done = connection.execute(f"SELECT max(rowid) FROM main.{table}").fetchone()[0] or 0
        last = connection.execute(f"SELECT max(rowid) FROM src.{table}").fetchone()[0] or 0
        ranges[table] = (done, last)
    start = time.perf_counter()
    for k in range(chunks):
        connection.execute("BEGIN IMMEDIATE")
        for table, (done, last) in ranges.items():
            low = done + (last - done) * k // chunks
            high = done + (last - done) * (k + 1) // chunks
            connection.execute(
                f"INSERT INTO main.{table} SELECT * FROM src.{table}"
                " WHERE rowid > ? AND rowid <= ? ORDER BY rowid",
                (low, high),
            )
        connection.execute("COMMIT")
    seconds = time.perf_counter() - start
    connection.execute("DETACH DATABASE src")
    store.close()
    return seconds


def bench_import(n: int, chunk_size: int = 500) -> None:
    data = rows(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        LeadDesk.configure(store, config(), actor=None)
        fresh = SQLiteStore(Path(tmp) / "copy.db")
        LeadDesk.configure(fresh, config(), actor=None)
        fresh.close()
        desk = LeadDesk(store, playbook=lead_management(), clock=lambda: T0)
        start = time.perf_counter()
        report = desk.import_rows(data, source="purchased_leads", actor=1, chunk_size=chunk_size)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = desk.import_rows(data, source="purchased_leads", actor=1, chunk_size=chunk_size)
        second = time.perf_counter() - start
        store.close()
        chunks = -(-n // chunk_size)
        floor = sqlite_share(Path(tmp) / "bench.db", Path(tmp) / "copy.db", chunks)
    print(f"import of {n:,} rows into SQLite, routed over a 50-member policy:")
    print(f"  {n / first:,.0f} leads/s ({first:.1f} s): {report}")
    made = again.assigned + again.unassigned
    print(f"  re-import: {second:.1f} s, {again.duplicates:,} duplicates, {made:,} new")
    print(
        f"  SQLite's share: the same rows written again by INSERT ... SELECT in {chunks:,}"
        f" transactions: {floor:.1f} s ({n / floor:,.0f} leads/s, {floor / n * 1e6:.0f} us a lead)"
    )


def bench_advance(total: int, due: int = 10) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "advance.db")
        LeadDesk.configure(store, config(5), actor=None)
        clock_now = [T0]
        desk = LeadDesk(store, playbook=call_log(), clock=lambda: clock_now[0])
        data = rows(total)
        desk.import_rows(data, source="purchased_leads", actor=1, chunk_size=2000)
        del data
        # every lead but `due` gets a reminder 30 days out: nothing else changes before then
        book = desk.playbook
        officer = desk.user(2)
        with store.unit_of_work() as uow:
            leads = uow.due_leads(T0 + timedelta(days=400))
            for n, lead in enumerate(leads[due:]):
                reminder = FollowUp(
                    follow_up_id=uuid7(T0, n.to_bytes(10, "big")),
                    kind=FollowUpKind.EVENT,
                    subject=FollowUpSubject.CALL,
                    due=T0 + timedelta(days=30),
                    duration=timedelta(minutes=15),
                )
                moved = schedule_follow_up(book, lead, reminder, officer, T0).lead
                uow.update_lead(moved, next_change_at=next_change_at(moved, book))
        clock_now[0] = T0 + timedelta(days=2, minutes=5)
        start = time.perf_counter()
        report = desk.advance()
        elapsed = time.perf_counter() - start
        store.close()
    ms = elapsed * 1000
    print(f"  {total:>7,} leads, {due} due: advance changed {report.leads} leads in {ms:.1f} ms")
    return elapsed


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "import"
    if what == "import":
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
        bench_import(count, int(sys.argv[3]) if len(sys.argv) > 3 else 500)
    else:
        print("advance() with 10 due leads:")
        for size in (20_000, 200_000):
            bench_advance(size)
