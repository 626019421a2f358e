"""A playbook: a lead lifecycle as data (DESIGN D3).

A :class:`Playbook` holds ordered :class:`Stage` s, the :class:`Disposition` s
a user logs (call, SMS and email outcomes), what entering a stage does
(:class:`Effect`: keep or release ownership, kill, signals for the host),
the guards that must hold first, and the follow-up rule. It is validated as a
whole when built: every problem is reported in one
:class:`~leadflow.errors.ConfigError` that names the offending entry.

Playbooks are values. A host starts from a preset (:mod:`leadflow.stages.presets`)
and renames, disables or adds stages with the methods below, each returning a
new, re-validated playbook.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.errors import ConfigError, FieldError, ValidationError, clip
from leadflow.model import KEY_PATTERN, KEY_RULE
from leadflow.stages.aging import AgingRule
from leadflow.stages.durations import scale_interval
from leadflow.stages.guards import Guard

__all__ = [
    "Category",
    "Channel",
    "Direction",
    "Disposition",
    "Effect",
    "FollowUpRule",
    "Outcome",
    "Ownership",
    "Playbook",
    "Stage",
]


class Category(enum.StrEnum):
    """Where a stage stands: still being worked, won, lost, or dead (killed)."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"
    DEAD = "dead"


class Channel(enum.StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Ownership(enum.StrEnum):
    """What entering a stage does to the lead's owner."""

    #: The owner keeps the lead (investor green statuses).
    KEEP = "keep"
    #: The lead goes back to the pool at once (investor yellow statuses).
    RELEASE_NOW = "release_now"
    #: The owner keeps it for ``release_after``, then it goes to the pool
    #: unless the lead has moved on (investor Offer Rejected, 7 days).
    RELEASE_AFTER = "release_after"


@attrs.frozen(kw_only=True)
class Effect:
    """What entering a stage does besides changing the stage."""

    ownership: Ownership = Ownership.KEEP
    release_after: timedelta | None = None
    #: Leave every queue and stop every automation; the lead never changes again.
    kill: bool = False
    #: Named events for the host, emitted as :class:`~leadflow.events.Signal`.
    signals: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Outcome:
    """A final outcome a stage requires (Closed: funded, withdrawn, declined, lost)."""

    key: str
    label: str
    category: Category


@attrs.frozen(kw_only=True)
class Stage:
    """One stage (or status) of the lifecycle.

    ``order`` ranks stages for the forward-only rule: a disposition never
    moves a lead to a stage of lower order. Stages may share an order when a
    lead moves freely among them (the call log's schedule statuses).
    ``allow_backward`` lets a user move a lead from this stage to one of
    lower order with an explicit stage change. A ``terminal`` stage is left
    only by a user holding ``reopen_permission`` (never when it is ``None``).
    A ``system_only`` stage (the call log's Missed, Past Due...) is entered
    by scheduling and aging rules, never chosen by a user or a disposition.
    """

    key: str
    label: str
    order: int
    colour: str | None = None
    category: Category = Category.OPEN
    terminal: bool = False
    initial: bool = False
    enabled: bool = True
    #: Set only by the playbook's own rules (scheduling, aging), never by hand.
    system_only: bool = False
    allow_backward: bool = False
    reopen_permission: str | None = None
    outcomes: tuple[Outcome, ...] = ()
    effect: Effect = Effect()
    guards: tuple[Guard, ...] = ()
    description: str = ""

    def outcome(self, key: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.key == key), None)


@attrs.frozen(kw_only=True)
class Disposition:
    """An outcome a user logs for a call, text or email.

    ``to_stage`` is where it moves the lead (``None``: the stage stays),
    never backwards. ``snooze`` keeps the lead out of the queue for that
    long (a follow-up date replaces it). ``contact_attempt`` counts it as an
    outbound attempt; ``report`` records a report of that kind (the investor
    "told us wrong number"), which guards may count.
    """

    key: str
    label: str
    channel: Channel
    direction: Direction = Direction.OUTBOUND
    to_stage: str | None = None
    snooze: timedelta | None = None
    contact_attempt: bool = False
    report: str | None = None
    guards: tuple[Guard, ...] = ()
    enabled: bool = True


@attrs.frozen(kw_only=True)
class FollowUpRule:
    """How a requested follow-up becomes a due time, and where it moves the lead.

    ``scale`` multiplies the requested interval: 1 gives the date asked for;
    the investor rule is 1/2 ("call me back in 6 months" is due in 3).
    ``moves_to`` is the stage a newly scheduled follow-up moves the lead to
    (the call log's Scheduled), if any.
    """

    scale: Fraction = Fraction(1)
    moves_to: str | None = None

    def due(self, requested_at: datetime, interval: relativedelta | timedelta) -> datetime:
        """The due time of a follow-up requested at ``requested_at`` for ``interval`` later."""
        if isinstance(interval, timedelta):
            return requested_at + interval * self.scale.numerator / self.scale.denominator
        return requested_at + scale_interval(interval, self.scale)


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


@attrs.frozen(kw_only=True)
class Playbook:
    """A whole lifecycle: stages in order, dispositions, follow-up rule, aging.

    Building one validates it; every problem is listed in one
    :class:`~leadflow.errors.ConfigError`.
    """

    key: str
    name: str
    stages: tuple[Stage, ...]
    dispositions: tuple[Disposition, ...] = ()
    follow_up: FollowUpRule = FollowUpRule()
    description: str = ""
    #: Time rules, applied in this order when their moments coincide.
    aging: tuple[AgingRule, ...] = ()
    #: Stages whose leads anyone may take even while owned (the call log's Abandoned).
    pool_stages: tuple[str, ...] = ()
    #: Release a routed lead for re-routing when nobody attempted contact within this.
    speed_to_lead: timedelta | None = None

    _stages: dict[str, Stage] = attrs.field(init=False, eq=False, repr=False)
    _dispositions: dict[str, Disposition] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigError([f"playbook {clip(self.key)!r}: {p}" for p in problems])
        object.__setattr__(self, "_stages", {s.key: s for s in self.stages})
        object.__setattr__(self, "_dispositions", {d.key: d for d in self.dispositions})

    # ------------------------------------------------------------------ lookups

    @property
    def initial_stage(self) -> Stage:
        """The stage new leads start in: the one marked ``initial``, else the first enabled."""
        marked = [s for s in self.stages if s.initial]
        return marked[0] if marked else next(s for s in self.stages if s.enabled)

    def stage(self, key: str) -> Stage:
        """The stage ``key``; a :class:`ValidationError` listing the stages if there is none."""
        try:
            return self._stages[key]
        except KeyError:
            allowed = ", ".join(s.key for s in self.stages if s.enabled)
            raise ValidationError(
                [FieldError("stage", key, f"is not a stage of {self.name} (stages: {allowed})")]
            ) from None

    def disposition(self, key: str) -> Disposition:
        """The disposition ``key``; a :class:`ValidationError` listing them if there is none."""
        try:
            return self._dispositions[key]
        except KeyError:
            allowed = ", ".join(d.key for d in self.dispositions if d.enabled)
            raise ValidationError(
                [FieldError("disposition", key, f"is not a disposition of {self.name} ({allowed})")]
            ) from None

    def has_stage(self, key: str) -> bool:
        return key in self._stages

    def stage_key(self, name: str) -> str:
        """The key of the enabled stage ``name`` names (its key or label, case and spacing
        aside); ``name`` itself when it names none."""
        return self.stage_names().get(_fold(name), name)

    def stage_names(self) -> dict[str, str]:
        """Folded stage keys and labels -> stage keys, for row validation."""
        names: dict[str, str] = {}
        for stage in self.stages:
            if stage.enabled:
                names[_fold(stage.key)] = stage.key
                names[_fold(stage.key.replace("_", " "))] = stage.key
                names[_fold(stage.label)] = stage.key
        return names

    # ------------------------------------------------------------------ customising

    def _with(self, **changes: Any) -> Playbook:
        return attrs.evolve(self, **changes)

    def _replace_stage(self, key: str, **changes: Any) -> Playbook:
        self.stage(key)
        return self._with(
            stages=tuple(attrs.evolve(s, **changes) if s.key == key else s for s in self.stages)
        )

    def rename_stage(self, key: str, label: str) -> Playbook:
        """A copy where stage ``key`` is shown as ``label`` (its key never changes)."""
        return self._replace_stage(key, label=label)

    def disable_stage(self, key: str) -> Playbook:
        """A copy where stage ``key`` can no longer be entered.

        Leads already in it keep it. A disposition that still moves leads to
        it is a :class:`ConfigError`: disable or change those first.
        """
        return self._replace_stage(key, enabled=False)

    def enable_stage(self, key: str) -> Playbook:
        return self._replace_stage(key, enabled=True)

    def add_stage(self, stage: Stage) -> Playbook:
        """A copy with ``stage`` added, placed by its ``order``."""
        stages = sorted((*self.stages, stage), key=lambda s: s.order)
        return self._with(stages=tuple(stages))

    def add_disposition(self, disposition: Disposition) -> Playbook:
        return self._with(dispositions=(*self.dispositions, disposition))

    def disable_disposition(self, key: str) -> Playbook:
        self.disposition(key)
        return self._with(
            dispositions=tuple(
                attrs.evolve(d, enabled=False) if d.key == key else d for d in self.dispositions
            )
        )

    def rename_disposition(self, key: str, label: str) -> Playbook:
        self.disposition(key)
        return self._with(
            dispositions=tuple(
                attrs.evolve(d, label=label) if d.key == key else d for d in self.dispositions
            )
        )


def _duplicates(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for key in keys:
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    return dupes


def _problems(book: Playbook) -> list[str]:
    problems: list[str] = []
    if not KEY_PATTERN.fullmatch(book.key):
        problems.append(f"key {clip(book.key)!r} is not a system key: {KEY_RULE}")
    if not book.stages:
        return [*problems, "has no stages"]
    stages: Mapping[str, Stage] = {s.key: s for s in book.stages}
    for key in _duplicates(s.key for s in book.stages):
        problems.append(f"stage {clip(key)!r} is defined twice")
    for key in _duplicates(d.key for d in book.dispositions):
        problems.append(f"disposition {clip(key)!r} is defined twice")
    orders = [s.order for s in book.stages]
    if orders != sorted(orders):
        problems.append("stages must be listed in order (by their 'order')")

    initial = [s.key for s in book.stages if s.initial]
    if len(initial) > 1:
        problems.append(f"has {len(initial)} initial stages ({', '.join(initial)}); mark one")
    if not any(s.enabled for s in book.stages):
        problems.append("has no enabled stage")

    for stage in book.stages:
        where = f"stage {clip(stage.key)!r}"
        if not KEY_PATTERN.fullmatch(stage.key):
            problems.append(f"{where}: key is not a system key: {KEY_RULE}")
        if not stage.label.strip():
            problems.append(f"{where}: label is blank")
        if stage.initial and stage.terminal:
            problems.append(f"{where}: the initial stage cannot be terminal")
        if stage.initial and stage.system_only:
            problems.append(f"{where}: the initial stage cannot be system-only")
        if stage.initial and not stage.enabled:
            problems.append(f"{where}: the initial stage cannot be disabled")
        effect = stage.effect
        if effect.kill and not stage.terminal:
            problems.append(f"{where}: a stage that kills the lead must be terminal")
        if effect.kill and stage.category is not Category.DEAD:
            problems.append(f"{where}: a stage that kills the lead must be in category 'dead'")
        if (effect.ownership is Ownership.RELEASE_AFTER) != (effect.release_after is not None):
            problems.append(
                f"{where}: 'release_after' needs ownership 'release_after' and a duration"
            )
        if effect.release_after is not None and effect.release_after <= timedelta(0):
            problems.append(f"{where}: release_after must be positive")
        for key in _duplicates(o.key for o in stage.outcomes):
            problems.append(f"{where}: outcome {clip(key)!r} is defined twice")
        if stage.reopen_permission is not None and not stage.terminal:
            problems.append(f"{where}: only a terminal stage has a reopen permission")
        problems.extend(f"{where}: {p}" for g in stage.guards for p in g.problems())

    for disposition in book.dispositions:
        where = f"disposition {clip(disposition.key)!r}"
        if not KEY_PATTERN.fullmatch(disposition.key):
            problems.append(f"{where}: key is not a system key: {KEY_RULE}")
        target = disposition.to_stage
        if target is not None:
            if target not in stages:
                problems.append(f"{where}: moves to stage {clip(target)!r}, which does not exist")
            elif disposition.enabled and not stages[target].enabled:
                problems.append(f"{where}: moves to stage {clip(target)!r}, which is disabled")
            elif stages[target].system_only:
                problems.append(
                    f"{where}: moves to stage {clip(target)!r}, which only the playbook's rules set"
                )
            elif stages[target].outcomes:
                problems.append(
                    f"{where}: moves to stage {clip(target)!r}, which needs an outcome; "
                    "set that stage explicitly"
                )
        if disposition.snooze is not None and disposition.snooze <= timedelta(0):
            problems.append(f"{where}: snooze must be positive")
        problems.extend(f"{where}: {p}" for g in disposition.guards for p in g.problems())

    for index, aging in enumerate(book.aging):
        where = f"aging rule {index + 1} ({type(aging).__name__})"
        for key in aging.stage_keys():
            if key not in stages:
                problems.append(f"{where}: stage {clip(key)!r} does not exist")
        after = getattr(aging, "after", None)
        if after is not None and after <= timedelta(0):
            problems.append(f"{where}: 'after' must be positive")
    for key in book.pool_stages:
        if key not in stages:
            problems.append(f"pool stage {clip(key)!r} does not exist")
    if book.speed_to_lead is not None and book.speed_to_lead <= timedelta(0):
        problems.append("speed_to_lead must be positive")

    rule = book.follow_up
    if rule.scale <= 0:
        problems.append(f"follow-up scale must be positive, not {rule.scale}")
    if rule.moves_to is not None and rule.moves_to not in stages:
        problems.append(f"follow-up rule moves to stage {rule.moves_to!r}, which does not exist")
    return problems
