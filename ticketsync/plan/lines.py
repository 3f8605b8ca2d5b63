"""What each change of a plan says, once for every format (the README's
"ticketsync plan").

The text plan, the GitHub annotations and the Markdown comment show the same entries: a
head (``~ update KEY``) and one detail per field with its values (:mod:`.values`). Which
kind a ticket is follows :func:`~ticketsync.plan.saved.summary_counts`, so the lines and
the counts agree, under ``apply --overwrite`` too: a ticket with a conflict is sent whole
or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ticketsync.declare.directory import Directory, quoted
from ticketsync.model import Action, FieldValues, Import, Location, Plan, Removal, Update
from ticketsync.plan.values import CONFLICT, DRIFT, HELD, OVERWRITE, UPDATE, cut, label, phrase

#: A title longer than this is cut in a line.
TITLE_CHARS = 120


@dataclass(frozen=True)
class Entry:
    """One ticket's line and its details.

    ``sign`` and ``verb`` open the line (``~ update``), ``note`` follows the key (a quoted
    title, a reason), ``details`` are ``(label, text)`` pairs shown indented below it;
    (an empty label: a sentence of its own); ``level`` is the GitHub annotation's
    (``notice`` or ``warning``).
    """

    sign: str
    verb: str
    key: str
    note: str = ""
    details: tuple[tuple[str, str], ...] = ()
    level: str = "notice"
    location: Location | None = None
    number: str | None = None
    url: str | None = None
    title: str = ""

    @property
    def head(self) -> str:
        return f"{self.verb} {self.key}{self.note}"


def title(text: str) -> str:
    """A title as lines show it: quoted, escaped, cut (nothing in it can end the line)."""
    return quoted(cut(text, TITLE_CHARS))


def _values(update: Update) -> dict[str, FieldValues]:
    found = {v.field: v for v in update.values}
    # A plan made before values were kept (a test's, or a hand-made one) names the fields.
    for name in (*update.fields, *update.conflicts, *update.fixed):
        found.setdefault(name, FieldValues(name))
    return found


def _details(update: Update, how: dict[str, str], directory: Directory | None
             ) -> tuple[tuple[str, str], ...]:
    values = _values(update)
    return tuple((label(name, values[name]), phrase(values[name], how[name], directory))
                 for name in sorted(how))


def sent(plan: Plan, u: Update) -> tuple[str, ...]:
    """The fields of ``u`` that apply sends (none while a conflict holds the ticket back)."""
    if not plan.updates_enabled or (u.conflicts and not plan.overwrite):
        return ()
    return u.fields + (u.conflicts if plan.overwrite else ())


def update_entries(plan: Plan, u: Update, directory: Directory | None) -> list[Entry]:
    """The entries of one update: what is sent, what waits with a conflict, and what
    StackOne cannot change."""
    base = Entry("", "", u.key, location=u.location, number=u.number, url=u.url, title=u.title)
    found = []
    if not plan.updates_enabled:
        how = dict.fromkeys(u.fields, UPDATE) | dict.fromkeys(u.conflicts, CONFLICT)
        if how:
            found.append(replace(base, sign="!", verb="changed",
                                 note=" (not applied: updates are off)",
                                 details=_details(u, how, directory)))
        return found
    if u.conflicts and not plan.overwrite:
        how = dict.fromkeys(u.fields, HELD) | dict.fromkeys(u.conflicts, CONFLICT)
        found.append(replace(base, sign="!", verb="conflict", note=(
            " (changed in the files and in the tracker: nothing is sent for this ticket "
            "unless apply --overwrite)"), details=_details(u, how, directory), level="warning"))
    elif u.fields or u.conflicts:
        how = dict.fromkeys(u.fields, UPDATE) | dict.fromkeys(u.conflicts, OVERWRITE)
        note = " (closed by `removed: close`, declared again)" if u.reopen else ""
        found.append(replace(base, sign="~", verb="reopen" if u.reopen else "update", note=note,
                             details=_details(u, how, directory)))
    if u.fixed:
        found.append(replace(base, sign="!", verb="cannot update", note=(
            " (StackOne cannot change it once the ticket exists)"), level="warning",
            details=_details(u, dict.fromkeys(u.fixed, UPDATE), directory)))
    return found


def renames(plan: Plan) -> dict[str, str]:
    """Undeclared tracked keys whose title a create reuses (old key -> new key): most
    likely a key renamed in a file without telling the state, which would close (or
    leave) the ticket and create another."""
    created: dict[str, str] = {}
    for c in plan.creates:
        created.setdefault(c.title, c.key)
    return {r.key: created[r.title] for r in plan.removals
            if r.title and r.title in created and r.action != Action.FORGET}


_REMOVALS = {
    Action.CLOSE: ("-", ""),
    Action.FORGET: ("-", " (dropped from the state; the ticket is left as it is)"),
    Action.SETTLE: ("=", " (closed or deleted in the tracker already: recorded as closed, "
                         "nothing is sent)"),
    Action.KEEP: ("?", " (in the state but declared in no file; left alone)"),
}
_VERBS = {Action.KEEP: "untracked"}


def removal_entry(r: Removal, renamed: dict[str, str]) -> Entry:
    sign, note = _REMOVALS[r.action]
    details: list[tuple[str, str]] = []
    if r.action == Action.CLOSE and r.status:
        details.append(("status", f"{quoted(cut(r.status))} -> a closed status"))
    new = renamed.get(r.key)
    if new is not None:
        details.append(("", f"renamed to {new}? `ticketsync state mv {r.key} {new}` keeps "
                            f"this ticket instead of creating another with its title"))
    return Entry(sign, _VERBS.get(r.action, r.action), r.key, f"  {title(r.title)}{note}",
                 tuple(details), "warning" if new is not None else "notice", None, r.number,
                 r.url, r.title)


def removal_entries(plan: Plan, actions: Iterable[Action]) -> list[Entry]:
    renamed = renames(plan)
    wanted = set(actions)
    return [removal_entry(r, renamed) for r in plan.removals if r.action in wanted]


def drift_entries(plan: Plan, directory: Directory | None) -> list[Entry]:
    found = []
    for d in plan.drift:
        base = Entry("?", "", d.key, location=d.location, number=d.number, url=d.url,
                     title=d.title)
        if d.deleted:
            found.append(replace(base, verb="deleted", note=(
                ": deleted in the tracker; not re-created "
                f"(`ticketsync state rm {d.key}` to create it again)")))
            continue
        if d.fields:
            values = {v.field: v for v in d.values}
            details = tuple((label(f, values.get(f, FieldValues(f))),
                             phrase(values.get(f, FieldValues(f)), DRIFT, directory))
                            for f in d.fields)
            found.append(replace(base, verb="drift", details=details,
                                 note=" (edited in the tracker; left as it is)"))
        if d.closed:
            status = f" ({quoted(cut(d.status))})" if d.status else ""
            found.append(replace(base, verb="closed",
                                 note=f": closed in the tracker{status}; left as it is"))
    return found


#: A ticket number shown as it is; any other is quoted and escaped (it is the tracker's).
_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#/-]{0,79}")


def _number(text: str) -> str:
    return text if _PLAIN_NUMBER.fullmatch(text) else quoted(cut(text, 80))


def import_entry(item: Import) -> Entry:
    """``< import KEY (NUMBER)``: an existing ticket tracked as a declared key (the README's "Moves
    and imports, declared"); its updates follow it. Not read yet (offline), it says when they are
    known."""
    details: tuple[tuple[str, str], ...] = ()
    if item.id is None or not item.title:
        details = (("", "its field changes are known once it is read (`ticketsync plan "
                        "--refresh`; apply reads it first)"),)
    return Entry("<", "import", item.key, f" ({_number(item.label)})", details,
                 location=item.location, number=item.number, title=item.title)


def adoption_entries(plan: Plan, directory: Directory | None = None) -> list[Entry]:
    """The declared moves (``> move OLD -> NEW``: nothing is sent), then each import
    followed by its ticket's updates."""
    found = [Entry(">", "move", f"{m.source} -> {m.target}", location=m.location)
             for m in plan.moves]
    for item in plan.imports:
        found.append(import_entry(item))
        found += [e for u in plan.updates if u.key == item.key
                  for e in update_entries(plan, u, directory)]
    return found


def change_entries(plan: Plan, directory: Directory | None = None) -> list[Entry]:
    """Every entry but the creates, in the plan's order: moves and imports (each with its
    updates), updates, closes, forgets and settles, drift, then the undeclared tickets
    left alone."""
    imported = {item.key for item in plan.imports}
    found = adoption_entries(plan, directory)
    found += [e for u in plan.updates if u.key not in imported
              for e in update_entries(plan, u, directory)]
    found += removal_entries(plan, (Action.CLOSE, Action.FORGET, Action.SETTLE))
    found += drift_entries(plan, directory)
    found += removal_entries(plan, (Action.KEEP,))
    return found
