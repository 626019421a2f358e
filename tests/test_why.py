"""Why did this lead go there? Every lead keeps its routing decision; desk.why and `leadflow why`
render it, for a lead made alone or imported, assigned or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from desk_helpers import make_desk, org, row
from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.events import LeadCreated
from leadflow.model import Origin
from leadflow.org import OrgConfig
from leadflow.routing import PolicyMember
from leadflow.storage import MemoryStore, Store
from leadflow.storage.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "w.db")
    yield made
    made.close()


def _paused_maria() -> OrgConfig:
    config = org()
    west = attrs.evolve(config.policies[0], members=(PolicyMember(user_id=2, paused=True),))
    return attrs.evolve(config, policies=(west, *config.policies[1:]))


def test_a_routed_lead_says_which_policy_chose_whom_and_who_was_passed_over(store: Store) -> None:
    desk, _ = make_desk(store, _paused_maria())
    created = desk.create_lead(row(property_state="TX"), source="purchased_leads")
    assert created.lead is not None
    why = desk.why(created.lead.lead_id)
    assert why.decision is not None
    (step,) = why.decision.steps
    assert (step.policy, step.winner) == ("west_rr", 3)
    assert ("paused", (2,)) in step.passed
    assert ("eligible", (4,)) in step.passed  # could have had it: the rotation chose Kelly
    assert why.lines() == [
        "policy west_rr (round_robin): chose user 3 (least_recent)",
        "  passed over, paused: users 2",
        "  passed over, eligible: users 4",
        "now held by user 3",
    ]


def test_an_unassigned_lead_says_why_nobody_took_it(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="referral")  # a source without a policy
    assert created.lead is not None
    assert created.lead.assignee_id is None
    why = desk.why(created.lead.lead_id)
    assert why.decision is not None
    assert why.decision.reason == "no_policy"
    assert why.lines()[0].startswith("not assigned: no_policy (")
    assert why.lines()[-1] == "now held by nobody"


def test_a_lead_made_by_hand_or_by_name_says_so_and_later_moves_are_listed(store: Store) -> None:
    desk, _ = make_desk(store)
    own = desk.create_lead(row(), source="purchased_leads", actor=4)
    assert own.lead is not None
    assert desk.why(own.lead.lead_id).lines()[0] == (
        "created by user 4, who gets the leads they create"
    )
    named = desk.create_lead(row("Bob", "Stone"), source="purchased_leads", actor=1, assignee=3)
    assert named.lead is not None
    lead_id = named.lead.lead_id
    assert desk.why(lead_id).lines()[0] == "assigned to user 3 by name, routing skipped"
    desk.assign(lead_id, 2)
    lines = desk.why(lead_id).lines()
    assert lines[1].endswith("Reassigned from user 3 to user 2.")
    assert lines[-1] == "now held by user 2"


def test_an_imported_lead_keeps_the_same_decision_as_one_made_alone(store: Store) -> None:
    alone, _ = make_desk(MemoryStore(), _paused_maria())
    made = alone.create_lead(row(), source="purchased_leads", origin=Origin.IMPORT)
    assert made.lead is not None
    desk, _ = make_desk(store, _paused_maria())
    seen: list[object] = []
    desk.import_rows([row()], source="purchased_leads", on_row=seen.append)
    (outcome,) = seen
    lead = outcome.lead  # type: ignore[attr-defined]
    assert desk.why(lead.lead_id).decision == alone.why(made.lead.lead_id).decision
    created = desk.history(lead.lead_id)[0]
    assert isinstance(created, LeadCreated)
    assert created.decision is not None


def test_leadflow_why_prints_the_decision_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "leadflow.db"
    now = "2026-03-09T15:00:00+00:00"
    assert (
        runner.invoke(
            cli,
            [
                "init",
                "--config",
                str(ROOT / "examples" / "org.toml"),
                "--db",
                str(db),
                "--now",
                now,
            ],
        ).exit_code
        == 0
    )
    routed = runner.invoke(
        cli,
        [
            "route",
            str(ROOT / "examples" / "leads.csv"),
            "--source",
            "purchased_leads",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "out"),
            "-q",
        ],
    )
    assert routed.exit_code in (0, 1), routed.output
    desk = open_desk(db)
    try:
        lead = desk.queue(2, limit=1)[0].lead if desk.queue(2, limit=1) else None
        if lead is None:
            lead = next(entry.lead for uid in desk.directory.users for entry in desk.queue(uid))
        expected = desk.why(lead.lead_id).lines()
    finally:
        desk.store.close()
    shown = runner.invoke(cli, ["why", str(lead.lead_id), "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == expected
    assert any(line.startswith("policy ") for line in expected)
    as_json = runner.invoke(cli, ["why", str(lead.lead_id), "--db", str(db), "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["lead_id"] == str(lead.lead_id)
    assert data["decision"]["steps"][0]["winner"] == lead.assignee_id
    missing = runner.invoke(cli, ["why", "ffffffff", "--db", str(db)])
    assert missing.exit_code != 0
    assert "Traceback" not in missing.output
