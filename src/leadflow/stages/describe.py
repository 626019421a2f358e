"""Playbooks as Markdown tables, for documentation and admin screens.

:func:`playbook_markdown` renders a playbook's stages, dispositions and
follow-up rule. ``docs/playbooks.md`` is generated from the presets with it
(``python docs/gen_playbooks.py``) and a test keeps it in step, so the
documentation cannot drift from the data.
"""

from __future__ import annotations

from leadflow.stages.durations import format_duration
from leadflow.stages.playbook import Disposition, Ownership, Playbook, Stage

__all__ = ["effect_text", "playbook_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "-"


def effect_text(stage: Stage) -> str:
    """What entering ``stage`` does, in words."""
    effect = stage.effect
    parts: list[str] = []
    if effect.kill:
        parts.append("kills the lead")
    elif effect.ownership is Ownership.RELEASE_NOW:
        parts.append("releases to the pool")
    elif effect.ownership is Ownership.RELEASE_AFTER and effect.release_after is not None:
        parts.append(f"keeps the owner {format_duration(effect.release_after)}, then releases")
    if effect.signals:
        parts.append("signals " + ", ".join(f"`{s}`" for s in effect.signals))
    if stage.outcomes:
        parts.append(
            "needs an outcome: " + ", ".join(f"{o.label} ({o.category})" for o in stage.outcomes)
        )
    return "; ".join(parts)


def _stage_rules(stage: Stage) -> str:
    rules = [g.describe() for g in stage.guards]
    if stage.terminal:
        rules.append(f"reopen: `{stage.reopen_permission}`" if stage.reopen_permission else "final")
    if stage.allow_backward:
        rules.append("may move back")
    if stage.system_only:
        rules.append("set by the rules only")
    if stage.initial:
        rules.append("initial")
    return "; ".join(rules)


def _disposition_row(d: Disposition, book: Playbook) -> str:
    target = book.stage(d.to_stage).label if d.to_stage else "(stays)"
    return (
        f"| `{d.key}` | {_cell(d.label)} | {d.channel} {d.direction} | {target} | "
        f"{format_duration(d.snooze) if d.snooze else '-'} | "
        f"{'yes' if d.contact_attempt else 'no'} | {_cell(d.report or '')} |"
    )


def playbook_markdown(book: Playbook, *, heading: str = "###") -> str:
    """Markdown for one playbook: a stage table, a disposition table, the follow-up rule."""
    lines = [f"{heading} {book.name} (`{book.key}`)", ""]
    if book.description:
        lines += [book.description, ""]
    lines += [
        "| order | key | stage | colour | category | on entering | rules |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in book.stages:
        lines.append(
            f"| {s.order} | `{s.key}` | {_cell(s.label)} | {_cell(s.colour or '')} | "
            f"{s.category} | {_cell(effect_text(s))} | {_cell(_stage_rules(s))} |"
        )
    lines += [
        "",
        "| disposition | label | channel | moves to | snooze | attempt | report |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_disposition_row(d, book) for d in book.dispositions]
    rule = book.follow_up
    scale = "as requested" if rule.scale == 1 else f"requested delay x {rule.scale}"
    moves = (
        f"; scheduling one moves the lead to {book.stage(rule.moves_to).label}"
        if (rule.moves_to)
        else ""
    )
    lines += ["", f"Follow-ups: {scale}{moves}.", ""]
    return "\n".join(lines)
