"""Playbooks: a lead's lifecycle as data, and the pure moves through it (DESIGN D3, D5).

* :mod:`~leadflow.stages.playbook` -- :class:`Playbook`, :class:`Stage`,
  :class:`Disposition`, :class:`Effect`, :class:`FollowUpRule`;
* :mod:`~leadflow.stages.guards` -- the conditions a move must meet;
* :mod:`~leadflow.stages.presets` -- the four seed products;
* :mod:`~leadflow.stages.transitions` -- :func:`log_outcome`,
  :func:`set_stage`, follow-ups;
* :mod:`~leadflow.stages.durations` -- ``"48h"``, ``"6 months"``.
"""

from leadflow.stages.durations import format_duration, parse_duration, parse_interval
from leadflow.stages.guards import (
    ApprovalWhileNew,
    Guard,
    GuardContext,
    MinReports,
    RequiresNote,
    RequiresPermission,
)
from leadflow.stages.playbook import (
    Category,
    Channel,
    Direction,
    Disposition,
    Effect,
    FollowUpRule,
    Outcome,
    Ownership,
    Playbook,
    Stage,
)
from leadflow.stages.presets import (
    PRESETS,
    call_log,
    investor,
    lead_management,
    leads_queue,
    preset,
)
from leadflow.stages.transitions import (
    Transition,
    add_note,
    close_follow_up,
    general_follow_up,
    log_outcome,
    schedule_follow_up,
    set_stage,
)

__all__ = [
    "PRESETS",
    "ApprovalWhileNew",
    "Category",
    "Channel",
    "Direction",
    "Disposition",
    "Effect",
    "FollowUpRule",
    "Guard",
    "GuardContext",
    "MinReports",
    "Outcome",
    "Ownership",
    "Playbook",
    "RequiresNote",
    "RequiresPermission",
    "Stage",
    "Transition",
    "add_note",
    "call_log",
    "close_follow_up",
    "format_duration",
    "general_follow_up",
    "investor",
    "lead_management",
    "leads_queue",
    "log_outcome",
    "parse_duration",
    "parse_interval",
    "preset",
    "schedule_follow_up",
    "set_stage",
]
