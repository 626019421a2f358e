"""The command line under hostile files, configs and option values (strategies: ``cli_fuzz``).

Every command exits 0, 1 or 2 with no traceback and no unexpected-error
line; a route's summary counts the file's data records as Python's csv
module does, and its four output files hold exactly those rows; a stored
route leaves a store that passes ``PRAGMA integrity_check`` and holds one
lead per assigned or unassigned row. The properties are in
``tests/cli_fuzz.py``; ``benchmarks/fuzz_cli.py`` runs them for thousands
of examples (see docs/testing.md).

The number of examples follows the hypothesis profile (``tests/conftest.py``):
each test takes a share of the profile's ``max_examples`` (300 under
``HYPOTHESIS_PROFILE=ci``: 600 examples in all, about half a minute).
"""

from __future__ import annotations

import codecs
import csv
import io
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import cli_fuzz
from cli_fuzz import (
    CommandCase,
    LeadFile,
    OrgToml,
    RouteCase,
    check_commands,
    check_config,
    check_dry_route,
    check_stored_route,
    command_cases,
    expected_records,
    invoke,
    lead_files,
    org_configs,
    route_cases,
    workdir,
)
from leadflow.errors import LeadflowError
from leadflow.io.csvfiles import read_leads


def fuzz_settings(share: float) -> settings:
    """The loaded profile with ``share`` of its examples (at least 10), no deadline."""
    return settings(
        max_examples=max(10, round(settings.default.max_examples * share)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# ---------------------------------------------------------------- the properties


@fuzz_settings(0.4)
@given(org_configs())
def test_config_check_and_init_agree_on_any_config(config: OrgToml) -> None:
    with workdir() as work:
        check_config(config, work)


@fuzz_settings(0.6)
@given(route_cases())
def test_a_dry_route_of_any_file_counts_every_data_record_once(case: RouteCase) -> None:
    with workdir() as work:
        check_dry_route(case, work)


@fuzz_settings(0.5)
@given(route_cases())
def test_a_stored_route_of_any_file_stores_one_lead_a_row_and_an_intact_store(
    case: RouteCase,
) -> None:
    with workdir() as work:
        check_stored_route(case, work)


@fuzz_settings(0.3)
@given(command_cases())
def test_commands_with_any_option_values_on_a_store_exit_0_1_or_2(case: CommandCase) -> None:
    with workdir() as work:
        check_commands(case, work)


# ---------------------------------------------------------------- the fuzzer's own parts


def test_every_property_is_run_here_and_by_the_benchmark() -> None:
    checks = {check for check, _ in cli_fuzz.PROPERTIES.values()}
    assert checks == {check_config, check_dry_route, check_stored_route, check_commands}


def test_a_huge_cell_is_built_into_the_bytes_as_its_row_writes_it() -> None:
    cell = cli_fuzz._HUGE_CELLS[2]  # quotes: doubled inside a quoted cell
    text = "first_name,email\n\ue0002quoted\ue001,a@b.co\n\ue0002raw\ue001,b@c.co\n"
    data = LeadFile(text, "utf-8", None).data
    quoted = '"' + cell.replace('"', '""') + '"'
    assert data == f"first_name,email\n{quoted},a@b.co\n{cell},b@c.co\n".encode()
    assert "<huge cell 2, quoted>" in repr(LeadFile(text, "utf-8", None))


def test_toml_documents_read_back_as_the_data_written() -> None:
    data = {
        "organization": {"name": 'a "quoted"\\ name\x00\x7f\n', "routing_cap": 2**70},
        "users": [{"id": -1, "teams": ["a", {"odd key!": True}]}, {"id": 2.5}],
        "policies": [{"key": "p", "members": [{"user": 1}, {"user": 2, "filters": {}}]}],
        "sources": [[1, "a"], {"key": "s"}],
        "unknown key": date(2026, 3, 10),
    }
    assert tomllib.loads(cli_fuzz.toml_document(data)) == data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"first_name,email\nA,a@b.co\n", 1),
        (b"\n\n,,\nfirst_name,email\n\nA,a@b.co\n,\n  , \nB,b@c.co", 2),  # blank records
        (b'first_name,email\n"A\nB",a@b.co\r\nC,c@d.co\rD,d@e.co\r\n', 3),  # line ends
        (b'first_name,email\n"A,a@b.co\nB,b@c.co\n', 1),  # an unbalanced quote: one record
        (b"first_name,email\n" + b"x" * 200_000 + b",a@b.co\nB,b@c.co\n", 2),  # no size limit
        (codecs.BOM_UTF8 + b"first_name,email\nA\xff\x00,a@b.co\n", 1),
        (b"first_name\n", 0),
        (b"", 0),
    ],
)
def test_the_expected_count_is_the_csv_modules(data: bytes, expected: int) -> None:
    assert expected_records(data, None) == expected


def test_the_expected_count_reads_the_given_encoding_and_refuses_what_is_no_codec() -> None:
    data = "first_name,email\nZoë,z@b.co\n".encode("utf-16")
    assert expected_records(data, "utf-16") == 1
    assert expected_records(data, "nope") is None
    assert expected_records(data, "base64") is None


@fuzz_settings(0.2)
@given(lead_files())
def test_files_drawn_are_lead_files_leadflow_reads_or_refuses(file: LeadFile) -> None:
    """The strategy draws files whose count the reader agrees on, when it reads them at all."""
    expected = expected_records(file.data, file.encoding)
    try:
        rows = sum(1 for _ in read_leads(io.BytesIO(file.data), encoding=file.encoding or "utf-8"))
    except LeadflowError:  # a refused file (anything else fails the test)
        return
    assert rows == expected


def test_a_bug_line_fails_the_fuzz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error (one line naming a bug, exit 1) is a failure, not a pass."""
    path = tmp_path / "org.toml"
    path.write_text('[organization]\nname = "x"\ntimezone = "Mars/Olympus"\n')
    assert invoke(["config", "check", str(path)]).exit_code == 2  # a problem, no bug

    def broken(_: object) -> list[str]:
        raise RuntimeError("a bug")

    monkeypatch.setattr("leadflow.io.orgconfig.check_org_config", broken)
    with pytest.raises(AssertionError, match="an unexpected error on stderr"):
        invoke(["config", "check", str(path)])


def test_csv_in_this_module_is_unlimited_only_inside_the_count() -> None:
    limit = csv.field_size_limit()
    expected_records(b"a\n" + b"x" * 200_000 + b"\n", None)
    assert csv.field_size_limit() == limit
