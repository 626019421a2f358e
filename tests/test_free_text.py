"""Quoted line breaks in free-text cells: read, validated, stored and written back as given."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk_helpers import make_desk
from leadflow.batch import route_file
from leadflow.io.orgconfig import load_org_config
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import Store
from leadflow.storage.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["First Name", "Last Name", "Email", "Referred By", "Property Address", "External ID"]
#: Rows as a spreadsheet writes them: quoted cells over several lines, \r\n or \n inside.
ROWS = [
    ["Ann", "Lee", "ann@example.com", "Pat Lee\r\n(her neighbour)", "1 Main St\r\nApt 2", "A-1"],
    ["Bo", "Ng", "bo@example.com", "Sam\nvia the open house", "2 Oak Ave\n\nUnit 9", "A-2"],
    ["Cy", "Oz", "cy@example.com", "his agent\n=SUM(1)", '=HYPERLINK("x")\n3 Elm St', "A-3"],
    ["Di\nAna", "Po", "di@example.com", "Jo\r\nSmith", "4 Pine Rd\r\nFloor 3", "A-4"],
]
#: What each good row's free text is stored as.
STORED = {
    "A-1": ("Pat Lee\n(her neighbour)", "1 Main St\nApt 2"),
    "A-2": ("Sam\nvia the open house", "2 Oak Ave\n\nUnit 9"),
    "A-3": ("his agent\n=SUM(1)", '=HYPERLINK("x")\n3 Elm St'),
}


def write_leads(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([HEADER, *ROWS])
    raw = path.read_bytes()
    assert b'"Pat Lee\r\n(her neighbour)"' in raw
    assert b'"2 Oak Ave\n\nUnit 9"' in raw


def read_back(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def check_outputs(out: Path, *, stored: bool) -> None:
    """assigned.csv holds the three good rows, rejected.csv the fourth, every cell as given."""
    assigned = read_back(out / "assigned.csv")
    assert assigned[0][: len(HEADER)] == HEADER
    # a cell starting with = is neutralised, its other lines are not looked at
    safe = [*ROWS[2][:4], "'" + ROWS[2][4], ROWS[2][5]]
    assert sorted(row[: len(HEADER)] for row in assigned[1:]) == [ROWS[0], ROWS[1], safe]
    for row in assigned[1:]:
        assert (row[6] != "") is stored  # lead_id: only when stored
    raw = (out / "assigned.csv").read_bytes().decode("utf-8")
    assert '"Pat Lee\r\n(her neighbour)"' in raw  # quoted, the line end as the file had it
    assert '"his agent\n=SUM(1)"' in raw  # a second line starting with = is left alone
    rejected = read_back(out / "rejected.csv")
    assert rejected[0] == [*HEADER, "row", "errors"]
    (refused,) = rejected[1:]
    assert refused[: len(HEADER)] == ROWS[3]
    assert refused[len(HEADER)] == "4"
    assert refused[len(HEADER) + 1].startswith("first_name = 'Di\\nAna': contains a line break")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "lf.db")
    yield made
    made.close()


def test_a_stored_route_keeps_free_text_line_breaks(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_leads(path)
    desk, _ = make_desk(store)
    summary = route_file(path, source="purchased_leads", out_dir=tmp_path / "out", desk=desk)
    assert (summary.rows, summary.assigned + summary.unassigned, summary.rejected) == (4, 3, 1)
    with store.unit_of_work() as uow:
        for external_id, (referred_by, address) in STORED.items():
            lead = uow.find_lead("purchased_leads", external_id)
            assert lead is not None
            assert lead.attributes.referred_by == referred_by
            assert lead.attributes.property_address == address
            assert uow.get_lead(lead.lead_id) == lead
        assert uow.find_lead("purchased_leads", "A-4") is None
    check_outputs(tmp_path / "out", stored=True)


def test_a_dry_run_keeps_free_text_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    write_leads(path)
    org = load_org_config(ROOT / "examples" / "org.toml")
    summary = route_file(path, source="purchased_leads", out_dir=tmp_path / "out", org=org)
    assert summary.dry_run
    assert (summary.rows, summary.assigned + summary.unassigned, summary.rejected) == (4, 3, 1)
    assert summary.assigned == 3
    check_outputs(tmp_path / "out", stored=False)
