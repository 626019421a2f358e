"""``leadflow route``: a CSV file of leads validated, routed and stored (or a dry run)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leadflow.cli._common import (
    USER_ID,
    acting_user_option,
    actor,
    cli,
    db_option,
    fail,
    json_option,
    now_option,
    open_desk,
    print_json,
    user,
)

if TYPE_CHECKING:
    from leadflow.io.orgconfig import OrgFile


@cli.command(
    epilog=(
        "Example: leadflow route leads.csv --source purchased_leads --out out/\n\n"
        "Dry run, storing nothing: leadflow route leads.csv --source purchased_leads --dry-run"
        " (from the store at --db), or with --config org.toml (no store needed)"
    )
)
@click.argument("leads", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="The lead source of every row (its key).")
@click.option(
    "--assign-to", type=USER_ID, metavar="ID", help="Assign every lead to this user instead."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where assigned.csv, exceptions.csv, rejected.csv and duplicates.csv go.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and route as a real run would, store nothing (from --config, or the store).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The org config of a --dry-run without a store.",
)
@acting_user_option
@click.option("--encoding", default="utf-8", show_default=True, help="The file's text encoding.")
@click.option("--strict", is_flag=True, help="Exit 1 if any row was rejected.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@db_option
@now_option
@json_option
def route(
    leads: Path,
    source: str,
    assign_to: int | None,
    out_dir: Path,
    dry_run: bool,
    config_path: Path | None,
    user_id: int | None,
    encoding: str,
    strict: bool,
    quiet: bool,
    db: Path,
    now: datetime | None,
    as_json: bool,
) -> None:
    """Validate, route and store every lead of a CSV file, streaming it.

    Every row lands in exactly one output file. Exit 1 when every row was
    rejected (or, with --strict, any row).
    """
    from leadflow.batch import route_file

    if not leads.exists():
        fail(f"{leads}: no such file", 2)
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

        org: OrgFile | None = None
        desk = None
        if dry_run and config_path is not None:
            from leadflow.io.orgconfig import load_org_config
            from leadflow.model import SYSTEM

            org = load_org_config(config_path)
            users = {u.user_id: u for u in org.config.users}
            who = SYSTEM if user_id is None else user(users, user_id)
        else:
            if dry_run and not db.exists():
                fail(
                    f"--dry-run starts from a store, and there is none at {db}: give --db, "
                    "or --config org.toml for a dry run without a store",
                    2,
                )
            desk = stack.enter_context(open_desk(db, now))
            users = desk.directory.users
            who = actor(desk, user_id)
        if assign_to is not None:
            user(users, assign_to, "--assign-to")
        # the importing user is the same for a dry run from --config, a dry run from the
        # store and a stored run: the same permissions, the same contact-matching scope
        summary = route_file(
            leads,
            source=source,
            out_dir=out_dir,
            desk=desk,
            org=org,
            actor=who,
            assign_to=assign_to,
            encoding=encoding,
            now=now,
            dry_run=dry_run,
            progress=progress,
        )
    if as_json:
        print_json(
            {
                "rows": summary.rows,
                "assigned": summary.assigned,
                "unassigned": summary.unassigned,
                "rejected": summary.rejected,
                "duplicates": summary.duplicates,
                "dry_run": summary.dry_run,
                "outputs": {k: str(v) for k, v in summary.outputs.items()},
            }
        )
    else:
        label = "dry run: " if summary.dry_run else ""
        click.echo(
            f"{label}{summary.rows} rows read = {summary.assigned} assigned"
            f" + {summary.unassigned} unassigned + {summary.rejected} rejected"
            f" + {summary.duplicates} duplicates"
        )
        click.echo(f"wrote {', '.join(str(p) for p in summary.outputs.values())}")
    if summary.rows and summary.rejected == summary.rows:
        fail(f"every row was rejected: see {summary.outputs['rejected']}", 1)
    if strict and summary.rejected:
        fail(f"{summary.rejected} row(s) rejected (--strict): see rejected.csv", 1)
