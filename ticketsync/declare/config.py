"""The project configuration: ``ticketsync.yaml``, the environment, and the defaults.

Precedence: command-line option > environment variable > config file > default. The API key
is *not* part of the config: it only ever comes from ``STACKONE_API_KEY`` (or a prompt),
and is never written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketsync.model import Action

CONFIG_FILE = "ticketsync.yaml"
DEFAULT_STATE = "ticketsync.state.json"
DEFAULT_DIRECTORY = "ticketsync.directory.json"
DEFAULT_KEY_VARIABLE = "STACKONE_API_KEY"
SANDBOX_DIR = ".ticketsync"
SANDBOX_DB = "sandbox.db"
SANDBOX_STATE = "sandbox.state.json"
SANDBOX_ACCOUNT = "sandbox"


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run. Relative paths are relative to ``root``."""

    root: Path
    tickets: tuple[str, ...] = ("tickets/",)
    state: Path = Path(DEFAULT_STATE)
    account_id: str | None = None
    base_url: str = "https://api.stackone.com"
    rate_limit: int = 900
    #: Requests in flight: None is ``auto`` (rate x latency); a number caps it.
    concurrency: int | None = None
    max_creates: int = 200
    updates: bool = True
    removed: Action = Action.KEEP
    max_removals: int = 20
    marker_field: str | None = None
    config_file: Path | None = None
    #: The directory file (names -> ids: the README's "Names: the directory"), relative to
    #: ``root``.
    directory: Path = Path(DEFAULT_DIRECTORY)
    #: The environment variable holding this project's API key (several projects of one
    #: repository can use several accounts).
    api_key_env: str = DEFAULT_KEY_VARIABLE

    @property
    def state_path(self) -> Path:
        return self.state if self.state.is_absolute() else self.root / self.state

    @property
    def config_path(self) -> Path:
        """The project's config file: the one read, else where ``ticketsync.yaml`` would be
        (a project of defaults is its folder's). What its state file is bound to."""
        return self.config_file or self.root / CONFIG_FILE

    @property
    def directory_path(self) -> Path:
        return self.directory if self.directory.is_absolute() else self.root / self.directory

    def sandboxed(self) -> Config:
        """The same project aimed at the built-in sandbox: its own state, no account."""
        from dataclasses import replace

        return replace(
            self,
            state=Path(SANDBOX_DIR) / SANDBOX_STATE,
            account_id=SANDBOX_ACCOUNT,
        )

    @property
    def sandbox_db(self) -> Path:
        return self.root / SANDBOX_DIR / SANDBOX_DB


#: What the schema's patterns accept, as messages say it (the regex would not help).
_PATTERN_RULES: dict[tuple[str | int, ...], str] = {
    ("base_url",): "an http:// or https:// URL",
    ("marker", "custom_field"): (
        "a valid custom field name: use letters, digits, '_', '.' or '-', starting with a"
        " letter, digit or '_'"
    ),
}

#: Config keys that look like a secret: refused, because the key only comes from the env.
_SECRET_KEYS = {"api_key", "apikey", "key", "token", "secret", "password", "stackone_api_key"}


def load_config(config_file: str | None, *, cwd: Path, env: Mapping[str, str]) -> Config:
    """The run's config: ``config_file`` (or ``cwd/ticketsync.yaml`` if present), then env.

    Without a config file every setting is the default and ``root`` is ``cwd``. Relative
    paths in the file are relative to its folder. Raises :class:`InputError` for an invalid
    file (with locations) and :class:`ConfigError` for a missing ``config_file``.
    """
    from ticketsync.declare import schema, yamlio
    from ticketsync.errors import ConfigError, InputError
    from ticketsync.model import Location, Problem

    if config_file is not None:
        path = Path(config_file) if Path(config_file).is_absolute() else cwd / config_file
        if not path.is_file():
            raise ConfigError(f"config file {config_file} not found")
    else:
        path = cwd / CONFIG_FILE
        if not path.is_file():
            return _with_env(Config(root=cwd), env)
    name = config_file if config_file is not None else CONFIG_FILE
    doc = yamlio.read_document(path, name)
    data: Any = {} if doc.data is None else doc.data
    problems: list[Problem] = []
    if not isinstance(data, dict) or isinstance(data.get("tickets"), dict):
        what = (
            "its 'tickets' is a mapping of tickets (is it a ticket file?)"
            if isinstance(data, dict)
            else f"it holds {_kind(data)}"
        )
        raise InputError([
            Problem(
                Location(doc.file),
                "",
                f"not a config file: {what}; expected settings such as 'tickets: [tickets/]'",
            )
        ])
    for key in sorted(k for k in data if str(k).lower() in _SECRET_KEYS):
        problems.append(
            Problem(
                doc.locate((key,), key=True),
                str(key),
                "the API key is never read from a file: remove it and set STACKONE_API_KEY",
            )
        )
    data = {k: v for k, v in data.items() if str(k).lower() not in _SECRET_KEYS}
    if not problems:
        for violation in schema.violations("config", data):
            where, message = violation.path, violation.message
            if violation.validator == "additionalProperties" and where == ():
                import difflib

                known = schema.load_schema("config")["properties"]
                for key in sorted(violation.names):
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    problems.append(
                        Problem(
                            doc.locate((*where, key), key=True),
                            str(key),
                            f"unknown setting '{key}'{hint}",
                        )
                    )
                continue
            if where[:1] == ("tickets",):
                # anyOf(string, list): jsonschema's "best" branch says "not of type 'string'"
                # even for an empty list. Say what is accepted instead, once.
                where = ("tickets",)
                message = "expected a path, or a non-empty list of paths (files, folders, globs)"
            elif violation.validator == "pattern" and where in _PATTERN_RULES:
                message = f"{violation.instance!r} is not {_PATTERN_RULES[where]}"
            dotted = ".".join(map(str, where))
            problem = Problem(doc.locate(where), dotted, message)
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise InputError(problems)
    tickets = data.get("tickets", ["tickets/"])
    marker = data.get("marker")
    concurrency = data.get("concurrency", "auto")
    config = Config(
        root=path.parent,
        tickets=(tickets,) if isinstance(tickets, str) else tuple(tickets),
        state=Path(data.get("state", DEFAULT_STATE)),
        account_id=data.get("account_id"),
        base_url=data.get("base_url", Config.base_url),
        rate_limit=data.get("rate_limit", Config.rate_limit),
        concurrency=None if concurrency == "auto" else concurrency,
        max_creates=data.get("max_creates", Config.max_creates),
        updates=data.get("updates", Config.updates),
        removed=Action(data.get("removed", Config.removed)),  # the schema checked it
        max_removals=data.get("max_removals", Config.max_removals),
        marker_field=marker["custom_field"] if marker else None,
        config_file=path,
        directory=Path(data.get("directory", DEFAULT_DIRECTORY)),
        api_key_env=data.get("api_key_env", DEFAULT_KEY_VARIABLE),
    )
    return _with_env(config, env)


def _kind(value: object) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return kinds.get(type(value), "a number" if isinstance(value, float) else "a value")


def _with_env(config: Config, env: Mapping[str, str]) -> Config:
    from dataclasses import replace

    account_id = env.get("STACKONE_ACCOUNT_ID") or config.account_id
    base_url = env.get("STACKONE_BASE_URL") or config.base_url
    return replace(config, account_id=account_id, base_url=base_url)
