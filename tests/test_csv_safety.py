"""The spreadsheet-formula guard: plain numbers and E.164 phones stay, anything else that
could run gets an apostrophe -- in csvsafe.write_csv and in the route writers alike."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.io.csvfiles import (
    AssignedWriter,
    DuplicatesWriter,
    ExceptionsWriter,
    RejectedWriter,
)
from leadflow.io.csvsafe import safe_cell, safe_column, safe_row, write_csv


def plain_number(text: str) -> bool:
    """A sign, ASCII digits and at most one decimal point, at least one digit: runs nothing."""
    body = text[1:]
    return (
        text[:1] in ("+", "-")
        and body.count(".") <= 1
        and any(c in "0123456789" for c in body)
        and all(c in "0123456789." for c in body)
    )


def expected(text: str) -> str:
    """What a written cell holds for ``text``: the rule, stated independently of csvsafe."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not plain_number(text):
        return "'" + text
    return text


@pytest.mark.parametrize(
    "kept",
    [
        "+15551234567",
        "+441234567890",
        "+12345678",
        "+123456789012345",
        "-12.5",
        "-3",
        "+7",
        "+0.5",
        "-.5",
        "-5.",
        "12",
        "Ann",
        "1+1",
        " =1+1",
        "",
        "'=x",
    ],
)
def test_plain_numbers_and_harmless_starts_are_written_as_they_are(kept: str) -> None:
    assert safe_cell(kept) == kept


@pytest.mark.parametrize(
    "neutralised",
    [
        '=HYPERLINK("x")',
        "=1",
        "+1 555 201 4567",
        "+1-555-201-4567",
        "+(555)2014567",
        "-1+2",
        "+1+cmd|' /C calc'!A0",
        "-3%",
        "-1.2.3",
        "+1e5",
        "+",
        "-",
        "-.",
        "+.",
        "+١٢٣",
        "+１２３",
        "-12.5 ",
        "-12.5\n",
        "+7\n=cmd",
        "@SUM(1)",
        "\t1",
        "\r1",
        "\t",
    ],
)
def test_anything_else_that_could_run_is_neutralised(neutralised: str) -> None:
    assert safe_cell(neutralised) == "'" + neutralised


@given(st.text())
def test_every_cell_is_itself_or_an_apostrophe_and_itself(text: str) -> None:
    written = safe_cell(text)
    assert written == expected(text)
    if written == text:
        assert plain_number(text) or not text.startswith(("=", "+", "-", "@", "\t", "\r"))
    else:
        assert written == "'" + text


#: Cells on the edges of the column check: numbers, signs, lines inside cells.
EDGY = st.text(alphabet=st.sampled_from("+-=@\t\r\n.05a "), max_size=8)


@given(st.lists(st.one_of(EDGY, st.text(max_size=6)), max_size=8))
def test_a_column_is_made_safe_as_each_of_its_cells(cells: list[str]) -> None:
    column = safe_column(cells)
    assert list(column) == safe_row(cells) == [expected(c) for c in cells]
    if list(column) == cells and not any("\n" in c for c in cells):
        assert column is cells  # one line a cell, nothing to change: nothing copied
    assert list(safe_column(cells, "\n".join(cells))) == list(column)


def test_a_column_with_cells_of_several_lines() -> None:
    cells = ["line one\n=cmd", "=cmd\nline two", "-5\nfoo", "+15551234567", "x"]
    assert safe_column(cells) == [
        "line one\n=cmd",
        "'=cmd\nline two",
        "'-5\nfoo",
        "+15551234567",
        "x",
    ]
    harmless = ["line one\nline two", "x"]
    assert safe_column(harmless) is harmless


def read_csv(data: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data, newline="")))


def read_file(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@given(st.lists(st.lists(st.text(), min_size=3, max_size=3), max_size=5))
def test_write_csv_writes_each_cell_by_the_rule(rows: list[list[str]]) -> None:
    stream = io.StringIO(newline="")
    header = ["=a", "+15551234567", "name"]
    assert write_csv(stream, header, rows) == len(rows)
    got = read_csv(stream.getvalue())
    assert got[0] == ["'=a", "+15551234567", "name"]
    assert got[1:] == [[expected(c) for c in row] for row in rows]


#: Cells a lead file may hold (no NUL: the route writers show one as \\x00).
CELLS = st.one_of(
    EDGY, st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
)


@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=6),
    extra=st.lists(CELLS, min_size=6, max_size=6),
)
def test_the_route_writers_write_each_cell_by_the_rule(
    rows: list[list[str]], extra: list[str]
) -> None:
    header = ["First Name", "-1", "@where"]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.csv" for name in ("a", "e", "r", "d")}
        with AssignedWriter(paths["a"], header) as assigned:
            assigned.write_rows(rows, [extra] * len(rows))
        with (
            ExceptionsWriter(paths["e"], header) as exceptions,
            RejectedWriter(paths["r"], header) as rejected,
            DuplicatesWriter(paths["d"], header) as duplicates,
        ):
            for number, cells in enumerate(rows, start=1):
                exceptions.write(cells, lead_id=None, reason=extra[0].replace("\n", " "))
                rejected.write(cells, row=number, errors=extra[1].replace("\r", " "))
                duplicates.write(cells, row=number, match=extra[2], lead_id=extra[3])
        written = {name: read_file(path) for name, path in paths.items()}
    safe_header = ["First Name", "-1", "'@where"]
    assert written["a"][0][:3] == written["e"][0][:3] == written["d"][0][:3] == safe_header
    for name in ("a", "e", "r", "d"):
        assert [row[:3] for row in written[name][1:]] == [
            [expected(c) for c in cells] for cells in rows
        ]
    assert [row[3:] for row in written["a"][1:]] == [[expected(c) for c in extra]] * len(rows)
    assert [row[3:] for row in written["d"][1:]] == [
        [str(n), expected(extra[2]), expected(extra[3])] for n in range(1, len(rows) + 1)
    ]


def test_a_cell_with_a_lone_carriage_return_is_quoted_and_read_back_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.csv"
    with RejectedWriter(path, ["a", "b"]) as writer:
        writer.write(["line one\rline two", "x"], row=1, errors="bad")
        writer.write(["plain", "1 Main St\r\nApt 2"], row=2, errors="bad")
    raw = path.read_bytes()
    assert b'"line one\rline two"' in raw
    assert b'plain,"1 Main St\r\nApt 2",2,bad\n' in raw  # a \r\n cell: quoted as usual
    assert read_file(path) == [
        ["a", "b", "row", "errors"],
        ["line one\rline two", "x", "1", "bad"],
        ["plain", "1 Main St\r\nApt 2", "2", "bad"],
    ]
