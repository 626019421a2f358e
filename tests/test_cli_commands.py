"""The leadflow commands through click's CliRunner; results checked through the library."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.io.csvfiles import lead_template_header

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORG = EXAMPLES / "org.toml"
LEADS = EXAMPLES / "leads.csv"
NOW = "2026-03-09T15:00:00+00:00"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lf.db"
    result = run("init", "--config", ORG, "--db", path, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    return path


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_routing_the_example_file_accounts_for_every_row(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("route", LEADS, "--source", "purchased_leads", "--out", out, "--db", db)
    result = run(*args, "--now", NOW, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 50
    assert summary["rows"] == (
        summary["assigned"] + summary["unassigned"] + summary["rejected"] + summary["duplicates"]
    )
    rejected = read(out / "rejected.csv")
    assert len(rejected) == summary["rejected"] == 6
    fields = {"email", "loan_purpose", "cell_phone", "property_state", "loan_amount", "last_name"}
    for line in rejected:
        named = {field for field in fields if line["errors"].startswith(field)}
        assert named, line["errors"]
    assigned = read(out / "assigned.csv")
    assert len(assigned) == summary["assigned"]
    assert all(line["lead_id"] and line["assignee_name"] for line in assigned)
    # the formula in a name is neutralised in every output it reaches
    hyperlinks = [line for line in assigned if "HYPERLINK" in line["first_name"]]
    assert hyperlinks
    assert all(line["first_name"].startswith("'=") for line in hyperlinks)
    # zip codes keep their leading zeros
    assert any(line["property_zip"] == "02134" for line in assigned)
    desk = open_desk(db)
    try:
        with desk.store.unit_of_work() as uow:
            assert uow.count_leads() == summary["assigned"] + summary["unassigned"]
    finally:
        desk.store.close()
    again = json.loads(run(*args, "--json").output)
    assert again["duplicates"] == summary["assigned"] + summary["unassigned"]
    assert again["assigned"] + again["unassigned"] == 0


def test_a_dry_run_needs_only_the_config_and_touches_no_store(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    out = tmp_path / "dry"
    result = run(
        "route", LEADS, "--source", "purchased_leads", "--dry-run", "--config", ORG,
        "--out", out, "--db", db, "--now", NOW,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dry run: 50 rows read = " in result.output
    assert not db.exists()
    assert len(read(out / "rejected.csv")) == 6
    missing = run("route", LEADS, "--source", "purchased_leads", "--dry-run", "--out", out)
    assert missing.exit_code == 2
    assert "--config" in missing.output


def test_a_dry_run_from_the_store_decides_what_the_real_run_then_does(
    db: Path, tmp_path: Path
) -> None:
    # the store already holds half the file: its rotation, contacts and external ids
    rows = LEADS.read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("".join(rows[:26]), encoding="utf-8")
    second.write_text("".join(rows[:1] + rows[20:]), encoding="utf-8")  # 6 rows again
    args = ("--source", "purchased_leads", "--db", db, "--now", NOW, "--json")
    assert run("route", first, *args, "--out", tmp_path / "a").exit_code == 0
    dry = run("route", second, *args, "--out", tmp_path / "dry", "--dry-run")
    assert dry.exit_code == 0, dry.output
    stored_before = _count_leads(db)
    real = run("route", second, *args, "--out", tmp_path / "real")
    assert real.exit_code == 0, real.output
    dry_summary, real_summary = json.loads(dry.output), json.loads(real.output)
    assert dry_summary["dry_run"] is True
    for key in ("rows", "assigned", "unassigned", "rejected", "duplicates"):
        assert dry_summary[key] == real_summary[key], key
    # the six rows again are duplicates, but for one the first run rejected
    again = {r["external_id"] for r in read(second)} & {r["external_id"] for r in read(first)}
    refused = {r["external_id"] for r in read(tmp_path / "a" / "rejected.csv")}
    assert dry_summary["duplicates"] == len(again - refused) > 0

    # row by row, the same assignee and policy; only the ids are missing
    def decided(folder: str) -> list[tuple[str, str, str]]:
        return [
            (r["external_id"], r["assignee_id"], r["policy"])
            for r in read(tmp_path / folder / "assigned.csv")
        ]

    assert decided("dry") == decided("real")
    assert all(r["lead_id"] == "" for r in read(tmp_path / "dry" / "assigned.csv"))
    # the dry run stored nothing; the real run stored its new leads
    made = real_summary["assigned"] + real_summary["unassigned"]
    assert _count_leads(db) == stored_before + made


def _count_leads(db: Path) -> int:
    desk = open_desk(db)
    try:
        with desk.store.unit_of_work() as uow:
            return uow.count_leads()
    finally:
        desk.store.close()


def test_an_awkward_file_is_routed_and_its_ragged_row_rejected(db: Path, tmp_path: Path) -> None:
    header = "First Name,Last Name,Email,Loan Purpose,Property State,Property Zip,External ID"
    header += ",Property Address"
    body = (
        "\ufeff" + header + "\r\n"
        'Annie,Quince,annie@example.com,Purchase,TX,02134,A-1,"12 Main St\r\nApt 4"\r\n'
        "Bob,Hale,bob@example.com,Purchase,TX\r\n"
        '"=HYPERLINK(""http://x"")",Park,maya@example.com,Purchase,TX,75001,A-3,\r\n'
    )
    path = tmp_path / "awkward.csv"
    path.write_bytes(body.encode("utf-8"))
    out = tmp_path / "out"
    result = run("route", path, "--source", "purchased_leads", "--out", out, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["rows"], summary["rejected"]) == (3, 1)
    (ragged,) = read(out / "rejected.csv")
    assert ragged["row"] == "2"
    assert "cells" in ragged["errors"]
    text = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv"))
    assert "=HYPERLINK" in text
    assert ",=HYPERLINK" not in text
    assert "\n=HYPERLINK" not in text
    assert "\"'=HYPERLINK" in text or "'=HYPERLINK" in text


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(b"x" * 5_000_000, id="a 5 MB name"),
        pytest.param(b'"' + b"x\n" * 2_500_000 + b'"', id="a quoted 5 MB name of many lines"),
    ],
)
@pytest.mark.parametrize("dry", [False, True])
def test_an_over_long_cell_rejects_its_row_alone_with_its_true_number(
    db: Path, tmp_path: Path, name: bytes, dry: bool
) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(
        b"First Name,Last Name,Email\nAnn,Lee,ann@example.com\n"
        + b"Bo,"
        + name
        + b",bo@example.com\nCy,Dee,cy@example.com\n"
    )
    out = tmp_path / "out"
    where = ("--dry-run", "--config", ORG) if dry else ("--db", db)
    result = run("route", path, "--source", "purchased_leads", "--out", out, *where, "--json")
    assert result.exit_code == 0, result.output[:500]
    summary = json.loads(result.output)
    assert (summary["rows"], summary["assigned"], summary["rejected"]) == (3, 2, 1)
    (rejected,) = read(out / "rejected.csv")
    assert rejected["row"] == "2"
    assert rejected["errors"].startswith(f"is {len(name) + 19:,} characters long")
    assert len(rejected["errors"]) < 200
    assert [row["First Name"] for row in read(out / "assigned.csv")] == ["Ann", "Cy"]
    if not dry:
        desk = open_desk(db)
        try:
            with desk.store.unit_of_work() as uow:
                assert uow.count_leads() == 2
        finally:
            desk.store.close()


@pytest.mark.parametrize(
    "where", [("--db",), ("--dry-run", "--db"), ("--dry-run", "--config", str(ORG))]
)
def test_every_route_imports_as_the_user_it_names(
    db: Path, tmp_path: Path, where: tuple[str, ...]
) -> None:
    """A dry run, from the store or from --config, acts as --user just as a stored run does:
    a member who is not an admin may not assign a whole file to one user."""
    args = [*where, str(db)] if where[-1] == "--db" else list(where)
    member = run(
        "route", LEADS, "--source", "purchased_leads", "--out", tmp_path, *args,
        "--user", "2", "--assign-to", "3",
    )  # fmt: skip
    assert member.exit_code == 1, member.output
    assert "assign a whole import to one user" in member.output
    admin = run(
        "route", LEADS, "--source", "purchased_leads", "--out", tmp_path, *args,
        "--user", "1", "--assign-to", "3", "--json",
    )  # fmt: skip
    assert admin.exit_code == 0, admin.output
    assert json.loads(admin.output)["assigned"] > 0


@pytest.mark.parametrize("name", ["assigned.csv", "exceptions.csv", "rejected.csv", "link.csv"])
@pytest.mark.parametrize("dry", [False, True])
def test_a_route_never_writes_over_the_file_it_reads(
    db: Path, tmp_path: Path, name: str, dry: bool
) -> None:
    data = LEADS.read_bytes()
    path = tmp_path / name
    if name == "link.csv":  # another name for rejected.csv
        (tmp_path / "rejected.csv").write_bytes(data)
        path.symlink_to(tmp_path / "rejected.csv")
    else:
        path.write_bytes(data)
    where = ("--dry-run", "--config", ORG) if dry else ("--db", db)
    result = CliRunner().invoke(
        cli, ["route", str(path), "--source", "purchased_leads", "--out", str(tmp_path), *where]
    )
    assert result.exit_code == 2, result.output
    assert "is the file being routed" in result.output
    assert path.read_bytes() == data
    made = {p.name for p in tmp_path.iterdir() if p.suffix == ".csv"}
    assert made == ({name, "rejected.csv"} if name == "link.csv" else {name})  # nothing written


def test_a_row_with_bytes_that_are_not_utf8_is_rejected_alone(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        b"First Name,Last Name,Email\nJos\xe9,Nu\xf1ez,jose@example.com\nAnn,Lee,ann@example.com\n"
    )
    result = run("route", path, "--source", "purchased_leads", "--out", tmp_path, "--db", db)
    assert result.exit_code == 0, result.output
    assert "2 rows read = 1 assigned + 0 unassigned + 1 rejected" in result.output
    assert "UTF-8" in read(tmp_path / "rejected.csv")[0]["errors"]
    strict = run(
        "route", path, "--source", "purchased_leads", "--out", tmp_path, "--db", db, "--strict"
    )
    assert strict.exit_code == 1
    latin = run(
        "route", path, "--source", "purchased_leads", "--out", tmp_path, "--db", db,
        "--encoding", "latin-1", "--json",
    )  # fmt: skip
    assert json.loads(latin.output)["rejected"] == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("route", "missing.csv", "--source", "purchased_leads"), "missing.csv"),
        (("route", LEADS, "--source", "billboards"), "lead source 'billboards' does not exist"),
        (("init", "--config", "nowhere.toml"), "nowhere.toml"),
        (("queue", "--user", "2", "--db", "nothing.db"), "leadflow init"),
        (("history", "not-a-uuid"), "not a lead id"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    args: tuple[str, ...], says: str, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db.parent)
    if "--db" not in args and args[0] != "init":
        args = (*args, "--db", str(db))
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 2
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_header_it_cannot_map_exits_2_naming_the_columns(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("First Name,Last Name,Shoe Size\nAnn,Lee,9\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["route", str(path), "--source", "referral", "--db", str(db)])
    assert result.exit_code == 2
    assert "Shoe Size" in result.output


def test_a_bad_config_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[organization]\nname = "X"\ntimezone = "Mars/Base"\ncolour = "red"\n', encoding="utf-8"
    )
    result = run("config", "check", bad)
    assert result.exit_code == 2
    assert "Mars/Base" in result.output
    assert "colour" in result.output
    init = CliRunner().invoke(cli, ["init", "--config", str(bad), "--db", str(tmp_path / "x.db")])
    assert init.exit_code == 2
    assert "Traceback" not in init.output


def test_template_prints_the_import_header() -> None:
    result = run("template")
    assert result.output.strip() == ",".join(lead_template_header())


def test_working_leads_from_the_command_line(db: Path, tmp_path: Path) -> None:
    run("route", LEADS, "--source", "purchased_leads", "--out", tmp_path, "--db", db, "--now", NOW)
    queue = json.loads(run("queue", "--user", "2", "--db", db, "--now", NOW, "--json").output)
    assert queue["total"] == len(queue["entries"]) > 0
    lead_id = queue["entries"][0]["lead"]["lead_id"]
    logged = run(
        "log", lead_id, "--user", "2", "--disposition", "left_vm", "--note", "VM",
        "--follow-up", "2026-03-10T15:00:00+00:00", "--db", db, "--now", NOW,
    )  # fmt: skip
    assert logged.exit_code == 0, logged.output
    moved = run("stage", lead_id, "Application Submitted", "--user", "2", "--db", db, "--json")
    assert json.loads(moved.output)["stage"] == "application_submitted"
    assert run("assign", lead_id, "3", "--user", "1", "--db", db).exit_code == 0
    refused = CliRunner().invoke(cli, ["assign", lead_id, "2", "--user", "3", "--db", str(db)])
    assert refused.exit_code == 1
    assert "admin" in refused.output
    history = json.loads(run("history", lead_id, "--db", db, "--json").output)
    kinds = [event["kind"] for event in history]
    assert kinds[:2] == ["lead_created", "lead_assigned"]
    assert "lead_stage_changed" in kinds
    assert run("release", lead_id, "--user", "3", "--db", db).exit_code == 0
    assert lead_id in run("pool", "--user", "2", "--db", db).output
    assert run("claim", lead_id, "--user", "2", "--db", db).exit_code == 0
    desk = open_desk(db)
    try:
        assert desk.get_lead(__import__("uuid").UUID(lead_id)).assignee_id == 2
    finally:
        desk.store.close()
    aged = run("advance", "--db", db, "--now", "2026-04-30T12:00:00+00:00", "--json")
    assert aged.exit_code == 0, aged.output
    assert set(json.loads(aged.output)) == {
        "leads",
        "events",
        "rerouted",
        "automations",
        "playbook_ages",
    }


def test_exceptions_and_the_report(db: Path, tmp_path: Path) -> None:
    held = tmp_path / "held.csv"
    held.write_text(
        "First Name,Last Name,Email,Property State\n"
        "Ann,Lee,ann@example.com,NV\nBo,Diaz,bo@example.com,NV\n",
        encoding="utf-8",
    )
    # walk-in leads have no routing policy: both are held on the exception list
    run("route", held, "--source", "walk_in", "--out", tmp_path, "--db", db, "--now", NOW)
    listed = json.loads(run("exceptions", "list", "--db", db, "--json").output)
    assert len(listed) == 2
    first = listed[0]["lead_id"]
    assert run("exceptions", "ignore", first, "--user", "1", "--db", db).exit_code == 0
    assert first not in run("exceptions", "list", "--db", db).output
    assert first in run("exceptions", "list", "--show-ignored", "--db", db).output
    second = listed[1]["lead_id"]
    assert run("exceptions", "assign", second, "3", "--user", "1", "--db", db).exit_code == 0
    report = tmp_path / "week.csv"
    result = run("report", "weekly", "--period", "2026-03-11", "--out", report, "--db", db)
    assert result.exit_code == 0, result.output
    rows = read(report)
    assert len(rows) == 2
    assert len(rows[0]) == 29
    assert (tmp_path / "week-summary.csv").exists()


def test_the_demo_tells_the_whole_story_quickly(tmp_path: Path) -> None:
    start = time.perf_counter()
    result = run("demo", "--db", tmp_path / "demo.db")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    out = result.output
    assert "500 leads" in out
    assert "assigned" in out
    assert "rejected" in out
    assert "call queue" in out
    assert "exception list" in out
    assert "Activity Report" in out
    assert elapsed < 30


def test_a_batch_restores_the_collector_settings() -> None:
    import gc

    from leadflow.batch import fewer_collections

    before = gc.get_threshold()
    with fewer_collections(threshold=123_456):
        assert gc.get_threshold()[0] == max(before[0], 123_456)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@given(st.lists(st.text(max_size=6), max_size=300), st.lists(st.text(max_size=6), max_size=50))
def test_the_hash_set_behaves_as_a_set(added: list[str], probes: list[str]) -> None:
    from leadflow.batch import HashSet

    compact, reference = HashSet(capacity=2), set()
    for text in added:
        assert compact.add(text) == (text not in reference)
        reference.add(text)
    assert len(compact) == len(reference)
    for text in [*added, *probes]:
        assert (text in compact) == (text in reference)


PAIR = st.tuples(st.none() | st.text(max_size=4), st.none() | st.text(max_size=4))


@given(st.lists(PAIR, max_size=200), st.lists(PAIR, max_size=30))
def test_the_hash_set_takes_and_finds_pairs_skipping_none(
    added: list[tuple[str | None, str | None]], probes: list[tuple[str | None, str | None]]
) -> None:
    from leadflow.batch import HashSet

    compact, reference = HashSet(capacity=2), set()
    for pair in added:
        texts = {text for text in pair if text is not None}
        assert compact.has_any(*pair) == bool(texts & reference)
        assert compact.add_each(*pair) == bool(texts - reference)
        reference |= texts
    assert len(compact) == len(reference)
    for pair in [*added, *probes]:
        assert compact.has_any(*pair) == any(t in reference for t in pair if t is not None)
    assert None not in compact


def test_a_playbook_file_named_in_the_config_works_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_dir = tmp_path / "org"
    (org_dir / "playbooks").mkdir(parents=True)
    source = EXAMPLES / "playbooks" / "my_pipeline.toml"
    (org_dir / "playbooks" / "ours.toml").write_text(source.read_text(encoding="utf-8"))
    text = ORG.read_text(encoding="utf-8").replace(
        'playbook = "lead_management"', 'playbook = "playbooks/ours.toml"', 1
    )
    (org_dir / "org.toml").write_text(text, encoding="utf-8")
    db = tmp_path / "lf.db"
    assert run("init", "--config", org_dir / "org.toml", "--db", db).exit_code == 0
    monkeypatch.chdir(tmp_path)  # not where the config is
    result = run("queue", "--user", "2", "--db", db)
    assert result.exit_code == 0, result.output
    desk = open_desk(db)
    try:
        assert desk.playbook.key != "lead_management"
    finally:
        desk.store.close()
