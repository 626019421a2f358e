"""The call log's tabs as views over leads.

* **To Be Scheduled** -- the user's leads with no reminder date: Not
  Scheduled, Missed (yellow) and Past Due (red);
* **Schedule** -- the user's scheduled leads, soonest reminder first;
* **Lead Bank** -- everyone's Abandoned and Available leads, first come,
  first served.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from leadflow.model import Lead
from leadflow.stages.playbook import Playbook

__all__ = ["CallLogTabs", "TabRow", "call_log_tabs"]

TO_BE_SCHEDULED = ("not_scheduled", "missed", "past_due")
SCHEDULE = ("scheduled",)
LEAD_BANK = ("abandoned", "available")


@attrs.frozen
class TabRow:
    """A lead in a tab, with its status label and colour."""

    lead: Lead
    status: str
    colour: str | None


@attrs.frozen
class CallLogTabs:
    to_be_scheduled: tuple[TabRow, ...]
    schedule: tuple[TabRow, ...]
    lead_bank: tuple[TabRow, ...]


def _first_due(lead: Lead) -> datetime:
    dues = [f.due for f in lead.open_follow_ups]
    return min(dues) if dues else lead.in_stage_since


def call_log_tabs(leads: Iterable[Lead], user_id: int, playbook: Playbook) -> CallLogTabs:
    """Split ``leads`` into the call log's three tabs as ``user_id`` sees them.

    ``playbook`` must have the call log's stages (the ``call_log`` preset or
    one built from it). Killed and archived leads appear in no tab.
    """
    to_be: list[TabRow] = []
    scheduled: list[TabRow] = []
    bank: list[TabRow] = []
    for lead in leads:
        if lead.killed_at is not None:
            continue
        stage = playbook.stage(lead.stage)
        row = TabRow(lead, stage.label, stage.colour)
        if lead.stage in LEAD_BANK:
            bank.append(row)
        elif lead.assignee_id != user_id:
            continue
        elif lead.stage in TO_BE_SCHEDULED:
            to_be.append(row)
        elif lead.stage in SCHEDULE:
            scheduled.append(row)
    order = {key: i for i, key in enumerate(TO_BE_SCHEDULED)}
    to_be.sort(key=lambda r: (-order[r.lead.stage], r.lead.in_stage_since))
    scheduled.sort(key=lambda r: _first_due(r.lead))
    bank.sort(key=lambda r: r.lead.in_stage_since)
    return CallLogTabs(tuple(to_be), tuple(scheduled), tuple(bank))
