"""Setting up: ``init``, ``config check``, ``template``, ``demo``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from leadflow.cli._common import Group, acting_user_option, cli, db_option, now_option


@cli.command(
    epilog=(
        "Example: leadflow init --config examples/org.toml --db leadflow.db\n\n"
        "Run it again after editing the config to apply the changes."
    )
)
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The organisation config (TOML).",
)
@acting_user_option
@click.option(
    "--synchronous",
    type=click.Choice(["normal", "full"], case_sensitive=False),
    default=None,
    help=(
        "The store's durability, saved in it for every process: full waits for the disk at"
        " each commit and survives a power loss; normal (a new store's default) may lose"
        " the last commits on a power loss or an OS crash, never on a crash of leadflow."
    ),
)
@db_option
@now_option
def init(
    config_path: Path,
    user_id: int | None,
    synchronous: str | None,
    db: Path,
    now: datetime | None,
) -> None:
    """Create the store from an org config, or apply the edited config to it.

    Re-running it keeps every lead, contact and exception and each policy's
    rotation; a change that would orphan stored data (a source removed
    while leads came from it) is refused and nothing changes. --synchronous
    full makes every commit wait for the disk (see docs/storage.md).
    """
    from leadflow.batch import init_store
    from leadflow.io.orgconfig import load_org_config

    org = load_org_config(config_path)
    setup = init_store(db, org, actor=user_id, at=now, synchronous=synchronous)
    config = org.config
    if setup.created:
        click.echo(
            f"created {db}: {config.settings.name}, {len(config.users)} users,"
            f" {len(config.teams)} teams, {len(config.policies)} policies,"
            f" {len(config.sources)} sources, playbook {config.settings.playbook}"
        )
    elif not setup.changes:
        click.echo(f"{db}: the configuration is unchanged")
    else:
        click.echo(f"updated {db}: {len(setup.changes)} change(s)")
        for change in setup.changes:
            click.echo(f"  {change}")


@cli.group(cls=Group)
def config() -> None:
    """Check organisation config files."""


@config.command("check", epilog="Example: leadflow config check examples/org.toml")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def config_check(path: Path) -> None:
    """List every problem in an org config (each with its TOML table and key); exit 2 if any."""
    from leadflow.io.orgconfig import check_org_config

    problems = check_org_config(path)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(2)
    click.echo(f"{path}: no problems")


@cli.command(epilog="Example: leadflow template > leads.csv")
def template() -> None:
    """Print the header of a lead import CSV (every lead column; external_id optional)."""
    from leadflow.io.csvfiles import lead_template_header
    from leadflow.io.csvsafe import write_csv

    write_csv(sys.stdout, lead_template_header(), [])


@cli.command(epilog="Example: leadflow demo")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the demo store here (default: a temporary directory).",
)
@click.option("--leads", "count", type=click.IntRange(1, 100_000), default=500, show_default=True)
def demo(db: Path | None, count: int) -> None:
    """A narrated end-to-end run on generated data (a few seconds)."""
    from leadflow.demo import run_demo

    run_demo(click.echo, db=db, leads=count)
