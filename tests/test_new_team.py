"""What a new team meets first (DESIGN D12, §4): batch work with no user id, exit codes.

The config has no admin at all: the person who can open the store file runs
the batch work, as the organisation's system actor. Everything goes through
click's CliRunner; results are checked through the library.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.events import LeadCreated, actor_label
from leadflow.model import Interface

NOW = "2026-03-09T15:00:00+00:00"

TEAM = """
[organization]
name = "Small Team Lending"
timezone = "America/Chicago"

[[teams]]
key = "loans"
name = "Loan officers"

[[users]]
id = 10
name = "Ann Lee"
email = "ann@example.com"
permissions = ["receive_leads"]
teams = ["loans"]

[[users]]
id = 11
name = "Bo Diaz"
email = "bo@example.com"
permissions = ["receive_leads"]
teams = ["loans"]

[[policies]]
key = "loans_rr"
name = "Loan officers, in turn"
teams = ["loans"]
distribution = "round_robin"

[[sources]]
key = "web"
name = "Web form"
primary_policy = "loans_rr"

[[sources]]
key = "walk_in"
name = "Walk-ins (nobody routes them)"
"""

LEADS = (
    "first_name,last_name,email,cell_phone,loan_purpose\n"
    "Cara,Ng,cara@example.com,,Purchase\n"
    "Dev,Shah,dev@example.com,,Purchase\n"
    "Eli,Moss,eli@example.com,,Purchase\n"
    "Fay,Rowe,fay@example.com,,Purchase\n"
)


#: A user who left, added before the policies.
INACTIVE_CY = '[[users]]\nid = 12\nname = "Cy Park"\nemail = "cy@example.com"\nactive = false\n'


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def team(tmp_path: Path) -> Path:
    config = tmp_path / "org.toml"
    config.write_text(TEAM, encoding="utf-8")
    return config


@pytest.fixture
def db(team: Path, tmp_path: Path) -> Path:
    path = tmp_path / "lf.db"
    result = run("init", "--config", team, "--db", path, "--now", NOW)
    assert result.exit_code == 0, result.output
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def route(db: Path, tmp_path: Path, text: str = LEADS, *more: str, source: str = "web") -> Result:
    leads = write(tmp_path / "leads.csv", text)
    return run("route", leads, "--source", source, "--out", tmp_path / "out", "--db", db, *more)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def unique_prefix(lead_id: str, ids: list[UUID]) -> str:
    """The shortest prefix of ``lead_id`` (8 characters or more) that no other of ``ids`` has."""
    return next(
        lead_id[:n] for n in range(8, 37) if sum(str(i).startswith(lead_id[:n]) for i in ids) == 1
    )


def lead_ids(db: Path) -> list[UUID]:
    desk = open_desk(db)
    try:
        with desk.store.unit_of_work() as uow:
            return uow.lead_ids_with_prefix("", limit=1000)
    finally:
        desk.store.close()


def test_a_team_without_an_admin_routes_a_file_as_the_system_actor(
    db: Path, tmp_path: Path
) -> None:
    result = route(db, tmp_path, LEADS, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "4 rows read = 4 assigned" in result.output
    desk = open_desk(db)
    try:
        counts: dict[int | None, int] = {}
        for lead_id in lead_ids(db):
            lead = desk.get_lead(lead_id)
            counts[lead.assignee_id] = counts.get(lead.assignee_id, 0) + 1
            created = desk.history(lead_id)[0]
            assert isinstance(created, LeadCreated)
            assert created.actor is None
            assert created.interface is Interface.CLI
            assert actor_label(created) == "System (cli)"
        assert counts == {10: 2, 11: 2}
    finally:
        desk.store.close()
    shown = run("history", str(lead_ids(db)[0]), "--db", db)
    assert "System (cli): Lead created" in shown.output


def test_re_running_init_applies_the_edited_config_and_keeps_the_rotation(
    db: Path, team: Path, tmp_path: Path
) -> None:
    assert route(db, tmp_path, LEADS, "--now", NOW).exit_code == 0
    with open_desk(db).store.unit_of_work() as uow:
        before = uow.cursors()["loans_rr"]
    edited = TEAM.replace('name = "Bo Diaz"', 'name = "Bo Diaz-Ruiz"').replace(
        "[[policies]]",
        '[[users]]\nid = 12\nname = "Cy Park"\nemail = "cy@example.com"\n'
        'permissions = ["receive_leads"]\nteams = ["loans"]\nactive = false\n\n[[policies]]',
    )
    write(team, edited)
    result = run("init", "--config", team, "--db", db, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "user 12 (Cy Park) added" in result.output
    assert "user 11 renamed 'Bo Diaz' -> 'Bo Diaz-Ruiz'" in result.output
    desk = open_desk(db)
    try:
        assert desk.user(11).name == "Bo Diaz-Ruiz"
        assert len(lead_ids(db)) == 4
        with desk.store.unit_of_work() as uow:
            assert uow.cursors()["loans_rr"] == before
            history = uow.config_history()
        assert [actor for _, actor, _ in history] == [None, None]
    finally:
        desk.store.close()
    again = run("init", "--config", team, "--db", db)
    assert again.exit_code == 0
    assert "unchanged" in again.output


def test_init_refuses_a_config_that_orphans_leads_and_changes_nothing(
    db: Path, team: Path, tmp_path: Path
) -> None:
    assert route(db, tmp_path, LEADS, "--now", NOW).exit_code == 0
    without_web = TEAM.replace('[[sources]]\nkey = "web"\nname = "Web form"\n', "").replace(
        'primary_policy = "loans_rr"\n', ""
    )
    without_ann = TEAM.replace(
        '[[users]]\nid = 10\nname = "Ann Lee"\nemail = "ann@example.com"\n'
        'permissions = ["receive_leads"]\nteams = ["loans"]\n',
        "",
    )
    for text, says in (
        (without_web, "source 'web' is removed but 4 stored lead(s)"),
        (without_ann, "user 10 is removed but holds 2 lead(s)"),
        (
            TEAM.replace('timezone = "America/Chicago"', 'timezone = "UTC"\nplaybook = "call_log"'),
            "no stage 'new'",
        ),
    ):
        write(team, text)
        result = run("init", "--config", team, "--db", db)
        assert result.exit_code == 2, result.output
        assert says in result.output
        assert "Traceback" not in result.output
        with open_desk(db).store.unit_of_work() as uow:
            assert len(uow.config_history()) == 1


def test_exceptions_are_handled_without_a_user(db: Path, tmp_path: Path) -> None:
    result = route(db, tmp_path, LEADS, "--now", NOW, source="walk_in")
    assert result.exit_code == 0, result.output
    assert "4 unassigned" in result.output
    first, second, *_ = (
        r["lead_id"] for r in json.loads(run("exceptions", "list", "--db", db, "--json").output)
    )
    assert run("exceptions", "ignore", first, "--db", db).exit_code == 0
    assert first not in run("exceptions", "list", "--db", db).output
    assert (
        run("exceptions", "unignore", unique_prefix(first, lead_ids(db)), "--db", db).exit_code == 0
    )
    assert first in run("exceptions", "list", "--db", db).output
    assigned = run("exceptions", "assign", second, "11", "--db", db)
    assert assigned.exit_code == 0, assigned.output
    desk = open_desk(db)
    try:
        assert desk.get_lead(UUID(second)).assignee_id == 11
        event = desk.history(UUID(second))[-1]
        assert (event.actor, event.interface) == (None, Interface.CLI)
    finally:
        desk.store.close()


def test_a_member_named_with_user_keeps_a_members_permissions(db: Path, tmp_path: Path) -> None:
    route(db, tmp_path, LEADS, "--now", NOW, source="walk_in")
    first = json.loads(run("exceptions", "list", "--db", db, "--json").output)[0]["lead_id"]
    refused = run("exceptions", "ignore", first, "--user", "10", "--db", db)
    assert refused.exit_code == 1
    assert "only an admin may ignore exception records" in refused.output
    assert run("assign", first, "11", "--user", "10", "--db", db).exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ("queue",),
        ("log", "00000000", "--disposition", "no_answer"),
        ("stage", "00000000", "engaged"),
        ("claim", "00000000"),
        ("release", "00000000"),
    ],
)
def test_a_persons_own_work_needs_user_in_one_line(db: Path, args: tuple[str, ...]) -> None:
    result = run(*args, "--db", db)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "person's own work: pass --user ID" in lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("queue", "--user", "99"), "--user 99: no such user"),
        (("queue", "--user", "99999999999999999999"), "--user"),
        (("queue", "--user", "-1"), "--user"),
        (("exceptions", "ignore", "00000000", "--user", "42"), "--user 42: no such user"),
        (("route", "LEADS", "--source", "web", "--user", "12"), "--user 12"),
        (("route", "LEADS", "--source", "web", "--assign-to", "12"), "--assign-to 12"),
        (("route", "LEADS", "--source", "web", "--assign-to", "77"), "--assign-to 77"),
        (("route", "LEADS", "--source", "wbe"), "did you mean 'web'"),
        (("route", "missing.csv", "--source", "web"), "missing.csv"),
        (("history", "zzzz"), "not a lead id"),
        (("history", "00000000"), "no lead id starts with"),
        (("report", "weekly", "--period", "2026-03-11"), "--out"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    db: Path, team: Path, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    write(
        team,
        TEAM.replace(
            "[[policies]]",
            INACTIVE_CY + "\n[[policies]]",
        ),
    )
    assert run("init", "--config", team, "--db", db).exit_code == 0
    leads = write(tmp_path / "leads.csv", LEADS)
    args = tuple(str(leads) if a == "LEADS" else a for a in args)
    result = run(*args, "--db", db)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert lead_ids(db) == []


def test_a_file_whose_every_row_is_rejected_exits_1_and_says_so(db: Path, tmp_path: Path) -> None:
    bad = "first_name,last_name,email\nCara,,cara@\nDev,Shah,\n"
    result = route(db, tmp_path, bad)
    assert result.exit_code == 1
    assert "2 rejected" in result.output
    assert "every row was rejected" in result.output
    some_good = bad + "Eli,Moss,eli@example.com\n"
    assert route(db, tmp_path, some_good).exit_code == 0
    assert route(db, tmp_path, some_good, "--strict").exit_code == 1


def test_a_config_that_does_not_validate_exits_2_everywhere(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.toml", TEAM.replace('distribution = "round_robin"', 'distribution = "rr"')
    )
    checked = run("config", "check", bad)
    assert checked.exit_code == 2
    assert "distribution" in checked.output
    init = run("init", "--config", bad, "--db", tmp_path / "x.db")
    assert init.exit_code == 2
    assert "distribution" in init.output


def test_a_lead_id_prefix_of_eight_characters_names_one_lead(db: Path, tmp_path: Path) -> None:
    route(db, tmp_path, LEADS, "--now", NOW)
    ids = lead_ids(db)
    # ids made in one millisecond share their first 12 hex digits: a short prefix is ambiguous
    ambiguous = run("history", str(ids[0])[:8], "--db", db)
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.output
    assert all(str(i) in ambiguous.output for i in ids)
    unique = unique_prefix(str(ids[0]), ids)
    shown = run("history", unique.upper().replace("-", ""), "--db", db)
    assert shown.exit_code == 0, shown.output
    assert "Lead created" in shown.output


def test_the_queue_shows_the_prospect_and_how_many_there_are(db: Path, tmp_path: Path) -> None:
    route(db, tmp_path, LEADS, "--now", NOW)
    result = run("queue", "--user", "10", "--limit", "1", "--db", db, "--now", NOW)
    assert result.exit_code == 0, result.output
    header, entry, footer = result.output.strip().splitlines()
    assert header.split() == ["LEAD", "PROSPECT", "PHONE", "STAGE", "WHY"]
    assert "Cara Ng" in entry
    assert "new" in entry
    assert "new_lead" in entry
    assert footer == "showing 1 of 2"


def test_the_report_goes_to_standard_output(db: Path, tmp_path: Path) -> None:
    route(db, tmp_path, LEADS, "--now", NOW)
    rows = run("report", "weekly", "--period", "2026-03-09", "--out", "-", "--db", db)
    assert rows.exit_code == 0, rows.output
    lines = list(csv.DictReader(rows.output.splitlines()))
    assert len(lines) == 4
    assert {line["assigned_to_user_id"] for line in lines} == {"10", "11"}
    as_json = run("report", "weekly", "--period", "2026-03-09", "--json", "--db", db)
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert len(data["rows"]) == 4
    assert data["summary"][-1]["assigned_to_name"] == "organization"
    assert data["summary"][-1]["new_lead_units"] == "4"


def test_advance_says_when_the_playbook_has_no_aging_rules(db: Path) -> None:
    result = run("advance", "--db", db, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "has no aging rules" in result.output
    assert "call_log" in result.output


def test_deliver_sends_the_outbox_and_exits_1_when_a_mail_fails(db: Path, tmp_path: Path) -> None:
    from test_notify import SmtpServer, free_port

    route(db, tmp_path, LEADS, "--now", NOW)
    server = SmtpServer(free_port())
    args = ("deliver", "--smtp-host", server.host, "--smtp-port", str(server.port))
    args += ("--sender", "leads@example.com", "--db", str(db), "--now", NOW)
    server.start()
    try:
        sent = run(*args, "--json")
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.output)["sent"] == 4
        assert sorted(m["To"] for m in server.mails()) == [
            "ann@example.com",
            "ann@example.com",
            "bo@example.com",
            "bo@example.com",
        ]
    finally:
        server.stop()
    more = LEADS.replace("@example.com", "@example.org")
    route(db, tmp_path, more, "--now", NOW)
    failed = run(*args)  # nobody listens: every attempt fails, to be retried
    assert failed.exit_code == 1
    assert "sent 0, failed 4 (to retry)" in failed.output
    assert "4 message(s) could not be delivered" in failed.output
    assert run(*args[:-2], "--password-env", "NO_SUCH_VARIABLE_HERE").exit_code == 2


def test_every_row_lands_in_exactly_one_output_file(db: Path, tmp_path: Path) -> None:
    text = (
        "first_name,last_name,email,external_id\n"
        "Cara,Ng,cara@example.com,W-1\n"
        "Dev,Shah,dev@,W-2\n"
        "Cara,Ng,cara@example.com,W-1\n"
        "Eli,Moss,eli@example.com,W-3\n"
    )
    first = route(db, tmp_path, text, "--now", NOW, "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert (summary["assigned"], summary["rejected"], summary["duplicates"]) == (2, 1, 1)
    out = tmp_path / "out"
    assert [line["row"] for line in read_csv(out / "rejected.csv")] == ["2"]
    (duplicate,) = read_csv(out / "duplicates.csv")
    (assigned, _) = read_csv(out / "assigned.csv")
    assert duplicate["row"] == "3"
    assert (duplicate["match"], duplicate["lead_id"]) == ("W-1", assigned["lead_id"])
    again = json.loads(route(db, tmp_path, text, "--json").output)
    assert again["duplicates"] == 3
    assert [line["match"] for line in read_csv(out / "duplicates.csv")] == ["W-1", "W-1", "W-3"]


def test_quoted_line_breaks_in_free_text_are_kept_and_refused_in_a_name(
    db: Path, tmp_path: Path
) -> None:
    text = (
        "first_name,last_name,email,referred_by,property_address\n"
        'Cara,Ng,cara@example.com,"Jo at the\nopen house","12 Elm St\nApt 4"\n'
        '"Dev\nJo",Shah,dev@example.com,,"1 Main St\nSuite 2"\n'
    )
    result = route(db, tmp_path, text, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "1 assigned + 0 unassigned + 1 rejected" in result.output
    out = tmp_path / "out"
    (assigned,) = read_csv(out / "assigned.csv")
    assert assigned["referred_by"] == "Jo at the\nopen house"
    assert assigned["property_address"] == "12 Elm St\nApt 4"
    (rejected,) = read_csv(out / "rejected.csv")
    assert rejected["first_name"] == "Dev\nJo"
    assert rejected["property_address"] == "1 Main St\nSuite 2"
    assert rejected["errors"].startswith("first_name")
    assert "line break" in rejected["errors"]
    desk = open_desk(db)
    try:
        lead = desk.get_lead(UUID(assigned["lead_id"]))
        assert lead.attributes.referred_by == "Jo at the\nopen house"
        assert lead.attributes.property_address == "12 Elm St\nApt 4"
    finally:
        desk.store.close()
