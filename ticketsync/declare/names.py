"""Names -> ids, offline, against the directory file (the README's "Names: the directory").

A ticket file may name people by id, email, username or display name, a project by name,
a ticket type and components by name within the ticket's project. :class:`Resolver` turns
a ticket's body into the create body StackOne takes (ids only), and says, per value, what
is wrong: no match (with a "did you mean" and the hint that a pull may be due), several
matches (naming their ids), a deactivated user, a type or component of another project.

Matching is exact, never by substring: emails and usernames ignore case (as every tracker
does), names do not. An id wins over a name: an id is never ambiguous.

Cost: the indexes are dicts built once per run; each distinct (field, value, project) is
resolved once and remembered, so a reference costs a dict lookup or two, however large
the directory and the project are. The "did you mean" tables are built only on a failure.

Without a directory, values go out as written (ids, as before), except those that can
only be names (an email, the shorthands ``project``, ``components``, ``creator``): those
are errors naming ``ticketsync directory pull``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ticketsync.declare.directory import (
    STATUS_TYPES,
    Component,
    Directory,
    TicketType,
    User,
    quoted,
)
from ticketsync.declare.hints import Hints

#: A place inside a ticket's body: its field, then a list index.
FieldPath = tuple[str | int, ...]
#: The fields that name people, and the shorthands that only take names, with their field.
PEOPLE = ("assignees", "reporters")
SHORTHANDS = {"project": "project_id", "components": "component_ids", "creator": "creator_id"}

PULL = "run `ticketsync directory pull`"


@dataclass(frozen=True)
class Issue:
    """One reference that does not resolve: where in the ticket (the field as written,
    then a list index), and why."""

    path: FieldPath
    message: str


class Resolver:
    """Resolves the references of ticket bodies against ``directory`` (None: there is no
    directory file; ``file`` is how messages name it)."""

    def __init__(self, directory: Directory | None, *, file: str = "ticketsync.directory.json"):
        self.directory = directory
        self.file = file
        self._index = _Index(directory) if directory is not None else None
        #: (kind, value, project id) -> (the id, or None and why not)
        self._memo: dict[tuple[str, str, str | None], tuple[str | None, str]] = {}

    def resolve(self, body: dict[str, Any]) -> list[Issue]:
        """Replace, in ``body``, each name by its id and each shorthand by its API field;
        return what does not resolve (``body`` is then not fit to send)."""
        if self._index is None:
            return self._without_directory(body)
        issues: list[Issue] = []
        project_id = self._project(body, issues)
        if "type" in body:
            body["type"] = self._one("type", body["type"], project_id, ("type",), issues)
        if "components" in body:
            body["component_ids"] = self._many(
                "component", body.pop("components"), project_id, "components", issues)
        elif "component_ids" in body:
            body["component_ids"] = self._many(
                "component_id", body["component_ids"], project_id, "component_ids", issues)
        if "creator" in body:
            body["creator_id"] = self._one("user", body.pop("creator"), None, ("creator",),
                                           issues)
        elif "creator_id" in body:
            body["creator_id"] = self._one("user_id", body["creator_id"], None,
                                           ("creator_id",), issues)
        for name in PEOPLE:
            if name in body:
                body[name] = self._many("user", body[name], None, name, issues)
        return issues

    def check_status(self, body: dict[str, Any], declared: Any) -> Issue | None:
        """Whether a ticket with the (resolved) ``body`` can take the status ``declared``,
        when the directory knows the workflow of its project and type; None when it can,
        or when nothing is known (apply then checks before it creates)."""
        directory = self.directory
        project, kind = body.get("project_id"), body.get("type")
        if directory is None or not isinstance(declared, str) or not isinstance(project, str) \
                or not (kind is None or isinstance(kind, str)):
            return None
        workflow = directory.workflow(project, kind)
        if workflow is None or workflow.find(declared) is not None:
            return None
        import difflib  # only on this error

        names = [status.name for status in workflow.statuses if status.name]
        folded = {name.casefold(): name for name in reversed(names)}
        close = difflib.get_close_matches(declared.casefold(), list(folded), n=1)
        hint = f" (did you mean {folded[close[0]]!r}?)" if close else ""
        typed = "" if kind is None else directory.name_of("ticket_types", kind) or kind
        scope = f"project {directory.describe_project(project)}" + (
            f", type {quoted(typed)}" if kind is not None else ", without a type")
        what = (f"no status of type {declared!r}" if declared in STATUS_TYPES
                else f"{declared!r} is not a status")
        return Issue(("status",), (
            f"{what} of tickets of {scope}{hint}; they can take: {', '.join(names) or 'none'}"
            f" (or a type: {', '.join(STATUS_TYPES)}); if the workflow changed, {PULL}"))

    # -- without a directory -------------------------------------------------------------

    def _without_directory(self, body: dict[str, Any]) -> list[Issue]:
        issues = [
            Issue((name,), f"'{name}' takes names, and names need the directory file "
                  f"({self.file}, not found): {PULL}, or write '{api}' with ids")
            for name, api in SHORTHANDS.items() if name in body
        ]
        for name in PEOPLE:
            for at, value in enumerate(body.get(name) or ()):
                if isinstance(value, str) and "@" in value:
                    issues.append(Issue((name, at), self._email_needs_directory(value)))
        creator = body.get("creator_id")
        if isinstance(creator, str) and "@" in creator:
            issues.append(Issue(("creator_id",), self._email_needs_directory(creator)))
        return issues

    def _email_needs_directory(self, value: str) -> str:
        return (f"{value!r} is an email, and names need the directory file ({self.file}, "
                f"not found): {PULL}, or write the user's id")

    # -- with one --------------------------------------------------------------------------

    def _project(self, body: dict[str, Any], issues: list[Issue]) -> str | None:
        """Resolve ``project`` / check ``project_id``: the ticket's project id, if known."""
        before = len(issues)
        if "project" in body:
            found = body["project_id"] = self._one(
                "project", body.pop("project"), None, ("project",), issues)
        elif "project_id" in body:
            found = self._one("project_id", body["project_id"], None, ("project_id",), issues)
        else:
            return None
        # A project that does not resolve scopes nothing: its types and components are
        # then looked up across the directory.
        return found if len(issues) == before and isinstance(found, str) else None

    def _one(self, kind: str, value: Any, project_id: str | None, path: FieldPath,
             issues: list[Issue]) -> Any:
        if not isinstance(value, str):  # the schema said so already
            return value
        found, why = self.lookup(kind, value, project_id)
        if found is None:
            issues.append(Issue(path, why))
            return value
        return found

    def _many(self, kind: str, values: Any, project_id: str | None, name: str,
              issues: list[Issue]) -> Any:
        if not isinstance(values, list):
            return values
        return [self._one(kind, v, project_id, (name, at), issues) for at, v in
                enumerate(values)]

    def lookup(self, kind: str, value: str,
               project_id: str | None = None) -> tuple[str | None, str]:
        """What ``value`` written as ``kind`` (``user``, ``user_id``, ``project``,
        ``project_id``, ``type``, ``component``, ``component_id``) resolves to in
        ``project_id``: (its id, "") or (None, why not). Needs a directory."""
        key = (kind, value, project_id)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = self._resolve(kind, value, project_id)
        return known

    def _resolve(self, kind: str, value: str, project_id: str | None) -> tuple[str | None, str]:
        index = self._index
        assert index is not None
        table: dict[str, Callable[[str, str | None], tuple[str | None, str]]] = {
            "user": index.user, "user_id": index.user_id, "project": index.project,
            "project_id": index.project_id, "type": index.ticket_type,
            "component": index.component, "component_id": index.component_id,
        }
        return table[kind](value, project_id)


class _Index:
    """The directory's lookups: every one a dict, built once."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.users = {u.id: u for u in directory.users}
        self.by_email: dict[str, list[User]] = defaultdict(list)
        self.by_username: dict[str, list[User]] = defaultdict(list)
        self.by_user_name: dict[str, list[User]] = defaultdict(list)
        for user in directory.users:
            if user.email:
                self.by_email[user.email.casefold()].append(user)
            if user.username:
                self.by_username[user.username.casefold()].append(user)
            if user.name:
                self.by_user_name[user.name].append(user)
        self.projects = {p.id: p for p in directory.projects}
        self.by_project_name: dict[str, list[str]] = defaultdict(list)
        for project in directory.projects:
            if project.name is not None:
                self.by_project_name[project.name].append(project.id)
        # Types and components: by (project id, id) and (project id, name), and by id and
        # by name across projects (to say where a name of another project lives).
        self.types = _Scoped(directory.ticket_types)
        self.components = _Scoped(directory.components)
        self._hints: dict[str, Hints] = {}

    # -- people --------------------------------------------------------------------------

    def user(self, value: str, _: str | None = None) -> tuple[str | None, str]:
        found = self.users.get(value)
        if found is not None:
            return self._active(value, found)
        matches = self._user_matches(value)
        if len(matches) == 1:
            return self._active(value, matches[0])
        if matches:
            return None, self._ambiguous_user(value, matches)
        return None, self._no_user(value, "a user")

    @staticmethod
    def _ambiguous_user(value: str, matches: Sequence[User]) -> str:
        """Several users answer to ``value``: name them, and what tells them apart. An
        email is no way out when the value is one already (emails match whatever their
        case, so two that differ only in case are one email here)."""
        shown = ", ".join(u.describe() for u in matches)
        if "@" not in value:
            return f"{value!r} matches {len(matches)} users: {shown}; write an email or an id"
        emails = {u.email for u in matches if u.email}
        if len(emails) > 1 and len({e.casefold() for e in emails}) == 1:
            return (f"{value!r} matches {len(matches)} users whose emails differ only in case:"
                    f" {shown}; emails match whatever their case: write the id of the one you"
                    " mean")
        return f"{value!r} matches {len(matches)} users: {shown}; write the id of the one you mean"

    def user_id(self, value: str, _: str | None = None) -> tuple[str | None, str]:
        found = self.users.get(value)
        if found is not None:
            return self._active(value, found)
        matches = self._user_matches(value)
        if matches:
            return None, (f"{value!r} is not a user id: use 'creator' for names ('creator: "
                          f"{value}'), or write the id {matches[0].id!r}")
        return None, self._no_user(value, "a user id")

    def _user_matches(self, value: str) -> list[User]:
        folded = value.casefold()
        found = {u.id: u for u in self.by_email.get(folded, ())}
        found.update((u.id, u) for u in self.by_username.get(folded, ()))
        found.update((u.id, u) for u in self.by_user_name.get(value, ()))
        return [found[k] for k in sorted(found)]

    @staticmethod
    def _active(value: str, user: User) -> tuple[str | None, str]:
        if user.active:
            return user.id, ""
        return None, (f"{value!r} is a deactivated user: {user.describe()}; name an active "
                      f"user (if they are back, {PULL})")

    def _no_user(self, value: str, what: str) -> str:
        if "@" in value:
            hint = self._hint("emails", lambda: (u.email for u in self.directory.users), value)
        else:
            hint = self._hint("people", lambda: (
                w for u in self.directory.users for w in (u.id, u.username, u.name)), value)
        return (f"{value!r} is not {what} in the directory{hint}; if they joined since the "
                f"last pull, {PULL}")

    # -- projects ------------------------------------------------------------------------

    def project(self, value: str, _: str | None = None) -> tuple[str | None, str]:
        if value in self.projects:
            return value, ""
        ids = self.by_project_name.get(value, [])
        if len(ids) == 1:
            return ids[0], ""
        if ids:
            return None, (f"{value!r} matches {len(ids)} projects: {', '.join(ids)}; write "
                          "project_id")
        return None, self._no_project(value, "a project")

    def project_id(self, value: str, _: str | None = None) -> tuple[str | None, str]:
        if value in self.projects:
            return value, ""
        ids = self.by_project_name.get(value, [])
        if ids:
            return None, (f"{value!r} is not a project id: use 'project' for names "
                          f"('project: {value}'), or write the id {ids[0]!r}")
        return None, self._no_project(value, "a project id")

    def _no_project(self, value: str, what: str) -> str:
        hint = self._hint("projects", lambda: (
            w for p in self.directory.projects for w in (p.id, p.name)), value)
        return f"{value!r} is not {what} in the directory{hint}; if it is new, {PULL}"

    # -- ticket types and components -------------------------------------------------------

    def ticket_type(self, value: str, project_id: str | None) -> tuple[str | None, str]:
        return self._scoped("ticket type", self.types, value, project_id, ids_only=False,
                            account_wide=True)

    def component(self, value: str, project_id: str | None) -> tuple[str | None, str]:
        return self._scoped("component", self.components, value, project_id, ids_only=False,
                            account_wide=False)

    def component_id(self, value: str, project_id: str | None) -> tuple[str | None, str]:
        return self._scoped("component", self.components, value, project_id, ids_only=True,
                            account_wide=False)

    def _scoped(self, what: str, table: _Scoped, value: str, project_id: str | None, *,
                ids_only: bool, account_wide: bool) -> tuple[str | None, str]:
        """``value`` as an id, then a name: in the ticket's project, then (types) the
        account-wide ones, then anywhere (a ticket without a project)."""
        scopes: list[str | None] = [project_id] if project_id is not None else []
        if account_wide:
            scopes.append(None)
        if any((scope, value) in table.ids for scope in scopes):
            return value, ""
        elsewhere = table.projects_of_id.get(value, [])
        if elsewhere:
            if project_id is None:
                return value, ""
            return None, self._other_project(what, value, project_id, elsewhere)
        named_here = [r for scope in scopes for r in table.names.get((scope, value), [])]
        named_anywhere = table.any_name.get(value, [])
        if ids_only:
            if named_here or named_anywhere:
                example = (named_here or named_anywhere)[0].id
                return None, (f"{value!r} is not a component id: use 'components' for names "
                              f"('components: [{value}]'), or write the id {example!r}")
        else:
            for scope in scopes:
                named = table.names.get((scope, value), [])
                if named:
                    return self._one_named(what, value, named, scope)
            if named_anywhere and project_id is None:
                return self._one_named(what, value, named_anywhere, None)
            if named_anywhere and project_id is not None:
                projects = sorted({r.project_id for r in named_anywhere if r.project_id})
                return None, self._other_project(what, value, project_id, projects)
        return None, self._no_scoped(what, table, value, scopes, ids_only=ids_only)

    def _one_named(self, what: str, value: str, named: Sequence[TicketType | Component],
                   scope: str | None) -> tuple[str | None, str]:
        if len(named) == 1:
            return named[0].id, ""
        field = "type" if what == "ticket type" else "component_ids"
        if scope is not None:
            ids = ", ".join(r.id for r in named)
            where = self.directory.describe_project(scope)
            return None, (f"{value!r} matches {len(named)} {what}s in project {where}: {ids};"
                          f" write the id in {field}")
        shown = ", ".join(
            f"{r.id} ({self._project_name(r.project_id)})" if r.project_id else r.id
            for r in named
        )
        return None, (f"{value!r} matches {len(named)} {what}s: {shown}; give the ticket its "
                      f"project, or write the id in {field}")

    def _other_project(self, what: str, value: str, project_id: str,
                       projects: Iterable[str]) -> str:
        where = ", ".join(self.directory.describe_project(p) for p in projects)
        return (f"{what} {value!r} is not in project "
                f"{self.directory.describe_project(project_id)}: it is in {where}")

    def _project_name(self, project_id: str) -> str:
        project = self.projects.get(project_id)
        return project.name if project is not None and project.name else project_id

    def _no_scoped(self, what: str, table: _Scoped, value: str, scopes: list[str | None],
                   *, ids_only: bool) -> str:
        def words(records: Iterable[TicketType | Component]) -> Iterable[str | None]:
            for record in records:
                yield record.id
                if not ids_only:
                    yield record.name

        # In the ticket's project first; failing that, anywhere (then the next run says
        # where the name it meant lives).
        pools = [(f"{what}:{ids_only}:{','.join(map(str, scopes))}",
                  lambda: words(r for s in scopes for r in table.in_project.get(s, ())))]
        pools.append((f"{what}:{ids_only}:*", lambda: words(table.records)))
        hint = ""
        for pool, found in pools if scopes else pools[1:]:
            hint = self._hint(pool, found, value)
            if hint:
                break
        noun = f"{what} id" if ids_only else what
        return f"{value!r} is not a {noun} in the directory{hint}; if it is new, {PULL}"

    # -- did you mean ----------------------------------------------------------------------

    def _hint(self, pool: str, words: Callable[[], Iterable[str | None]], value: str) -> str:
        hints = self._hints.get(pool)
        if hints is None:
            hints = self._hints[pool] = Hints.for_names(w for w in words() if w)
        close = hints.closest(value)
        return f" (did you mean {close!r}?)" if close else ""


class _Scoped:
    """Ticket types or components, looked up within a project (None: account-wide)."""

    def __init__(self, records: Iterable[TicketType | Component]) -> None:
        self.records = list(records)
        self.ids: set[tuple[str | None, str]] = set()
        self.names: dict[tuple[str | None, str], list[TicketType | Component]] = \
            defaultdict(list)
        self.any_name: dict[str, list[TicketType | Component]] = defaultdict(list)
        self.projects_of_id: dict[str, list[str]] = defaultdict(list)
        self.in_project: dict[str | None, list[TicketType | Component]] = defaultdict(list)
        for record in self.records:
            self.ids.add((record.project_id, record.id))
            self.in_project[record.project_id].append(record)
            if record.project_id is not None:
                self.projects_of_id[record.id].append(record.project_id)
            if record.name is not None:
                self.names[(record.project_id, record.name)].append(record)
                self.any_name[record.name].append(record)
