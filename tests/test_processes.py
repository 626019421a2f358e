"""Real processes on one SQLite file: concurrent routing, and kills in the middle of imports.

The last tests drive `leadflow route` itself (see ``route_procs.py``): a rerun
of a killed run killed again, and one of two concurrent runs killed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import route_procs
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


# ---------------------------------------------------------------- kill -9 of `leadflow route`


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test starts; any still running at its end is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_a_rerun_of_a_killed_route_killed_again_then_rerun_stores_each_lead_once(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    total = 10_000
    db = route_procs.init_store(tmp_path)
    leads = route_procs.write_leads(tmp_path / "leads.csv", range(total))
    out = tmp_path / "out"  # every run writes where the operator's command says
    expected = route_procs.external_ids(range(total))

    # the first run, killed once a few chunks are stored
    started.append(first := route_procs.start_route(db, leads, out))
    route_procs.kill_when_stored(db, first, 1000)
    after_first = len(route_procs.audit(db))
    assert 0 < after_first < len(expected)

    # its rerun, killed once it has stored more
    started.append(rerun := route_procs.start_route(db, leads, out))
    route_procs.kill_when_stored(db, rerun, after_first + 1000)
    after_rerun = len(route_procs.audit(db))
    assert after_first < after_rerun < len(expected)

    # the rerun of the rerun completes the import
    started.append(last := route_procs.start_route(db, leads, out))
    summary = route_procs.finish_route(last)
    assert summary.accounted
    assert summary.rows == total
    assert summary.duplicates == after_rerun
    assert summary.assigned == len(expected) - after_rerun
    assert summary.unassigned == 0
    assert summary.rejected == total - len(expected)
    stored = route_procs.audit(db, expected)
    route_procs.check_outputs(out, summary, stored)


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_one_of_two_concurrent_routes_of_the_same_rows_killed_then_both_rerun(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    # the shorter file holds the first rows of the longer one, shuffled: from the start
    # both runs store leads, and every chunk of each meets rows the other stored or
    # is storing; the longer file also has rows the shorter never sees
    longer, shorter = 12_000, 8_000
    db = route_procs.init_store(tmp_path)
    big = route_procs.write_leads(tmp_path / "big.csv", range(longer))
    shuffled = random.Random(16).sample(range(shorter), shorter)
    small = route_procs.write_leads(tmp_path / "small.csv", shuffled)
    expected = route_procs.external_ids(range(longer))

    started.append(victim := route_procs.start_route(db, big, tmp_path / "out_big"))
    started.append(other := route_procs.start_route(db, small, tmp_path / "out_small"))
    route_procs.kill_when_stored(db, victim, 4000)
    survived = route_procs.finish_route(other)
    assert survived.accounted
    assert survived.rows == shorter
    assert survived.assigned + survived.duplicates == len(route_procs.external_ids(range(shorter)))
    after_kill = route_procs.audit(db)
    assert set(after_kill) >= route_procs.external_ids(range(shorter))
    assert len(after_kill) < len(expected)

    # the operator reruns both commands; they run at once again
    started.append(victim := route_procs.start_route(db, big, tmp_path / "out_big"))
    started.append(other := route_procs.start_route(db, small, tmp_path / "out_small"))
    big_rerun = route_procs.finish_route(victim)
    small_rerun = route_procs.finish_route(other)
    for summary in (big_rerun, small_rerun):
        assert summary.accounted
        assert summary.unassigned == 0
    # every row of the shorter file was stored before: nothing is left for its rerun
    assert small_rerun.assigned == 0
    assert small_rerun.duplicates == len(route_procs.external_ids(range(shorter)))
    assert big_rerun.rows == longer
    assert big_rerun.duplicates == len(after_kill)
    assert big_rerun.assigned == len(expected) - len(after_kill)
    stored = route_procs.audit(db, expected)
    route_procs.check_outputs(tmp_path / "out_big", big_rerun, stored)
    route_procs.check_outputs(tmp_path / "out_small", small_rerun, stored)
