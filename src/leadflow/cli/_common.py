"""What every ``leadflow`` command shares: the group, options, errors, the desk, printing.

Exit codes (DESIGN §4, ``docs/cli.md``): 0 done; 1 a data problem the user
must look at (a refused command: a permission, a conflict; rows rejected
when the command is asked to fail on them; every row rejected); 2 bad
usage or bad config (an unknown option value, a missing or unreadable
file, an unknown or inactive user, an unknown lead id, a config that does
not validate). Every error is one line on stderr; never a traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from uuid import UUID

import click

from leadflow import __version__
from leadflow.errors import ConfigError, Conflict, LeadflowError, PermissionDenied
from leadflow.limits import USER_IDS

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_DB = "leadflow.db"

#: What an unexpected error says; a fuzzer looks for it.
INTERNAL_ERROR = "internal error"

#: User ids are 1 .. 2**63 - 1 (a signed 64-bit integer, as every store keeps them).
USER_ID = click.IntRange(USER_IDS.low, USER_IDS.high)


class Group(click.Group):
    """A group whose commands turn every LeadflowError into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (PermissionDenied, Conflict) as error:
            fail(str(error), 1)
        except ConfigError as error:
            for problem in error.problems[:-1]:
                click.echo(f"error: {problem}", err=True)
            fail(error.problems[-1], 2)
        except LeadflowError as error:
            fail(str(error), 2)
        except BrokenPipeError:  # the reader went away (`leadflow queue | head`): stop quietly
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the exit flush
            sys.exit(0)
        except OSError as error:
            fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "), 2)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise  # usage errors and exits: click prints them
        except Exception as error:  # a bug: one line, not a traceback, unless asked for
            if os.environ.get("LEADFLOW_DEBUG"):
                raise
            fail(
                f"{INTERNAL_ERROR}: {type(error).__name__}: {shorten(str(error), 200)}"
                " (this is a bug in leadflow; LEADFLOW_DEBUG=1 shows the traceback)",
                1,
            )


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr (one line per line of it) and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def db_option(f: _F) -> _F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        envvar="LEADFLOW_DB",
        help="The SQLite store (or LEADFLOW_DB).",
    )(f)


def now_option(f: _F) -> _F:
    return click.option(
        "--now",
        "now",
        type=MOMENT,
        help="Act as if it were this moment (ISO 8601; UTC when no offset is given).",
    )(f)


def json_option(f: _F) -> _F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def person_option(what: str | None) -> Callable[[_F], _F]:
    """``--user ID``. With ``what``, required: ``what`` is a person's own work. Without,
    optional: a command given no user acts as the organisation's system actor."""

    def check(_: click.Context, __: click.Parameter, value: int | None) -> int | None:
        if value is None and what is not None:
            fail(f"{what} is a person's own work: pass --user ID", 2)
        return value

    return click.option(
        "--user",
        "user_id",
        type=USER_ID,
        metavar="ID",
        callback=check,
        help=f"The user ({what} needs one)."
        if what is not None
        else "Act as this user, with their permissions (default: the system actor).",
    )


#: ``--user ID``: act as that user; without it, as the organisation's system actor.
acting_user_option = person_option(None)


if TYPE_CHECKING:  # click 8.2+ types are generic; 8.1 ones are not subscriptable
    _MomentType = click.ParamType[datetime, Any]
    _DayType = click.ParamType[date, Any]
else:
    _MomentType = _DayType = click.ParamType


class Moment(_MomentType):
    """An ISO 8601 moment (UTC when no offset is given) that leadflow can work at.

    The range is :data:`leadflow.ids.EARLIEST_MOMENT` .. ``LATEST_MOMENT``;
    anything else is a usage error (exit 2) naming the option.
    """

    name = "ISO"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        from leadflow.ids import moment_problem

        parsed = _parsed(self.fail, value, datetime, "an ISO 8601 moment", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        problem = moment_problem(parsed)
        if problem is not None:
            self.fail(f"{shorten(str(value))!r} {problem}", param, ctx)
        return parsed


class Day(_DayType):
    """A calendar day, ``YYYY-MM-DD``, in the same range as :class:`Moment`."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        from leadflow.ids import EARLIEST_MOMENT, LATEST_MOMENT

        parsed = _parsed(self.fail, value, date, "a date (YYYY-MM-DD)", param, ctx)
        if not EARLIEST_MOMENT.date() <= parsed <= LATEST_MOMENT.date():
            self.fail(
                f"{shorten(str(value))!r} must be between 1970-01-01 and 2999-12-31", param, ctx
            )
        return parsed


_D = TypeVar("_D", bound=date)


def _parsed(
    fail: Callable[[str, click.Parameter | None, click.Context | None], NoReturn],
    value: Any,
    type_: type[_D],
    what: str,
    param: click.Parameter | None,
    ctx: click.Context | None,
) -> _D:
    """``value`` as a ``type_`` (given one, or ISO text); otherwise a usage error of the
    parameter type (its ``fail``) saying it is not ``what``."""
    if isinstance(value, type_):
        return value
    text = str(value)
    try:
        return type_.fromisoformat(text)
    except ValueError:
        fail(f"{shorten(text)!r} is not {what}", param, ctx)


MOMENT = Moment()
DAY = Day()


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit:,} characters)"


@contextlib.contextmanager
def open_desk(db: Path, now: datetime | None, **options: Any) -> Iterator[Any]:
    from leadflow.batch import open_desk as open_store_desk
    from leadflow.model import Interface

    desk = open_store_desk(db, now=now, interface=Interface.CLI, **options)
    try:
        yield desk
    finally:
        desk.store.close()


def user(users: Mapping[int, Any], user_id: int, option: str = "--user") -> Any:
    """The active user ``user_id`` of ``users``; exit 2 naming ``option`` when unknown or inactive.

    Every command checks a user it is given here, so an unknown or inactive
    user gets the same message from each.
    """
    found = users.get(user_id)
    if found is None:
        known = ", ".join(str(u) for u in sorted(users)[:20])
        fail(f"{option} {user_id}: no such user in this organisation (users: {known})", 2)
    if not found.active:
        fail(f"{option} {user_id}: {found.first_name} {found.last_name} is inactive", 2)
    return found


def actor(desk: Any, user_id: int | None) -> Any:
    """The system actor without ``--user``; else that (active) user."""
    from leadflow.model import SYSTEM

    return SYSTEM if user_id is None else user(desk.directory.users, user_id)


def lead_id(desk: Any, text: str) -> UUID:
    """The lead a command names (a whole id or a unique prefix of 8+ characters)."""
    resolved: UUID = desk.resolve_lead_id(text)
    return resolved


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def lead_dict(lead: Any) -> dict[str, Any]:
    from leadflow.storage.codec import lead_to_json

    data: dict[str, Any] = json.loads(lead_to_json(lead))
    return data


def lead_line(lead: Any, desk: Any) -> str:
    a = lead.attributes
    who = desk.directory.users.get(lead.assignee_id) if lead.assignee_id else None
    owner = f"{who.first_name} {who.last_name}" if who else "unassigned"
    amount = f"${a.loan_amount:,.0f}" if a.loan_amount is not None else "-"
    return f"{lead.lead_id}  {lead.stage:<22} {a.loan_purpose!s:<24} {amount:>10}  {owner}"


def show_lead(desk: Any, lead: Any, as_json: bool, what: str) -> None:
    if as_json:
        print_json(lead_dict(lead))
    else:
        click.echo(f"{what}: {lead_line(lead, desk)}")


def lead_command(
    group: click.Group,
    done: str,
    *,
    name: str | None = None,
    person: str | None = None,
    arguments: Sequence[Callable[[Any], Any]] = (),
    options: Sequence[Callable[[Any], Any]] = (),
) -> Callable[[_F], _F]:
    """Make ``act(desk, lead_id, user, **values)`` the command ``name`` of ``group`` (by
    default its own name): the command opens the store, names its user, calls ``act`` on
    the lead the LEAD argument names, and shows the lead it returns (``done: ...``, or
    ``--json``).

    ``act``'s docstring is the help; its last paragraph, ``Example: ...``, the epilog.
    ``person`` makes ``--user`` required (a person's own work: ``person`` says what it
    is); without it the command acts as the system actor unless ``--user`` names a
    user. ``arguments`` come after LEAD, ``options`` after ``--user``; ``act`` gets
    their values by name.
    """

    def decorate(act: _F) -> _F:
        def command(
            lead: str, user_id: int | None, db: Path, now: datetime | None, **values: Any
        ) -> None:
            as_json = values.pop("as_json")
            with open_desk(db, now) as desk:
                who = actor(desk, user_id)  # a person's command has checked --user is given
                show_lead(desk, act(desk, lead_id(desk, lead), who, **values), as_json, done)

        text, _, example = inspect.cleandoc(act.__doc__ or "").rpartition("\n\n")
        stack = [click.argument("lead"), *arguments, person_option(person), *options]
        for option in reversed([*stack, db_option, now_option, json_option]):
            command = option(command)
        group.command(name or act.__name__, help=text, epilog=example)(command)
        return act

    return decorate


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: leadflow demo",
)
@click.version_option(__version__, "-V", "--version", prog_name="leadflow")
def cli() -> None:
    """leadflow: capture, route, work, age and report on sales leads.

    Batch and administrative commands (init, route, advance, assign,
    exceptions, report) run as the organisation's system actor unless
    --user names a user; a person's own work (queue, log, stage, claim,
    release) needs --user.
    """
