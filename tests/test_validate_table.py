"""Tables of rows validated a column at a time give exactly what row-by-row validation gives."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import ValidationError
from leadflow.model import LoanPurpose
from leadflow.validate import COLUMNS, LeadDraft, RowValidator

SOURCES = {"web", "referral"}
STAGES = {"new": "new", "engaged": "engaged"}

#: Cells that sit on the edges of what the column-wide checks accept, per column.
EDGES: dict[str, list[str]] = {
    "first_name": [
        "Ann",
        " Ann ",
        "",
        "  ",
        "A\tnn",
        "A\nnn",
        "A\r\nnn",
        "A\rnn",
        "Ann\n",
        "A\x07",
        "Zoë",
        "x" * 100,
        "x" * 101,
    ],
    "last_name": ["Lee", "O'Neil", "=HYPERLINK(1)", "\u00a0Lee", "L\u2028e", "L\x85e", ""],
    "email": [
        "ann@example.com",
        "Ann@Example.COM",
        " ann@example.com ",
        "o'brien@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "-a@example.com",
        "a.-b@example.com",
        "a@-x.com",
        "a@x-.com",
        "a@.x.com",
        "a@x..com",
        "a@x",
        "a@x.c",
        "a@x.c0m",
        "a@@x.com",
        "a b@x.com",
        "a@xn--p1ai.com",
        "a@x.xn--p1ai",
        "é@x.com",
        "ann@exämple.com",
        ("a" * 64) + "@example.com",
        ("a" * 65) + "@example.com",
        "a@" + ("b" * 63) + ".com",
        "a@" + ("b" * 64) + ".com",
        "a@b.c.d.e.org",
        "ann\n@example.com",
        "ann@example.com\nbo@example.com",
        "ann@example.com\r\n",
        "",
    ],
    "cell_phone": [
        "(555) 201-4567",
        "555.201.4567",
        "555-201-4567",
        "1 555 201 4567",
        "+1 555 201 4567",
        "+15552014567",
        "(+1) 555 201 4567",
        "1+5552014567",
        "+5552014567",
        "+44 20 7946 0958",
        "+0 20 7946 0958",
        "055 201 4567",
        "555 101 4567",
        "555 201 456",
        "555 201 45678",
        "5552014567 x12",
        "555\u00a0201\u00a04567",
        "555\n201 4567",
        "555-201-4567\n555-201-4568",
        "+1\n5552014567",
        "٥٥٥٢٠١٤٥٦٧",
        "",
    ],
    "lead_source": ["", "web", "referral", "Web", "other", "no spaces!"],
    "referred_by": [
        "",
        "Pat",
        "P\x00t",
        "x" * 201,
        "Pat\nLee",
        "Pat\r\nLee",
        "Pat\rLee",
        "\nPat\n\n",
        "Pat\n\nLee\r\n\r\n(neighbour)",
        "P\u2028t\x85",
        "Pat\n=cmd",
        "Pat\n\x0b",
        "x\r\n" * 67,
        "x\r\n" * 100,
    ],
    "loan_purpose": [
        "Purchase",
        "purchase",
        " Refi - Cash Out ",
        "Purchse",
        "",
        "TBD",
        "Refi -\nCash Out",
        "Purchase\r\n",
    ],
    "loan_amount": [
        "350000",
        "$350,000",
        "350,000.00",
        "350000.5",
        "350000.555",
        "-5",
        "350000\n1",
        "$\n350,000",
        "0",
        "000123",
        "1234567890123",
        "999999999999",
        "１２３",
        "١٢٣",
        "1e5",
        "",
    ],
    "property_type": ["Condo", "SFR", "castle", ""],
    "occupancy": ["Primary", "Investor", "tent", ""],
    "credit_rating": ["Excellent", "good", "meh", ""],
    "estimated_purchase_price": ["400000", "$1,000", "1,00", ""],
    "down_payment": ["20000", "(5)", ""],
    "desired_timeframe": ["30 days", "6+", "someday", ""],
    "already_found_home": ["Yes", "N", "maybe", ""],
    "first_time_buyer": ["Y", "False", "Don't Know", "?"],
    "veteran": ["No", "", "vet"],
    "property_address": [
        "1 Main St",
        "1 Main St\nApt 2",
        "1 Main St\r\nApt 2",
        "1 Main St\x85Apt 2",
        "1 Main St\u2028Apt 2",
        "1 Main St\rApt 2",
        "1 Main St\n\n  Apt 2  \n",
        "\n1 Main St",
        "=1+1\n2 Main St",
        ("1 Main St\r\n" * 46)[:-2],
        "1 Main St\r\n" * 50,
        "1 Main\x0bSt",
        "x" * 500,
        "x" * 501,
        "",
    ],
    "property_state": ["TX", "tx", "Texas", " new  york ", "new\nyork", "T\nX", "ZZ", ""],
    "property_zip": [
        "75001",
        "02134",
        "75001-1234",
        "750011234",
        "7500",
        "750012",
        "75001-123",
        "٧٥٠٠١",
        "７５００１",
        "75001\n75002",
        "75001\r",
        "",
    ],
    "external_id": ["E-1", "E-2", "", "E\x1f3", "x" * 201, "E\n1", "E-1\r\nE-2"],
    "lead_stage": ["", "New", " engaged ", "closed", "New\nEngaged"],
    "assignee_id": ["", "7", "007", "0", "-1", "seven", "7\n8"],
    "created_at": ["", "2026-01-01"],
    "Favourite Colour": ["", "red"],
}


def _cells(field: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(EDGES[field]),
        st.text(alphabet=st.sampled_from("aZ09 .@-+$,()\n\t\r'é٣\u2028\x85"), max_size=14),
    )


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    fields = draw(
        st.lists(
            st.sampled_from([*COLUMNS, "created_at", "Favourite Colour"]),
            unique=True,
            min_size=1,
            max_size=12,
        )
    )
    for required in ("first_name", "last_name"):
        if required not in fields and draw(st.integers(0, 4)):
            fields.append(required)
    width = st.tuples(*(_cells(field) for field in fields)).map(list)
    rows = draw(st.lists(width, min_size=1, max_size=12))
    return fields, rows


def _row_by_row(
    validator: RowValidator, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[LeadDraft | ValidationError]:
    results: list[LeadDraft | ValidationError] = []
    for number, row in enumerate(rows, start=1):
        try:
            results.append(validator.validate(dict(zip(headers, row, strict=True)), number))
        except ValidationError as error:
            results.append(error)
    return results


def _same(a: LeadDraft | ValidationError, b: LeadDraft | ValidationError) -> bool:
    if isinstance(a, ValidationError) or isinstance(b, ValidationError):
        return (
            isinstance(a, ValidationError)
            and isinstance(b, ValidationError)
            and (a.row, a.errors) == (b.row, b.errors)
        )
    return a == b


def _check(validator: RowValidator, headers: list[str], rows: list[list[str]]) -> None:
    numbers = range(1, len(rows) + 1)
    expected = _row_by_row(validator, headers, rows)
    got = validator.validate_table(headers, rows, numbers)
    assert len(got) == len(rows)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert _same(a, b), (i, rows[i], a, b)
    # a second pass reads the same cells from what the validator remembers
    again = validator.validate_table(headers, rows, numbers)
    assert all(_same(a, b) for a, b in zip(again, expected, strict=True))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([None, "web"]), st.booleans(), st.booleans())
def test_a_table_gives_what_each_row_gives(
    table: tuple[list[str], list[list[str]]],
    source: str | None,
    with_stages: bool,
    ignore_unknown: bool,
) -> None:
    headers, rows = table
    validator = RowValidator(
        source=source,
        sources=SOURCES,
        stages=STAGES if with_stages else None,
        ignore_unknown=ignore_unknown,
    )
    _check(validator, headers, rows)


def test_every_edge_cell_of_every_column_gives_what_its_row_gives() -> None:
    """Each edge cell alone among good rows (so no other cell hides it from a bulk check),
    then all of a column's edge cells together."""
    base = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "cell_phone": "555-201-4567",
        "lead_source": "web",
        "property_zip": "75001",
        "loan_amount": "350000",
    }
    validators = (
        RowValidator(source="web", sources=SOURCES, stages=STAGES),
        RowValidator(sources=SOURCES),
    )
    for field, edges in EDGES.items():
        headers = list(dict.fromkeys([*base, field]))
        plain = [base.get(h, "") for h in headers]
        column = headers.index(field)
        together = [list(plain) for _ in range(2 * len(edges) + 1)]
        for i, edge in enumerate(edges):
            alone = [list(plain) for _ in range(3)]
            alone[1][column] = together[2 * i + 1][column] = edge
            for validator in validators:
                _check(validator, headers, alone)
        for validator in validators:
            _check(validator, headers, together)


def test_a_table_of_good_rows_makes_the_drafts_in_order() -> None:
    headers = ["First", "Last", "Email", "Phone", "Loan Amount", "Purpose", "Zip", "External ID"]
    rows = [
        ["Ann", "Lee", "Ann@Example.com", "(555) 201-4567", "350000", "Purchase", "02134", "a"],
        ["Bo", "Ng", "", "+1 555 201 4568", "$1,000.50", "", "75001-1234", "b"],
    ]
    first, second = RowValidator(source="web").validate_table(headers, rows)
    assert isinstance(first, LeadDraft)
    assert isinstance(second, LeadDraft)
    assert first.contact.email == "ann@example.com"
    assert first.contact.cell_phone == "+15552014567"
    assert first.attributes.loan_amount == Decimal("350000.00")
    assert first.attributes.loan_purpose is LoanPurpose.PURCHASE
    assert first.attributes.property_zip == "02134"
    assert second.contact.email is None
    assert second.attributes.loan_amount == Decimal("1000.50")
    assert second.attributes.loan_purpose is LoanPurpose.TBD
    assert second.attributes.property_zip == "75001"
    assert [first.attributes.external_id, second.attributes.external_id] == ["a", "b"]


def test_bad_rows_carry_their_own_numbers_and_every_error() -> None:
    headers = ["first_name", "last_name", "email", "loan_purpose"]
    rows = [
        ["Ann", "Lee", "ann@example.com", "Purchase"],
        ["Bo", "", "bo@", "Purchse"],
        ["Cy", "Ng", "cy@example.com", "Purchse"],
    ]
    results = RowValidator(source="web").validate_table(headers, rows, [10, 12, 13])
    assert isinstance(results[0], LeadDraft)
    second, third = results[1], results[2]
    assert isinstance(second, ValidationError)
    assert isinstance(third, ValidationError)
    assert second.row == 12
    assert second.fields == ("last_name", "email", "loan_purpose")
    assert third.row == 13
    assert third.fields == ("loan_purpose",)


def test_rows_of_another_width_and_unknown_headers_are_validated_alone() -> None:
    validator = RowValidator(source="web")
    ragged = validator.validate_table(
        ["first_name", "last_name", "email"], [["Ann", "Lee"], ["Bo", "Ng", "bo@example.com"]]
    )
    assert isinstance(ragged[0], ValidationError)
    assert ragged[0].fields == ("email",)
    assert isinstance(ragged[1], LeadDraft)
    unknown = validator.validate_table(
        ["first_name", "last_name", "email", "colour"], [["A", "B", "a@example.com", "red"]]
    )
    assert isinstance(unknown[0], ValidationError)
    assert unknown[0].fields == ("colour",)
    assert validator.validate_table(["first_name"], []) == []


def test_a_table_with_cells_that_are_not_text_goes_row_by_row() -> None:
    validator = RowValidator(source="web")
    headers = ["first_name", "last_name", "email", "loan_amount"]
    rows: list[list[object]] = [
        ["Ann", "Lee", None, "5"],
        ["Bo", "Ng", "bo@example.com", 7],
        ["Cy", "Ng", "cy@example.com", ""],
    ]
    got = validator.validate_table(headers, rows)  # type: ignore[arg-type]
    assert isinstance(got[0], ValidationError)
    assert got[0].fields == ("email",)
    assert isinstance(got[1], LeadDraft)
    assert got[1].attributes.loan_amount == Decimal("7.00")
    assert isinstance(got[2], LeadDraft)


def test_free_text_with_line_breaks_keeps_them_in_a_table() -> None:
    """A line break in a free-text cell is kept (as \\n) and does not pass for a cell's end:
    the column's other cells are still checked together."""
    headers = ["first_name", "last_name", "email", "referred_by", "property_address"]
    rows = [
        [
            f"P{i}",
            "Lee",
            f"p{i}@example.com",
            "Pat\r\nLee" if i % 10 == 0 else f"Pat {i}",
            "1 Main St\nApt 2" if i % 7 == 0 else f"{i} Main St",
        ]
        for i in range(300)
    ]
    rows[5][0] = "Bo\nJo"  # a one-line field: refused, its row alone
    validator = RowValidator(source="web")
    _check(validator, headers, rows)
    results = validator.validate_table(headers, rows, range(1, 301))
    first = results[0]
    assert isinstance(first, LeadDraft)
    assert first.attributes.referred_by == "Pat\nLee"
    assert first.attributes.property_address == "1 Main St\nApt 2"
    eleventh = results[11]
    assert isinstance(eleventh, LeadDraft)
    assert (eleventh.attributes.referred_by, eleventh.attributes.property_address) == (
        "Pat 11",
        "11 Main St",
    )
    refused = results[5]
    assert isinstance(refused, ValidationError)
    assert (refused.row, refused.fields) == (6, ("first_name",))
