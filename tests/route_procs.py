"""Real ``leadflow route`` processes on one store, killed and rerun, and the audit after them.

The crash tests of ``test_processes.py`` drive the command line as an
operator does (``leadflow init``, then ``leadflow route FILE --source KEY
--db DB --out DIR -q``), kill a run with SIGKILL at a moment chosen by
watching the store with a plain ``sqlite3`` reader, and check the store
through the library.

The organisation: one round-robin policy over two filter groups (Texas
leads go to users 2 and 3, Oklahoma leads to users 4, 5 and 6) with a
direct fallback to user 1 (Nevada leads, which no member takes). Row ``i``
of a generated file has external id ``W-i`` and its own contact; every 50th
row (``i % 50 == 7``) has neither email nor phone and is rejected.
"""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from leadflow.events import LeadAssigned, LeadCreated
from leadflow.model import Lead
from leadflow.storage.sqlite import SQLiteStore
from route_summary import Summary, summary_of

SOURCE = "purchased_leads"

#: Who may get a lead of each property state (one filter group each; Nevada: the fallback).
GROUPS: dict[str, tuple[int, ...]] = {"TX": (2, 3), "OK": (4, 5, 6), "NV": (1,)}

#: How long any one wait may last before the test gives up (a loaded 2-CPU machine).
DEADLINE = 90.0

_USERS = [(1, "Daniel Davis"), (2, "Maria Garcia"), (3, "James Wilson")]
_USERS += [(4, "Priya Patel"), (5, "Kevin Brien"), (6, "Sarah Johnson")]


def org_toml() -> str:
    """The organisation's config file (see the module documentation)."""
    parts = [
        "[organization]",
        'name = "Crash Lending"',
        'timezone = "America/Chicago"',
        'playbook = "lead_management"',
        "notify_on_assignment = true",
        "",
        "[[teams]]",
        'key = "west"',
        'name = "West"',
    ]
    for uid, name in _USERS:
        parts += [
            "",
            "[[users]]",
            f"id = {uid}",
            f'name = "{name}"',
            f'email = "user{uid}@example.com"',
            'permissions = ["receive_leads"]',
            "started_on = 2021-06-14",
        ]
        parts += ['role = "admin"'] if uid == 1 else ['teams = ["west"]']
    parts += [
        "",
        "[[policies]]",
        'key = "west_rr"',
        'name = "West round robin"',
        'distribution = "round_robin"',
        'teams = ["west"]',
    ]
    for state in ("TX", "OK"):
        for uid in GROUPS[state]:
            parts += [
                "",
                "[[policies.members]]",
                f"user = {uid}",
                f'filters = {{ states = ["{state}"] }}',
            ]
    parts += [
        "",
        "[[policies]]",
        'key = "direct_daniel"',
        'name = "Straight to Daniel"',
        'distribution = "direct"',
        "user = 1",
        "",
        "[[sources]]",
        f'key = "{SOURCE}"',
        'name = "Purchased Leads"',
        'channel = "Partner"',
        'primary_policy = "west_rr"',
        'fallback_policy = "direct_daniel"',
    ]
    return "\n".join(parts) + "\n"


def state_of(i: int) -> str:
    return "NV" if i % 10 == 9 else ("TX" if i % 2 else "OK")


def is_valid(i: int) -> bool:
    return i % 50 != 7


def external_ids(ids: Iterable[int]) -> set[str]:
    """The external ids of the rows among ``ids`` that are stored (the valid ones)."""
    return {f"W-{i}" for i in ids if is_valid(i)}


def write_leads(path: Path, ids: Iterable[int]) -> Path:
    """A lead CSV file of rows ``ids``, in that order."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(
            ["first_name", "last_name", "email", "cell_phone", "property_state", "external_id"]
        )
        for i in ids:
            contact = [f"p{i}@example.com", f"+1512{5500000 + i:07d}"] if is_valid(i) else ["", ""]
            out.writerow([f"P{i}", "Worker", *contact, state_of(i), f"W-{i}"])
    return path


def leadflow() -> list[str]:
    """The ``leadflow`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("leadflow")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from leadflow.cli import main; main()"]


def init_store(tmp: Path) -> Path:
    """``leadflow init`` of a new store in ``tmp`` from :func:`org_toml`; the store's path."""
    config = tmp / "org.toml"
    config.write_text(org_toml(), encoding="utf-8")
    db = tmp / "leads.db"
    done = subprocess.run(
        [*leadflow(), "init", "--config", str(config), "--db", str(db)],
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return db


def start_route(db: Path, leads: Path, out: Path) -> subprocess.Popen[bytes]:
    """``leadflow route LEADS --source SOURCE --db DB --out OUT -q``, started."""
    command = [*leadflow(), "route", str(leads), "--source", SOURCE]
    command += ["--db", str(db), "--out", str(out), "-q"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_route(proc: subprocess.Popen[bytes]) -> Summary:
    """Wait for a route run; it must succeed and print its counts (no traceback)."""
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"leadflow route did not finish within {DEADLINE:g} s") from None
    text, errors = out.decode(), err.decode()
    assert proc.returncode == 0, errors
    assert "Traceback" not in text + errors
    summary = summary_of(text)
    assert summary is not None, text
    return summary


def stored_count(watcher: sqlite3.Connection) -> int | None:
    """How many leads the store holds, read by a plain reader; ``None`` while it is busy."""
    try:
        count: int = watcher.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
    except sqlite3.OperationalError:  # busy for a moment (a new process recovering the WAL)
        return None
    return count


def kill_when_stored(db: Path, victim: subprocess.Popen[bytes], at_least: int) -> int:
    """SIGKILL ``victim`` inside a unit of work once the store holds ``at_least`` leads.

    The store is watched with a plain reader (WAL lets it read while an
    import holds the write lock). Once the count is reached, the reader
    tries ``BEGIN IMMEDIATE`` without waiting, again and again (giving the
    lock straight back), until it is refused: a unit of work is open, with
    uncommitted rows written, and the kill lands in it. Returns the count
    seen. Fails when the victim ends first (it could not be killed partway)
    or the count is not reached in time.
    """
    watcher = sqlite3.connect(db, timeout=0, isolation_level=None)
    deadline = time.monotonic() + DEADLINE
    seen = 0
    try:
        while time.monotonic() < deadline and victim.poll() is None and seen < at_least:
            seen = stored_count(watcher) or seen
            time.sleep(0.005)
        while time.monotonic() < deadline and victim.poll() is None and seen >= at_least:
            try:
                watcher.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # locked: a unit of work is open
                break
            watcher.execute("ROLLBACK")
            time.sleep(0.001)
    finally:
        watcher.close()
    victim.send_signal(signal.SIGKILL)
    _, err = victim.communicate(timeout=DEADLINE)  # reap it and close its pipes
    assert victim.returncode == -signal.SIGKILL, (
        f"the run ended (exit {victim.returncode}) before it could be killed: {err.decode()}"
    )
    assert seen >= at_least, f"{seen} leads stored after {DEADLINE:g} s, waiting for {at_least}"
    return seen


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store."""
    connection = sqlite3.connect(db, timeout=30)
    try:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
    return result


def stored(db: Path) -> int:
    store = SQLiteStore(db)
    try:
        with store.unit_of_work() as uow:
            return uow.count_leads()
    finally:
        store.close()


def audit(db: Path, expected: set[str] | None = None) -> dict[str, Lead]:
    """Check everything a kill may not break; the stored leads by external id.

    Every stored lead is stored once (no external id twice), is whole (its
    contact, owned by its assignee; its events exactly ``LeadCreated`` then
    ``LeadAssigned`` to the assignee; one assignment email) and went to its
    state's filter group; the group's round-robin counts differ by at most
    one; ``PRAGMA integrity_check`` is ``ok``. With ``expected``, the stored
    external ids are exactly those.
    """
    assert integrity(db) == "ok"
    store = SQLiteStore(db)
    try:
        with store.unit_of_work() as uow:
            total = uow.count_leads()
            leads: list[Lead] = list(uow.pool_leads())
            for uid in uow.lead_counts("assignee_id"):
                if uid is not None:
                    leads += uow.leads_of_assignee(int(uid))
            assert len(leads) == total
            assert len({lead.lead_id for lead in leads}) == total
            ids = Counter(lead.attributes.external_id for lead in leads)
            assert [ext for ext, n in ids.items() if n > 1] == []
            if expected is not None:
                assert set(ids) == expected
            events: dict[object, list[object]] = defaultdict(list)
            for event in uow.activity(
                start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2999, 1, 1, tzinfo=UTC)
            ):
                events[getattr(event, "lead_id", None)].append(event)
            assert set(events) == {lead.lead_id for lead in leads}
            mails = Counter(m.lead_id for m in uow.messages())
            assert mails == Counter({lead.lead_id: 1 for lead in leads})
            per_user: Counter[int] = Counter()
            for lead in leads:
                assert lead.assignee_id is not None
                assert lead.assignee_id in GROUPS[str(lead.attributes.property_state)]
                per_user[lead.assignee_id] += 1
                assert uow.get_contact(lead.contact_id).owner_id == lead.assignee_id
                created, assigned = _two(events[lead.lead_id])
                assert isinstance(created, LeadCreated)
                assert created.contact_id == lead.contact_id
                assert isinstance(assigned, LeadAssigned)
                assert assigned.assignee_id == lead.assignee_id
            assert uow.lead_counts("assignee_id") == dict(per_user)
            assert_fair(per_user)
    finally:
        store.close()
    return {str(lead.attributes.external_id): lead for lead in leads}


def _two(events: Sequence[object]) -> tuple[object, object]:
    assert len(events) == 2, events
    return events[0], events[1]


def assert_fair(per_user: Counter[int]) -> None:
    """Round robin inside each filter group: counts differ by at most one."""
    for members in GROUPS.values():
        counts = [per_user[uid] for uid in members]
        assert max(counts) - min(counts) <= 1, dict(zip(members, counts, strict=True))


def check_outputs(out: Path, summary: Summary, leads: dict[str, Lead]) -> None:
    """The run's four files hold its rows once each and name the stored leads."""
    files = {name: _read(out / f"{name}.csv") for name in ("assigned", "exceptions")}
    files |= {name: _read(out / f"{name}.csv") for name in ("rejected", "duplicates")}
    assert len(files["assigned"]) == summary.assigned
    assert len(files["exceptions"]) == summary.unassigned
    assert len(files["rejected"]) == summary.rejected
    assert len(files["duplicates"]) == summary.duplicates
    for row in files["assigned"] + files["duplicates"]:
        lead = leads[row["external_id"]]
        assert row["lead_id"] == str(lead.lead_id)
        if "assignee_id" in row:
            assert row["assignee_id"] == str(lead.assignee_id)
    written = [row["external_id"] for rows in files.values() for row in rows]
    assert len(written) == len(set(written)) == summary.rows


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
