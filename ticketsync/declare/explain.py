"""What ``ticketsync directory show`` prints: the directory's content, and how a name
resolves (what it matches, by which rule, and what a ticket file that writes it gets)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ticketsync.declare.directory import Component, Directory, TicketType, User
from ticketsync.declare.names import Resolver


def summary(directory: Directory) -> str:
    """Projects with their types and components, the account-wide types, then the users."""
    lines = [f"Projects ({len(directory.projects)}):"]
    for project in directory.projects:
        lines.append(f"  {project.id}  {project.name or '(no name)'}")
        types = [t for t in directory.ticket_types if t.project_id == project.id]
        components = [c for c in directory.components if c.project_id == project.id]
        if types:
            lines.append(f"    ticket types: {_named(types)}")
        if components:
            lines.append(f"    components: {_named(components)}")
    account_wide = [t for t in directory.ticket_types if t.project_id is None]
    lines.append(f"Account-wide ticket types ({len(account_wide)}): {_named(account_wide)}")
    inactive = sum(1 for u in directory.users if not u.active)
    gone = f", {inactive} deactivated" if inactive else ""
    lines.append(f"Users ({len(directory.users)}{gone}):")
    lines += _table([_user_row(u) for u in directory.users])
    return "\n".join(lines) + "\n"


def explain(directory: Directory, query: str, project: str | None = None
            ) -> tuple[list[str], bool]:
    """How ``query`` resolves, one line per record it matches and per field it can fill;
    False when it names nothing (the lines then say what it might have meant)."""
    resolver = Resolver(directory)
    lines: list[str] = []
    scope: dict[str, Any] = {}
    where = ""
    if project is not None:
        probe: dict[str, Any] = {"project": project}
        issues = resolver.resolve(probe)
        if issues:
            return [f"--project: {issues[0].message}"], False
        scope = {"project_id": probe["project_id"]}
        where = f" (in project {directory.describe_project(probe['project_id'])})"
    folded = query.casefold()
    people = [(u, how) for u in directory.users if (how := _how_user(u, query, folded))]
    projects = [p for p in directory.projects if query in (p.id, p.name)]
    types = [t for t in directory.ticket_types if query in (t.id, t.name)]
    components = [c for c in directory.components if query in (c.id, c.name)]
    if people:
        rows = [[*_user_row(u)[:4], ("" if u.active else "(deactivated)  ")
                 + f"a user, matched by {how}"] for u, how in people]
        lines += [line.strip() for line in _table(rows)]
        lines.append(_verdict(resolver, "assignees, reporters, creator",
                              {"assignees": [query]}, lambda b: b["assignees"][0]))
    for found in projects:
        lines.append(f"{found.id}  {found.name}: a project, matched by "
                     f"{'id' if found.id == query else 'name'}")
    if projects:
        lines.append(_verdict(resolver, "project", {"project": query},
                              lambda b: b["project_id"]))
    for scoped in types + components:
        what = "ticket type" if isinstance(scoped, TicketType) else "component"
        home = (f" in {directory.describe_project(scoped.project_id)}" if scoped.project_id
                else " (account-wide)")
        lines.append(f"{scoped.id}  {scoped.name}{home}: a {what}, matched by "
                     f"{'id' if scoped.id == query else 'name'}")
    if types:
        lines.append(_verdict(resolver, f"type{where}", {**scope, "type": query},
                              lambda b: b["type"]))
    if components:
        lines.append(_verdict(resolver, f"components{where}", {**scope, "components": [query]},
                              lambda b: b["component_ids"][0]))
    if lines:
        return lines, True
    return [_nothing(resolver, query)], False


def _how_user(user: User, query: str, folded: str) -> str:
    if user.id == query:
        return "id"
    if user.email and user.email.casefold() == folded:
        return "email (any case)"
    if user.username and user.username.casefold() == folded:
        return "username (any case)"
    return "display name" if user.name == query else ""


def _verdict(resolver: Resolver, fields: str, body: dict[str, Any],
             result: Callable[[dict[str, Any]], str]) -> str:
    issues = resolver.resolve(body)
    if issues:
        return f"-> {fields}: error: {issues[-1].message}"
    return f"-> {fields}: {result(body)}"


def _nothing(resolver: Resolver, query: str) -> str:
    """Nothing matches: the people's and the projects' did-you-mean, if any."""
    hints = []
    for body in ({"assignees": [query]}, {"project": query}, {"type": query},
                 {"components": [query]}):
        message = resolver.resolve(body)[0].message
        if "(did you mean " in message:
            hints.append(message.split("(did you mean ", 1)[1].split("?)", 1)[0])
    unique = ", ".join(dict.fromkeys(hints))
    meant = f" (did you mean {unique}?)" if unique else ""
    return (f"{query!r} names no user, project, ticket type or component in the directory"
            f"{meant}; if it is new, run `ticketsync directory pull`")


def _named(records: Sequence[TicketType | Component]) -> str:
    return ", ".join(f"{r.name or '(no name)'} ({r.id})" for r in records) or "none"


def _user_row(user: User) -> list[str]:
    return [user.id, user.name or "", user.email or "", user.username or "",
            "" if user.active else "(deactivated)"]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
