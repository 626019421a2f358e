"""The benchmark lead generator (benchmarks/gen_leads.py) makes the file it promises.

Checked through :mod:`leadflow.validate`: the header maps to lead columns,
good rows validate, the ~1% bad rows are refused for the reason planned, and
repeat contacts, unique external ids, ZIPs with leading zeros and a row of
raw latin-1 bytes are all there.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from leadflow.errors import ValidationError
from leadflow.validate import COLUMNS, RowValidator, map_columns

ROWS = 2000
#: The field leadflow refuses, per kind of bad row (ragged and latin-1 rows fail as a whole).
REFUSED_FIELD = {
    "bad_email": "email",
    "bad_phone": "cell_phone",
    "bad_state": "property_state",
    "bad_amount": "loan_amount",
    "bad_purpose": "loan_purpose",
    "bad_zip": "property_zip",
    "no_last_name": "last_name",
}


def _load_generator() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gen_leads.py"
    spec = importlib.util.spec_from_file_location("bench_gen_leads", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


class Parsed:
    """A generated file, read back line by line and validated row by row."""

    def __init__(self, rows: int, seed: int) -> None:
        stream = io.BytesIO()
        self.labels: list[tuple[int, str]] = []
        self.counts = gen.generate(rows, stream, seed, self.labels)
        self.data = stream.getvalue()
        lines = self.data.split(b"\r\n")
        assert lines[-1] == b""  # every line ends with CRLF
        self.header = next(csv.reader([lines[0].decode()]))
        self.lines = lines[1:-1]  # data row n is self.lines[n - 1]
        self.cells: dict[int, list[str]] = {}
        self.drafts: dict[int, Any] = {}
        self.refused: dict[int, str | set[str]] = {}  # row: "not_utf8", "ragged" or fields
        validator = RowValidator(source=gen.SOURCE, sources={gen.SOURCE})
        for number, line in enumerate(self.lines, start=1):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                self.refused[number] = "not_utf8"
                continue
            cells = next(csv.reader([text]))
            self.cells[number] = cells
            if len(cells) != len(self.header):
                self.refused[number] = "ragged"
                continue
            try:
                self.drafts[number] = validator.validate(dict(zip(self.header, cells, strict=True)))
            except ValidationError as error:
                self.refused[number] = {e.field for e in error.errors}


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    return Parsed(ROWS, seed=11)


def test_header_spells_every_lead_column_leadflow_accepts() -> None:
    assert tuple(map_columns(gen.HEADER).values()) == gen.FIELDS
    assert set(COLUMNS) - set(gen.FIELDS) == {"lead_stage", "assignee_id"}
    assert gen.UNFILLED == (), "new lead columns in leadflow.validate: teach the generator"
    assert "Zip Code" in gen.HEADER
    assert "Phone Cell" in gen.HEADER


def test_one_percent_of_rows_are_refused_each_for_the_planned_reason(parsed: Parsed) -> None:
    planned = {n: kind for n, kind in parsed.labels if kind in gen.BAD_KINDS}
    assert set(parsed.refused) == set(planned)  # and every other row validates
    assert len(parsed.refused) == ROWS // 100
    assert Counter(planned.values()) == dict.fromkeys(gen.BAD_KINDS, 2)
    for number, kind in planned.items():
        got = parsed.refused[number]
        if kind in REFUSED_FIELD:
            assert got == {REFUSED_FIELD[kind]}, (number, kind, parsed.cells[number])
        elif kind.startswith("ragged"):
            assert got == "ragged"
            extra = 1 if kind == "ragged_long" else -1
            assert len(parsed.cells[number]) == len(parsed.header) + extra
        else:
            assert (kind, got) == ("not_utf8", "not_utf8")


def test_the_latin1_row_is_raw_bytes_of_an_otherwise_good_row(parsed: Parsed) -> None:
    rows = [n for n, kind in parsed.labels if kind == "not_utf8"]
    assert rows
    for number in rows:
        line = parsed.lines[number - 1]
        assert any(byte in line for byte in (b"\xe9", b"\xeb", b"\xe7")), line
        cells = next(csv.reader([line.decode("latin-1")]))
        RowValidator(source=gen.SOURCE).validate(dict(zip(parsed.header, cells, strict=True)))
    assert b"\xc3\xa9" in parsed.data  # elsewhere accented names are UTF-8


def test_repeat_contacts_reuse_an_earlier_email_and_phone(parsed: Parsed) -> None:
    repeats = [n for n, kind in parsed.labels if kind == "repeat"]
    assert len(repeats) >= ROWS * 0.018
    seen: dict[tuple[str | None, str | None], int] = {}
    for number in sorted(parsed.drafts):
        contact = parsed.drafts[number].contact
        key = (contact.email, contact.cell_phone)
        if number in repeats:
            assert seen.get(key, number) < number, f"row {number} repeats no earlier row"
        else:
            seen.setdefault(key, number)
    contacts = Counter((d.contact.email, d.contact.cell_phone) for d in parsed.drafts.values())
    assert sum(n - 1 for n in contacts.values()) >= len(repeats)


def test_external_ids_are_unique(parsed: Parsed) -> None:
    ids = [d.attributes.external_id for d in parsed.drafts.values()]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_zips_with_a_leading_zero_keep_it(parsed: Parsed) -> None:
    column = parsed.header.index("Zip Code")
    raw = [
        cells[column]
        for n, cells in parsed.cells.items()
        if n in parsed.drafts and cells[column].startswith("0")
    ]
    assert len(raw) >= 10
    zips = [d.attributes.property_zip for d in parsed.drafts.values()]
    assert sum(1 for z in zips if z and z.startswith("0")) == len(raw)
    assert all(z is None or (len(z) == 5 and z.isdigit()) for z in zips)


def test_values_are_varied_and_normalise(parsed: Parsed) -> None:
    drafts = list(parsed.drafts.values())
    states = Counter(d.attributes.property_state for d in drafts)
    assert states.most_common(1)[0][0] == "CA"
    assert len(states) > 30
    assert len({d.attributes.loan_purpose for d in drafts}) >= 8
    phones = [d.contact.cell_phone for d in drafts if d.contact.cell_phone]
    assert all(p.startswith("+1") and len(p) == 12 for p in phones)
    formulas = [n for n, kind in parsed.labels if kind == "formula"]
    assert formulas
    assert all(n in parsed.drafts for n in formulas)
    for number in formulas:
        contact = parsed.drafts[number].contact
        assert contact.first_name.startswith(("=", "@")) or contact.last_name.startswith(("=", "@"))


def test_same_seed_same_bytes() -> None:
    def make(seed: int) -> bytes:
        stream = io.BytesIO()
        gen.generate(300, stream, seed)
        return stream.getvalue()

    assert make(5) == make(5)
    assert make(5) != make(6)
