"""Every number, date and moment on the command line is range-checked at the edge.

Out of range is a usage error: exit 2, one message naming the option, no
traceback, nothing changed. Moments are 1970-01-01 .. 2999-12-31 (UTC);
user ids 1 .. 2**63 - 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from desk_helpers import make_desk, row
from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.errors import ValidationError
from leadflow.ids import EARLIEST_MOMENT, LATEST_MOMENT, moment_problem
from leadflow.model import FollowUp, FollowUpKind, FollowUpSubject
from leadflow.reports import PeriodKind, period_of
from leadflow.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "examples" / "org.toml"
LEADS = ROOT / "examples" / "leads.csv"
NOW = "2026-03-09T15:00:00+00:00"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ranges")
    db = base / "leadflow.db"
    assert run("init", "--config", ORG, "--db", db, "--now", NOW).exit_code == 0
    result = run(
        "route", LEADS, "--source", "purchased_leads", "--db", db, "--out", base / "out", "-q"
    )
    assert result.exit_code in (0, 1), result.output
    return db


def a_lead_of(db: Path, user_id: int) -> str:
    desk = open_desk(db)
    try:
        return str(desk.queue(user_id, limit=1)[0].lead.lead_id)
    finally:
        desk.store.close()


def refused(result: Result, option: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option}'" in result.output, result.output


@pytest.mark.parametrize(
    "period",
    ["9999-12-31", "9999-12-01", "3000-01-01", "1969-12-31", "0001-01-01", "2026-02-30", "soon"],
)
@pytest.mark.parametrize("kind", ["weekly", "monthly"])
def test_a_report_period_out_of_range_is_a_usage_error(
    routed: Path, kind: str, period: str
) -> None:
    refused(run("report", kind, "--period", period, "--json", "--db", routed), "--period")


@pytest.mark.parametrize("period", ["1970-01-01", "2999-12-31"])
@pytest.mark.parametrize("kind", ["weekly", "monthly"])
def test_the_edges_of_the_report_range_work(routed: Path, kind: str, period: str) -> None:
    result = run("report", kind, "--period", period, "--json", "--db", routed)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:00:00+05:00",
        "1969-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
        "2026-13-01",
        "x" * 5000,
    ],
)
def test_a_moment_out_of_range_is_a_usage_error(routed: Path, moment: str) -> None:
    before = routed.read_bytes()
    refused(run("advance", "--now", moment, "--db", routed), "--now")
    lead = a_lead_of(routed, 2)
    refused(
        run(
            "log",
            lead,
            "--user",
            "2",
            "--disposition",
            "left_vm",
            "--follow-up",
            moment,
            "--db",
            routed,
            "--now",
            NOW,
        ),
        "--follow-up",
    )
    refused(
        run("route", LEADS, "--source", "purchased_leads", "--db", routed, "--now", moment),
        "--now",
    )
    assert routed.read_bytes() == before
    result = run("advance", "--now", moment, "--db", routed)
    assert len(result.output) < 400  # a long value is quoted shortened


@pytest.mark.parametrize("value", ["0", "-1", "9223372036854775808", "99999999999999999999"])
@pytest.mark.parametrize(
    "command",
    [
        ["queue", "--user"],
        ["pool", "--user"],
        ["route", LEADS, "--source", "purchased_leads", "--user"],
        ["route", LEADS, "--source", "purchased_leads", "--assign-to"],
        ["init", "--config", ORG, "--user"],
    ],
    ids=["queue", "pool", "route-user", "route-assign-to", "init"],
)
def test_a_user_id_outside_1_to_2_63_is_a_usage_error(
    routed: Path, command: list[str | Path], value: str
) -> None:
    result = run(*command, value, "--db", routed)
    refused(result, str(command[-1]))


def test_an_assignee_argument_outside_the_range_is_a_usage_error(routed: Path) -> None:
    lead = a_lead_of(routed, 2)
    for value in ("0", "9223372036854775808"):
        result = run("assign", lead, value, "--db", routed)
        assert result.exit_code == 2, result.output
        assert "Invalid value for 'ASSIGNEE'" in result.output


def test_the_largest_user_id_is_accepted_and_is_unknown(routed: Path) -> None:
    result = run("queue", "--user", str(2**63 - 1), "--db", routed)
    assert result.exit_code == 2
    assert "no such user" in result.output


# --------------------------------------------------------------------------- the library


def test_moment_problem_names_the_range() -> None:
    assert moment_problem(EARLIEST_MOMENT) is None
    assert moment_problem(LATEST_MOMENT) is None
    assert moment_problem(EARLIEST_MOMENT - timedelta(microseconds=1)) is not None
    assert moment_problem(LATEST_MOMENT + timedelta(microseconds=1)) is not None
    assert moment_problem(datetime(2026, 3, 9)) == "must be a timezone-aware datetime"


def test_a_report_period_out_of_range_is_a_validation_error_in_the_library() -> None:
    tz = UTC
    for day in (date(9999, 12, 31), date(1969, 12, 31)):
        for kind in PeriodKind:
            with pytest.raises(ValidationError, match="day"):
                period_of(kind, day, tz)


def test_a_desk_clock_out_of_range_refuses_to_act() -> None:
    desk, clock = make_desk(MemoryStore())
    clock.now = datetime(3001, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="now"):
        desk.create_lead(row("Ann"), source="purchased_leads")


def test_a_follow_up_due_out_of_range_is_refused() -> None:
    from uuid import UUID

    with pytest.raises(ValidationError, match="due"):
        FollowUp(
            follow_up_id=UUID(int=1),
            kind=FollowUpKind.EVENT,
            subject=FollowUpSubject.CALL,
            due=datetime(9999, 12, 31, tzinfo=UTC),
        )


def test_an_outcome_and_its_follow_up_are_stored_together_or_not_at_all(
    routed: Path, tmp_path: Path
) -> None:
    db = tmp_path / "copy.db"
    db.write_bytes(routed.read_bytes())
    lead = a_lead_of(db, 2)

    def events() -> list[str]:
        desk = open_desk(db)
        try:
            return [type(e).__name__ for e in desk.history(desk.resolve_lead_id(lead))]
        finally:
            desk.store.close()

    before = events()
    past = run(
        "log", lead, "--user", "2", "--disposition", "left_vm",
        "--follow-up", "2026-03-01T09:00:00Z", "--db", db, "--now", NOW,
    )  # fmt: skip
    assert past.exit_code == 2, past.output
    assert "is in the past" in past.output
    assert events() == before  # the outcome was not stored without its follow-up
    done = run(
        "log", lead, "--user", "2", "--disposition", "left_vm",
        "--follow-up", "2026-03-10T09:00:00Z", "--db", db, "--now", NOW,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    added = events()[len(before) :]
    assert "OutcomeLogged" in added
    assert "FollowUpScheduled" in added


def test_an_unexpected_error_is_one_line_not_a_traceback(
    routed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.desk.views import ViewHandler

    def broken(*_: object, **__: object) -> object:
        raise TypeError("something nobody expected")

    monkeypatch.setattr(ViewHandler, "queue_page", broken)
    result = run("queue", "--user", "2", "--db", routed)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: internal error: TypeError: something nobody expected"
        " (this is a bug in leadflow; LEADFLOW_DEBUG=1 shows the traceback)"
    ]
    monkeypatch.setenv("LEADFLOW_DEBUG", "1")
    result = run("queue", "--user", "2", "--db", routed)
    assert isinstance(result.exception, TypeError)
