"""Loading a project: ticket files -> checked, normalised :class:`~ticketsync.model.Ticket`s.

Every problem of every file is collected and raised once, as one :class:`InputError`, so
that users fix their files in one pass. A valid file (the common case) costs a C parse, a
compiled-schema check and one small pass per ticket; the precise messages (paths, line and
column, "did you mean") are only worked out for files that fail the check. Problems that
span the project (unknown parents, cycles) cost a lookup each, never a pass over the
project or a second read of a file, however many there are.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ticketsync.declare import moves, refs, schema, templates, yamlio
from ticketsync.declare.config import SANDBOX_ACCOUNT, Config
from ticketsync.declare.directory import load_directory
from ticketsync.declare.discovery import find_files, where_tickets_go
from ticketsync.declare.names import Issue, Resolver, one_edit
from ticketsync.errors import ConfigError, InputError
from ticketsync.model import Import, Location, Move, Problem, Project, Ticket, is_valid_key

SCHEMA = "ticket-file"
PRIORITIES = ("lowest", "low", "medium", "high", "highest")
KEY_MESSAGE = (
    "use letters, digits, '.', '_' or '-', starting with a letter or digit (at most 128)"
)
#: Fields that name the same thing two ways: a ticket may give one of each pair.
EXCLUSIVE = (
    ("description", "content"),
    ("parent", "parent_id"),
    ("project", "project_id"),
    ("components", "component_ids"),
    ("creator", "creator_id"),
)
_PARTNER = {a: b for pair in EXCLUSIVE for a, b in (pair, pair[::-1])}
#: The fields that decide which statuses a ticket can take.
_SCOPE = ("project", "project_id", "type")


def load_project(config: Config, paths: Sequence[str] = (), *, cwd: Path | None = None,
                 now: datetime | None = None) -> Project:
    """Load, check and normalise the tickets of ``paths`` (default: ``config.tickets``).

    Paths on the command line are relative to ``cwd`` (default: the current directory),
    those of the config to ``config.root``. Names are resolved against the directory file
    (``config.directory_path``), when there is one (:mod:`ticketsync.declare.names`).
    ``now``: the instant whose periods recurring templates declare (default: this
    machine's clock; a run that talks to StackOne passes StackOne's). Raises
    :class:`InputError` with every problem found, :class:`ConfigError` when a path matches
    nothing, :class:`~ticketsync.declare.directory.DirectoryError` for a directory file that
    cannot be used.
    """
    here = Path.cwd() if cwd is None else cwd
    base = here if paths else config.root
    try:
        files = find_files(base, paths or config.tickets, exclude=config.config_file)
    except ConfigError as exc:
        if paths:
            raise
        raise ConfigError(f"{exc}: {where_tickets_go(config, here)}") from None
    problems: list[Problem] = []
    tickets: dict[str, Ticket] = {}
    declared: dict[str, Location] = {}
    parent_at: dict[str, Location] = {}
    digest = hashlib.sha256()
    names = [_display(path, here) for path in files]
    resolver, directory_bytes = resolver_for(config, here)
    if directory_bytes is not None:  # an input too: a pull may change what a name means
        digest.update(b"\0directory\0" + directory_bytes)
    schedules = templates.Schedules(now)
    cited: list[refs.Use] = []  # {ref:KEY} (README: references), checked once all keys are known
    moved: list[Move] = []
    imports: list[Import] = []
    with _collector_held_off():
        for path, name in zip(files, names, strict=True):
            result = _read_file(path, name, config.marker_field, resolver, schedules)
            problems.extend(result.problems)
            if result.text is None:
                continue
            digest.update(f"{_relative(path, config.root)}\0{len(result.text)}\0".encode())
            digest.update(result.text)
            for key, item in result.found.items():
                location = item.location if isinstance(item, Ticket) else item
                first = declared.setdefault(key, location)
                if first is not location:
                    message = f"duplicate ticket key: also at {first}"
                    problems.append(Problem(location, f"tickets.{key}", message))
                elif isinstance(item, Ticket):
                    tickets[key] = item
            parent_at.update(result.parent_at)
            cited.extend(result.cited)
            moved.extend(result.moves)
            imports.extend(result.imports)
        problems.extend(_check_parents(tickets, declared, parent_at))
        problems.extend(refs.check(cited, declared, KeyHints(declared).closest))
        problems.extend(moves.check(moved, imports, declared))
        if problems:
            raise InputError(problems)
        return Project(
            tickets={key: tickets[key] for key in sorted(tickets)},
            files=tuple(names),
            digest=digest.hexdigest(),
            recurring=schedules.found,
            moves=tuple(moved),
            imports=tuple(imports),
        )


@contextmanager
def _collector_held_off() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while a project loads.

    Loading allocates millions of containers that all live on, none of them in a cycle:
    the collector, triggered by allocations, would walk that growing heap again and again
    for nothing (measured: plan of 100k tickets at 2.3x the bare parse instead of ~1x, and
    growing faster than the project). Reference counting still frees everything as usual;
    the collector is back on however loading ends.
    """
    if not gc.isenabled():  # the caller's choice: leave it alone
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def resolver_for(config: Config, cwd: Path) -> tuple[Resolver, bytes | None]:
    """The names of the project's directory file (none if there is no such file), and
    the file's bytes.

    A directory of another account is refused: its ids mean nothing there. Runs against
    the built-in sandbox take the project's directory whatever account it was pulled from
    (the sandbox accepts ids it does not know, unless they look like its own).
    """
    path = config.directory_path
    account = None if config.account_id == SANDBOX_ACCOUNT else config.account_id
    try:
        directory, raw = load_directory(path, account_id=account)
    except FileNotFoundError:
        return Resolver(None, file=_display(path, cwd)), None
    return Resolver(directory, file=_display(path, cwd)), raw


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


# -- one file ------------------------------------------------------------------------------


class _FileResult(NamedTuple):
    """What one file gives: its bytes (None if unreadable), its tickets (key -> Ticket;
    for an invalid file, key -> where it is declared), where each ``parent`` value is,
    its problems, and its ``moved:`` and ``imports:`` items."""

    text: bytes | None
    found: dict[str, Ticket | Location]
    parent_at: dict[str, Location]
    problems: list[Problem]
    moves: Sequence[Move] = ()
    imports: Sequence[Import] = ()
    cited: Sequence[refs.Use] = ()  # its references, located


def _read_file(path: Path, name: str, marker: str | None, resolver: Resolver,
               schedules: templates.Schedules | None = None) -> _FileResult:
    """Read, check and normalise one file."""
    try:
        doc = yamlio.read_document(path, name)
    except InputError as exc:
        return _FileResult(None, {}, {}, list(exc.problems))
    found, parent_at, problems = _load_file(doc, marker, resolver, schedules)
    if not _is_ticket_file(doc.data):
        return _FileResult(doc.text, found, parent_at, problems)
    moved, imports, more = moves.read_blocks(doc)
    return _FileResult(doc.text, found, parent_at, problems + more, moved, imports,
                       refs.uses(doc, found))


def _load_file(
    doc: yamlio.Document, marker: str | None, resolver: Resolver,
    schedules: templates.Schedules | None = None,
) -> tuple[dict[str, Ticket | Location], dict[str, Location], list[Problem]]:
    """The file's tickets, where their ``parent`` values are, and its problems.

    A schema error never hides another problem: the names, parents, keys and templates
    of a file that fails the schema are checked all the same, as far as they can be (a
    ticket that is not a mapping has nothing to check; a template with a schema error is
    not expanded). Such a file's tickets are never used: its problems stop the run.
    """
    data = doc.data
    if not _is_ticket_file(data):
        return {}, {}, [_not_a_ticket_file(doc)]
    valid = schema.is_valid(SCHEMA, templates.for_schema(data))
    problems = [] if valid else _precise(doc)
    defaults: dict[str, Any] = data.get("defaults") if isinstance(data.get("defaults"), dict) \
        else {}
    declared = data.get("tickets") if isinstance(data.get("tickets"), dict) else {}
    if valid:  # the schema says so too, when it fails; our message is clearer than its
        problems += [
            _exclusive(doc, path, first, second)
            for path, fields in [(("defaults",), defaults)]
            + [(("tickets", key), fields) for key, fields in declared.items()]
            for first, second in EXCLUSIVE
            if first in fields and second in fields
        ]
    checked = {p.path for p in problems}
    where = doc.key_locations(("tickets",))
    tickets: dict[str, Ticket | Location] = {}
    own_parent: set[str] = set()
    inherited: set[str] = set()
    unresolved: list[tuple[str, Mapping[str, Any], list[Issue]]] = []
    for key, fields in declared.items():
        if not is_valid_key(key):  # reported by the schema
            continue
        if not isinstance(fields, dict):  # reported by the schema; nothing else to check
            tickets[key] = where[key]
            continue
        body, parent, status, issues = _body(key, defaults, fields, marker if valid else None,
                                             resolver)
        if not valid:  # a value the schema refused is reported once, by the schema
            issues = [i for i in issues if not _reported(checked, key, fields, i.path)]
        if issues:
            unresolved.append((key, fields, issues))
        if parent is not None and not (isinstance(parent, str) and is_valid_key(parent)):
            parent = None  # reported by the schema: no ticket can have this key
        tickets[key] = Ticket(key, body, where[key], parent, status)
        if parent is not None:
            (own_parent if "parent" in fields else inherited).add(key)
    # Where each parent is written, for the project-wide checks: kept now, while the
    # file's node tree is at hand, so that no problem ever needs the file read again.
    parent_at = doc.field_locations(("tickets",), "parent", own_parent)
    if inherited:
        parent_at.update(dict.fromkeys(inherited, doc.locate(("defaults", "parent"))))
    if unresolved:
        problems += _unresolved(doc, unresolved)
    declared_templates = data.get("templates")
    if declared_templates and isinstance(declared_templates, dict):
        if not valid:  # a template the schema refused cannot be expanded
            declared_templates = {
                name: template for name, template in declared_templates.items()
                if not any(p == f"templates.{name}" or p.startswith(f"templates.{name}.")
                           for p in checked)
            }
        problems += _expand(
            doc,
            declared_templates,
            defaults=defaults,
            marker=marker if valid else None,
            resolver=resolver,
            tickets=tickets,
            parent_at=parent_at,
            schedules=schedules,
        )
    return tickets, parent_at, problems


#: The top-level fields of a ticket file.
TOP_LEVEL = ("tickets", "defaults", "templates", "moved", "imports")


def _is_ticket_file(data: Any) -> bool:
    """Whether ``data`` is meant as a ticket file: a mapping with ``tickets`` or
    ``templates``, or one whose only keys are near misses of the fields a ticket file
    has (``ticket:``; reported as unknown fields, with a "did you mean")."""
    if not isinstance(data, dict) or not data:
        return False
    if not isinstance(data.get("tickets", {}), dict) and data.keys() - set(TOP_LEVEL):
        return False  # a ticketsync.yaml config (tickets: [tickets/]), or some other file
    if "tickets" in data or "templates" in data:
        return True
    import difflib  # only for a file that is not a ticket file as written

    return all(
        isinstance(name, str) and difflib.get_close_matches(name, TOP_LEVEL, n=1, cutoff=0.8)
        for name in data
    ) and not data.keys() <= {"defaults"}


def _reported(
    checked: Collection[str], key: str, fields: Mapping[str, Any], path: Sequence[str | int]
) -> bool:
    """Whether the schema reported a problem at (or inside) a ticket's value at ``path``
    (in the ticket, or in the defaults when the ticket inherits it)."""
    base = ("tickets", key) if path[0] in fields else ("defaults",)
    dotted = _dotted((*base, *path[:1]))
    return any(p == dotted or p.startswith((dotted + ".", dotted + "[")) for p in checked)


def _body(
    key: str,
    defaults: Mapping[str, Any],
    fields: Mapping[str, Any],
    marker: str | None,
    resolver: Resolver,
) -> tuple[dict[str, Any], str | None, str | None, list[Issue]]:
    """A declaration as a create body: defaults merged, names resolved, shorthands and the
    marker applied; with its ``parent`` key and ``status`` (not part of a create body)."""
    body = _merge(defaults, fields)
    parent = body.pop("parent", None)
    status = body.pop("status", None)  # set by a PATCH after the create: not in its body
    issues = resolver.resolve(body)  # names -> ids, shorthands -> API fields
    if status is not None and not any(i.path[0] in _SCOPE for i in issues):
        found = resolver.check_status(body, status)  # offline, when the directory knows
        if found is not None:
            issues.append(found)
    if "description" in body:
        body["content"] = [{"plain": body.pop("description")}]
    if isinstance(body.get("priority"), str):
        body["priority"] = {"value": body["priority"]}
    if marker:
        body["unified_custom_fields"] = {**body.get("unified_custom_fields", {}), marker: key}
    return dict(sorted(body.items())), parent, status, issues


def _expand(
    doc: yamlio.Document,
    declared: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    marker: str | None,
    resolver: Resolver,
    tickets: dict[str, Ticket | Location],
    parent_at: dict[str, Location],
    schedules: templates.Schedules | None = None,
) -> list[Problem]:
    """Add the tickets the file's templates make to ``tickets``; their problems.

    A generated ticket is declared at its item (what makes this instance); a problem in
    its fields is located in the template, naming the item.
    """
    made, problems = templates.expand(doc, declared, schedules=schedules)
    for generated in made:
        template_path = (
            "templates",
            generated.template,
            "tickets",
            generated.key.rsplit(".", 1)[1],
        )
        item = f"item {generated.item} at {generated.item_location}"
        if generated.key in tickets:
            other = tickets[generated.key]
            first = other.location if isinstance(other, Ticket) else other
            problems.append(
                Problem(
                    generated.item_location,
                    _dotted(("templates", generated.template, "for_each", generated.item)),
                    f"the template makes the key '{generated.key}' (from {generated.location}), "
                    f"also declared at {first}: rename the item or one of them",
                )
            )
            continue
        body, parent, status, issues = _body(
            generated.key, defaults, generated.fields, marker, resolver
        )
        for issue in issues:
            path: schema.JsonPath = (
                (*template_path, *issue.path)
                if issue.path[0] in generated.fields
                else ("defaults", *issue.path)
            )
            problems.append(Problem(doc.locate(path), _dotted(path), f"{issue.message} ({item})"))
        tickets[generated.key] = Ticket(
            generated.key,
            body,
            generated.item_location,
            parent,
            status,
            f"{generated.template}.{generated.item}",
        )
        if parent is not None:
            in_template = "parent" in generated.fields
            parent_at[generated.key] = doc.locate(
                (*template_path, "parent") if in_template else ("defaults", "parent")
            )
    return problems


def _unresolved(
    doc: yamlio.Document, unresolved: Sequence[tuple[str, Mapping[str, Any], list[Issue]]]
) -> list[Problem]:
    """Each reference that does not resolve, located at its value: in the ticket, or in
    ``defaults`` when the ticket inherits it (once, however many tickets inherit it)."""
    tickets = _ticket_documents(doc)
    problems: set[Problem] = set()
    for key, fields, issues in unresolved:
        for issue in issues:
            if issue.path[0] in fields and key in tickets:
                path: schema.JsonPath = ("tickets", key, *issue.path)
                location = tickets[key].locate(issue.path)
            else:
                path = ("defaults", *issue.path)
                location = doc.locate(path)
            problems.add(Problem(location, _dotted(path), issue.message))
    return sorted(problems)


def _ticket_documents(doc: yamlio.Document) -> dict[str, yamlio.Document]:
    """Each ticket's node tree as a document of its own, in one pass over the file.

    ``doc.locate`` walks a mapping from its first key: locating a value in each of many
    tickets that way costs a pass over the file per ticket (a project whose directory file
    went missing fails everywhere at once).
    """
    node = doc.node(("tickets",))
    found: dict[str, yamlio.Document] = {}
    for key_node, value_node in getattr(node, "value", None) or ():  # a mapping's pairs
        key = getattr(key_node, "value", None)
        if isinstance(key, str):
            found.setdefault(key, yamlio.Document(doc.file, doc.text, None, value_node))
    return found


def _merge(defaults: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` over (a copy of) ``defaults``: mappings key by key, anything else replaced.

    A ticket that gives one field of an exclusive pair drops the default for the other
    (a ticket's ``content`` replaces the defaults' ``description``).
    """
    body = {
        name: templates.copy_data(value)
        for name, value in defaults.items()
        if name not in fields and _PARTNER.get(name) not in fields
    }
    for name, value in fields.items():
        default = defaults.get(name)
        if isinstance(value, dict) and isinstance(default, dict):
            body[name] = {**templates.copy_data(default), **value}
        else:
            body[name] = value
    return body




def _not_a_ticket_file(doc: yamlio.Document) -> Problem:
    data = doc.data
    if data is None:
        what = "the file is empty"
    elif isinstance(data, dict):
        looks_like_config = {"state", "account_id", "base_url", "marker"} & data.keys()
        what = "it has no 'tickets' (nor 'templates')" + (
            " (is it a ticketsync.yaml config?)" if looks_like_config else ""
        )
    else:
        what = f"it holds {_kind(data)}"
    return Problem(
        Location(doc.file), "", f"not a ticket file: {what}; expected a mapping with 'tickets:'"
    )


def _kind(value: object) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return kinds.get(type(value), "a number" if isinstance(value, float) else "a value")


# -- precise messages, for a file that failed the schema ---------------------------------


def _precise(doc: yamlio.Document) -> list[Problem]:
    data = templates.for_schema(doc.data)  # {rotate: [...]}: checked as the list it holds
    problems: list[Problem] = templates.name_problems(doc)  # in words, every one
    for violation in schema.violations(SCHEMA, data):
        path, kind = violation.path, violation.validator
        if templates.is_name_violation(path, kind):
            continue
        value = _at(data, path)
        # dependentSchemas: {"description": {"not": {"required": ["content"]}}}
        partner = _exclusive_partner(violation) if kind == "not" else None
        if kind == "additionalProperties":
            problems.extend(_unknown_fields(doc, path, violation.names))
        elif partner is not None and isinstance(value, dict) and _PARTNER[partner] in value:
            problems.append(_exclusive(doc, path, _PARTNER[partner], partner))
        elif kind == "pattern" and path == ("tickets",):  # propertyNames: a ticket's key
            problems.append(
                Problem(
                    doc.locate((*path, violation.instance), key=True),
                    _dotted(path),
                    f"invalid ticket key {violation.instance!r}: {KEY_MESSAGE}",
                )
            )
        elif kind == "pattern" and path[-1:] == ("parent",):
            problems.append(
                _problem(doc, path, f"invalid ticket key {violation.instance!r}: {KEY_MESSAGE}")
            )
        elif path == ("tickets",) and kind == "type":
            problems.append(_problem(doc, path, _tickets_not_a_mapping(value)))
        elif kind == "required" and path == () and set(violation.names) & _near_misses(data):
            continue  # the unknown field that meant it says so, with a "did you mean"
        elif kind == "minLength" and value == "" and path[-1:] == ("title",):
            problems.append(_problem(doc, path, "the title is empty: give the ticket a title"))
        elif kind == "minLength" and value == "" and isinstance(path[-1], str):
            problems.append(_problem(
                doc, path, f"'{path[-1]}' is empty: give it a value, or leave it out"))
        elif path[-1:] == ("priority",) and isinstance(value, str):
            problems.append(_problem(doc, path, f"'{value}' is not one of {', '.join(PRIORITIES)}"))
        elif kind == "required" and violation.names:
            problems.append(
                Problem(
                    doc.locate(path, key=True),
                    _dotted(path),
                    f"missing required field '{violation.names[0]}'",
                )
            )
        else:
            problems.append(_problem(doc, path, _reworded(doc, violation)))
    return problems


def _tickets_not_a_mapping(value: Any) -> str:
    """``tickets:`` written as something else than key -> ticket."""
    example = "write each ticket under its key (my-key: then its fields)"
    if value == []:
        return "an empty list: tickets is a mapping of keys to tickets; for none, write " \
            "'tickets: {}', else " + example
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "a list of paths: tickets is a mapping of keys to tickets (a ticketsync.yaml " \
            "config lists where ticket files are: name the ticket files instead)"
    if isinstance(value, list):
        return f"a list: tickets is a mapping of keys to tickets; {example}, not as a list " \
            "item ('- ')"
    if value is None:
        return f"empty: tickets is a mapping of keys to tickets; {example}, or write " \
            "'tickets: {}' for none"
    return f"{_kind(value)}: tickets is a mapping of keys to tickets; {example}"


def _near_misses(data: Any) -> set[str]:
    """The top-level fields that unknown top-level fields of ``data`` are near misses of
    (``ticket`` for ``tickets``)."""
    import difflib

    found: set[str] = set()
    for name in data if isinstance(data, dict) else ():
        if isinstance(name, str) and name not in TOP_LEVEL:
            found.update(difflib.get_close_matches(name, TOP_LEVEL, n=1))
    return found


def _reworded(doc: yamlio.Document, violation: schema.Violation) -> str:
    if violation.validator == "enum" and isinstance(violation.validator_value, list):
        choices = ", ".join(map(str, violation.validator_value))
        return f"{violation.instance!r} is not one of {choices}"
    implicit = doc.implicit(violation.path)
    if implicit and violation.validator == "type":
        text, kind = implicit
        if kind == "null":
            return f"{violation.message}: the value is empty (null); give it a value"
        return f"{violation.message}: YAML reads {text} as {kind}; quote it: '{text}'"
    return violation.message


def _unknown_fields(
    doc: yamlio.Document, path: schema.JsonPath, names: Iterable[str]
) -> list[Problem]:
    import difflib  # only for a file with problems

    known = _known_fields(path)
    problems = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
        elif name == "<<":
            hint = " (YAML merge keys are not supported: use 'defaults:')"
        else:
            hint = f"; known fields: {', '.join(sorted(known))}"
        problems.append(
            Problem(
                doc.locate((*path, name), key=True),
                _dotted((*path, name)),
                f"unknown field '{name}'{hint}",
            )
        )
    return problems


def _known_fields(path: schema.JsonPath) -> list[str]:
    defs = schema.load_schema(SCHEMA)["$defs"]
    if path == ():
        return list(schema.load_schema(SCHEMA)["properties"])
    if path == ("defaults",):
        return list(defs["defaults"]["properties"])
    if path[:1] in (("moved",), ("imports",)) and len(path) == 2:
        return list(defs["move" if path[0] == "moved" else "import"]["properties"])
    if path[:1] == ("templates",) and len(path) == 2:
        return list(defs["template"]["properties"])
    if len(path) == 2 or (path[:1] == ("templates",) and len(path) == 4):
        return list(defs["ticket"]["properties"])
    if path[-1] == "priority":
        return list(defs["priorityObject"]["properties"])
    return list(defs["content"]["properties"])


def _exclusive_partner(violation: schema.Violation) -> str | None:
    """For a ``not: {required: [X]}`` violation of an exclusive pair: X."""
    value = violation.validator_value
    required = value.get("required") if isinstance(value, dict) else None
    if isinstance(required, list) and len(required) == 1 and required[0] in _PARTNER:
        return str(required[0])
    return None


def _exclusive(doc: yamlio.Document, path: schema.JsonPath, first: str, second: str) -> Problem:
    later = max((first, second), key=lambda name: doc.locate((*path, name), key=True))
    return Problem(
        doc.locate((*path, later), key=True),
        _dotted((*path, later)),
        f"'{first}' and '{second}' are exclusive: give one of them",
    )


def _problem(doc: yamlio.Document, path: schema.JsonPath, message: str) -> Problem:
    return Problem(doc.locate(path), _dotted(path), message)


def _dotted(path: schema.JsonPath) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def _at(data: Any, path: schema.JsonPath) -> Any:
    for step in path:
        data = data[step]
    return data


# -- project-wide --------------------------------------------------------------------------


def _check_parents(
    tickets: Mapping[str, Ticket],
    declared: Collection[str],
    parent_at: Mapping[str, Location],
) -> list[Problem]:
    """Unknown parents and parent cycles, each located at its ``parent`` value.

    Linear in the project: each unknown parent costs one "did you mean" lookup, and each
    ticket's chain of parents is walked once in all, however long the chains are.
    """
    problems: list[Problem] = []
    hints = KeyHints(declared)
    siblings: dict[str, list[str]] = {}  # a template instance -> its tickets' names
    for ticket in tickets.values():
        if ticket.origin is not None:
            siblings.setdefault(ticket.origin, []).append(ticket.key.rsplit(".", 1)[1])
    for key in sorted(tickets):
        parent = tickets[key].parent
        if parent is not None and parent not in declared:
            close = _sibling(parent, siblings.get(tickets[key].origin or "", ()))
            close = close or hints.closest(parent)
            hint = f" (did you mean '{close}'?)" if close else ""
            problems.append(
                _parent_problem(
                    tickets[key], parent_at, f"'{parent}' is not a declared ticket key{hint}"
                )
            )
    walked: dict[str, int] = {}  # key -> the walk that reached it first
    for walk, start in enumerate(sorted(tickets)):
        chain: list[str] = []
        step: str | None = start
        while step is not None and step in tickets and step not in walked:
            walked[step] = walk
            chain.append(step)
            step = tickets[step].parent
        if step is not None and walked.get(step) == walk and step in tickets:
            # Back at a ticket of this very walk: the chain loops from there.
            cycle = chain[chain.index(step) :]
            problems.append(
                _parent_problem(
                    tickets[min(cycle)],
                    parent_at,
                    "parent cycle: " + " -> ".join([*_rotate(cycle), min(cycle)]),
                )
            )
    return problems


def _rotate(cycle: list[str]) -> list[str]:
    at = cycle.index(min(cycle))
    return cycle[at:] + cycle[:at]


def _sibling(parent: str, names: Collection[str]) -> str | None:
    """In a template, a parent names a ticket of the same template: a near miss of one."""
    if not names:
        return None
    import difflib

    close = difflib.get_close_matches(parent, sorted(names), n=1)
    return close[0] if close else None


def _parent_problem(ticket: Ticket, parent_at: Mapping[str, Location], message: str) -> Problem:
    location = parent_at.get(ticket.key, ticket.location)
    if ticket.origin is not None:  # written in a template: its path there
        path: schema.JsonPath = (
            "templates",
            ticket.origin.split(".", 1)[0],
            "tickets",
            ticket.key.rsplit(".", 1)[1],
            "parent",
        )
    else:
        path = ("tickets", ticket.key, "parent")
    return Problem(location, _dotted(path), message)


#: What a key may hold (model.KEY_PATTERN): the letters a one-letter typo may involve.
_KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
_SEPARATORS = str.maketrans("._", "--")


class KeyHints:
    """"Did you mean" for a key among many, at a cost that does not grow with their number.

    difflib compares a word with every key (a second per unknown parent in a 100k-ticket
    project). Typos are nearly always one edit away: a letter missing, extra, wrong, or two
    letters swapped. So the candidates are generated from the word (a few thousand at
    most) and looked up; failing that, a key equal but for case and separators
    (``Prod_Outage`` for ``prod-outage``), from a table built once, on first need.
    """

    def __init__(self, keys: Collection[str]) -> None:
        self._keys = keys
        self._folded: dict[str, str] | None = None

    def closest(self, word: str) -> str | None:
        """The declared key that ``word`` most likely meant, or None."""
        near = sorted(key for key in one_edit(word, _KEY_CHARS) if key in self._keys)
        if near:
            import difflib

            return max(near, key=lambda key: difflib.SequenceMatcher(None, word, key).ratio())
        if self._folded is None:
            self._folded = {}
            for key in sorted(self._keys):
                self._folded.setdefault(_fold(key), key)
        return self._folded.get(_fold(word))


def _fold(key: str) -> str:
    return key.lower().translate(_SEPARATORS)
