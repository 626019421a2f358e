"""The ``leadflow`` command line: parses arguments, calls the library, prints.

No rule lives here; every command is a thin wrapper over a library call
(:mod:`leadflow.batch`, :class:`~leadflow.desk.LeadDesk`, :mod:`leadflow.io`).
Errors a user can cause (a missing file, an unknown source, a bad config,
a bad id) print one line on stderr and exit 2; a refused command (a
permission, a conflict) exits 1. Never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from uuid import UUID

import click

from leadflow import __version__
from leadflow.errors import Conflict, LeadflowError, PermissionDenied

__all__ = ["cli", "main"]

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_DB = "leadflow.db"


# --------------------------------------------------------------------------- plumbing


class _Group(click.Group):
    """A group whose commands turn every LeadflowError into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (PermissionDenied, Conflict) as error:
            _fail(str(error), 1)
        except LeadflowError as error:
            _fail(str(error), 2)
        except BrokenPipeError:  # the reader went away (`leadflow queue | head`): stop quietly
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the exit flush
            sys.exit(0)
        except OSError as error:
            _fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "), 2)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _db_option(f: _F) -> _F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="The SQLite store.",
    )(f)


def _now_option(f: _F) -> _F:
    return click.option(
        "--now",
        "now",
        metavar="ISO",
        callback=_parse_now,
        help="Act as if it were this moment (ISO 8601; UTC when no offset is given).",
    )(f)


def _json_option(f: _F) -> _F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def _parse_now(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    return _moment(value, "--now")


def _moment(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 moment", param_hint=name) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a lead id (a UUID)") from None


@contextlib.contextmanager
def _desk(db: Path, now: datetime | None, **options: Any) -> Iterator[Any]:
    from leadflow.batch import open_desk

    desk = open_desk(db, now=now, **options)
    try:
        yield desk
    finally:
        desk.store.close()


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _lead_dict(lead: Any) -> dict[str, Any]:
    from leadflow.storage.codec import lead_to_json

    data: dict[str, Any] = json.loads(lead_to_json(lead))
    return data


def _lead_line(lead: Any, desk: Any) -> str:
    a = lead.attributes
    who = desk.directory.users.get(lead.assignee_id) if lead.assignee_id else None
    owner = f"{who.first_name} {who.last_name}" if who else "unassigned"
    amount = f"${a.loan_amount:,.0f}" if a.loan_amount is not None else "-"
    return f"{lead.lead_id}  {lead.stage:<22} {a.loan_purpose!s:<24} {amount:>10}  {owner}"


# --------------------------------------------------------------------------- the group


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: leadflow demo",
)
@click.version_option(__version__, "-V", "--version", prog_name="leadflow")
def cli() -> None:
    """leadflow: capture, route, work, age and report on sales leads."""


# --------------------------------------------------------------------------- setup


@cli.command(epilog="Example: leadflow init --config examples/org.toml --db leadflow.db")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The organisation config (TOML).",
)
@click.option("--user", "actor", type=int, help="The admin making the change (to update a store).")
@_db_option
@_now_option
def init(config_path: Path, actor: int | None, db: Path, now: datetime | None) -> None:
    """Create the store from an org config, or update the config it holds."""
    from leadflow.batch import init_store
    from leadflow.io.orgconfig import load_org_config

    org = load_org_config(config_path)
    created = init_store(db, org, actor=actor, at=now)
    config = org.config
    verb = "created" if created else "updated"
    click.echo(
        f"{verb} {db}: {config.settings.name}, {len(config.users)} users,"
        f" {len(config.teams)} teams, {len(config.policies)} policies,"
        f" {len(config.sources)} sources, playbook {config.settings.playbook}"
    )


@cli.group(cls=_Group)
def config() -> None:
    """Check organisation config files."""


@config.command("check", epilog="Example: leadflow config check examples/org.toml")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def config_check(path: Path) -> None:
    """List every problem in an org config; exit 1 if there is any."""
    from leadflow.io.orgconfig import check_org_config

    problems = check_org_config(path)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    click.echo(f"{path}: no problems")


@cli.command(epilog="Example: leadflow template > leads.csv")
def template() -> None:
    """Print the header of a lead import CSV (every lead column; external_id optional)."""
    from leadflow.io.csvfiles import lead_template_header
    from leadflow.io.csvsafe import write_csv

    write_csv(sys.stdout, lead_template_header(), [])


# --------------------------------------------------------------------------- route


@cli.command(
    epilog=(
        "Example: leadflow route leads.csv --source purchased_leads --out out/\n\n"
        "Dry run, no store needed: leadflow route leads.csv --source purchased_leads"
        " --config org.toml --dry-run"
    )
)
@click.argument("leads", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="The lead source of every row (its key).")
@click.option("--assign-to", type=int, help="Assign every lead to this user instead of routing.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where assigned.csv, exceptions.csv and rejected.csv go.",
)
@click.option("--dry-run", is_flag=True, help="Validate and route, store nothing (needs --config).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The org config (for --dry-run).",
)
@click.option("--user", "actor", type=int, help="The importing user (default: the first admin).")
@click.option("--encoding", default="utf-8", show_default=True, help="The file's text encoding.")
@click.option("--strict", is_flag=True, help="Exit 1 if any row was rejected.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_db_option
@_now_option
@_json_option
def route(
    leads: Path,
    source: str,
    assign_to: int | None,
    out_dir: Path,
    dry_run: bool,
    config_path: Path | None,
    actor: int | None,
    encoding: str,
    strict: bool,
    quiet: bool,
    db: Path,
    now: datetime | None,
    as_json: bool,
) -> None:
    """Validate, route and store every lead of a CSV file, streaming it."""
    from leadflow.batch import route_file

    if not leads.exists():
        _fail(f"{leads}: no such file", 2)
    total = leads.stat().st_size
    show = not quiet and sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        progress: Callable[[int], None] | None = None
        if show:
            bar = stack.enter_context(
                click.progressbar(length=total, label="routing", file=sys.stderr)
            )
            done = [0]

            def advance_bar(position: int) -> None:
                bar.update(position - done[0])
                done[0] = position

            progress = advance_bar

        if dry_run:
            from leadflow.io.orgconfig import load_org_config

            if config_path is None:
                _fail("--dry-run needs --config org.toml (it touches no store)", 2)
            org = load_org_config(config_path)
            summary = route_file(
                leads,
                source=source,
                out_dir=out_dir,
                org=org,
                assign_to=assign_to,
                encoding=encoding,
                now=now,
                progress=progress,
            )
        else:
            desk = stack.enter_context(_desk(db, now))
            summary = route_file(
                leads,
                source=source,
                out_dir=out_dir,
                desk=desk,
                actor=actor,
                assign_to=assign_to,
                encoding=encoding,
                progress=progress,
            )
    counts = {
        "rows": summary.rows,
        "assigned": summary.assigned,
        "unassigned": summary.unassigned,
        "rejected": summary.rejected,
        "duplicates": summary.duplicates,
        "dry_run": summary.dry_run,
        "outputs": {k: str(v) for k, v in summary.outputs.items()},
    }
    if as_json:
        _print_json(counts)
    else:
        label = "dry run: " if summary.dry_run else ""
        click.echo(
            f"{label}{summary.rows} rows read = {summary.assigned} assigned"
            f" + {summary.unassigned} unassigned + {summary.rejected} rejected"
            f" + {summary.duplicates} duplicates"
        )
        click.echo(f"wrote {', '.join(str(p) for p in summary.outputs.values())}")
    if strict and summary.rejected:
        sys.exit(1)


# --------------------------------------------------------------------------- working leads


@cli.command(epilog="Example: leadflow queue --user 2")
@click.option("--user", "user_id", type=int, required=True, help="The loan officer.")
@click.option("--limit", type=int, default=50, show_default=True)
@_db_option
@_now_option
@_json_option
def queue(user_id: int, limit: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """A loan officer's call queue, in the order to work it."""
    with _desk(db, now) as desk:
        entries = desk.queue(user_id, limit=limit)
        if as_json:
            _print_json(
                [
                    {"reason": str(e.reason), "notes": e.notes, "lead": _lead_dict(e.lead)}
                    for e in entries
                ]
            )
            return
        if not entries:
            click.echo(f"user {user_id}'s queue is empty")
        for entry in entries:
            note = f"  -- {entry.notes}" if entry.notes else ""
            click.echo(f"{_lead_line(entry.lead, desk)}  [{entry.reason}]{note}")


@cli.command(epilog="Example: leadflow pool --user 2")
@click.option("--user", "user_id", type=int, required=True, help="The loan officer looking.")
@click.option("--limit", type=int, default=50, show_default=True)
@_db_option
@_now_option
@_json_option
def pool(user_id: int, limit: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """Leads anyone may claim: unowned, or in the playbook's pool stages."""
    with _desk(db, now) as desk:
        leads = desk.pool(user_id, limit=limit)
        if as_json:
            _print_json([_lead_dict(lead) for lead in leads])
            return
        if not leads:
            click.echo("the pool is empty")
        for lead in leads:
            click.echo(_lead_line(lead, desk))


def _show_lead(desk: Any, lead: Any, as_json: bool, what: str) -> None:
    if as_json:
        _print_json(_lead_dict(lead))
    else:
        click.echo(f"{what}: {_lead_line(lead, desk)}")


@cli.command("log", epilog="Example: leadflow log LEAD_ID --user 2 --disposition left_vm")
@click.argument("lead_id", type=_uuid)
@click.option("--user", "user_id", type=int, required=True)
@click.option("--disposition", required=True, help="The outcome's key (see the playbook).")
@click.option("--follow-up", "follow_up", metavar="ISO", help="Schedule a call-back then.")
@click.option("--note", help="A note with the outcome.")
@_db_option
@_now_option
@_json_option
def log_outcome(
    lead_id: UUID,
    user_id: int,
    disposition: str,
    follow_up: str | None,
    note: str | None,
    db: Path,
    now: datetime | None,
    as_json: bool,
) -> None:
    """Log a call, text or email outcome on a lead."""
    due = _moment(follow_up, "--follow-up") if follow_up else None
    with _desk(db, now) as desk:
        lead = desk.log_outcome(lead_id, disposition, actor=user_id, note=note)
        if due is not None:
            lead = desk.schedule_follow_up(lead_id, due, actor=user_id, notes=note)
        _show_lead(desk, lead, as_json, "logged")


@cli.command(epilog='Example: leadflow stage LEAD_ID "Application Submitted" --user 2')
@click.argument("lead_id", type=_uuid)
@click.argument("stage")
@click.option("--user", "user_id", type=int, required=True)
@click.option("--note", help="A note (some stages require one).")
@_db_option
@_now_option
@_json_option
def stage(
    lead_id: UUID,
    stage: str,
    user_id: int,
    note: str | None,
    db: Path,
    now: datetime | None,
    as_json: bool,
) -> None:
    """Move a lead to a stage (by key or name)."""
    with _desk(db, now) as desk:
        lead = desk.set_stage(lead_id, stage, actor=user_id, note=note)
        _show_lead(desk, lead, as_json, "moved")


@cli.command(epilog="Example: leadflow claim LEAD_ID --user 2")
@click.argument("lead_id", type=_uuid)
@click.option("--user", "user_id", type=int, required=True)
@_db_option
@_now_option
@_json_option
def claim(lead_id: UUID, user_id: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """Take an unowned lead."""
    with _desk(db, now) as desk:
        _show_lead(desk, desk.claim(lead_id, actor=user_id), as_json, "claimed")


@cli.command(epilog="Example: leadflow release LEAD_ID --user 2")
@click.argument("lead_id", type=_uuid)
@click.option("--user", "user_id", type=int, required=True)
@_db_option
@_now_option
@_json_option
def release(lead_id: UUID, user_id: int, db: Path, now: datetime | None, as_json: bool) -> None:
    """Give a lead back to the pool."""
    with _desk(db, now) as desk:
        _show_lead(desk, desk.release(lead_id, actor=user_id), as_json, "released")


@cli.command(epilog="Example: leadflow assign LEAD_ID 3 --user 1")
@click.argument("lead_id", type=_uuid)
@click.argument("assignee", type=int)
@click.option("--user", "user_id", type=int, required=True, help="The admin assigning.")
@_db_option
@_now_option
@_json_option
def assign(
    lead_id: UUID, assignee: int, user_id: int, db: Path, now: datetime | None, as_json: bool
) -> None:
    """Assign (or reassign) a lead to a user."""
    with _desk(db, now) as desk:
        _show_lead(desk, desk.assign(lead_id, assignee, actor=user_id), as_json, "assigned")


@cli.command(epilog="Example: leadflow history LEAD_ID")
@click.argument("lead_id", type=_uuid)
@_db_option
@_json_option
def history(lead_id: UUID, db: Path, as_json: bool) -> None:
    """A lead's activity, oldest first."""
    from leadflow.storage.codec import event_to_json

    with _desk(db, None) as desk:
        events = desk.history(lead_id)
        if as_json:
            _print_json([{"kind": e.kind, **json.loads(event_to_json(e))} for e in events])
            return
        for event in events:
            who = "system" if event.actor is None else f"user {event.actor}"
            via = f" via user {event.via}" if event.via is not None else ""
            click.echo(f"{event.at.isoformat(timespec='seconds')}  {who}{via}: {event.describe()}")


# --------------------------------------------------------------------------- exceptions


@cli.group(cls=_Group)
def exceptions() -> None:
    """The lead exception list: leads routing could not assign."""


@exceptions.command("list", epilog="Example: leadflow exceptions list --reason no_policy")
@click.option("--show-ignored", is_flag=True, help="Include ignored records.")
@click.option("--reason", "reasons", multiple=True, help="Only this failure reason (repeatable).")
@_db_option
@_json_option
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
    with _desk(db, None) as desk:
        records = desk.exceptions(show_ignored=show_ignored, where=where)
        if as_json:
            _print_json([json.loads(exception_to_json(r)) for r in records])
            return
        if not records:
            click.echo("no exceptions")
        for r in records:
            flag = " (ignored)" if r.ignored else ""
            click.echo(
                f"{r.lead_id}  {r.prospect_name:<24} {r.source:<18} {r.failure_reason}{flag}"
            )


@exceptions.command("assign", epilog="Example: leadflow exceptions assign LEAD_ID 3 --user 1")
@click.argument("lead_id", type=_uuid)
@click.argument("assignee", type=int)
@click.option("--user", "user_id", type=int, required=True, help="The admin assigning.")
@_db_option
@_now_option
@_json_option
def exceptions_assign(
    lead_id: UUID, assignee: int, user_id: int, db: Path, now: datetime | None, as_json: bool
) -> None:
    """Assign a lead from the exception list."""
    with _desk(db, now) as desk:
        lead = desk.assign_exception(lead_id, assignee, actor=user_id)
        _show_lead(desk, lead, as_json, "assigned")


@exceptions.command("ignore", epilog="Example: leadflow exceptions ignore LEAD_ID --user 1")
@click.argument("lead_id", type=_uuid)
@click.option("--user", "user_id", type=int, required=True, help="The admin.")
@_db_option
@_now_option
def exceptions_ignore(lead_id: UUID, user_id: int, db: Path, now: datetime | None) -> None:
    """Hide a record from the exception list."""
    with _desk(db, now) as desk:
        desk.ignore_exception(lead_id, actor=user_id)
        click.echo(f"ignored {lead_id}")


# --------------------------------------------------------------------------- time and reports


@cli.command(epilog="Example: leadflow advance --now 2026-03-11T09:00:00-05:00")
@_db_option
@_now_option
@_json_option
def advance(db: Path, now: datetime | None, as_json: bool) -> None:
    """Apply aging up to now: release holds, clear schedules, move stale leads."""
    with _desk(db, now) as desk:
        report = desk.advance()
        automations = desk.run_automations()
        if as_json:
            _print_json(
                {
                    "leads": report.leads,
                    "events": len(report.events),
                    "rerouted": report.rerouted,
                    "automations": automations.ran,
                }
            )
            return
        click.echo(
            f"aged {report.leads} lead(s): {len(report.events)} event(s),"
            f" {report.rerouted} re-routed"
        )


@cli.command(epilog="Example: leadflow report weekly --period 2026-03-11 --out week.csv")
@click.argument("kind", type=click.Choice(["weekly", "monthly"]))
@click.option(
    "--period", "day", metavar="DATE", required=True, help="Any day of the week or month."
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The report CSV; the summary goes beside it (NAME-summary.csv).",
)
@_db_option
@_json_option
def report(kind: str, day: str, out_path: Path, db: Path, as_json: bool) -> None:
    """The Lead Management Activity Report of a week (Monday-Sunday) or month."""
    from leadflow.io.reports import write_report_rows, write_report_summary

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(
            f"{day!r} is not a date (YYYY-MM-DD)", param_hint="--period"
        ) from None
    with _desk(db, None) as desk:
        result = desk.activity_report(kind, when)
        with out_path.open("w", newline="", encoding="utf-8") as out:
            rows = write_report_rows(out, result.rows)
        summary_path = out_path.with_name(out_path.stem + "-summary.csv")
        with summary_path.open("w", newline="", encoding="utf-8") as out:
            write_report_summary(
                out, result.per_assignee, result.organization, desk.directory.users
            )
    total = result.organization
    if as_json:
        _print_json(
            {
                "period": result.period.label,
                "rows": rows,
                "out": str(out_path),
                "summary": str(summary_path),
                "units": dict(total.units),
                "volume": {k: str(v) for k, v in total.volume.items()},
            }
        )
        return
    click.echo(f"{result.period.label}: {rows} lead(s) -> {out_path}, summary -> {summary_path}")


# --------------------------------------------------------------------------- demo


@cli.command(epilog="Example: leadflow demo")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the demo store here (default: a temporary directory).",
)
@click.option("--leads", "count", type=int, default=500, show_default=True)
def demo(db: Path | None, count: int) -> None:
    """A narrated end-to-end run on generated data (a few seconds)."""
    from leadflow.demo import run_demo

    run_demo(click.echo, db=db, leads=count)


def main() -> None:
    """Entry point of the ``leadflow`` console script."""
    cli()
