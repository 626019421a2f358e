"""A person's own work: ``queue``, ``pool``, ``log``, ``stage``, ``claim``, ``release``.

Each of these needs ``--user``: a call, a stage move or a claim is always
somebody's. A lead is named by its id or a unique prefix of 8+ characters.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import click

from leadflow.cli._common import (
    MOMENT,
    cli,
    db_option,
    json_option,
    lead_command,
    lead_dict,
    lead_id,
    lead_line,
    now_option,
    open_desk,
    person_option,
    print_json,
    user,
)

_LIMIT = click.IntRange(1, 100_000)


@cli.command(epilog="Example: leadflow queue --user 2")
@person_option("a call queue")
@click.option("--limit", type=_LIMIT, default=50, show_default=True, help="Entries to show.")
@db_option
@now_option
@json_option
def queue(user_id: int, limit: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """A loan officer's call queue, in the order to work it, with why each lead is there."""
    with open_desk(db, now) as desk:
        who = user(desk.directory.users, user_id)
        page = desk.queue_page(user_id, limit=limit)
        if as_json:
            print_json(
                {
                    "total": page.total,
                    "entries": [
                        {"reason": str(e.reason), "notes": e.notes, "lead": lead_dict(e.lead)}
                        for e in page.entries
                    ],
                }
            )
            return
        if not page.entries:
            click.echo(f"{who.first_name} {who.last_name}'s queue is empty")
            return
        click.echo(f"{'LEAD':<36}  {'PROSPECT':<24} {'PHONE':<13} {'STAGE':<20} WHY")
        for entry in page.entries:
            details = page.contacts[entry.lead.contact_id]
            name = f"{details.first_name} {details.last_name}"
            if len(name) > 24:
                name = name[:23] + "…"
            note = f" -- {entry.notes}" if entry.notes else ""
            click.echo(
                f"{entry.lead.lead_id}  {name:<24} {details.cell_phone or '-':<13}"
                f" {entry.lead.stage:<20} {entry.reason}{note}"
            )
        click.echo(f"showing {len(page.entries)} of {page.total}")


@cli.command(epilog="Example: leadflow pool --user 2")
@person_option("looking at the pool")
@click.option("--limit", type=_LIMIT, default=50, show_default=True)
@db_option
@now_option
@json_option
def pool(user_id: int, limit: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """Leads anyone may claim: unowned, or in the playbook's pool stages."""
    with open_desk(db, now) as desk:
        user(desk.directory.users, user_id)
        leads = desk.pool(user_id, limit=limit)
        if as_json:
            print_json([lead_dict(lead) for lead in leads])
            return
        if not leads:
            click.echo("the pool is empty")
        for lead in leads:
            click.echo(lead_line(lead, desk))


_NOTE = click.option("--note", help="A note (some stages and dispositions require one).")
_DISPOSITION = click.option(
    "--disposition", required=True, help="The outcome's key (see the playbook)."
)
_FOLLOW_UP = click.option(
    "--follow-up", "follow_up", type=MOMENT, help="Schedule a call-back then."
)


@lead_command(cli, "logged", person="logging an outcome", options=[_DISPOSITION, _FOLLOW_UP, _NOTE])
def log(
    desk: Any, lead: UUID, who: Any, disposition: str, follow_up: datetime | None, note: str | None
) -> Any:
    """Log a call, text or email outcome on a lead.

    Example: leadflow log LEAD_ID --user 2 --disposition left_vm
    """
    return desk.log_outcome(lead, disposition, actor=who, note=note, call_back=follow_up)


_STAGE = click.argument("stage")


@lead_command(cli, "moved", person="moving a lead's stage", arguments=[_STAGE], options=[_NOTE])
def stage(desk: Any, lead: UUID, who: Any, stage: str, note: str | None) -> Any:
    """Move a lead to a stage (by key or name).

    Example: leadflow stage LEAD_ID "Application Submitted" --user 2
    """
    return desk.set_stage(lead, stage, actor=who, note=note)


@lead_command(cli, "claimed", person="claiming a lead")
def claim(desk: Any, lead: UUID, who: Any) -> Any:
    """Take an unowned lead.

    Example: leadflow claim LEAD_ID --user 2
    """
    return desk.claim(lead, actor=who)


@lead_command(cli, "released", person="releasing a lead")
def release(desk: Any, lead: UUID, who: Any) -> Any:
    """Give a lead back to the pool.

    Example: leadflow release LEAD_ID --user 2
    """
    return desk.release(lead, actor=who)


@cli.command(epilog="Example: leadflow history LEAD_ID")
@click.argument("lead")
@db_option
@json_option
def history(lead: str, db: Path, as_json: bool) -> None:
    """A lead's activity, oldest first: who (a user, or System), through what, and what."""
    from leadflow.events import actor_label
    from leadflow.storage.codec import event_to_json

    with open_desk(db, None) as desk:
        events = desk.history(lead_id(desk, lead))
        if as_json:
            print_json(
                [
                    {"kind": e.kind, "by": actor_label(e), **json.loads(event_to_json(e))}
                    for e in events
                ]
            )
            return
        for event in events:
            by = actor_label(event, desk.directory.users)
            click.echo(f"{event.at.isoformat(timespec='seconds')}  {by}: {event.describe()}")


@cli.command(epilog="Example: leadflow why LEAD_ID")
@click.argument("lead")
@db_option
@json_option
def why(lead: str, db: Path, as_json: bool) -> None:
    """Why a lead went where it went: the routing decision, then what moved it since."""
    with open_desk(db, None) as desk:
        found = desk.why(lead_id(desk, lead))
    if as_json:
        from leadflow.storage.codec import dumps

        print_json(
            {
                "lead_id": str(found.lead_id),
                "assignee_id": found.assignee_id,
                "decided_at": found.decided_at.isoformat() if found.decided_at else None,
                "decision": json.loads(dumps(found.decision)),
                "since": list(found.since),
            }
        )
        return
    for line in found.lines():
        click.echo(line)
