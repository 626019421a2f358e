"""Administrative and batch work: ``assign``, ``exceptions``, ``advance``, ``deliver``, ``report``.

Without ``--user`` these run as the organisation's system actor (DESIGN
D12); with it, as that user, with that user's permissions.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import click

from leadflow.cli._common import (
    DAY,
    USER_ID,
    Group,
    acting_user_option,
    actor,
    cli,
    db_option,
    fail,
    json_option,
    lead_command,
    lead_id,
    now_option,
    open_desk,
    print_json,
    user,
)

_ASSIGNEE = click.argument("assignee", type=USER_ID)


@lead_command(cli, "assigned", arguments=[_ASSIGNEE])
def assign(desk: Any, lead: UUID, who: Any, assignee: int) -> Any:
    """Assign (or reassign) a lead to a user.

    Example: leadflow assign LEAD_ID 3
    """
    user(desk.directory.users, assignee, "ASSIGNEE")
    return desk.assign(lead, assignee, actor=who)


# --------------------------------------------------------------------------- exceptions


@cli.group(cls=Group)
def exceptions() -> None:
    """The lead exception list: leads routing could not assign."""


@exceptions.command("list", epilog="Example: leadflow exceptions list --reason no_policy")
@click.option("--show-ignored", is_flag=True, help="Include ignored records.")
@click.option("--reason", "reasons", multiple=True, help="Only this failure reason (repeatable).")
@db_option
@json_option
def exceptions_list(show_ignored: bool, reasons: tuple[str, ...], db: Path, as_json: bool) -> None:
    """List the exception records."""
    from leadflow.routing import FailureReason
    from leadflow.routing.exceptions import ExceptionFilter
    from leadflow.storage.codec import exception_to_json

    try:
        wanted = frozenset(FailureReason(r) for r in reasons)
    except ValueError:
        allowed = ", ".join(r.value for r in FailureReason)
        raise click.BadParameter(
            f"unknown reason; one of: {allowed}", param_hint="--reason"
        ) from None
    where = ExceptionFilter(failure_reasons=wanted) if wanted else None
    with open_desk(db, None) as desk:
        records = desk.exceptions(show_ignored=show_ignored, where=where)
        if as_json:
            print_json([json.loads(exception_to_json(r)) for r in records])
            return
        if not records:
            click.echo("no exceptions")
        for r in records:
            flag = " (ignored)" if r.ignored else ""
            click.echo(
                f"{r.lead_id}  {r.prospect_name:<24} {r.source:<18} {r.failure_reason}{flag}"
            )


@lead_command(exceptions, "assigned", name="assign", arguments=[_ASSIGNEE])
def exceptions_assign(desk: Any, lead: UUID, who: Any, assignee: int) -> Any:
    """Assign a lead from the exception list.

    Example: leadflow exceptions assign LEAD_ID 3
    """
    user(desk.directory.users, assignee, "ASSIGNEE")
    return desk.assign_exception(lead, assignee, actor=who)


def _ignore_command(name: str, ignored: bool, text: str) -> None:
    """``exceptions ignore`` (``ignored``) or ``exceptions unignore``."""

    @exceptions.command(name, help=text, epilog=f"Example: leadflow exceptions {name} LEAD_ID")
    @click.argument("lead")
    @acting_user_option
    @db_option
    @now_option
    def command(lead: str, user_id: int | None, db: Path, now: datetime | None) -> None:
        with open_desk(db, now) as desk:
            who = actor(desk, user_id)
            record = desk.ignore_exception(lead_id(desk, lead), actor=who, ignored=ignored)
            click.echo(f"{name}d {record.lead_id}")


_ignore_command("ignore", True, "Hide a record from the exception list (it can still be assigned).")
_ignore_command("unignore", False, "Show an ignored record in the exception list again.")


# --------------------------------------------------------------------------- time and reports


@cli.command(epilog="Example: leadflow advance --now 2026-03-11T09:00:00-05:00")
@db_option
@now_option
@json_option
def advance(db: Path, now: datetime | None, as_json: bool) -> None:
    """Apply aging up to now: release holds, clear schedules, move stale leads."""
    with open_desk(db, now) as desk:
        report = desk.advance()
        automations = desk.run_automations()
        ages = bool(desk.playbook.aging)
        if as_json:
            print_json(
                {
                    "leads": report.leads,
                    "events": len(report.events),
                    "rerouted": report.rerouted,
                    "automations": automations.ran,
                    "playbook_ages": ages,
                }
            )
            return
        click.echo(
            f"aged {report.leads} lead(s): {len(report.events)} event(s),"
            f" {report.rerouted} re-routed"
        )
        if not report.leads and not ages:
            click.echo(
                f"note: playbook {desk.playbook.key!r} has no aging rules, so only snoozes,"
                " follow-ups and timed releases change with time; the call_log playbook"
                " ages untouched leads (see docs/playbooks.md)"
            )


@cli.command(
    epilog=(
        "Example: leadflow deliver --smtp-host mail.example.com --sender leads@example.com\n\n"
        "A password is read from the environment variable --password-env names."
    )
)
@click.option("--smtp-host", required=True, help="The SMTP server.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=25, show_default=True)
@click.option("--sender", required=True, help="The From address.")
@click.option("--starttls", is_flag=True, help="Upgrade the connection (usually port 587).")
@click.option("--ssl", "use_ssl", is_flag=True, help="TLS from the first byte (usually 465).")
@click.option("--username", help="Log in as this user.")
@click.option(
    "--password-env", metavar="VAR", help="The environment variable holding the password."
)
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1, 100), default=8, show_default=True)
@db_option
@now_option
@json_option
def deliver(
    smtp_host: str,
    smtp_port: int,
    sender: str,
    starttls: bool,
    use_ssl: bool,
    username: str | None,
    password_env: str | None,
    limit: int,
    max_attempts: int,
    db: Path,
    now: datetime | None,
    as_json: bool,
) -> None:
    """Send the assignment emails waiting in the outbox; exit 1 if a delivery failed.

    A failed message is retried by a later run (with a growing wait) and
    marked failed after --max-attempts; an assignment is never undone.
    """
    from leadflow.notify.delivery import deliver_outbox
    from leadflow.notify.smtp import SmtpNotifier

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            fail(f"--password-env {password_env}: no such environment variable", 2)
    notifier = SmtpNotifier(
        smtp_host,
        smtp_port,
        sender=sender,
        username=username,
        password=password,
        starttls=starttls,
        ssl=use_ssl,
    )
    with open_desk(db, now) as desk:
        report = deliver_outbox(
            desk.store, notifier, desk.now(), limit=limit, max_attempts=max_attempts
        )
    if as_json:
        print_json(attrs.asdict(report))
    else:
        click.echo(
            f"sent {report.sent}, failed {report.failed_now} (to retry),"
            f" gave up on {report.gave_up}; {report.remaining} waiting"
        )
    if report.failed_now or report.gave_up:
        fail(f"{report.failed_now + report.gave_up} message(s) could not be delivered", 1)


@cli.command(
    epilog=(
        "Example: leadflow report weekly --period 2026-03-11 --out week.csv\n\n"
        "To standard output: --out - (the rows) or --json (rows and summary)."
    )
)
@click.argument("kind", type=click.Choice(["weekly", "monthly"]))
@click.option("--period", "day", type=DAY, required=True, help="Any day of the week or month.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The report CSV (the summary goes beside it, NAME-summary.csv); - for standard output.",
)
@acting_user_option
@db_option
@json_option
def report(
    kind: str, day: date, out_path: Path | None, user_id: int | None, db: Path, as_json: bool
) -> None:
    """The Lead Management Activity Report of a week (Monday-Sunday) or month."""
    from leadflow.io.reports import (
        summary_rows,
        write_report_rows,
        write_report_summary,
    )

    if out_path is None and not as_json:
        fail("pass --out FILE (or --out - for standard output, or --json)", 2)
    to_stdout = out_path is not None and str(out_path) == "-"
    if to_stdout and as_json:
        fail("--out - and --json both print to standard output: choose one", 2)
    with open_desk(db, None) as desk:
        actor(desk, user_id)
        result = desk.activity_report(kind, day)
        users = desk.directory.users
    if to_stdout:
        write_report_rows(sys.stdout, result.rows)
        return
    summary_path: Path | None = None
    if out_path is not None:
        with out_path.open("w", newline="", encoding="utf-8") as out:
            write_report_rows(out, result.rows)
        summary_path = out_path.with_name(out_path.stem + "-summary.csv")
        with summary_path.open("w", newline="", encoding="utf-8") as out:
            write_report_summary(out, result.per_assignee, result.organization, users)
    if as_json:
        print_json(
            {
                "period": result.period.label,
                "rows": [row.as_dict() for row in result.rows],
                "summary": summary_rows(result.per_assignee, result.organization, users),
                "out": None if out_path is None else str(out_path),
            }
        )
        return
    click.echo(
        f"{result.period.label}: {len(result.rows)} lead(s) -> {out_path},"
        f" summary -> {summary_path}"
    )
