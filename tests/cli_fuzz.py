"""The ``leadflow`` command line under hostile input: strategies and the properties it keeps.

Shared by ``tests/test_fuzz_cli.py`` (a few hundred examples on every run)
and ``benchmarks/fuzz_cli.py`` (thousands, on demand). What is drawn:

* :func:`lead_files`: lead CSV files as **bytes**: a header of real column
  names and their spellings (sometimes unknown, duplicate, unnamed or system
  columns), rows of good and broken values, quotes (doubled, unbalanced),
  line ends inside cells and between rows (``\\n``, ``\\r\\n``, ``\\r``),
  NULs, formula-looking cells, cells of up to ~300,000 characters, blank
  lines and lines of commas, ragged rows, byte order marks, invalid UTF-8
  bytes and other encodings (with the ``--encoding`` to read them with,
  not always the right one, sometimes not a codec at all);
* :func:`org_configs`: organisation configs as TOML bytes: a valid config
  (:func:`base_configs`: small, so a failure shrinks in seconds), sometimes
  with a playbook file of its own, with hostile edits (integers out of any
  range, odd ``lead_link`` templates, unknown keys, wrong types, very long
  strings, odd playbook paths) or broken TOML;
* :func:`route_cases` and :func:`command_cases`: a file, a config and
  random option values for ``route`` and for the commands run on a store
  (``init`` of another config and routes of other files among them).

What must hold (:func:`check_config`, :func:`check_dry_route`,
:func:`check_stored_route`, :func:`check_commands`), for every command:
the exit code is 0, 1 or 2; nothing escapes as an exception; no
``Traceback``, no "internal error ... this is a bug" line; no line on
standard error (or of ``config check``) longer than :data:`MAX_LINE`
characters. After a route that printed its summary: ``N rows read = a
assigned + u unassigned + r rejected + d duplicates`` has ``N = a + u + r +
d``; ``N`` is the number of data records Python's :mod:`csv` module finds
in the file (non-blank records after the header, counted here
independently: :func:`expected_records`); each output file holds exactly
its count of rows, and the rows named in rejected.csv and duplicates.csv
are distinct numbers in ``1..N``. After a stored route, ``PRAGMA
integrity_check`` is ``ok`` and the store holds one lead per assigned or
unassigned row, no more (a second run of the same file included); no
other command changes that number.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import csv
import enum
import io
import json
import re
import shutil
import sqlite3
import sys
import tomllib
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import attrs
from click import _compat as click_compat
from click.testing import CliRunner, Result
from hypothesis import event
from hypothesis import strategies as st

from leadflow.cli import cli
from leadflow.cli._common import INTERNAL_ERROR
from leadflow.io.csvfiles import (
    ASSIGNED_COLUMNS,
    DUPLICATES_COLUMNS,
    EXCEPTIONS_COLUMNS,
    REJECTED_COLUMNS,
)
from leadflow.model import (
    CreditRating,
    DesiredTimeframe,
    LoanPurpose,
    MatchScope,
    Occupancy,
    Permission,
    PropertyType,
    YesNoUnknown,
)
from leadflow.routing.config import Distribution, Unroutable
from leadflow.stages.presets import PRESETS, preset
from leadflow.validate import COLUMNS, HEADER_ALIASES, SYSTEM_COLUMNS, canonical_column
from route_summary import Summary, summary_of

_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: The longest line an error may print: messages quote at most 200 characters of
#: any input, so a line this long means an input was quoted whole.
MAX_LINE = 1000

#: Where :func:`save_failure` copies the files of a failing example (set by
#: ``benchmarks/fuzz_cli.py --save DIR``); ``None``: nowhere.
SAVE_TO: list[Path | None] = [None]

#: The files a route writes, without ``.csv``.
_OUTPUTS = ("assigned", "exceptions", "rejected", "duplicates")


# =========================================================================== lead files


def _sometimes(draw: st.DrawFn, percent: int) -> bool:
    """True ``percent`` times in 100 (False when shrunk: the plain case is the simple one)."""
    return draw(st.integers(0, 99)) >= 100 - percent


_HUGE = 300_000
#: A cell this long is over the csv module's default field limit (131,072).
_OVER_LIMIT = 131_073

_FORMULAS = (
    "=cmd|' /C calc'!A0",
    "=1+1",
    "+1",
    "-2+3",
    "@SUM(A1:A9)",
    '=HYPERLINK("http://x.example","y")',
    "\t=1",
    "\r=1",
    "=",
    "+15551234567",
    "-1",
)
_QUOTES = ('He said "hi"', '"', '""', 'a"b', '"unbalanced', 'x""y', '"a","b"', "'", "a'b")
_LINE_ENDS = ("a\nb", "a\r\nb", "a\rb", "\n", "\r", "\r\n", "line one\nline two\n", "a\n\nb")
_NULS = ("\x00", "a\x00b", "\x00\x00", "Ann\x00")
_ODD = (
    "",
    " ",
    "\t",
    "   padded   ",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x1c\x1d\x1e",
    "😀",
    "\u202eevil",
    "Zoë Ñúñez",
    "山田",
    ",",
    ",,,",
    ";",
    "|",
    "\\",
    "N/A",
    "null",
    "None",
)
#: Values a column rejects (or barely accepts), by column.
_BROKEN: Mapping[str, Sequence[str]] = {
    "email": ("not-an-email", "a@", "@b.co", "a@@b.co", "a b@c.co", "A@B", "x" * 300 + "@b.co"),
    "cell_phone": ("555", "+1 (555) 123", "abc", "+0", "1" * 40, "(214) 555-0199 ext 4", "+44"),
    "loan_amount": ("$-5", "1e9", "1,2,3", "NaN", "∞", "9" * 30, "-0", "$", "0.001", "1e400"),
    "estimated_purchase_price": ("12.345", "-1", "Infinity", "$1,000,000,000,000,000"),
    "down_payment": ("-0.01", "1_000", "0x10", "50%"),
    "property_state": ("ZZ", "Texas", "tx ", "T", ""),
    "property_zip": ("1234", "123456", "ABCDE", "12345-", "00000"),
    "loan_purpose": ("Purchse", "buy", "refi?", "P"),
    "property_type": ("castle", "Single"),
    "occupancy": ("sometimes",),
    "credit_rating": ("AAA", "Excellent!"),
    "desired_timeframe": ("yesterday", "12/31/2025", "2025-13-45", "0000-00-00"),
    "already_found_home": ("maybe", "yes?", "2"),
    "first_time_buyer": ("Y E S", "nope"),
    "veteran": ("true-ish",),
    "lead_stage": ("closed", "New?", "no_such_stage", "won"),
    "assignee_id": ("0", "-1", "9223372036854775808", "99999999999999999999", "abc", "1.5"),
    "external_id": ("x" * 500, "a\nb", "\x00"),
    "lead_source": ("not a key!", "purchased_leads", "website", "WEBSITE"),
    "first_name": ("", " ", "x" * 101),
    "last_name": ("", "x" * 101),
}


def _values(enum_type: type[enum.Enum]) -> list[str]:
    return ["", *(str(member) for member in enum_type)]


def _good_row(i: int) -> dict[str, str]:
    """The ``i``-th row of good values (some people come back: in-file duplicates)."""
    first = ("Ann", "José", "Zoë", "Mary Ann", "O'Brien", "李", "Jean-Luc", "Åsa")
    last = ("Smith", "Núñez", "van der Berg", "O'Neil", "王", "Smith-Jones")
    phones = ("(214) 555-{:04d}", "+1 214 555 {:04d}", "214.555.{:04d}", "+44 20 7946 {:04d}")
    emails = ("ann{}@example.com", "J.Doe{}@Example.COM", "x+{}@mail.example.org")
    person = i % 23  # rows 23 apart are the same person
    return {
        "first_name": first[person % len(first)],
        "last_name": last[person % len(last)],
        "email": _pick(emails, i).format(person),
        "cell_phone": phones[i % len(phones)].format(person),
        "lead_source": "",
        "referred_by": ("", "a friend", "Dr. Who", "line one\nline two")[i % 4],
        "loan_purpose": _pick(_values(LoanPurpose), i),
        "loan_amount": ("", "250000", "$1,250,000.50", "0", "99999.99")[i % 5],
        "property_type": _pick(_values(PropertyType), i),
        "occupancy": _pick(_values(Occupancy), i),
        "credit_rating": _pick(_values(CreditRating), i),
        "estimated_purchase_price": ("", "400000", "$525,000")[i % 3],
        "down_payment": ("", "20000", "$5,000.00")[i % 3],
        "desired_timeframe": _pick(_values(DesiredTimeframe), i),
        "already_found_home": _pick(_values(YesNoUnknown), i),
        "first_time_buyer": _pick(_values(YesNoUnknown), i + 1),
        "veteran": _pick(_values(YesNoUnknown), i + 2),
        "property_address": ("", "1 Main St", "2 Elm St\nApt 3")[i % 3],
        "property_state": ("", "TX", "tx", "OK", "FL", "GA", "NM")[i % 7],
        "property_zip": ("", "75201", "75201-1234", "32801")[i % 4],
        "external_id": "" if i % 2 else f"ext-{person}",
        "lead_stage": "",
        "assignee_id": "",
    }


def _pick(values: Sequence[str], i: int) -> str:
    return values[i % len(values)]


#: Rows of good values: a row of a file is one of these (noisy rows start from one).
_GOOD_ROWS = tuple(_good_row(i) for i in range(46))


@attrs.frozen(repr=False)
class LeadFile:
    """A lead CSV file, and the ``--encoding`` to read it with (``None``: the default).

    Kept small (hypothesis keeps what it draws): ``text`` is the file's text
    with each huge cell as a marker (:data:`_HUGE_MARK`: its number and how
    it is written), ``written`` the encoding it is written in, ``bom`` the
    bytes before it, ``bad`` the bytes put in it (at a position in
    millionths of its length). :attr:`data` builds the bytes, every time.
    """

    text: str
    written: str
    encoding: str | None
    bom: bytes = b""
    bad: tuple[tuple[int, bytes], ...] = ()

    @property
    def data(self) -> bytes:
        """The file's bytes."""
        text = _HUGE_MARK.sub(_huge_text, self.text) if "\ue000" in self.text else self.text
        data = self.bom + text.encode(self.written, errors="replace")
        for millionths, inserted in self.bad:
            at = len(data) * millionths // 1_000_000
            data = data[:at] + inserted + data[at:]
        return data

    def __repr__(self) -> str:
        text = _HUGE_MARK.sub(lambda m: f"<huge cell {m[1]}, {m[2]}>", self.text)
        return (
            f"LeadFile(text={text!r}, written={self.written!r}, encoding={self.encoding!r},"
            f" bom={self.bom!r}, bad={self.bad!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis shows it
        printer.text(repr(self))


def _shown_bytes(data: bytes, limit: int = 2000) -> str:
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r} + ...({len(data) - limit:,} more bytes)"


def _column_spelling(column: str) -> st.SearchStrategy[str]:
    """``column`` as a file might spell it: as is, with spaces, upper case, or an alias."""
    aliases = sorted(alias for alias, field in HEADER_ALIASES.items() if field == column)
    spaced = column.replace("_", " ")
    return st.sampled_from([column, column, spaced.title(), column.upper(), *aliases])


@st.composite
def _header(draw: st.DrawFn) -> list[str]:
    """Real columns, mostly; sometimes unknown, duplicate, system or unnamed ones."""
    contact = draw(st.sampled_from([["email", "cell_phone"], ["email"], ["cell_phone"]]))
    required = ["first_name", "last_name", *contact]
    others = draw(st.lists(st.sampled_from([c for c in COLUMNS if c not in required]), unique=True))
    columns = [*required, *others]
    if _sometimes(draw, 5):  # a file without its required columns
        columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True))
    columns = draw(st.permutations(columns))
    header = [draw(_column_spelling(c)) for c in columns]
    for _ in range(draw(st.integers(1, 3)) if _sometimes(draw, 10) else 0):
        extra = draw(
            st.sampled_from(["Favourite Colour", "", "  ", "Lead ID", "created", "id", "Notes"])
            | st.sampled_from(header)  # a duplicate
            | st.sampled_from(SYSTEM_COLUMNS)
            | st.text(max_size=12)
        )
        header.insert(draw(st.integers(0, len(header))), extra)
    return header


#: Cells over (and at) the csv module's default field limit of 131,072 characters.
_HUGE_CELLS = (
    "x" * _HUGE,
    ("y" * 99 + "\n") * 1400,  # many lines in one (quoted) cell
    '"' * 70_000,  # quotes: doubled when written, 140,000 characters in the file
    "ab, " * 40_000,
    "z" * _OVER_LIMIT,
    "z" * (_OVER_LIMIT - 1),
    "z" * (_OVER_LIMIT - 2),
)
#: Every odd cell, whatever the column (a broken email in a phone column is broken too).
_ODD_CELLS = tuple(
    dict.fromkeys(
        [
            *(value for values in _BROKEN.values() for value in values),
            *_FORMULAS,
            *_QUOTES,
            *_LINE_ENDS,
            *_NULS,
            *_ODD,
        ]
    )
)


def _cell(draw: st.DrawFn, good: str) -> str:
    """A cell of a noisy row: its good value half the time, else an odd one, rarely a huge one."""
    pick = draw(st.integers(0, 999))
    if pick < 450:
        return good
    if pick < 980:
        return _ODD_CELLS[(pick - 450) % len(_ODD_CELLS)]
    if pick < 996:
        return draw(st.text(max_size=30))
    return f"\ue000{draw(st.integers(0, len(_HUGE_CELLS) - 1))}\ue001"


#: A huge cell in a file's text: ``\ue000`` its number, how it is written (``raw``,
#: ``quoted`` when it must be, ``always`` quoted), ``\ue001``.
_HUGE_MARK = re.compile("\ue000([0-9]+)(raw|quoted|always)?\ue001")


def _huge_text(found: re.Match[str]) -> str:
    cell = _HUGE_CELLS[int(found[1])]
    return cell if found[2] == "raw" else _quote(cell, always=found[2] == "always")


def _quote(cell: str, always: bool = False) -> str:
    """A cell as a CSV writer writes it: quoted (quotes doubled) when it must be, or ``always``."""
    if always or any(c in cell for c in ',"\r\n') or cell != cell.strip(" "):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _line(draw: st.DrawFn, cells: list[str]) -> str:
    """A row as written: quoted as needed, or every cell quoted, or (now and then) raw."""
    how = draw(st.integers(0, 19))
    way = "raw" if how == 19 else "always" if how == 18 else "quoted"
    huge = [_HUGE_MARK.fullmatch(cell) is not None for cell in cells]
    cells = [
        c.replace("\ue001", way + "\ue001") if h else c for c, h in zip(cells, huge, strict=True)
    ]
    if how == 19:  # raw: its quotes, commas and line ends are the file's now
        return ",".join(cells)
    return ",".join(
        c if h else _quote(c, always=how == 18) for c, h in zip(cells, huge, strict=True)
    )


_ROW_ENDS = st.sampled_from(["\n", "\n", "\r\n", "\r"])
_BLANK_LINES = st.sampled_from(["", " ", "\t", ",,,", ", ,", '""', '"",""', ",,,,,,,,,,,,,"])


@st.composite
def _text_file(draw: st.DrawFn) -> str:
    header = draw(_header())
    fields = [_column(h) for h in header]
    end = draw(_ROW_ENDS)
    mixed = _sometimes(draw, 20)
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 2)) if _sometimes(draw, 10) else 0):
        lines.append(draw(_BLANK_LINES))  # blank records before the header
    lines.append(_line(draw, header))
    for _ in range(draw(st.integers(0, 12))):
        if _sometimes(draw, 10):
            lines.append(draw(_BLANK_LINES))
            continue
        good = _GOOD_ROWS[draw(st.integers(0, len(_GOOD_ROWS) - 1))]
        cells = [good.get(field, "") for field in fields]
        if _sometimes(draw, 60):  # a row with odd cells (else a good one)
            cells = [_cell(draw, cell) for cell in cells]
            shape = draw(st.integers(0, 14))
            if shape == 14 and cells:  # ragged: short
                del cells[draw(st.integers(0, len(cells) - 1)) :]
            elif shape == 13:  # ragged: long
                cells += ["", "extra", "1"][: draw(st.integers(1, 3))]
        lines.append(_line(draw, cells))
    ends = [draw(_ROW_ENDS) if mixed else end for _ in lines]
    text = "".join(line + line_end for line, line_end in zip(lines, ends, strict=True))
    if _sometimes(draw, 20):  # no line end after the last row
        text = text.rstrip("\r\n")
    return text


def _column(header: str) -> str:
    return canonical_column(header) or header


#: Encodings a file is written in (the first ones most often).
_ENCODINGS = (
    "utf-8",
    "utf-8",
    "utf-8",
    "utf-8-sig",
    "cp1252",
    "latin-1",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "shift_jis",
    "ascii",
    "cp037",
    "iso2022_jp",
    "gb18030",
    "utf-7",
)
#: ``--encoding`` values that are no text codec (or no codec at all).
_NOT_CODECS = (
    "nope",
    "utf-9",
    "base64",
    "rot13",
    "hex",
    "zlib",
    "",
    " utf-8",
    "utf-8\x00",
    "idna",
    "unicode_escape",
    "raw_unicode_escape",
)
#: Codecs leadflow refuses to read a file with (see ``leadflow.io.csvfiles``).
_REFUSED_CODECS = ("idna", "punycode", "unicode-escape", "raw-unicode-escape")
#: Bytes that are not valid UTF-8 (or not valid in most encodings).
_BAD_BYTES = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x81", b"\xf0\x9f", b"\x00", b"\xfe\xff")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF8 * 2, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@st.composite
def lead_files(draw: st.DrawFn) -> LeadFile:
    """A lead CSV file (see :class:`LeadFile`) and the ``--encoding`` it is read with."""
    text = draw(_text_file())
    written = draw(st.sampled_from(_ENCODINGS))
    bom = draw(st.sampled_from(_BOMS)) if _sometimes(draw, 10) else b""
    bad: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(1, 4)) if _sometimes(draw, 15) else 0):
        bad.append((draw(st.integers(0, 1_000_000)), draw(st.sampled_from(_BAD_BYTES))))
    pick = draw(st.integers(0, 49))
    if pick < 42:
        encoding = None if written == "utf-8" and draw(st.booleans()) else written
    elif pick < 48:
        encoding = draw(st.sampled_from(_ENCODINGS))  # maybe the wrong one
    else:
        encoding = draw(st.sampled_from(_NOT_CODECS))
    return LeadFile(text, written, encoding, bom, tuple(bad))


def expected_records(data: bytes, encoding: str | None) -> int | None:
    """The data records of a lead file as Python's csv module reads them, or ``None``.

    The file is decoded with ``encoding`` (UTF-8 when ``None``; a byte that
    is not valid becomes U+FFFD, which no CSV rule looks at), a byte order
    mark is dropped, and the records are read with no field size limit; the
    first record that is not blank is the header, and every later record that
    is not blank (a *blank* record: no cells, or only empty or whitespace
    cells, as ``docs/csv.md`` defines it) is a data row. ``None`` when
    ``encoding`` is no text codec Python knows (the file cannot be read).
    """
    try:
        info = codecs.lookup(encoding or "utf-8")
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    try:
        text = data.decode(info.name, errors="replace")
    except (UnicodeError, TypeError, ValueError, LookupError):
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    header_seen = False
    count = 0
    with _no_field_limit():
        for cells in csv.reader(io.StringIO(text, newline="")):
            if not "".join(cells).strip():
                continue
            if header_seen:
                count += 1
            header_seen = True
    return count


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    """The csv module without its field size limit, for this block only (it is global)."""
    old = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


# =========================================================================== configs

_HUGE_INTS = (
    0,
    -1,
    -(2**63),
    -(2**63) - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    10**20,
    -(10**20),
    10**100,
    99999999999999999999,
)
_LINKS = (
    "https://x.example/{lead_id:.8}",
    "https://x.example/{lead_id.__class__.__mro__}",
    "{lead_id!r}",
    "{lead_id!s:>20}",
    "{lead_id:x}",
    "{lead_id:%Y}",
    "{lead_id:>5000}",
    "{lead_id:{lead_id}}",
    "{lead_id.hex}",
    "{lead_id.int}",
    "{lead_id[0]}",
    "{lead_id}{lead_id}",
    "{{lead_id}}",
    "{0}",
    "{}",
    "{",
    "}",
    "{other}",
    "https://x.example/{lead_id}?q={{x}}",
    "\x00{lead_id}",
    "{lead_id}\n{lead_id}",
    "",
    "no placeholder",
    "x" * 20_000 + "{lead_id}",
)
_PLAYBOOKS = (
    "/dev/zero",
    "/dev/null",
    "/etc/passwd",
    "/",
    ".",
    "..",
    "missing.toml",
    "../../../../../../etc/hostname",
    "org.toml",  # the config itself
    "lead_management ",
    "LEAD_MANAGEMENT",
    "",
)
_DURATIONS = (
    "0 seconds",
    "-1 days",
    "99999999999 days",
    "1e400 seconds",
    "forever",
    "",
    "1 fortnight",
)
_ZONES = ("", "Mars/Olympus", "../../etc/passwd", "America/Chicago\x00", "EST5EDT", "UTC ", "utc")
_WRONG_TYPES: tuple[object, ...] = (
    True,
    False,
    1.5,
    -0.0,
    float("inf"),
    float("nan"),
    1e308,
    [],
    [1, "a", True],
    [[]],
    {},
    {"a": 1},
    date(1, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59),
    "",
)


def _long_string(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["x", "é", "😀", "{", "\n", "a,b"]))
    return unit * draw(st.sampled_from([201, 1001, 5000, 100_000]))


def _hostile_value(draw: st.DrawFn, key: object) -> object:
    kind = draw(st.integers(0, 9))
    if key == "lead_link" and kind < 6:
        return draw(st.sampled_from(_LINKS))
    if key == "playbook" and kind < 6:
        return draw(st.sampled_from(_PLAYBOOKS))
    if key in ("offer_expires_after", "after", "every") and kind < 5:
        return draw(st.sampled_from(_DURATIONS))
    if key == "timezone" and kind < 5:
        return draw(st.sampled_from(_ZONES))
    if kind < 4:
        return draw(st.sampled_from(_HUGE_INTS) | st.integers())
    if kind < 6:
        return draw(st.sampled_from(_WRONG_TYPES))
    if kind < 7:
        return _long_string(draw)
    if kind < 8:
        return draw(st.sampled_from(_LINKS + _PLAYBOOKS + _ZONES))
    return draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))


#: Places worth spoiling more often than a random one: every integer and template.
_TARGETS: tuple[tuple[object, ...], ...] = (
    ("organization", "routing_cap"),
    ("organization", "lead_link"),
    ("organization", "playbook"),
    ("organization", "timezone"),
    ("users", 0, "id"),
    ("users", -1, "id"),
    ("policies", 0, "user"),
    ("policies", 0, "ring_size"),
    ("policies", 0, "offer_expires_after"),
    ("policies", 0, "members", 0, "user"),
    ("policies", 0, "members", 0, "weight"),
    ("policies", 0, "members", 0, "filters", "max_leads"),
)


def _places(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _places(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _places(v, (*path, i))]
    return [path]


def _spoil(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """One hostile edit of ``data`` (in place)."""
    how = draw(st.integers(0, 9))
    if how < 4:  # a targeted place, if the config has it
        path = draw(st.sampled_from(_TARGETS))
    else:
        places = [p for p in _places(data) if p]
        path = draw(st.sampled_from(places))
    parent: Any = data
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(parent, list):
        if not (isinstance(last, int) and -len(parent) <= last < len(parent)):
            return
    elif not isinstance(parent, dict):
        return
    if how == 8 and isinstance(parent, dict):  # an unknown key beside it
        parent[draw(st.sampled_from(["emial", "idd", "x" * 300, "", "routing cap"]))] = (
            _hostile_value(draw, None)
        )
    elif how == 9 and isinstance(parent, dict):  # a key left out
        parent.pop(last, None)
    elif isinstance(parent, dict):
        parent[last] = _hostile_value(draw, last)
    else:
        assert isinstance(last, int)
        parent[last] = _hostile_value(draw, last)


@attrs.frozen(repr=False)
class OrgToml:
    """An org config as TOML bytes, with the source keys and user ids it was drawn with.

    ``playbook``: the playbook file the config names (``playbook = "pb.toml"``),
    written beside it; ``None`` when the config names a preset.
    """

    data: bytes
    sources: tuple[str, ...]
    users: tuple[int, ...]
    hostile: bool
    playbook: bytes | None = None

    def __repr__(self) -> str:
        book = "" if self.playbook is None else f", playbook={_shown_bytes(self.playbook, 4000)}"
        return (
            f"OrgToml(sources={self.sources!r}, users={self.users!r}, hostile={self.hostile},"
            f" data={_shown_bytes(self.data, 4000)}{book})"
        )

    def write(self, directory: Path) -> Path:
        """Write the config (as ``org.toml``) and its playbook file in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "org.toml"
        path.write_bytes(self.data)
        if self.playbook is not None:
            (directory / PLAYBOOK_FILE).write_bytes(self.playbook)
        return path

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis shows it
        printer.text(repr(self))


#: The name of a config's own playbook file (beside it).
PLAYBOOK_FILE = "pb.toml"
#: Playbook files to start from: the examples (one extends a preset).
_PLAYBOOK_EXAMPLES = tuple(
    tomllib.loads((_EXAMPLES / "playbooks" / name).read_text(encoding="utf-8"))
    for name in ("my_pipeline.toml", "investor_custom.toml")
)
_TEAM_KEYS = ("west", "east", "north")
_STATES = ("TX", "OK", "FL", "GA", "NM")
_PRESETS = tuple(sorted(PRESETS))


def _subset(draw: st.DrawFn, values: Sequence[Any], min_size: int = 0) -> list[Any]:
    if not values:
        return []
    return draw(st.lists(st.sampled_from(values), min_size=min_size, unique=True))


@st.composite
def base_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid org config as TOML-shaped data: every reference resolves.

    Small on purpose (a few teams, users, policies and sources from short
    lists), so a failing example shrinks in seconds; the values a routing
    rule reads (roles, activity, permissions, licenses, filters, caps,
    distributions, presets, time zones) are all drawn.
    """
    teams = _subset(draw, _TEAM_KEYS, min_size=1)
    ids = draw(st.lists(st.integers(1, 60), min_size=1, max_size=5, unique=True))
    users = []
    for uid in ids:
        user: dict[str, Any] = {
            "id": uid,
            "name": draw(st.sampled_from(["Ann Lee", "José Núñez", "Mary Ann Smith", "李 王"])),
            "email": f"user{uid}@example.com",
            "role": draw(st.sampled_from(["member", "admin"])),
            "active": not _sometimes(draw, 15),
            "permissions": _subset(draw, [p.value for p in Permission]),
            "teams": _subset(draw, teams),
        }
        if _sometimes(draw, 60):
            user["permissions"] = sorted({*user["permissions"], "receive_leads"})
        licenses: list[Any] = _subset(draw, _STATES)
        if licenses and _sometimes(draw, 20):
            licenses[0] = {"state": licenses[0], "expires_on": date(2026, 1, 31)}
        user["licenses"] = licenses
        if _sometimes(draw, 30):
            user["started_on"] = draw(st.sampled_from([date(2019, 3, 4), date(2026, 3, 1)]))
        users.append(user)
    policies = []
    for key in _subset(draw, ["p_rr", "p_direct", "p_any", "p_ring"]):
        distribution = draw(st.sampled_from([d.value for d in Distribution]))
        policy: dict[str, Any] = {"key": key, "name": key.upper(), "distribution": distribution}
        if distribution == "direct":
            policy["user"] = draw(st.sampled_from(ids))
            pool = [policy["user"]]
        else:
            policy["teams"] = _subset(draw, teams, min_size=1)
            pool = [u["id"] for u in users if set(u["teams"]) & set(policy["teams"])]
        if _sometimes(draw, 30):
            policy["ring_size"] = draw(st.integers(1, 20))
        if _sometimes(draw, 30):
            policy["offer_expires_after"] = draw(st.sampled_from(["30s", "5m", "2h", "1d"]))
        members = []
        for uid in _subset(draw, pool):
            member: dict[str, Any] = {"user": uid}
            if _sometimes(draw, 20):
                member["paused"] = True
            if _sometimes(draw, 30):
                member["weight"] = draw(st.integers(1, 9))
            filters: dict[str, Any] = {}
            if _sometimes(draw, 30):
                filters["states"] = _subset(draw, _STATES, min_size=1)
            if _sometimes(draw, 20):
                filters["loan_purposes"] = _subset(draw, [str(m) for m in LoanPurpose], 1)
            if _sometimes(draw, 10):
                filters["require_license"] = True
            if _sometimes(draw, 20):
                filters["max_leads"] = {
                    "per": draw(st.sampled_from(["day", "week", "month"])),
                    "count": draw(st.integers(0, 50)),
                }
            if filters:
                member["filters"] = filters
            members.append(member)
        if members:
            policy["members"] = members
        policies.append(policy)
    keys = [p["key"] for p in policies]
    sources = []
    for key in _subset(draw, ["purchased_leads", "website", "walk_in"]):
        source: dict[str, Any] = {"key": key, "name": key.replace("_", " ").title()}
        if keys and _sometimes(draw, 80):
            source["primary_policy"] = draw(st.sampled_from(keys))
            others = [k for k in keys if k != source["primary_policy"]]
            if others and _sometimes(draw, 40):
                source["fallback_policy"] = draw(st.sampled_from(others))
        sources.append(source)
    organization = {
        "name": "Acme Lending",
        "timezone": draw(st.sampled_from(["UTC", "America/Chicago", "Pacific/Honolulu"])),
        "playbook": draw(st.sampled_from(_PRESETS)),
        "contact_matching": draw(st.sampled_from([m.value for m in MatchScope])),
        "unroutable": draw(st.sampled_from([u.value for u in Unroutable])),
        "notify_on_assignment": draw(st.booleans()),
        "routing_cap": draw(st.integers(1, 100)),
        "lead_link": draw(st.sampled_from(["https://crm.example/{lead_id}", "{lead_id}", "x"])),
    }
    if organization["lead_link"] == "x":
        organization["lead_link"] = "https://crm.example/leads/{lead_id}?from=mail&a={{b}}"
    data: dict[str, Any] = {"organization": organization, "teams": [], "users": users}
    data["teams"] = [{"key": t, "name": t.title() + " Region"} for t in teams]
    if policies:
        data["policies"] = policies
    if sources:
        data["sources"] = sources
    return data


@st.composite
def org_configs(draw: st.DrawFn, hostile: int = 50) -> OrgToml:
    """An org config; ``hostile`` percent of them spoiled (hostile values or broken TOML)."""
    data = draw(base_configs())
    sources = [s["key"] for s in data.get("sources", [])]
    if not sources or _sometimes(draw, 60):  # first, a source whose policy can assign
        team = data["teams"][0]["key"]
        router = max(u["id"] for u in data["users"]) + 1
        data["users"].append(
            {
                "id": router,
                "name": "Rita Router",
                "email": "rita@example.com",
                "permissions": ["receive_leads"],
                "teams": [team],
            }
        )
        distribution = draw(st.sampled_from([d.value for d in Distribution]))
        policy: dict[str, Any] = {"key": "web_p", "name": "Rita's"}
        policy["distribution"] = distribution
        policy.update({"user": router} if distribution == "direct" else {"teams": [team]})
        data.setdefault("policies", []).append(policy)
        data.setdefault("sources", []).insert(
            0, {"key": "web", "name": "Web", "primary_policy": "web_p"}
        )
        sources.insert(0, "web")
    users = tuple(u["id"] for u in data["users"])
    playbook: dict[str, Any] | None = None
    if _sometimes(draw, 15):  # a playbook file of its own, beside the config
        data["organization"]["playbook"] = PLAYBOOK_FILE
        playbook = copy.deepcopy(draw(st.sampled_from(_PLAYBOOK_EXAMPLES)))
    spoilt = _sometimes(draw, hostile)
    if spoilt:
        for _ in range(draw(st.integers(1, 3))):
            if playbook is not None and _sometimes(draw, 50):
                _spoil(draw, playbook)
            else:
                _spoil(draw, data)
    text = _spoilt_bytes(draw, toml_document(data), spoilt)
    book = None if playbook is None else _spoilt_bytes(draw, toml_document(playbook), spoilt)
    return OrgToml(text, tuple(sources), users, spoilt, book)


def _spoilt_bytes(draw: st.DrawFn, text: str, spoilt: bool) -> bytes:
    """``text`` as UTF-8; now and then, when ``spoilt``, cut or broken (bad TOML, bad bytes)."""
    data = text.encode("utf-8", errors="surrogatepass")
    if spoilt and _sometimes(draw, 10):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"", b"\xff\xfe", b"[[", b'"', b"= =", b"\x00"]))
    return data


_BARE = re.compile(r"[A-Za-z0-9_-]+")


#: What a TOML basic string must escape: quotes, backslashes, control characters.
_TOML_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def _toml_string(text: str) -> str:
    def escape(found: re.Match[str]) -> str:
        char = found[0]
        return "\\" + char if char in '"\\' else f"\\u{ord(char):04X}"

    return '"' + _TOML_ESCAPE.sub(escape, text) + '"'


def _toml_key(key: object) -> str:
    text = str(key)
    return text if _BARE.fullmatch(text) else _toml_string(text)


def toml_value(value: object) -> str:
    """``value`` as a TOML value (tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML for {value!r}")


def _is_tables(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table_lines(name: str, table: dict[str, Any], array: bool) -> list[str]:
    lines = [f"[[{name}]]" if array else f"[{name}]"]
    nested = []
    for key, value in table.items():
        if array and _is_tables(value):  # [[policies.members]] after its policy's keys
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {toml_value(value)}")
    for key, entries in nested:
        for entry in entries:
            lines += _table_lines(f"{name}.{_toml_key(key)}", entry, True)
    return lines


def toml_document(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document: tables and arrays of tables, as config files are written."""
    lines = [
        f"{_toml_key(k)} = {toml_value(v)}"
        for k, v in data.items()
        if not isinstance(v, dict) and not _is_tables(v)
    ]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += _table_lines(_toml_key(key), value, False)
        elif _is_tables(value):
            for entry in value:
                lines += _table_lines(_toml_key(key), entry, True)
    return "\n".join(lines) + "\n"


# =========================================================================== option values

#: A user id as given on the command line: ``("user", i)`` the config's i-th user,
#: ``("int", n)`` any number, ``("text", s)`` any text.
UserRef = tuple[str, object]


@st.composite
def _user_refs(draw: st.DrawFn) -> UserRef:
    pick = draw(st.integers(0, 9))
    if pick < 7:
        return ("user", draw(st.integers(0, 9)))
    if pick < 9:
        return ("int", draw(st.sampled_from(_HUGE_INTS) | st.integers(-5, 20_000)))
    return ("text", draw(_arg_text()))


def _arg_text() -> st.SearchStrategy[str]:
    """Text an argument may hold (a shell passes undecodable bytes as lone surrogates)."""
    return st.sampled_from(
        ["", " ", "-1", "1e3", "0x10", "１", "--help", "\udcff", "a\x00"]
    ) | st.text(max_size=12)


_MOMENTS = (
    "2026-03-10T09:00:00",
    "2026-03-10T09:00:00-05:00",
    "2026-03-10",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-14:00",
    "2999-12-31T23:59:59+14:00",
    "3000-01-01",
    "2026-02-30T00:00:00",
    "now",
    "",
)
_DAYS = (
    "2026-03-10",
    "9999-12-31",
    "9999-12-01",
    "0001-01-01",
    "1970-01-01",
    "2999-12-31",
    "3000-01-01",
    "2026-02-29",
    "26-03-10",
    "",
)


def _moments() -> st.SearchStrategy[str]:
    return st.sampled_from(_MOMENTS) | st.datetimes().map(datetime.isoformat) | _arg_text()


def _days() -> st.SearchStrategy[str]:
    return st.sampled_from(_DAYS) | st.dates().map(date.isoformat) | _arg_text()


@attrs.frozen
class RouteOptions:
    """The options of one ``leadflow route``: ``source`` None for the config's first source.

    ``beside``: the lead file is named like an output file (``assigned.csv``...)
    and ``--out`` is its own directory; ``None``: ``leads.csv`` and a new
    directory (``nested``: several levels that do not exist yet).
    """

    source: str | None
    beside: str | None
    nested: bool
    user: UserRef | None
    assign_to: UserRef | None
    now: str | None
    strict: bool
    as_json: bool


@st.composite
def route_options(draw: st.DrawFn) -> RouteOptions:
    pick = draw(st.integers(0, 39))
    source = None if pick < 38 else draw(st.sampled_from(["nope", "Web", ""]) | _arg_text())
    beside = None
    if _sometimes(draw, 5):
        beside = draw(st.sampled_from([f"{name}.csv" for name in _OUTPUTS]))
    return RouteOptions(
        source=source,
        beside=beside,
        nested=_sometimes(draw, 5),
        user=draw(_user_refs()) if _sometimes(draw, 5) else None,
        assign_to=draw(_user_refs()) if _sometimes(draw, 5) else None,
        now=draw(_moments()) if _sometimes(draw, 5) else None,
        strict=draw(st.booleans()),
        as_json=draw(st.booleans()),
    )


@attrs.frozen
class RouteCase:
    """A config, a lead file and the options to route it with."""

    config: OrgToml
    file: LeadFile
    options: RouteOptions


def route_cases(hostile: int = 10) -> st.SearchStrategy[RouteCase]:
    return st.builds(RouteCase, org_configs(hostile), lead_files(), route_options())


#: A lead named on the command line: ``("lead", i)`` the i-th lead stored (whole id),
#: ``("prefix", i, n)`` its first ``n`` characters, ``("text", s)`` any text.
LeadRef = tuple[Any, ...]


@st.composite
def _lead_refs(draw: st.DrawFn) -> LeadRef:
    pick = draw(st.integers(0, 19))
    if pick < 14:
        return ("lead", draw(st.integers(0, 50)))
    if pick < 17:
        return ("prefix", draw(st.integers(0, 50)), draw(st.integers(0, 36)))
    return ("text", draw(_arg_text()))


def _command(draw: st.DrawFn) -> list[object]:
    """One command on a store, with random option values (refs resolved by :func:`_resolve`).

    Queue, pool, report, exceptions (list, assign, ignore, unignore), assign,
    advance, a person's work on a lead (log, stage, claim, release, history),
    ``why``, and ``init`` with another config or a ``route`` of another file,
    stored or a dry run from the store (which must store nothing).
    """
    kind = draw(st.sampled_from(_COMMANDS))
    if kind in ("init", "route", "dry"):
        return [{"init": "INIT", "route": "ROUTE", "dry": "DRY"}[kind], draw(st.integers(0, 1))]
    json_flag = ["--json"] if draw(st.booleans()) else []
    now = ["--now", draw(_moments())] if _sometimes(draw, 20) else []
    user = ["--user", draw(_user_refs())] if _sometimes(draw, 90) else []
    if kind in ("log", "stage", "claim", "release", "history", "why"):
        lead = draw(_lead_refs())
        note = ["--note", draw(_notes())] if _sometimes(draw, 30) else []
        if kind == "log":
            follow_up = ["--follow-up", draw(_moments())] if _sometimes(draw, 30) else []
            disposition = draw(st.sampled_from(_DISPOSITIONS) | _arg_text())
            return ["log", lead, "--disposition", disposition, *follow_up, *note, *user, *now]
        if kind == "stage":
            return ["stage", lead, draw(st.sampled_from(_STAGES) | _arg_text()), *note, *user, *now]
        if kind in ("history", "why"):
            return [kind, lead, *json_flag]
        return [kind, lead, *user, *now, *json_flag]
    if kind in ("queue", "pool"):
        limit = ["--limit", draw(st.sampled_from(_HUGE_INTS) | st.integers(-2, 60))]
        return [kind, *user, *(limit if draw(st.booleans()) else []), *now, *json_flag]
    if kind == "report":
        out = draw(st.sampled_from([["--out", "-"], ["--out", "REPORT"], [], ["--out", "-"]]))
        period = ["--period", draw(_days())] if draw(st.integers(0, 9)) else []
        kind_arg = draw(st.sampled_from(["weekly", "monthly", "daily"]))
        return ["report", kind_arg, *period, *out, *user, *json_flag]
    if kind == "exceptions":
        reasons = draw(
            st.lists(st.sampled_from(["no_policy", "no_eligible_member", "nope", ""]), max_size=2)
        )
        flags = ["--show-ignored"] if draw(st.booleans()) else []
        options = [a for r in reasons for a in ("--reason", r)]
        return ["exceptions", "list", *options, *flags, *json_flag]
    if kind in ("assign", "ignore"):
        lead = draw(_lead_refs())
        if kind == "ignore":
            return ["exceptions", draw(st.sampled_from(["ignore", "unignore"])), lead, *user, *now]
        group = ["exceptions", "assign"] if draw(st.booleans()) else ["assign"]
        return [*group, lead, draw(_user_refs()), *user, *now, *json_flag]
    return ["advance", *now, *json_flag]


_COMMANDS = (
    "queue",
    "pool",
    "report",
    "exceptions",
    "assign",
    "advance",
    "ignore",
    "log",
    "stage",
    "claim",
    "release",
    "history",
    "why",
    "init",
    "route",
    "dry",
)
#: Every preset's disposition keys, and every stage key and label.
_DISPOSITIONS = tuple(
    sorted(
        {d.key for n in PRESETS for d in preset(n).dispositions}
        | {d["key"] for book in _PLAYBOOK_EXAMPLES for d in book.get("dispositions", [])}
    )
)
_STAGES = tuple(
    sorted(
        {x for n in PRESETS for s in preset(n).stages for x in (s.key, s.label)}
        | {s[x] for book in _PLAYBOOK_EXAMPLES for s in book["stages"] for x in ("key", "label")}
    )
)


def _notes() -> st.SearchStrategy[str]:
    odd = ["", " ", "x" * 100_000, "a\x00b", "line one\nline two", "=cmd|' /C calc'!A0", "\udcff"]
    return st.sampled_from(odd) | st.text(max_size=40)


@attrs.frozen
class CommandCase:
    """A stored route, then commands with random option values on the store.

    ``configs`` and ``files`` are what an ``init`` or a ``route`` among the
    commands uses (``("INIT", i)``, ``("ROUTE", i)``).
    """

    route: RouteCase
    commands: tuple[tuple[object, ...], ...]
    configs: tuple[OrgToml, ...] = ()
    files: tuple[LeadFile, ...] = ()


@st.composite
def command_cases(draw: st.DrawFn) -> CommandCase:
    route = draw(route_cases(hostile=5))
    commands = tuple(tuple(_command(draw)) for _ in range(draw(st.integers(1, 5))))
    kinds = [c[0] for c in commands]
    configs = tuple(draw(org_configs(hostile=20)) for _ in range(min(kinds.count("INIT"), 2)))
    routes = kinds.count("ROUTE") + kinds.count("DRY")
    files = tuple(draw(lead_files()) for _ in range(min(routes, 2)))
    return CommandCase(route, commands, configs, files)


# =========================================================================== running


class Failure(AssertionError):
    """A property that did not hold; :meth:`of` gives one subclass per command and kind.

    Hypothesis tells bugs apart by exception type and place: with a type per
    command and kind of failure (an ``InvalidOperation`` in ``route``, a long
    line in ``config check``), a long run reports and shrinks each one.
    """

    _kinds: ClassVar[dict[tuple[str, str], type[Failure]]] = {}

    @classmethod
    def of(cls, command: str, kind: str) -> type[Failure]:
        key = (command, kind)
        if key not in cls._kinds:
            name = re.sub(r"\W+", "_", f"{command} {kind}".title()).strip("_")
            cls._kinds[key] = type(name or "Failure", (cls,), {})
        return cls._kinds[key]


@attrs.frozen
class Run:
    """One command's arguments and what it did."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str


def invoke(args: Sequence[str], *, check_stdout_lines: bool = False) -> Run:
    """Run ``leadflow ARGS`` in this process and check what every command keeps.

    The exit code is 0, 1 or 2 (an exception other than SystemExit escaping
    fails); no ``Traceback`` and no unexpected-error ("internal error ...
    bug") line on either stream; no line on standard error (and, with
    ``check_stdout_lines``, on standard output) longer than :data:`MAX_LINE`.
    """
    runner = CliRunner(env={"LEADFLOW_DEBUG": None, "LEADFLOW_DB": None})
    try:
        result: Result = runner.invoke(cli, list(args), catch_exceptions=True)
    finally:
        _forget_click_streams()
    shown = " ".join(_shorten(a, 80) for a in args)
    command = " ".join(a for a in args[:2] if a.isalpha())
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        error = result.exception
        raise Failure.of(command, f"{type(error).__name__} escaped")(
            f"leadflow {shown}: {type(error).__name__} escaped: {_shorten(str(error), 300)}"
        ) from error
    stdout, stderr = _text(result.stdout_bytes), _text(result.stderr_bytes or b"")
    run = Run(tuple(args), result.exit_code, stdout, stderr)
    if run.exit_code not in (0, 1, 2):
        raise Failure.of(command, f"exit {run.exit_code}")(
            f"leadflow {shown}: exit {run.exit_code}\n{_tail(run)}"
        )
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if "Traceback" in text:
            raise Failure.of(command, "a traceback")(
                f"leadflow {shown}: a traceback on {name}\n{_tail(run)}"
            )
        if INTERNAL_ERROR in text or "this is a bug" in text:
            kind = re.search(rf"{INTERNAL_ERROR}: (\w+)", text)
            raise Failure.of(command, kind[1] if kind else "a bug")(
                f"leadflow {shown}: an unexpected error on {name}\n{_tail(run)}"
            )
    lines = stderr.splitlines() + (stdout.splitlines() if check_stdout_lines else [])
    longest = max(lines, key=len, default="")
    if len(longest) > MAX_LINE:
        raise Failure.of(command, "a long line")(
            f"leadflow {shown}: a line of {len(longest):,} characters: {_shorten(longest, 300)}"
        )
    return run


def _forget_click_streams() -> None:
    """Empty click's caches of text streams, which keep every CliRunner invocation's streams.

    click caches the text wrapper of ``sys.stdout`` (and stdin, stderr) in a
    WeakKeyDictionary whose value refers to its key, so the streams of each
    invocation (and their output) stay in memory: thousands of examples in
    one process would grow by gigabytes. A command run from a shell is one
    process: this is the in-process runner's cost, not leadflow's.
    """
    for name in ("_default_text_stdin", "_default_text_stdout", "_default_text_stderr"):
        func = getattr(click_compat, name, None)
        for cell in getattr(func, "__closure__", None) or ():
            if isinstance(cell.cell_contents, weakref.WeakKeyDictionary):
                cell.cell_contents.clear()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit:,})"


def _first_error(run: Run) -> str:
    """The kind of a command's first error line (its words before the first quote or digit)."""
    line = next((x for x in run.stderr.splitlines() if x.startswith("error")), "")
    line = re.sub(r"\S*leadflow-fuzz-\S*", "FILE", line.removeprefix("error: "))
    return re.split(r"['\"0-9(]", line, maxsplit=1)[0][:60]


def _tail(run: Run) -> str:
    return f"stdout: {_shorten(run.stdout, 1500)}\nstderr: {_shorten(run.stderr, 1500)}"


# =========================================================================== properties


def check_config(config: OrgToml, work: Path) -> bool:
    """``config check``, then ``init``: they agree (a config that checks clean initialises).

    A config drawn without hostile edits checks clean.

    Returns whether the store was made.
    """
    path = config.write(work)
    checked = invoke(["config", "check", str(path)], check_stdout_lines=True)
    event(f"config: hostile={config.hostile}, check exit {checked.exit_code}")
    assert checked.exit_code in (0, 2), f"config check: exit {checked.exit_code}\n{_tail(checked)}"
    if not config.hostile:  # drawn valid: every reference resolves, every value in range
        assert checked.exit_code == 0, f"a valid config is refused\n{_tail(checked)}"
    made = invoke(["init", "--config", str(path), "--db", str(work / "leadflow.db")])
    assert made.exit_code == checked.exit_code, (
        f"config check exits {checked.exit_code} but init exits {made.exit_code}\n{_tail(made)}"
    )
    if made.exit_code == 0:
        _check_store(work / "leadflow.db", leads=0)
    return made.exit_code == 0


def _route_args(case: RouteCase, work: Path, name: str) -> tuple[list[str], Path]:
    """The arguments of a route of ``case`` (its file written in ``work``) and its ``--out``."""
    o = case.options
    path = work / (o.beside or "leads.csv")
    path.write_bytes(case.file.data)
    out = work if o.beside else work / name / "a" / "b" if o.nested else work / name
    source = case.config.sources[0] if o.source is None else o.source
    args = ["route", str(path), "--source", source, "--out", str(out), "--quiet"]
    if case.file.encoding is not None:
        args += ["--encoding", case.file.encoding]
    if o.user is not None:
        args += ["--user", _resolve_user(o.user, case.config)]
    if o.assign_to is not None:
        args += ["--assign-to", _resolve_user(o.assign_to, case.config)]
    if o.now is not None:
        args += ["--now", o.now]
    args += ["--strict"] * o.strict + ["--json"] * o.as_json
    return args, out


def _resolve_user(ref: UserRef, config: OrgToml) -> str:
    kind, value = ref
    if kind == "user" and isinstance(value, int):
        return str(config.users[value % len(config.users)]) if config.users else "1"
    return str(value)


def check_route(case: RouteCase, run: Run, out: Path) -> Summary | None:
    """The counts of a route's summary against the file and its four output files."""
    summary = _summary(run, case.options.as_json)
    event(f"route: exit {run.exit_code}" + ("" if summary else ", no summary"))
    if summary is None:
        event(f"route: refused: {_first_error(run)}")
        assert run.exit_code != 0, f"route exit 0 without a summary\n{_tail(run)}"
        return None
    expected = expected_records(case.file.data, case.file.encoding)  # built again: not kept
    s = summary
    size = "5+" if s.rows >= 5 else str(s.rows)
    event(f"route: {size} rows, {s.assigned > 0=}, {s.rejected > 0=}, {s.duplicates > 0=}")
    assert s.rows == s.assigned + s.unassigned + s.rejected + s.duplicates, f"{s} does not add up"
    assert expected is not None, f"{case.file.encoding!r} is no text codec, yet {s}"
    assert s.rows == expected, (
        f"{s.rows} rows read, but the file has {expected} data records (csv module)\n{_tail(run)}"
    )
    files = {  # in _OUTPUTS' order
        "assigned": s.assigned,
        "exceptions": s.unassigned,
        "rejected": s.rejected,
        "duplicates": s.duplicates,
    }
    numbered: list[int] = []
    for name, count in files.items():
        header, rows = _read_output(out / f"{name}.csv")
        assert len(rows) == count, f"{name}.csv has {len(rows)} rows, the summary says {count}"
        if name in ("rejected", "duplicates"):
            extra = REJECTED_COLUMNS if name == "rejected" else DUPLICATES_COLUMNS
            at = len(header) - len(extra) + extra.index("row")
            numbered += [int(r[at]) for r in rows]
        if name == "rejected":
            for r in rows:
                piece = max(r[-1].split("; "), key=len, default="")
                assert len(piece) <= MAX_LINE, (
                    f"rejected.csv row {r[at]}: an error of {len(piece):,} characters:"
                    f" {_shorten(piece, 300)}"
                )
    assert len(set(numbered)) == len(numbered), f"a row is both rejected and duplicate: {numbered}"
    assert all(1 <= n <= s.rows for n in numbered), f"row numbers {numbered} not in 1..{s.rows}"
    if s.rows and s.rejected == s.rows:
        assert run.exit_code == 1, f"every row rejected, exit {run.exit_code}"
    elif case.options.strict and s.rejected:
        assert run.exit_code == 1, f"--strict with rejected rows, exit {run.exit_code}"
    else:
        assert run.exit_code == 0, f"a route that read its rows exits {run.exit_code}\n{_tail(run)}"
    return summary


def _summary(run: Run, as_json: bool) -> Summary | None:
    if as_json:
        if not run.stdout.strip():
            return None
        data = json.loads(run.stdout)
        return Summary(
            data["rows"], data["assigned"], data["unassigned"], data["rejected"], data["duplicates"]
        )
    return summary_of(run.stdout)


def _read_output(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as stream, _no_field_limit():
        records = list(csv.reader(stream))
    assert records, f"{path.name} has no header"
    return records[0], records[1:]


def _check_store(db: Path, leads: int) -> None:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        (status,) = connection.execute("PRAGMA integrity_check").fetchone()
        (stored,) = connection.execute("SELECT count(*) FROM leads").fetchone()
    assert status == "ok", f"PRAGMA integrity_check: {status}"
    assert stored == leads, f"the store holds {stored} leads, the routes made {leads}"


def check_dry_route(case: RouteCase, work: Path) -> None:
    """``route --dry-run --config`` of a file: its counts are the file's."""
    config = case.config.write(work)
    args, out = _route_args(case, work, "dry")
    run = invoke([*args, "--dry-run", "--config", str(config)], check_stdout_lines=True)
    check_route(case, run, out)


def check_stored_route(case: RouteCase, work: Path) -> tuple[list[str], int]:
    """``init``, then a stored route, twice: counts, ``integrity_check`` and one lead a row.

    Returns the ids of the leads stored and their number (``0`` with no store).
    """
    if not check_config(case.config, work):
        return [], 0
    db = work / "leadflow.db"
    stored = 0
    ids: list[str] = []
    for attempt in ("first", "again"):
        args, out = _route_args(case, work, attempt)
        run = invoke([*args, "--db", str(db)], check_stdout_lines=True)
        summary = check_route(case, run, out)
        if summary is not None:
            stored += summary.assigned + summary.unassigned
            ids += _lead_ids(out)
        _check_store(db, stored)
    return ids, stored


def _lead_ids(out: Path) -> list[str]:
    """The ids of the leads a route made (assigned.csv and exceptions.csv)."""
    ids = []
    for name, extra in (("assigned", ASSIGNED_COLUMNS), ("exceptions", EXCEPTIONS_COLUMNS)):
        header, rows = _read_output(out / f"{name}.csv")
        at = len(header) - len(extra) + extra.index("lead_id")
        ids += [r[at] for r in rows]
    return ids


def check_commands(case: CommandCase, work: Path) -> None:
    """Commands with random option values on a store a route filled.

    Among them ``init`` with another config (the store reconfigured, or the
    change refused) and routes of other files: no command loses or doubles a
    lead (the store holds one per routed row), and the store stays intact.
    """
    ids, stored = check_stored_route(case.route, work)
    db = work / "leadflow.db"
    if not db.exists():
        return
    config = case.route.config
    for step, command in enumerate(case.commands):
        if command[0] == "INIT":
            candidate = case.configs[int(str(command[1])) % len(case.configs)]
            path = candidate.write(work / f"init{step}")
            run = invoke(["init", "--config", str(path), "--db", str(db)])
            event(f"init again: exit {run.exit_code}")
            if run.exit_code == 0:
                config = candidate
        elif command[0] in ("ROUTE", "DRY"):
            file = case.files[int(str(command[1])) % len(case.files)]
            routed = RouteCase(config, file, _PLAIN_ROUTE)
            dry = command[0] == "DRY"
            args, out = _route_args(routed, work, f"route{step}")
            extra = ["--dry-run"] if dry else []  # a dry run from the store: stores nothing
            run = invoke([*args, "--db", str(db), *extra], check_stdout_lines=True)
            summary = check_route(routed, run, out)
            event(f"{'dry run' if dry else 'route'} again: exit {run.exit_code}")
            if summary is not None and not dry:
                stored += summary.assigned + summary.unassigned
                ids += _lead_ids(out)
        else:
            args = [_resolve(part, config, ids, work) for part in command]
            run = invoke([*args, "--db", str(db)])
            name = " ".join(args[:2]) if args[0] == "exceptions" else args[0]
            event(f"{name}: exit {run.exit_code}")
        _check_store(db, stored)


_PLAIN_ROUTE = RouteOptions(
    source=None,
    beside=None,
    nested=False,
    user=None,
    assign_to=None,
    now=None,
    strict=False,
    as_json=False,
)


def _check_store_ok(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        (status,) = connection.execute("PRAGMA integrity_check").fetchone()
    assert status == "ok", f"PRAGMA integrity_check: {status}"


def _resolve(part: object, config: OrgToml, ids: Sequence[str], work: Path) -> str:
    if isinstance(part, str):
        return str(work / "report.csv") if part == "REPORT" else part
    if isinstance(part, int):
        return str(part)
    assert isinstance(part, tuple)
    kind = part[0]
    if kind == "user":
        return _resolve_user(part, config)
    if kind == "lead":
        return ids[part[1] % len(ids)] if ids else "0190c0de-0000-7000-8000-000000000000"
    if kind == "prefix":
        return ids[part[1] % len(ids)][: part[2]] if ids else ""
    return str(part[1])


# =========================================================================== failures


def save_failure(work: Path, error: BaseException) -> None:
    """Copy a failing example's files to :data:`SAVE_TO` (the last failure wins: the shrunk one)."""
    target = SAVE_TO[0]
    if target is None:
        return
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(work, target)
    (target / "failure.txt").write_text(f"{type(error).__name__}: {error}\n", encoding="utf-8")


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh directory for one example (hypothesis runs many in one test)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="leadflow-fuzz-") as name:
        work = Path(name)
        try:
            yield work
        except BaseException as error:
            save_failure(work, error)
            raise


#: Every property by name: the check (called with a drawn case and a fresh directory)
#: and the strategy of its case.
PROPERTIES: Mapping[str, tuple[Callable[[Any, Path], object], st.SearchStrategy[Any]]] = {
    "config": (check_config, org_configs()),
    "dry": (check_dry_route, route_cases()),
    "stored": (check_stored_route, route_cases()),
    "commands": (check_commands, command_cases()),
}

__all__ = [
    "MAX_LINE",
    "PLAYBOOK_FILE",
    "PROPERTIES",
    "SAVE_TO",
    "CommandCase",
    "Failure",
    "LeadFile",
    "OrgToml",
    "RouteCase",
    "Run",
    "base_configs",
    "check_commands",
    "check_config",
    "check_dry_route",
    "check_route",
    "check_stored_route",
    "command_cases",
    "expected_records",
    "invoke",
    "lead_files",
    "org_configs",
    "route_cases",
    "route_options",
    "toml_document",
    "workdir",
]
