"""The counts line `leadflow route` prints, read back (by the process tests and the fuzzer)."""

from __future__ import annotations

import re

import attrs

__all__ = ["Summary", "summary_of"]

_SUMMARY = re.compile(
    r"^(?:dry run: )?(\d+) rows read = (\d+) assigned \+ (\d+) unassigned"
    r" \+ (\d+) rejected \+ (\d+) duplicates$",
    re.MULTILINE,
)


@attrs.frozen
class Summary:
    """The counts ``leadflow route`` printed."""

    rows: int
    assigned: int
    unassigned: int
    rejected: int
    duplicates: int

    @property
    def accounted(self) -> bool:
        return self.rows == self.assigned + self.unassigned + self.rejected + self.duplicates


def summary_of(text: str) -> Summary | None:
    """The counts line in a route's standard output, or ``None`` when it printed none."""
    found = _SUMMARY.search(text)
    return None if found is None else Summary(*map(int, found.groups()))
