"""Real processes on one SQLite file: concurrent routing, and a kill in the middle of an import."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from leadflow.events import LeadAssigned, LeadCreated
from leadflow.storage.sqlite import SQLiteStore

WORKER = str(Path(__file__).with_name("proc_worker.py"))


def worker(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, WORKER, *args], stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def all_leads(db: Path) -> list:  # type: ignore[type-arg]
    store = SQLiteStore(db)
    with store.unit_of_work() as uow:
        leads = []
        for uid in (1, 2, 3, 4):
            leads += uow.leads_of_assignee(uid)
        leads += uow.pool_leads()
    store.close()
    return leads


def test_two_processes_creating_and_routing_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    finish(worker("setup", str(db), "0"))
    a, b = worker("create", str(db), "60", "a"), worker("create", str(db), "60", "b")
    finish(a)
    finish(b)
    leads = all_leads(db)
    assert len(leads) == 120
    assert len({lead.lead_id for lead in leads}) == 120
    counts = Counter(lead.assignee_id for lead in leads)
    assert set(counts) == {2, 3, 4}
    assert max(counts.values()) - min(counts.values()) <= 1
    store = SQLiteStore(db)
    with store.unit_of_work() as uow:
        for lead in leads:
            kinds = [type(e) for e in uow.history(lead.lead_id)]
            assert kinds == [LeadCreated, LeadAssigned]
    store.close()


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_a_killed_import_leaves_whole_leads_and_a_rerun_completes_it(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    finish(worker("setup", str(db), "0"))
    total = 6000
    proc = worker("import", str(db), str(total))
    # watch with a plain reader: WAL lets it read while the import holds the write lock
    watcher = sqlite3.connect(db)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        stored = watcher.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
        if stored >= 200:
            break
        time.sleep(0.01)
    watcher.close()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reap it and close its pipe
    assert stored > 0
    store = SQLiteStore(db)
    with store.unit_of_work() as uow:
        partial = uow.count_leads()
    assert partial < total, "the import finished before it could be killed"
    leads = all_leads(db)
    assert len(leads) == partial
    with store.unit_of_work() as uow:
        for lead in leads:
            contact = uow.get_contact(lead.contact_id)
            assert contact.owner_id == lead.assignee_id
            assert [type(e) for e in uow.history(lead.lead_id)] == [LeadCreated, LeadAssigned]
        # the cursor was committed with exactly the assignments it accounts for
        assert uow.cursors()["west_rr"].last_user_id == [2, 3, 4][(partial - 1) % 3]
        counts = Counter(lead.assignee_id for lead in leads)
        assert max(counts.values()) - min(counts.values()) <= 1
    store.close()

    from desk_helpers import org  # noqa: F401
    from leadflow.desk import LeadDesk
    from leadflow.stages import lead_management
    from proc_worker import rows

    store = SQLiteStore(db)
    desk = LeadDesk(store, playbook=lead_management())
    report = desk.import_rows(rows(total), source="purchased_leads", actor=1)
    assert report.duplicates == partial
    assert report.assigned == total - partial
    with store.unit_of_work() as uow:
        assert uow.count_leads() == total
    store.close()
