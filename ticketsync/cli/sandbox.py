"""``ticketsync sandbox``: serve a local StackOne-compatible ticketing API until Ctrl-C;
``sandbox edit|close|delete|reset``: play the tracker, as a person would in Jira."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from ticketsync.cli.sandbox_tracker import TRACKER_COMMANDS

if TYPE_CHECKING:
    from ticketsync.sandbox import SandboxDirectory

#: ``--rate-limit`` takes ``N`` or ``N/min`` (requests per minute, as StackOne counts).
_RATE = re.compile(r"^\s*(\d+)\s*(/\s*min)?\s*$")


def _parse_rate(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1:
        raise click.BadParameter(f"{value!r}: expected requests per minute, e.g. 1000/min")
    return int(match.group(1))


@click.group(invoke_without_command=True)
@click.option(
    "--host", metavar="ADDR", default="127.0.0.1", show_default=True,
    help="Address to listen on.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other than loopback (the sandbox has no real security).",
)
@click.option(
    "--port", metavar="N", type=click.IntRange(0, 65535), default=None,
    help="Port (default: this sandbox's home port, where its ticket links point, chosen "
    "once and kept in its database; 0: any free one).",
)
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file of the tickets (default: .ticketsync/sandbox.db in the project).",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    default=None,
    help="Accept only the key held in environment variable VAR (default: any key).",
)
@click.option(
    "--latency-ms", metavar="MS", type=click.FloatRange(0), default=0.0,
    help="Delay every request.",
)
@click.option(
    "--rate-limit",
    callback=_parse_rate,
    metavar="N/min",
    default=None,
    help="Answer 429 with Retry-After beyond N requests per minute.",
)
@click.option(
    "--page-cap",
    metavar="N",
    type=click.IntRange(1),
    default=None,
    help="Return at most N tickets per list page, with a next cursor (short pages).",
)
@click.option(
    "--clock-offset",
    metavar="SECONDS",
    type=float,
    default=0.0,
    help="Run the sandbox's clock this far ahead (negative: behind) of this machine's.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="ACTION[:K=V,...]",
    help=(
        "Break chosen requests; repeatable. ACTION: fail-before-store, store-then-502, "
        "store-then-408, store-then-drop, 429, revoke-key, endless-pages, repeat-page, "
        "huge, drip. Keys: op=create|get|update|list, nth=N, title=TEXT, p=PROBABILITY, "
        "seed=N, times=N, mb=N (huge), every_ms=N (drip)."
    ),
)
@click.option(
    "--seed",
    "seed",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="The account's users, projects, ticket types and components: a directory file "
    "(e.g. one pulled by `ticketsync directory pull`) instead of the default seed.",
)
@click.option(
    "--check-ids",
    type=click.Choice(["seeded", "all", "off"]),
    default="seeded",
    show_default=True,
    help="Which ids of create and update bodies must exist in the directory (422 if not): "
    "seeded: those shaped like its own (user-042); all: every one, and components and "
    "types in the ticket's project; off: none.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not log each request to stderr.")
@click.pass_context
def sandbox(
    ctx: click.Context,
    *,  # click passes options by name
    host: str,
    allow_remote: bool,
    port: int | None,
    db: Path | None,
    api_key_env: str | None,
    latency_ms: float,
    rate_limit: int | None,
    page_cap: int | None,
    clock_offset: float,
    faults: tuple[str, ...],
    seed: Path | None,
    check_ids: str,
    quiet: bool,
) -> int:
    """Serve a local StackOne-compatible ticketing API, for trying and testing.

    Tickets are kept in SQLite and survive restarts. Point ticketsync (or curl) at the
    printed URL with any API key and any account id. Stop with Ctrl-C. The account's users,
    projects, ticket types and components are a realistic default seed (or --seed FILE),
    served on StackOne's list endpoints and checked in create bodies (--check-ids). A
    ticket's URL opens its page while the sandbox serves on its home port.

    Play the tracker with the commands below (served or not): edit, close or delete a
    ticket as a person would, or reset the sandbox.

    \b
    Example: ticketsync sandbox --port 8765 --latency-ms 50 --fault store-then-drop:nth=3
    """
    if ctx.invoked_subcommand is not None:
        return 0  # a tracker command: nothing to serve
    from ticketsync.errors import ConfigError
    from ticketsync.sandbox import Faults, is_loopback, parse_rule, start_sandbox

    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host}: the sandbox accepts any key and is meant for "
            "this machine only; pass --allow-remote if you really want that"
        )
    api_key: str | None = None
    if api_key_env:
        # The key is read from the environment, never from the command line, where any
        # user of the machine could read it in the process list.
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError(f"--api-key-env {api_key_env}: that variable is not set")
    try:
        rules = [parse_rule(text) for text in faults]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    fault_set = Faults(latency_ms=latency_ms, rate_limit=rate_limit, page_cap=page_cap,
                       clock_offset=clock_offset)
    directory = _directory(seed, check_ids)
    for rule in rules:
        fault_set.add_rule(rule)

    if db is None:
        from ticketsync.cli.common import get_config

        db = get_config(ctx).sandbox_db

    def log(line: str) -> None:
        click.echo(line, err=True)

    import sqlite3

    try:
        running = start_sandbox(
            db, host=host, port=port, api_key=api_key, faults=fault_set,
            log=None if quiet else log, directory=directory,
        )
    except OSError as exc:
        if exc.filename is not None:  # the data folder, not the socket
            raise ConfigError(
                f"{exc.filename}: cannot create the sandbox data: {exc.strerror}; "
                "choose another place with --db FILE"
            ) from None
        where = f"{host}:{port}" if port is not None else host
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise ConfigError(
            f"{db}: cannot open the sandbox database ({exc}); choose another place with --db FILE"
        ) from None

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # `kill` stops as cleanly as Ctrl-C

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        # The line scripts and tests read to find the port: keep its shape.
        click.echo(f"Sandbox listening on {running.url} (data: {db})")
        if port is None and running.port != _port_of(running.home_url):
            click.echo(f"Warning: port {_port_of(running.home_url)}, where this sandbox's "
                       "ticket links point, is taken: they open nothing until it is served "
                       f"there (`ticketsync sandbox --port {_port_of(running.home_url)}`).",
                       err=True)
        while not running.wait(0.5):
            pass
    except KeyboardInterrupt:
        click.echo("Sandbox stopped.", err=True)
    finally:
        running.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _directory(seed: Path | None, check_ids: str) -> SandboxDirectory:
    """The default seed, or the directory file ``seed`` (checked like any directory file)."""
    from ticketsync.sandbox import SandboxDirectory, default_directory

    if seed is None:
        return default_directory(check_ids=check_ids)
    import json

    from ticketsync.declare.directory import parse_seed
    from ticketsync.declare.paths import display_path
    from ticketsync.errors import DirectoryError

    shown = display_path(seed)
    try:
        data = json.loads(seed.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DirectoryError(f"{shown}: not a directory file (not JSON: {exc}); --seed takes "
                             "a ticketsync.directory.json") from None
    return SandboxDirectory.from_json(parse_seed(data, shown).to_json(), check_ids=check_ids)


for _command in TRACKER_COMMANDS:
    sandbox.add_command(_command)

COMMANDS: list[click.Command] = [sandbox]
