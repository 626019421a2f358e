"""Playbooks: a lead's lifecycle as data, and the pure moves through it (DESIGN D3, D5).

* :mod:`~leadflow.stages.playbook` -- :class:`Playbook`, :class:`Stage`,
  :class:`Disposition`, :class:`Effect`, :class:`FollowUpRule`;
* :mod:`~leadflow.stages.guards` -- the conditions a move must meet;
* :mod:`~leadflow.stages.presets` -- the four seed products;
* :mod:`~leadflow.stages.transitions` -- :func:`log_outcome`,
  :func:`set_stage`, follow-ups;
* :mod:`~leadflow.stages.durations` -- ``"48h"``, ``"6 months"``.
"""

from leadflow.stages import guards, playbook, presets, transitions
from leadflow.stages.durations import format_duration, parse_duration, parse_interval
from leadflow.stages.guards import *
from leadflow.stages.playbook import *
from leadflow.stages.presets import *
from leadflow.stages.transitions import *

__all__ = [
    "format_duration",
    "parse_duration",
    "parse_interval",
    *guards.__all__,
    *playbook.__all__,
    *presets.__all__,
    *transitions.__all__,
]
