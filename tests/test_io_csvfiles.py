"""Lead CSV input (robust, streamed) and the route output files."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import leadflow.io._records as _records
import leadflow.io.csvfiles as csvfiles
from desk_helpers import make_desk
from leadflow.batch import route_file
from leadflow.errors import FieldError, LeadflowError, ValidationError
from leadflow.io.csvfiles import (
    DUPLICATES_COLUMNS,
    AssignedWriter,
    BadEncoding,
    BadHeader,
    DuplicatesWriter,
    ExceptionsWriter,
    InputRow,
    LeadFile,
    LeadFileError,
    RejectedWriter,
    error_line,
    lead_template_header,
    read_leads,
)
from leadflow.storage.memory import MemoryStore
from leadflow.validate import COLUMNS, RowValidator, map_columns

ROOT = Path(__file__).resolve().parent.parent
HEADER = b"First Name,Last Name,Email,Zip Code\n"


def read(data: bytes, **options: object) -> LeadFile:
    return read_leads(io.BytesIO(data), **options)  # type: ignore[arg-type]


def rows(data: bytes, **options: object) -> list[InputRow]:
    return list(read(data, **options))


def good(row: InputRow) -> dict[str, str]:
    assert row.problem is None, row.problem
    assert row.row is not None
    return row.row


# ----------------------------------------------------------------------------- reading


def test_rows_come_out_in_order_with_header_cells_and_mapping() -> None:
    lead_file = read(HEADER + b"Ann,Lee,ann@example.com,01234\nBo,Ng,bo@example.com,75201\n")
    assert lead_file.header == ["First Name", "Last Name", "Email", "Zip Code"]
    assert lead_file.columns == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Zip Code": "property_zip",
    }
    first, second = lead_file
    assert first == InputRow(
        1,
        ["Ann", "Lee", "ann@example.com", "01234"],
        {"First Name": "Ann", "Last Name": "Lee", "Email": "ann@example.com", "Zip Code": "01234"},
        None,
    )
    assert second.number == 2
    assert good(second)["Zip Code"] == "75201"


def test_a_zip_code_with_a_leading_zero_stays_text() -> None:
    (row,) = rows(HEADER + b"Ann,Lee,ann@example.com,01234\n")
    assert good(row)["Zip Code"] == "01234"
    assert row.cells[3] == "01234"


def test_a_utf8_byte_order_mark_is_dropped_even_before_a_quoted_cell() -> None:
    for header in (b"\xef\xbb\xbfFirst Name,Last Name\n", b'\xef\xbb\xbf"First Name",Last Name\n'):
        lead_file = read(header + b"Ann,Lee\n")
        assert lead_file.header == ["First Name", "Last Name"]
        assert [good(r) for r in lead_file] == [{"First Name": "Ann", "Last Name": "Lee"}]


def test_crlf_lf_and_cr_line_ends_mix() -> None:
    data = b"First Name,Last Name\r\nAnn,Lee\r\nBo,Ng\nCy,Oz\rDi,Po"
    assert [r.cells for r in rows(data)] == [
        ["Ann", "Lee"],
        ["Bo", "Ng"],
        ["Cy", "Oz"],
        ["Di", "Po"],
    ]


def test_a_quoted_cell_keeps_its_line_ends_and_its_row_is_one_row() -> None:
    data = (
        b"First Name,Last Name,Property Address\r\n"
        b'Ann,Lee,"1 Main St\r\nApt 2, ""B"""\r\n'
        b"Bo,Ng,x\r\n"
    )
    first, second = rows(data)
    assert good(first)["Property Address"] == '1 Main St\r\nApt 2, "B"'
    assert (second.number, second.cells) == (2, ["Bo", "Ng", "x"])


def test_blank_records_are_skipped_and_take_no_number() -> None:
    data = HEADER + b"\n\r\nAnn,Lee,a@x.com,1\n   \n,,,\n , ,\t,\n\nBo,Ng,b@x.com,2\n\n"
    assert [(r.number, r.cells[0]) for r in rows(data)] == [(1, "Ann"), (2, "Bo")]


def test_blank_lines_before_the_header_are_skipped() -> None:
    lead_file = read(b"\n\r\n  \nFirst Name,Last Name\nAnn,Lee\n")
    assert lead_file.header == ["First Name", "Last Name"]
    assert [r.number for r in lead_file] == [1]


def test_numbers_are_the_row_numbers_validate_and_dictreader_use() -> None:
    sample = (ROOT / "examples" / "sample_leads.csv").read_bytes()
    with (ROOT / "examples" / "sample_leads.csv").open(newline="", encoding="utf-8-sig") as f:
        expected = list(enumerate(csv.DictReader(f), start=1))
    got = rows(sample)
    assert [(r.number, r.row) for r in got] == expected
    validator = RowValidator(source="referral")
    refused = []
    for r in got:
        try:
            validator.validate(good(r), r.number)
        except ValidationError as error:
            refused.append(error.row)
    assert refused == [4, 5]  # as examples/validate_csv.py reports them


def test_a_row_with_more_cells_than_the_header_is_a_problem_alone() -> None:
    data = HEADER + b"Ann,Lee,a@x.com,1,extra\nBo,Ng,b@x.com,2\n"
    bad, fine = rows(data)
    assert bad.number == 1
    assert bad.problem == "has 5 cells, the header has 4"
    assert bad.row is None
    assert bad.cells == ["Ann", "Lee", "a@x.com", "1", "extra"]
    assert good(fine)["First Name"] == "Bo"
    assert fine.number == 2


def test_a_row_with_fewer_cells_than_the_header_is_a_problem_alone() -> None:
    bad, fine = rows(HEADER + b"Ann,Lee\nBo,Ng,b@x.com,2\n")
    assert bad.problem == "has 2 cells, the header has 4"
    assert good(fine)["Email"] == "b@x.com"


def test_latin1_bytes_in_a_utf8_file_make_that_row_alone_a_problem() -> None:
    data = HEADER + (
        b"Jos\xe9,Lee,a@x.com,1\nBo,Ng,b@x.com,2\nZo\xeb,Y\xff,c@x.com,3\nCy,Oz,c@x.com,4\n"
    )
    first, second, third, fourth = rows(data)
    assert first.problem == "bytes that are not valid UTF-8 in column 'First Name' (b'\\xe9')"
    assert first.row is None
    assert first.cells[0] == "Jos\udce9"  # the byte is kept, as a lone surrogate
    assert good(second)["First Name"] == "Bo"
    assert third.problem == (
        "bytes that are not valid UTF-8 in column 'First Name' (b'\\xeb')"
        " and column 'Last Name' (b'\\xff')"
    )
    assert good(fourth)["First Name"] == "Cy"
    assert [r.number for r in (first, second, third, fourth)] == [1, 2, 3, 4]


def test_with_the_latin1_encoding_the_same_row_reads_fine() -> None:
    (row,) = rows(HEADER + b"Jos\xe9,Lee,a@x.com,1\n", encoding="latin-1")
    assert good(row)["First Name"] == "José"


def test_a_problem_row_can_be_ragged_and_undecodable_at_once() -> None:
    (row,) = rows(HEADER + b"Jos\xe9,Lee\n")
    assert row.problem == (
        "has 2 cells, the header has 4; "
        "bytes that are not valid UTF-8 in column 'First Name' (b'\\xe9')"
    )


def test_a_nul_byte_makes_its_row_a_problem() -> None:
    bad, fine = rows(HEADER + b"Ann,L\x00ee,a@x.com,1\nBo,Ng,b@x.com,2\n")
    assert bad.problem == "a NUL character (\\x00) in column 'Last Name'"
    assert good(fine)["First Name"] == "Bo"


LIMIT = csvfiles.MAX_RECORD


def too_long(length: int) -> str:
    return f"is {length:,} characters long; a row may have at most {LIMIT:,}"


@pytest.mark.parametrize(
    "big",
    [
        pytest.param(b"x" * (5 * LIMIT), id="a long cell"),
        pytest.param(b'"' + b"x\n" * (3 * LIMIT) + b'"', id="a quoted cell of many lines"),
        pytest.param(b'"' + b"x" * (5 * LIMIT) + b'"', id="a long quoted cell"),
        pytest.param(b'"a\n' + b"y" * (2 * LIMIT) + b'"', id="a long second line of a cell"),
        pytest.param(b"a," * (3 * LIMIT) + b"a", id="a long line of short cells"),
    ],
)
def test_an_over_long_row_is_one_problem_row_and_the_rows_after_it_keep_their_numbers(
    big: bytes,
) -> None:
    data = HEADER + b"Ann,Lee,a@x.com,1\n" + b"Big," + big + b",a@x.com,2\r\nBo,Ng,b@x.com,3\n"
    first, bad, last = rows(data)
    assert good(first)["First Name"] == "Ann"
    assert bad.number == 2
    length = len(b"Big," + big + b",a@x.com,2\r\n")
    assert bad.problem == too_long(length)
    assert bad.cells == []
    assert (last.number, good(last)["First Name"]) == (3, "Bo")


def test_a_row_of_exactly_the_limit_is_read_and_one_more_character_is_too_long() -> None:
    line = b"Ann,Lee,a@x.com,"
    fits = line + b"1" * (LIMIT - len(line) - 1) + b"\n"
    over = line + b"1" * (LIMIT - len(line)) + b"\n"
    assert len(fits) == LIMIT
    fine, bad = rows(HEADER + fits + over)
    assert fine.problem is None
    assert bad.problem == too_long(LIMIT + 1)


def test_an_over_long_quoted_cell_that_never_ends_takes_the_rest_of_the_file() -> None:
    data = HEADER + b"Ann,Lee,a@x.com,1\n" + b'Big,"' + b"x\n" * LIMIT
    first, bad = rows(data)
    assert good(first)["First Name"] == "Ann"
    assert bad.number == 2
    assert bad.problem == too_long(len(b'Big,"' + b"x\n" * LIMIT))


def test_an_over_long_header_is_one_short_problem() -> None:
    with pytest.raises(BadHeader) as info:
        read(b"First Name," * (LIMIT // 5) + b"Email\nAnn,a@x.com\n", name="leads.csv")
    message = str(info.value)
    assert message == (
        f"leads.csv: the header cannot be used: the header is longer than {LIMIT:,} characters"
    )


def test_an_endless_header_is_refused_without_reading_on() -> None:
    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b"x" * len(buffer)
            self.read_bytes += len(buffer)
            assert self.read_bytes < 10 * LIMIT, "read on past the limit"
            return len(buffer)

    stream = Endless()
    with pytest.raises(BadHeader, match="the header is longer than"):
        read_leads(io.BufferedReader(stream), name="zero")


def test_a_long_unknown_column_name_is_quoted_shortened() -> None:
    name = "Colour" * 10_000
    with pytest.raises(BadHeader) as info:
        read(b"First Name,Email," + name.encode() + b"\nAnn,a@x.com,red\n")
    assert len(str(info.value)) < 400
    assert "ColourColour" in str(info.value)


def test_a_header_of_many_problems_lists_a_few_and_counts_the_rest() -> None:
    header = b"First Name,Email" + b",," * 15 + b"".join(b",Colour%d" % i for i in range(20))
    with pytest.raises(BadHeader) as info:
        read(header + b"\n")
    error = info.value
    assert error.problems[0] == ("columns 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 20 more have no name")
    assert len(error.problems) == 21  # the unnamed columns, then each unknown one
    assert str(error).endswith("; and 16 more problems")
    assert len(str(error)) < 600


def test_a_long_run_of_bad_bytes_is_shown_shortened() -> None:
    (bad,) = rows(HEADER + b"Ann," + b"\xff" * 10_000 + b",a@x.com,1\n")
    assert bad.problem is not None
    assert "not valid UTF-8 in column 'Last Name'" in bad.problem
    assert len(bad.problem) < 300


@pytest.mark.parametrize("limit", [csvfiles.MAX_RECORD, 1000])
def test_the_limit_is_the_csv_modules_own_cell_limit_when_that_is_lower(limit: int) -> None:
    old = csv.field_size_limit(limit)
    try:
        cell = b"x" * 2000
        bad, fine = rows(HEADER + b"A," + cell + b",a@x.com,1\nBo,Ng,b@x.com,2\n")
    finally:
        csv.field_size_limit(old)
    if limit < 2000:
        assert bad.problem == f"is {2000 + 13:,} characters long; a row may have at most 1,000"
    else:
        assert bad.problem is None
    assert (fine.number, good(fine)["First Name"]) == (2, "Bo")


#: CSV text made mostly of what the parser looks at.
CSV_TEXT = st.lists(
    st.sampled_from(["a", ",", '"', '"', ',"', '",', "\r", "\n", "\r\n", " ", "\x00"]),
    max_size=40,
).map("".join)


def record_lines(text: str) -> list[tuple[list[str], int]]:
    """Each record :func:`csv.reader` makes of ``text`` read by lines, and its length."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    records, used = [], 0
    for cells in reader:
        records.append((cells, sum(map(len, lines[used : reader.line_num]))))
        used = reader.line_num
    return records


@given(text=CSV_TEXT)
@example(text='a"b,"c\nd"\n')  # a quote inside an unquoted cell opens nothing
@example(text='"a"b\n"c,"\n')  # text after a closing quote joins the cell
def test_the_scanner_ends_a_record_where_the_csv_parser_does(text: str) -> None:
    lines = io.StringIO(text, newline="").readlines()
    ends = [length for _, length in record_lines(text)]
    got, state, length = [], _records.CELL_START, 0
    for line in lines:
        length += len(line)
        state, ended = _records.scan(line, state)
        if ended:
            got.append(length)
            state, length = _records.CELL_START, 0
    if length:  # a record the end of the text ends
        got.append(length)
    assert got == ends


@given(text=CSV_TEXT, limit=st.integers(4, 40))
def test_with_any_limit_every_record_is_one_row_and_over_long_ones_are_problems(
    text: str, limit: int
) -> None:
    data = "first_name,last_name,email\n" + text
    with mock.patch.object(csvfiles, "MAX_RECORD", max(limit, len("first_name,last_name,email\n"))):
        lead_file = read(data.encode())
        got = list(lead_file)
        used = lead_file._gate.limit
    expected = [
        (cells, length)
        for cells, length in record_lines(text)
        if length > used or "".join(cells).strip()
    ]
    assert [row.number for row in got] == list(range(1, len(expected) + 1))
    for row, (cells, length) in zip(got, expected, strict=True):
        if length > used:
            assert row.problem == f"is {length:,} characters long; a row may have at most {used:,}"
            assert row.cells == []
        else:
            assert row.cells == cells


def test_an_unterminated_quote_takes_the_rest_of_the_file_into_one_problem_row() -> None:
    (row,) = rows(HEADER + b'Ann,"Lee,a@x.com,1\nBo,Ng,b@x.com,2\n')
    assert row.problem == "has 2 cells, the header has 4"


def test_an_empty_file_has_no_header() -> None:
    for data in (b"", b"\n\n", b"\xef\xbb\xbf", b" \r\n,,\n"):
        with pytest.raises(BadHeader, match="the file is empty") as info:
            read(data, name="leads.csv")
        assert str(info.value).startswith("leads.csv: ")
        assert isinstance(info.value, LeadflowError)


def test_a_header_only_file_has_no_rows() -> None:
    lead_file = read(HEADER)
    assert lead_file.header == ["First Name", "Last Name", "Email", "Zip Code"]
    assert list(lead_file) == []


def test_an_unmappable_header_names_every_offending_column() -> None:
    with pytest.raises(BadHeader) as info:
        read(b"First Name,Colour,,Email,E-mail,Shoe Size\nAnn,red,,a@x.com,b@x.com,9\n")
    error = info.value
    assert error.problems == (
        "column 3 has no name",
        "Colour: is not a lead column",
        "email: is given by two columns: 'Email' and 'E-mail'",
        "Shoe Size: is not a lead column",
    )
    assert error.header == ("First Name", "Colour", "", "Email", "E-mail", "Shoe Size")
    assert str(error).startswith("<input>: the header cannot be used: column 3 has no name; ")


def test_a_misspelt_column_gets_a_suggestion() -> None:
    with pytest.raises(BadHeader, match="did you mean 'loan_amount'"):
        read(b"first_name,last_name,loan_amout\n")


@pytest.mark.parametrize(
    "column", ["Lead ID", "lead_id", "Lead Id", "ID", "created", "Created At", "updated_at"]
)
@pytest.mark.parametrize("ignore_unknown", [False, True])
def test_a_header_naming_a_system_field_is_one_header_error(
    column: str, ignore_unknown: bool
) -> None:
    # blank cells, or a row that could not even be read: the header alone decides
    data = f"First Name,Last Name,Email,{column}\nAnn,Lee,a@x.com,\n".encode() + b"\xff,\n"
    with pytest.raises(BadHeader) as info:
        read(data, ignore_unknown=ignore_unknown)
    (problem,) = info.value.problems
    assert problem.startswith(f"{column}: ")
    assert "set by leadflow" in problem
    assert "external_id" in problem


def test_a_header_naming_a_system_field_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("Lead ID,First Name,Last Name,Email\n,Ann,Lee,a@x.com\n", encoding="utf-8")
    desk, _ = make_desk(MemoryStore())
    with pytest.raises(BadHeader, match="Lead ID: is set by leadflow, not by a file"):
        route_file(path, source="referral", out_dir=tmp_path / "out", desk=desk)
    assert not (tmp_path / "out").exists()
    with desk.store.unit_of_work() as uow:
        assert uow.count_leads() == 0


def test_every_misspelt_column_of_a_header_gets_its_own_suggestion() -> None:
    with pytest.raises(BadHeader) as info:
        read(b"Frist Name,Last Name,E-mail Adress,Colour\n")
    assert info.value.problems == (
        "Frist Name: is not a lead column; did you mean 'first_name'?",
        "E-mail Adress: is not a lead column; did you mean 'email'?",
        "Colour: is not a lead column",
    )


def test_ignore_unknown_leaves_unknown_and_unnamed_columns_out_of_the_mapping() -> None:
    lead_file = read(b"First Name,Colour,,Email\nAnn,red,,a@x.com\n", ignore_unknown=True)
    assert lead_file.columns == {"First Name": "first_name", "Email": "email"}
    (row,) = lead_file
    assert good(row) == {"First Name": "Ann", "Colour": "red", "": "", "Email": "a@x.com"}


def test_a_header_with_no_lead_column_is_refused_even_ignoring_unknown_ones() -> None:
    with pytest.raises(BadHeader, match="no column is a lead field"):
        read(b"Colour,Size\nred,9\n", ignore_unknown=True)


def test_a_semicolon_separated_file_gets_a_hint() -> None:
    with pytest.raises(BadHeader, match="separated by semicolons"):
        read(b"First Name;Last Name;Email\nAnn;Lee;a@x.com\n")


def test_a_header_with_undecodable_bytes_is_refused_with_a_hint() -> None:
    with pytest.raises(BadHeader, match=r"not valid UTF-8 in column 2 \(b'\\xe9'\).*cp1252"):
        read(b"First Name,Pr\xe9nom\nAnn,Lee\n")


def test_a_utf16_file_read_as_utf8_gets_a_hint_and_reads_as_utf16() -> None:
    data = "First Name,Last Name\nAnn,Zoë\n".encode("utf-16")
    with pytest.raises(BadHeader, match="UTF-16"):
        read(data)
    (row,) = rows(data, encoding="utf-16")
    assert good(row) == {"First Name": "Ann", "Last Name": "Zoë"}


def test_any_python_codec_name_is_accepted() -> None:
    data = "First Name,Last Name\nJosé,Muñoz\n".encode("cp1252")
    for encoding in ("cp1252", "windows-1252", "latin-1", "ISO-8859-1", "l1"):
        (row,) = rows(data, encoding=encoding)
        assert good(row) == {"First Name": "José", "Last Name": "Muñoz"}


def test_an_unknown_encoding_is_a_leadflow_error_naming_it() -> None:
    with pytest.raises(BadEncoding, match="unknown encoding 'utf-9'") as info:
        read(HEADER, encoding="utf-9")
    assert isinstance(info.value, LeadFileError)
    with pytest.raises(BadEncoding, match="'base64' is not a text encoding"):
        read(HEADER, encoding="base64")
    with pytest.raises(BadEncoding, match="unknown encoding 'utf-8\\\\x00'"):
        read(HEADER, encoding="utf-8\x00")
    with pytest.raises(BadEncoding) as info:
        read(HEADER, encoding="x" * 10_000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("encoding", ["unicode_escape", "raw_unicode_escape"])
def test_pythons_escape_codecs_are_refused(encoding: str) -> None:
    with pytest.raises(BadEncoding, match="is Python's escape codec, not the encoding of a file"):
        read(HEADER + b"\\,Lee,a@x.com,1\n", encoding=encoding)


@pytest.mark.parametrize("encoding", ["idna", "punycode"])
def test_a_codec_that_cannot_skip_a_bad_byte_is_refused_before_reading(encoding: str) -> None:
    with pytest.raises(BadEncoding) as info:
        read(HEADER, encoding=encoding)
    assert str(info.value) == (
        f"{encoding!r} cannot read a lead file: it stops at the first byte it cannot decode; "
        "give a codec such as utf-8, cp1252 or latin-1"
    )


def test_bad_bytes_far_into_a_clean_file_are_still_found() -> None:
    # the first chunks decode cleanly (the fast path skips the search), then one bad byte
    data = (
        HEADER + b"Zo\xc3\xab,Lee,a@x.com,1\n" * 5000 + b"Jos\xe9,Lee,a@x.com,1\nZo\xc3\xab,X,y,2\n"
    )
    got = rows(data)
    assert len(got) == 5002
    assert all(good(r)["First Name"] == "Zoë" for r in got[:5000])
    assert got[5000].problem == "bytes that are not valid UTF-8 in column 'First Name' (b'\\xe9')"
    assert good(got[5001])["Last Name"] == "X"


class _FragileDecoder(codecs.IncrementalDecoder):
    """Latin-1 that fails outright (not through the error handler) at a ``!``."""

    def decode(self, data: bytes, final: bool = False) -> str:
        if b"!" in data:
            raise UnicodeError("cannot decode '!'")
        return data.decode("latin-1")


def _fragile(name: str) -> codecs.CodecInfo | None:
    if name != "leadflow_test_fragile":
        return None
    latin1 = codecs.lookup("latin-1")
    return codecs.CodecInfo(
        latin1.encode,
        latin1.decode,
        incrementalencoder=latin1.incrementalencoder,
        incrementaldecoder=_FragileDecoder,
        name=name,
    )


def test_a_codec_failing_mid_file_ends_the_rows_with_one_problem() -> None:
    codecs.register(_fragile)
    try:
        data = HEADER + b"Ann,Lee,a@x.com,1\n" * 1000 + b"Bo!,Ng,b@x.com,2\n"
        got = rows(data, encoding="leadflow_test_fragile")
        with pytest.raises(BadEncoding, match="cannot be decoded as leadflow_test_fragile"):
            read(b"First Name!\n", encoding="leadflow_test_fragile")
    finally:
        codecs.unregister(_fragile)
    assert all(r.problem is None for r in got[:-1])
    assert got[-1].number == len(got)
    assert got[-1].problem is not None
    assert got[-1].problem.startswith("the rest of the file cannot be decoded")


def test_the_callers_stream_is_left_open() -> None:
    stream = io.BytesIO(HEADER + b"Ann,Lee,a@x.com,1\nBo,Ng,b@x.com,2\n")
    with read_leads(stream) as lead_file:
        next(iter(lead_file))
    assert not stream.closed
    stream.seek(0)
    assert len(list(read_leads(stream))) == 2
    assert not stream.closed
    stream.seek(0)
    read_leads(stream)  # dropped unread
    assert not stream.closed
    with pytest.raises(BadHeader):
        read_leads(io.BytesIO(b"Colour\n"))


def test_iterating_twice_continues_where_the_first_stopped() -> None:
    lead_file = read(HEADER + b"Ann,Lee,a@x.com,1\nBo,Ng,b@x.com,2\n")
    for row in lead_file:
        assert row.number == 1
        break
    assert [r.number for r in lead_file] == [2]


# ----------------------------------------------------------------------------- properties

ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16", "shift_jis", "utf-7"]


@given(
    encoding=st.sampled_from(ENCODINGS),
    with_header=st.booleans(),
    body=st.binary(max_size=400),
)
def test_arbitrary_bytes_never_raise_anything_but_a_leadflow_error(
    encoding: str, with_header: bool, body: bytes
) -> None:
    data = ("first_name,last_name,email\n".encode(encoding) if with_header else b"") + body
    try:
        lead_file = read(data, encoding=encoding)
    except LeadFileError:
        return
    got = list(lead_file)
    assert [r.number for r in got] == list(range(1, len(got) + 1))
    text = data.decode(encoding, errors="replace")
    assert len(got) <= text.count("\n") + text.count("\r") + 1
    for row in got:
        assert (row.row is None) == (row.problem is not None)
        if row.row is not None:
            assert list(row.row) == lead_file.header
            assert list(row.row.values()) == row.cells
        else:
            assert row.problem
    # every row, whatever it holds, can be written out
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rejected.csv"
        with RejectedWriter(path, lead_file.header) as writer:
            for row in got:
                writer.write(row.cells, row=row.number, errors=row.problem or "fine")
        assert len(path.read_text(encoding="utf-8").splitlines()) >= len(got) + 1


TEXT = st.text(
    st.one_of(
        st.sampled_from(list(',"\r\n \t\x00\x1c\u2028é=')),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=8,
)
CELL = st.tuples(TEXT, st.sampled_from([b"", b"\xff", b"\xe9"]), st.booleans())
RECORD = st.lists(CELL, max_size=5)


def quoted(cell: tuple[str, bytes, bool]) -> bytes:
    text, bad, bad_first = cell
    raw = text.encode("utf-8")
    raw = bad + raw if bad_first else raw + bad
    return b'"' + raw.replace(b'"', b'""') + b'"'


@given(
    records=st.lists(RECORD, max_size=12),
    line_end=st.sampled_from([b"\n", b"\r\n"]),
    bom=st.booleans(),
)
def test_every_non_blank_record_is_one_row_or_one_problem(
    records: list[list[tuple[str, bytes, bool]]], line_end: bytes, bom: bool
) -> None:
    header = ["first_name", "last_name", "email"]
    data = (b"\xef\xbb\xbf" if bom else b"") + ",".join(header).encode() + line_end
    data += b"".join(b",".join(quoted(c) for c in record) + line_end for record in records)
    expected = [
        record
        for record in records
        if "".join(text for text, _, _ in record).strip() or any(bad for _, bad, _ in record)
    ]
    got = rows(data)
    assert len(got) == len(expected)
    for number, (row, record) in enumerate(zip(got, expected, strict=True), start=1):
        assert row.number == number
        texts = [text for text, _, _ in record]
        has_bad = any(bad for _, bad, _ in record)
        if len(record) == 3 and not has_bad and "\x00" not in "".join(texts):
            assert row.problem is None
            assert row.row == dict(zip(header, texts, strict=True))
            assert row.cells == texts
            continue
        assert row.row is None
        assert row.problem
        assert len(row.cells) == len(record)
        if len(record) != 3:
            assert f"has {len(record)} cells, the header has 3" in row.problem
        if has_bad:
            assert "not valid UTF-8" in row.problem
        if "\x00" in "".join(texts):
            assert "NUL" in row.problem


@given(records=st.lists(RECORD, max_size=12), size=st.integers(1, 5))
def test_batches_hold_every_record_once_as_the_rows_have_it(
    records: list[list[tuple[str, bytes, bool]]], size: int
) -> None:
    data = b"first_name,last_name,email\n"
    data += b"".join(b",".join(quoted(c) for c in record) + b"\n" for record in records)
    expected = rows(data)
    batches = list(read(data).batches(size))
    assert all(0 < len(b.rows) + len(b.problems) <= size for b in batches)
    got: list[InputRow] = []
    for numbers, cells, problems in batches:
        assert len(numbers) == len(cells)
        assert all(len(row) == 3 for row in cells)
        assert all(p.problem for p in problems)
        got += problems
        got += [
            InputRow(n, c, dict(zip(["first_name", "last_name", "email"], c, strict=False)), None)
            for n, c in zip(numbers, cells, strict=True)
        ]
    assert sorted(got) == expected


def test_a_batch_of_long_rows_is_cut_at_its_characters() -> None:
    cell = "x" * 100_000
    data = b"first_name,last_name,email\n" + f"Ann,{cell},a@x.com\n".encode() * 100
    batches = list(read(data).batches(1000))
    per_batch = csvfiles.BATCH_CHARS // (len(cell) + 10) + 1
    assert [len(b.rows) for b in batches] == [per_batch, per_batch, 100 - 2 * per_batch]
    assert [n for b in batches for n in b.numbers] == list(range(1, 101))


# ----------------------------------------------------------------------------- writing

INPUT = ["First Name", "Last Name", "Email", "Zip Code"]
EVIL = '=HYPERLINK("x")'


def lines_of(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert b"\r\n" not in raw
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_the_writers_headers_are_the_input_columns_then_their_own(tmp_path: Path) -> None:
    with AssignedWriter(tmp_path / "a.csv", INPUT):
        pass
    with ExceptionsWriter(tmp_path / "e.csv", INPUT):
        pass
    with RejectedWriter(tmp_path / "r.csv", INPUT):
        pass
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == (
        "First Name,Last Name,Email,Zip Code,"
        "lead_id,contact_id,assignee_id,assignee_name,policy,via_fallback\n"
    )
    assert (tmp_path / "e.csv").read_text(encoding="utf-8") == (
        "First Name,Last Name,Email,Zip Code,lead_id,reason\n"
    )
    assert (tmp_path / "r.csv").read_text(encoding="utf-8") == (
        "First Name,Last Name,Email,Zip Code,row,errors\n"
    )


def test_the_duplicates_writer_writes_the_row_what_matched_and_the_lead(tmp_path: Path) -> None:
    path = tmp_path / "duplicates.csv"
    with DuplicatesWriter(path, INPUT) as writer:
        writer.write(
            ["Ann", "Lee", "a@x.com", "01234"],
            row=3,
            match="A-1001",
            lead_id="0190f0e0-aaaa-7bbb-8ccc-123456789abc",
        )
        writer.write(["Bo", "Ng", "b@x.com", "75201"], row=7, match="b@x.com", lead_id=None)
        assert writer.rows == 2
    assert DUPLICATES_COLUMNS == ("row", "match", "lead_id")
    assert lines_of(path) == [
        [*INPUT, "row", "match", "lead_id"],
        ["Ann", "Lee", "a@x.com", "01234", "3", "A-1001", "0190f0e0-aaaa-7bbb-8ccc-123456789abc"],
        ["Bo", "Ng", "b@x.com", "75201", "7", "b@x.com", ""],
    ]
    assert "DuplicatesWriter" in csvfiles.__all__
    assert "DUPLICATES_COLUMNS" in csvfiles.__all__


def test_the_assigned_writer_writes_plain_values(tmp_path: Path) -> None:
    path = tmp_path / "assigned.csv"
    with AssignedWriter(path, INPUT) as writer:
        writer.write(
            ["Ann", "Lee", "a@x.com", "01234"],
            lead_id="0190f0e0-aaaa-7bbb-8ccc-123456789abc",
            contact_id=7,
            assignee_id=12,
            assignee_name="Jane Doe",
            policy="tx_round_robin",
            via_fallback=False,
        )
        writer.write(
            ["Bo", "Ng", "b@x.com", "75201"],
            lead_id=None,
            contact_id=None,
            assignee_id=3,
            assignee_name=None,
            policy=None,
            via_fallback=True,
        )
        assert writer.rows == 2
    assert lines_of(path)[1:] == [
        [
            "Ann",
            "Lee",
            "a@x.com",
            "01234",
            "0190f0e0-aaaa-7bbb-8ccc-123456789abc",
            "7",
            "12",
            "Jane Doe",
            "tx_round_robin",
            "false",
        ],
        ["Bo", "Ng", "b@x.com", "75201", "", "", "3", "", "", "true"],
    ]


SAFE_OR_NOT = st.sampled_from(
    [
        "Ann",
        "",
        EVIL,
        "+1 555",
        "-2",
        "+15552014567",
        "@x",
        "a\x00b",
        "x\n=y",
        "-2\nx",
        "\t1",
        "a\rb",
        "a\r\nb",
    ]
)


@given(
    rows=st.lists(st.lists(SAFE_OR_NOT, min_size=4, max_size=4), max_size=6),
    results=st.lists(st.lists(SAFE_OR_NOT, min_size=6, max_size=6), min_size=6, max_size=6),
)
def test_write_rows_writes_what_write_writes_row_by_row(
    rows: list[list[str]], results: list[list[str]]
) -> None:
    results = results[: len(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp) / "one.csv", Path(tmp) / "many.csv"
        with AssignedWriter(one, INPUT) as writer:
            for cells, result in zip(rows, results, strict=True):
                writer._write(cells, list(result))
        with AssignedWriter(many, INPUT) as writer:
            writer.write_rows(rows, results)
            assert writer.rows == len(rows)
        assert many.read_bytes() == one.read_bytes()


def test_a_formula_is_neutralised_in_every_writer(tmp_path: Path) -> None:
    cells = [EVIL, "+1 555", "-2+3", "@x"]
    with AssignedWriter(tmp_path / "a.csv", [EVIL, *INPUT[1:]]) as assigned:
        assigned.write(
            cells,
            lead_id=1,
            contact_id=2,
            assignee_id=3,
            assignee_name=EVIL,
            policy="p",
            via_fallback=False,
        )
    with ExceptionsWriter(tmp_path / "e.csv", INPUT) as exceptions:
        exceptions.write(cells, lead_id=None, reason=EVIL)
    with RejectedWriter(tmp_path / "r.csv", INPUT) as rejected:
        rejected.write(cells, row=1, errors=EVIL)
    with DuplicatesWriter(tmp_path / "d.csv", INPUT) as duplicates:
        duplicates.write(cells, row=1, match=EVIL, lead_id=EVIL)
    safe = ["'" + EVIL, "'+1 555", "'-2+3", "'@x"]
    a = lines_of(tmp_path / "a.csv")
    assert a[0][0] == "'" + EVIL
    assert a[1] == [*safe, "1", "2", "3", "'" + EVIL, "p", "false"]
    assert lines_of(tmp_path / "e.csv")[1] == [*safe, "", "'" + EVIL]
    assert lines_of(tmp_path / "r.csv")[1] == [*safe, "1", "'" + EVIL]
    assert lines_of(tmp_path / "d.csv")[1] == [*safe, "1", "'" + EVIL, "'" + EVIL]


def test_plain_numbers_and_e164_phones_are_written_as_they_are(tmp_path: Path) -> None:
    cells = ["+15552014567", "-12.5", "+441234567890", "-3"]
    with AssignedWriter(tmp_path / "a.csv", INPUT) as assigned:
        assigned.write_rows([cells, ["=1", "+7", "-", "+1 555"]], [["1", "2", "3", "", "", ""]] * 2)
    assert [row[:4] for row in lines_of(tmp_path / "a.csv")[1:]] == [
        cells,
        ["'=1", "+7", "'-", "'+1 555"],
    ]


def test_a_formula_read_from_a_file_is_neutralised_on_the_way_out(tmp_path: Path) -> None:
    (row,) = rows(HEADER + b'"=HYPERLINK(""x"")",Lee,a@x.com,01234\n')
    assert row.cells[0] == EVIL  # read as given: only output is neutralised
    path = tmp_path / "e.csv"
    with ExceptionsWriter(path, INPUT) as writer:
        writer.write(row.cells, lead_id=None, reason="no eligible user")
    assert lines_of(path)[1] == ["'" + EVIL, "Lee", "a@x.com", "01234", "", "no eligible user"]


def test_the_rejected_writer_writes_every_field_error_on_one_line(tmp_path: Path) -> None:
    error = ValidationError(
        [
            FieldError("email", "x@", "is not a valid email address"),
            FieldError("loan_amount", "-20", "must not be negative"),
            FieldError("last_name", None, "is required"),
        ],
        row=4,
    )
    path = tmp_path / "rejected.csv"
    with RejectedWriter(path, INPUT) as writer:
        writer.write(["Miki", "", "x@", "2134"], row=4, errors=error)
    assert lines_of(path)[1] == [
        "Miki",
        "",
        "x@",
        "2134",
        "4",
        "email = 'x@': is not a valid email address; "
        "loan_amount = '-20': must not be negative; last_name: is required",
    ]


def test_error_line() -> None:
    error = ValidationError([FieldError("email", "a\nb", "is not a valid email address")], row=9)
    assert error_line(error) == "email = 'a\\nb': is not a valid email address"
    assert error_line("has 5 cells, the header has 4") == "has 5 cells, the header has 4"
    assert error_line("two\nlines\r\nhere") == "two lines here"


def test_ragged_and_undecodable_rows_are_written_padded_cut_and_readable(
    tmp_path: Path,
) -> None:
    data = HEADER + b"Jos\xe9,Lee\nAnn,Lee,a@x.com,1,extra,more\nN\x00l,x,y,z\n"
    path = tmp_path / "rejected.csv"
    with RejectedWriter(path, INPUT) as writer:
        for row in rows(data):
            assert row.problem is not None
            writer.write(row.cells, row=row.number, errors=row.problem)
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 whatever came in
    assert lines_of(path)[1:] == [
        [
            "Jos\\xe9",
            "Lee",
            "",
            "",
            "1",
            "has 2 cells, the header has 4; "
            "bytes that are not valid UTF-8 in column 'First Name' (b'\\xe9')",
        ],
        ["Ann", "Lee", "a@x.com", "1", "2", "has 6 cells, the header has 4"],
        ["N\\x00l", "x", "y", "z", "3", "a NUL character (\\x00) in column 'First Name'"],
    ]


def test_writers_write_utf8_with_lf_line_ends_and_quote_line_ends_in_cells(
    tmp_path: Path,
) -> None:
    path = tmp_path / "e.csv"
    with ExceptionsWriter(path, INPUT) as writer:
        writer.write(["Zoë", "Lee", "a@x.com", "1 Main St\r\nApt 2"], lead_id=5, reason="held")
    assert path.read_bytes().split(b"\n", 1)[1] == (
        'Zoë,Lee,a@x.com,"1 Main St\r\nApt 2",5,held\n'.encode()
    )


def test_the_template_header_is_every_lead_column_in_order() -> None:
    header = lead_template_header()
    assert header == list(COLUMNS)
    assert "external_id" in header
    assert header[:2] == ["first_name", "last_name"]
    assert map_columns(header) == {column: column for column in header}
    assert read(",".join(header).encode() + b"\n").columns == {c: c for c in header}
