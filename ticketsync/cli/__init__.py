"""The ``ticketsync`` command line: the only place that prints errors or picks exit codes.

Each command lives in a module of its own, imported only when that command runs (or help
lists them all), and imports what it needs *inside* the command function, so that
``ticketsync validate`` never pays for (or imports) ``requests``, threads or the state.

Exit codes (the README's "Commands"): 0 success, 1 error, 2 only for ``plan --detailed-exitcode``
with changes, 64 usage error.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from functools import partial
from typing import Any, NoReturn

import click

from ticketsync import __version__
from ticketsync.errors import InputError, TicketSyncError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130


class TicketSyncGroup(click.Group):
    """A click group that turns every exception a user can cause into one clear line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        code = EXIT_OK
        try:
            rv = super().main(
                args=argv,
                prog_name=prog_name or "ticketsync",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else EXIT_OK
        except click.exceptions.Exit as exc:  # --help, --version, ctx.exit(n)
            code = exc.exit_code
        except click.UsageError as exc:
            exc.show()
            code = EXIT_USAGE
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            code = EXIT_ERROR
        except click.ClickException as exc:
            exc.show()
            code = EXIT_ERROR
        except InputError as exc:
            if debug:
                _print_traceback()
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            code = EXIT_ERROR
        except TicketSyncError as exc:
            if debug:
                _print_traceback()
            message = str(exc)
            if "--sandbox" in argv:  # its hints must name the sandbox, not the project
                from ticketsync.cli.common import sandbox_hints

                message = sandbox_hints(message)
            click.echo(f"Error: {message}", err=True)
            code = EXIT_ERROR
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = EXIT_INTERRUPTED
        except OSError as exc:  # a read-only folder, a full disk, a path that is a folder...
            if debug:
                _print_traceback()
            click.echo(f"Error: {describe_os_error(exc)}", err=True)
            code = EXIT_ERROR
        sys.exit(code)


def _print_traceback() -> None:
    import traceback  # only for --debug: most runs never need it

    traceback.print_exc()


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error no command foresaw: the path, the cause, what next."""
    from ticketsync.cli.common import shown

    where = f"{shown(exc.filename)}: " if exc.filename is not None else ""
    return (
        f"{where}{exc.strerror or exc}: check that the path exists and is writable by you "
        "(--debug shows where it happened)"
    )


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=TicketSyncGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="ticketsync")
@click.option("--debug", is_flag=True, help="Show a traceback for errors.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Project config file (default: ./ticketsync.yaml if present).",
)
@click.option(
    "-C",
    "folders",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Run as if started in DIR (like git -C; several are cumulative: -C a -C b is a/b).",
)
@click.pass_context
def main(
    ctx: click.Context, debug: bool, config_file: str | None, folders: tuple[str, ...]
) -> None:
    """Tickets as code: declare tickets in YAML, plan them, apply them through StackOne.

    \b
    Example: ticketsync validate && ticketsync plan && ticketsync apply
    """
    if folders:  # back where it was when the command ends (it matters in-process only)
        ctx.call_on_close(partial(os.chdir, os.getcwd()))
    for folder in folders:  # before anything reads a path: they are all relative to it
        try:
            os.chdir(folder)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot run in {folder!r}: {exc.strerror or exc}", param_hint="'-C'"
            ) from None
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["config_file"] = config_file


def run() -> NoReturn:
    """Console-script entry point."""
    main.main()


#: Each command's name -> the module of ``ticketsync.cli`` that defines it (in COMMANDS).
COMMAND_MODULES = {
    "init": "init",
    "validate": "validate",
    "plan": "plan",
    "apply": "apply",
    "state": "state",
    "sandbox": "sandbox",
    "directory": "directory",
    "export": "export",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands, each module imported when one of its commands is first looked up.

    Listing the names (help, "no such command") imports nothing; ``items()`` imports all.
    Start-up is most of what a small ``validate`` costs, and the apply and state modules
    import threads, signals and the state machinery that it never uses.
    """

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded and name in self._modules:
            module = importlib.import_module(f"{__name__}.{self._modules[name]}")
            for command in module.COMMANDS:
                self._loaded.setdefault(command.name or "", command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._modules.pop(name, None)
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._modules.keys() | self._loaded.keys()))

    def __len__(self) -> int:
        return len(self._modules.keys() | self._loaded.keys())


main.commands = LazyCommands(COMMAND_MODULES)
