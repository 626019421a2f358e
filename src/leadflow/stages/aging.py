"""Aging rules as data: what time alone does to a lead (DESIGN D6).

A playbook lists its rules; :mod:`leadflow.queue.aging` applies them. Each
rule names the stages it watches and the stage it moves a lead to. Durations
are exact ("2 days" is 48 hours), never calendar days.

* :class:`FollowUpPassed` -- a scheduled lead whose follow-up time has
  passed (call log: Scheduled -> Missed).
* :class:`ScheduleCleared` -- a scheduled lead with no open follow-up left
  (its call was made) goes back to waiting to be scheduled.
* :class:`Untouched` -- nobody touched the lead for a while (call log: Past
  Due after 2 days, Abandoned after 3).
* :class:`StageTimeout` -- the lead stayed in a stage for a while (call log:
  Abandoned for 5 days -> Available, owner removed).
* :class:`TouchRevives` -- a touch takes an aged lead back to work (a note on
  a Past Due lead restarts its clocks).

Two rules need no data and always apply: a hold set by a stage effect (the
investor's Offer Rejected) releases the lead when it ends, and a playbook's
``speed_to_lead`` limit releases a routed lead nobody tried to contact in
time, for re-routing.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

__all__ = [
    "AgingRule",
    "FollowUpPassed",
    "ScheduleCleared",
    "StageTimeout",
    "TouchRevives",
    "Untouched",
]


@attrs.frozen(kw_only=True)
class FollowUpPassed:
    """In ``stages``, once the earliest open follow-up is ``grace`` past due: -> ``to_stage``."""

    stages: tuple[str, ...]
    to_stage: str
    grace: timedelta = timedelta(minutes=1)

    def stage_keys(self) -> tuple[str, ...]:
        return (*self.stages, self.to_stage)


@attrs.frozen(kw_only=True)
class ScheduleCleared:
    """In ``stages``, once no open follow-up is left: -> ``to_stage``."""

    stages: tuple[str, ...]
    to_stage: str

    def stage_keys(self) -> tuple[str, ...]:
        return (*self.stages, self.to_stage)


@attrs.frozen(kw_only=True)
class Untouched:
    """In ``stages``, once ``after`` has passed without a touch: -> ``to_stage``.

    The clock starts at the last touch by a person (or creation), or at the
    due time of an open follow-up if that is later: time spent waiting for a
    scheduled call does not count as neglect.
    """

    stages: tuple[str, ...]
    after: timedelta
    to_stage: str

    def stage_keys(self) -> tuple[str, ...]:
        return (*self.stages, self.to_stage)


@attrs.frozen(kw_only=True)
class StageTimeout:
    """In ``stage`` for ``after``: -> ``to_stage``; ``release`` also removes the owner."""

    stage: str
    after: timedelta
    to_stage: str
    release: bool = False

    def stage_keys(self) -> tuple[str, ...]:
        return (self.stage, self.to_stage)


@attrs.frozen(kw_only=True)
class TouchRevives:
    """In ``stages``, a touch after the lead entered the stage: -> ``to_stage`` at that touch."""

    stages: tuple[str, ...]
    to_stage: str

    def stage_keys(self) -> tuple[str, ...]:
        return (*self.stages, self.to_stage)


AgingRule = FollowUpPassed | ScheduleCleared | Untouched | StageTimeout | TouchRevives
