"""The one way leads are created: a single lead, a CSV batch, a journey's action, a dry run.

See :mod:`leadflow.intake.pipeline` for the steps, :mod:`leadflow.intake.records`
for what a chunk builds and :mod:`leadflow.intake.dry` for the dry run's store.
"""

from leadflow.intake.dry import DryStore, HashIndex, HashSet
from leadflow.intake.pipeline import (
    CreateResult,
    ImportReport,
    Intake,
    Pipeline,
    RowOutcome,
    Status,
    validated,
)
from leadflow.intake.records import IntakeUnit, Records

__all__ = [
    "CreateResult",
    "DryStore",
    "HashIndex",
    "HashSet",
    "ImportReport",
    "Intake",
    "IntakeUnit",
    "Pipeline",
    "Records",
    "RowOutcome",
    "Status",
    "validated",
]
