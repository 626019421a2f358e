"""The activity report as CSV: the rows (the seed's 29 columns) and the summary.

Both go through :func:`leadflow.io.csvsafe.write_csv`: streamed, and safe to
open in a spreadsheet (a cell that would run as a formula is neutralised).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO

from leadflow.io.csvsafe import write_csv
from leadflow.model import User
from leadflow.reports import COLUMNS, FLAG_STAGES, ReportRow, StageSummary

__all__ = ["SUMMARY_COLUMNS", "summary_rows", "write_report_rows", "write_report_summary"]

#: The summary's columns: who, then units and volume per stage flag.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "assigned_to_user_id",
    "assigned_to_name",
    *(f"{flag}_units" for flag in FLAG_STAGES),
    *(f"{flag}_volume" for flag in FLAG_STAGES),
)


def write_report_rows(stream: IO[str], rows: Iterable[ReportRow]) -> int:
    """Write the report's rows under :data:`~leadflow.reports.COLUMNS`; returns how many."""
    return write_csv(stream, COLUMNS, (row.values for row in rows))


def _summary_lines(
    per_assignee: Iterable[StageSummary],
    organization: StageSummary,
    users: Mapping[int, User],
) -> Iterator[list[str]]:
    for summary in per_assignee:
        user_id = summary.assignee_id
        user = users.get(user_id) if user_id is not None else None
        if user_id is None:
            who, name = "", "unassigned"
        else:
            who = str(user_id)
            name = f"{user.first_name} {user.last_name}" if user else f"user {user_id}"
        yield _line(who, name, summary)
    yield _line("", "organization", organization)


def write_report_summary(
    stream: IO[str],
    per_assignee: Iterable[StageSummary],
    organization: StageSummary,
    users: Mapping[int, User],
) -> int:
    """Write one line per assignee (``unassigned`` for leads nobody held), then the org's.

    Returns the number of lines written (the organisation's included).
    """
    return write_csv(stream, SUMMARY_COLUMNS, _summary_lines(per_assignee, organization, users))


def summary_rows(
    per_assignee: Iterable[StageSummary],
    organization: StageSummary,
    users: Mapping[int, User],
) -> list[dict[str, str]]:
    """The lines :func:`write_report_summary` writes, as dicts by :data:`SUMMARY_COLUMNS`."""
    return [
        dict(zip(SUMMARY_COLUMNS, line, strict=True))
        for line in _summary_lines(per_assignee, organization, users)
    ]


def _line(who: str, name: str, summary: StageSummary) -> list[str]:
    return [
        who,
        name,
        *(str(summary.units.get(flag, 0)) for flag in FLAG_STAGES),
        *(f"{summary.volume.get(flag, 0):.2f}" for flag in FLAG_STAGES),
    ]
