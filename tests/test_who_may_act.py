"""Who may act, and on which lead (issue: never a traceback, never a wrong count).

* An unknown or inactive ``--user`` is refused by every command that takes
  one, with one message, exit 2, and nothing changes.
* Working a lead -- logging an outcome, moving its stage, scheduling a
  follow-up, adding a note, changing it -- is for its holder, anyone while
  it is unheld or in a pool stage, an admin, or a user with the
  ``work_any_lead`` permission. Anyone else is refused (exit 1 on the
  command line) and nothing changes.

The command line runs through CliRunner against ``examples/org.toml``
(user 1 is an admin, 2..6 members, 7 inactive, 8 a manager with
``work_any_lead``); results are checked through the library.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import attrs
import pytest
from click.testing import CliRunner, Result
from dateutil.relativedelta import relativedelta

from desk_helpers import make_desk, person, row
from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.errors import PermissionDenied
from leadflow.model import Permission, Role
from leadflow.queue import ownership
from leadflow.stages.presets import preset
from leadflow.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "examples" / "org.toml"
LEADS = ROOT / "examples" / "leads.csv"
NOW = "2026-03-09T15:00:00+00:00"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the example leads routed, as a template each test copies."""
    base = tmp_path_factory.mktemp("routed")
    db = base / "leadflow.db"
    assert run("init", "--config", ORG, "--db", db, "--now", NOW).exit_code == 0
    result = run(
        "route", LEADS, "--source", "purchased_leads", "--db", db, "--out", base / "out", "--quiet"
    )
    assert result.exit_code in (0, 1), result.output
    return db


@pytest.fixture
def db(routed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "leadflow.db"
    copy.write_bytes(routed.read_bytes())
    return copy


def held_by(db: Path, user_id: int) -> UUID:
    """A lead that ``user_id`` holds."""
    desk = open_desk(db)
    try:
        for entry in desk.queue(user_id, limit=1):
            return entry.lead.lead_id
    finally:
        desk.store.close()
    raise AssertionError(f"user {user_id} holds no lead")


def history(db: Path, lead_id: UUID) -> list[object]:
    desk = open_desk(db)
    try:
        return list(desk.history(lead_id))
    finally:
        desk.store.close()


def lead_count(db: Path) -> int:
    desk = open_desk(db)
    try:
        with desk.store.unit_of_work() as uow:
            return sum(uow.lead_counts("source").values())
    finally:
        desk.store.close()


# --------------------------------------------------------------------------- unknown and inactive


LEAD_COMMANDS = [
    ("log", ["--disposition", "left_vm"]),
    ("stage", ["Application Submitted"]),
    ("claim", []),
    ("release", []),
    ("assign", ["3"]),
]


@pytest.mark.parametrize("who", ["7", "99"], ids=["inactive", "unknown"])
@pytest.mark.parametrize(("command", "extra"), LEAD_COMMANDS, ids=[c for c, _ in LEAD_COMMANDS])
def test_an_inactive_or_unknown_user_is_refused_on_every_lead_command(
    db: Path, who: str, command: str, extra: list[str]
) -> None:
    lead = held_by(db, 2)
    before = history(db, lead)
    result = run(command, lead, *extra, "--user", who, "--db", db, "--now", NOW)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = "is inactive" if who == "7" else "no such user in this organisation"
    assert f"error: --user {who}: " in result.output
    assert expected in result.output
    assert history(db, lead) == before


@pytest.mark.parametrize("who", ["7", "99"], ids=["inactive", "unknown"])
@pytest.mark.parametrize(
    "command",
    [
        ["queue"],
        ["pool"],
        ["route", LEADS, "--source", "purchased_leads", "--dry-run", "--config", ORG],
        ["route", LEADS, "--source", "purchased_leads"],
        ["exceptions", "ignore", "00000000"],
        ["report", "weekly", "--period", "2026-03-09", "--json"],
    ],
    ids=["queue", "pool", "dry-route", "route", "exceptions", "report"],
)
def test_an_inactive_or_unknown_user_is_refused_by_the_other_commands(
    db: Path, tmp_path: Path, who: str, command: list[str | Path]
) -> None:
    before = lead_count(db)
    extra: list[str | Path] = (
        ["--out", tmp_path / "out", "--quiet"] if command[0] == "route" else []
    )
    result = run(*command, *extra, "--user", who, "--db", db)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    expected = "is inactive" if who == "7" else "no such user in this organisation"
    assert f"error: --user {who}: " in result.output
    assert expected in result.output
    assert lead_count(db) == before
    assert not (tmp_path / "out").exists()


def test_init_by_an_inactive_or_unknown_user_changes_nothing(db: Path, tmp_path: Path) -> None:
    edited = tmp_path / "org.toml"
    edited.write_text(ORG.read_text().replace('name = "Acme Lending"', 'name = "Acme Two"'))
    for who in ("7", "99"):
        result = run("init", "--config", edited, "--user", who, "--db", db)
        assert result.exit_code == 2, result.output
        assert f"user {who}" in result.output
    member = run("init", "--config", edited, "--user", "2", "--db", db)
    assert member.exit_code == 1, member.output
    assert "only an admin" in member.output
    desk = open_desk(db)
    try:
        assert desk.config.settings.name == "Acme Lending"
    finally:
        desk.store.close()


# --------------------------------------------------------------------------- working a lead


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("log", ["--disposition", "left_vm"]),
        ("log", ["--disposition", "left_vm", "--follow-up", "2026-03-10T15:00:00Z"]),
        ("stage", ["Application Submitted"]),
        ("release", []),
    ],
    ids=["log", "log-follow-up", "stage", "release"],
)
def test_a_member_may_not_work_a_lead_someone_else_holds(
    db: Path, command: str, extra: list[str]
) -> None:
    lead = held_by(db, 2)
    before = history(db, lead)
    result = run(command, lead, *extra, "--user", "3", "--db", db, "--now", NOW)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"lead {lead} is held by user 2" in result.output
    assert history(db, lead) == before


@pytest.mark.parametrize("who", ["2", "1", "8"], ids=["holder", "admin", "work_any_lead"])
@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("log", ["--disposition", "left_vm", "--follow-up", "2026-03-10T15:00:00Z"]),
        ("stage", ["Application Submitted"]),
    ],
    ids=["log", "stage"],
)
def test_the_holder_an_admin_and_work_any_lead_may_work_it(
    db: Path, who: str, command: str, extra: list[str]
) -> None:
    lead = held_by(db, 2)
    before = len(history(db, lead))
    result = run(command, lead, *extra, "--user", who, "--db", db, "--now", NOW)
    assert result.exit_code == 0, result.output
    after = history(db, lead)
    assert len(after) > before
    assert {getattr(e, "actor", None) for e in after[before:]} == {int(who)}
    desk = open_desk(db)
    try:
        assert desk.get_lead(lead).assignee_id == 2  # working it does not take it
    finally:
        desk.store.close()


# --------------------------------------------------------------------------- the library


def test_every_way_of_working_a_lead_is_refused_to_a_member_who_does_not_hold_it() -> None:
    store = MemoryStore()
    desk, clock = make_desk(store)
    created = desk.create_lead(row("Ann"), source="purchased_leads")
    lead = created.lead
    assert lead is not None
    assert lead.assignee_id is not None
    holder = lead.assignee_id
    other = next(u for u in (2, 3, 4) if u != holder)
    contact = lead.contact_id
    attempts = {
        "log_outcome": lambda: desk.log_outcome(lead.lead_id, "no_answer", actor=other),
        "set_stage": lambda: desk.set_stage(lead.lead_id, "attempted", actor=other),
        "schedule_follow_up": lambda: desk.schedule_follow_up(
            lead.lead_id, clock.now + timedelta(days=1), actor=other
        ),
        "general_follow_up": lambda: desk.general_follow_up(
            lead.lead_id, relativedelta(months=2), actor=other
        ),
        "add_note (lead)": lambda: desk.add_note(
            contact, "called", actor=other, lead_id=lead.lead_id
        ),
        "add_note (contact)": lambda: desk.add_note(contact, "called", actor=other),
        "update_lead": lambda: desk.update_lead(
            lead.lead_id, {"loan_amount": "250000"}, actor=other
        ),
    }
    before = desk.history(lead.lead_id)
    for name, attempt in attempts.items():
        with pytest.raises(PermissionDenied, match="work_any_lead") as refused:
            attempt()
        assert f"user {other} may not" in str(refused.value), name
    assert desk.history(lead.lead_id) == before
    assert desk.get_lead(lead.lead_id) == lead
    # the holder may do every one of them
    desk.log_outcome(lead.lead_id, "no_answer", actor=holder)
    desk.add_note(contact, "called back", actor=holder, lead_id=lead.lead_id)
    desk.add_note(contact, "a contact note", actor=holder)
    desk.update_lead(lead.lead_id, {"loan_amount": "250000"}, actor=holder)


def test_an_unheld_lead_is_anyones_to_work() -> None:
    store = MemoryStore()
    desk, _ = make_desk(store)
    created = desk.create_lead(row("Ann"), source="purchased_leads")
    lead = created.lead
    assert lead is not None
    assert lead.assignee_id is not None
    released = desk.release(lead.lead_id, actor=lead.assignee_id)
    assert released.assignee_id is None
    anyone = next(u for u in (2, 3, 4) if u != lead.assignee_id)
    worked = desk.log_outcome(lead.lead_id, "no_answer", actor=anyone)
    assert worked.assignee_id is None


def test_a_lead_in_a_pool_stage_is_anyones_to_work() -> None:
    playbook = preset("call_log")
    assert playbook.pool_stages
    pool_stage = sorted(playbook.pool_stages)[0]
    maria, kelly = person(2, "Maria"), person(3, "Kelly")
    store = MemoryStore()
    desk, _ = make_desk(store, playbook=playbook)
    lead = desk.create_lead(row("Ann"), source="purchased_leads", assignee=2).lead
    assert lead is not None
    assert lead.assignee_id == 2
    in_pool = attrs.evolve(lead, stage=pool_stage)
    assert ownership.may_work(playbook, in_pool, kelly)
    assert not ownership.may_work(playbook, lead, kelly)
    assert ownership.may_work(playbook, lead, maria)


def test_who_may_work_a_lead_by_role_and_permission() -> None:
    playbook = preset("lead_management")
    store = MemoryStore()
    desk, _ = make_desk(store)
    lead = desk.create_lead(row("Ann"), source="purchased_leads", assignee=2).lead
    assert lead is not None
    assert lead.assignee_id == 2
    member = person(3, "Kelly")
    admin = person(1, "Daniel", role=Role.ADMIN)
    manager = attrs.evolve(member, permissions=frozenset({Permission.WORK_ANY_LEAD.value}))
    assert ownership.may_work(playbook, lead, person(2, "Maria"))
    assert ownership.may_work(playbook, lead, admin)
    assert ownership.may_work(playbook, lead, manager)
    assert not ownership.may_work(playbook, lead, member)
    with pytest.raises(PermissionDenied, match="held by user 2"):
        ownership.require_worker(playbook, lead, member, "logging an outcome")
