"""A :class:`Plan` as text for people, JSON for scripts, Markdown for pull requests, and
GitHub Actions annotations. Pure string functions: the CLI decides where they go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ticketsync.declare.directory import Directory
from ticketsync.declare.refs import cited
from ticketsync.model import Action, Create, Location, Plan, Problem
from ticketsync.plan import references
from ticketsync.plan.build import over_max_creates, over_max_removals, removal_count
from ticketsync.plan.lines import Entry, change_entries, renames, sent, title
from ticketsync.plan.saved import dump_plan, summary_counts
from ticketsync.plan.values import REFERENCES, cut

__all__ = ["REFERENCES", "github_escape", "render_github", "render_json", "render_markdown",
           "render_text"]

#: GitHub refuses comments over 65,536 characters; stay well under (the README's "Commands":
#: 60,000).
MARKDOWN_LIMIT = 60_000
#: A title longer than this is cut in a Markdown table cell.
_CELL_TITLE = 200


def summary_line(plan: Plan) -> str:
    """``Plan: N to create, M to update, ... K unchanged.`` or ``No changes.`` (the README's
    "Commands").

    Closes, forgets and conflicts are named only when there are some, so the line of a
    plan that only creates reads as it always did.
    """
    counts = summary_counts(plan)
    pending = counts["changed_not_applied"]
    if not plan.has_changes and not pending and not counts["conflict"] and not counts["fixed"]:
        return "No changes."
    update = f"{counts['update']} to update"
    if counts["overwrite"]:
        update += f" ({counts['overwrite']} over a tracker edit)"
    parts = [f"{counts['create']} to create", update]
    parts += [f"{counts[kind]} {label}" for kind, label in (
        ("move", "to move"), ("import", "to import"), ("close", "to close"),
        ("forget", "to forget"), ("settle", "to settle"),
        ("conflict", "in conflict"), ("fixed", "not updatable")) if counts[kind]]
    line = f"Plan: {', '.join(parts)}, {counts['unchanged']} unchanged."
    if pending:
        line = line[:-1] + f"; {pending} changed but not applied (updates are off)."
    return line


def brake_message(plan: Plan) -> str:
    return (
        f"this plan creates {len(plan.creates)} tickets, more than max_creates "
        f"({plan.max_creates}): apply refuses it without --force"
    )


def removals_brake_message(plan: Plan) -> str:
    actions = {r.action for r in plan.removals} & {Action.CLOSE, Action.FORGET}
    verb = " or ".join(f"{a}s" if a == Action.FORGET else "closes" for a in sorted(actions))
    return (
        f"this plan {verb} {removal_count(plan)} tickets, more than max_removals "
        f"({plan.max_removals}): "
        "apply refuses it without --force"
    )


def moving(plan: Plan) -> int:
    """How many tickets the plan moves to another project (an update of ``project_id``)."""
    return sum(1 for u in plan.updates if "project_id" in sent(plan, u))


def moves_message(count: int) -> str:
    tickets = "1 ticket moves" if count == 1 else f"{count} tickets move"
    return (f"{tickets} to another project: check that the names in the files still mean "
            "what they did (a directory pull can change what a name means)")


def _by_origin(creates: Sequence[Create]) -> list[tuple[str | None, list[Create]]]:
    """The creates grouped as plans show them: declared tickets first, then each template
    instance's (``TEMPLATE.ITEM``), each group in plan order."""
    groups: dict[str | None, list[Create]] = {None: []}
    for create in creates:
        groups.setdefault(create.origin, []).append(create)
    return [(origin, found) for origin, found in groups.items() if found]


def _text_entry(entry: Entry) -> list[str]:
    return [f"{entry.sign} {entry.head}"] + [
        f"    {name}: {text}" if name else f"    {text}" for name, text in entry.details]


def _citing(c: Create, order: references.Order) -> list[str]:
    """Below a create, the tickets of the plan its text cites (README: references): keys only
    (a key cannot hold a quote or a newline, so no text can forge this line)."""
    later = sorted(order.later.get(c.key, ()))
    waits = order.waits.get(c.key, frozenset())
    first = sorted(k for k in cited(c.body, waits) if k in waits)
    lines = []
    if first:
        lines.append(f"    (references {', '.join(first)}: filled in after "
                     f"{'it is' if len(first) == 1 else 'they are'} created)")
    if later:
        lines.append(f"    (references {', '.join(later)}: a cycle, filled in by an update "
                     "right after the creates)")
    return lines


def _text_lines(plan: Plan, directory: Directory | None = None) -> list[str]:
    lines: list[str] = []
    order = references.order({c.key: c for c in plan.creates})
    for origin, creates in _by_origin(plan.creates):
        if origin is not None:
            template, item = origin.split(".", 1)
            kind = "period" if template in plan.recurring else "item"
            lines.append(f"  from template {template}, {kind} {item}:")
        for c in creates:
            lines += [f"+ create {c.key}  {title(c.title)}", *_citing(c, order)]
    for entry in change_entries(plan, directory):
        lines += _text_entry(entry)
    if any(r.action == Action.KEEP for r in plan.removals):
        lines.append(
            "  (if a ticket was renamed, run `ticketsync state mv OLD NEW`; to forget one, "
            "`ticketsync state rm KEY`; `removed:` in ticketsync.yaml can close or forget them)"
        )
    if over_max_creates(plan):
        lines.append(f"! max_creates: {brake_message(plan)}")
    if over_max_removals(plan):
        lines.append(f"! max_removals: {removals_brake_message(plan)}")
    if moving(plan):
        lines.append(f"! {moves_message(moving(plan))}")
    return lines


def render_text(plan: Plan, directory: Directory | None = None) -> str:
    """The plan as ``ticketsync plan`` prints it: a line per ticket, and below each change
    a line per field with its values (``directory``: ids shown by name too)."""
    lines = _text_lines(plan, directory)
    if lines:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    """The plan document (``schemas/plan.schema.json``), deterministic."""
    return dump_plan(plan)


# --- Markdown --------------------------------------------------------------------------


#: What Markdown (GitHub's, GitLab's) may read as markup, HTML, an entity, math or a
#: mention inside a table cell: each is written backslash-escaped, which CommonMark shows
#: as the character itself.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~&$@])")


def _cell(text: str, limit: int = _CELL_TITLE) -> str:
    """``text`` as the plain text of a table cell: the one escaper of Markdown prose.

    Titles and names are untrusted: a newline would end the row, a pipe the cell, and
    ``<b>``, ``[x](y)``, ``*`` or ``$`` would become markup. So every character that is not
    printable becomes a space and every markup character is backslash-escaped.
    """
    text = "".join(char if char.isprintable() else " " for char in cut(text, limit))
    return _MARKUP.sub(r"\\\1", text)


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _where(location: Location | None) -> str:
    return _code(f"{location.file}:{location.line}") if location else ""


#: A link target taken as it is: http(s), nothing that could end the link or the cell.
_URL = re.compile(r"https?://[^\s<>\"'`|\\()\[\]{}]+")


def _ticket(key: str, number: str | None, url: str | None) -> str:
    """A tracked ticket's key, with its number as a link when known (the README's "Keeping tickets
    in step")."""
    if number and url and _URL.fullmatch(url):
        return f"{_code(key)} ([{_cell(number, 40)}]({url}))"
    if number:
        return f"{_code(key)} ({_cell(number, 40)})"
    return _code(key)


def _code_cell(text: str) -> str:
    """``text`` as code in a table cell: the escaper of values (already quoted and
    escaped by :mod:`.values`). A fence longer than any run of backticks in it, pipes
    escaped (GitHub splits cells before it reads code), one line; HTML in a code span is
    shown, never read."""
    text = "".join(char if char.isprintable() else " " for char in text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest or text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _warnings(plan: Plan) -> list[str]:
    """What a reviewer must not miss: the brakes, and tickets moving between projects."""
    found = [brake_message(plan)] if over_max_creates(plan) else []
    if over_max_removals(plan):
        found.append(removals_brake_message(plan))
    if moving(plan):
        found.append(moves_message(moving(plan)))
    renamed = renames(plan)
    if renamed:
        found.append(f"{len(renamed)} to create {'has' if len(renamed) == 1 else 'have'} the "
                     "title of a ticket declared in no file: a renamed key makes a new ticket "
                     "unless the state is told (`ticketsync state mv OLD NEW`)")
    return found


#: The sections of changes: the entries' verbs, the heading, and the table's shape.
_SECTIONS = (
    (("move",), "To move (`moved:`: the state entry is renamed; nothing is sent)", "removals"),
    (("import",), "To import (`imports:`: an existing ticket, tracked as a declared key; "
     "its updates are under To update)", "removals"),
    (("update", "reopen"), "To update", "fields"),
    (("changed",), "Changed, not applied (updates are off)", "fields"),
    (("conflict",), "Conflicts: changed in the files and in the tracker (nothing is sent for "
     "these tickets; `apply --overwrite` sends the files' values)", "fields"),
    (("cannot update",), "Cannot be updated through StackOne", "fields"),
    (("close",), "To close (declared in no file; `removed: close`)", "removals"),
    (("forget",), "To forget (declared in no file; `removed: forget`)", "removals"),
    (("settle",), "To settle (declared in no file, closed or deleted in the tracker "
     "already; nothing is sent)", "removals"),
    (("drift", "closed", "deleted"), "Changed in the tracker, left as it is", "fields"),
    (("untracked",), "In the state but declared in no file, left alone (if a ticket was "
     "renamed, run `ticketsync state mv OLD NEW`; to forget one, `ticketsync state rm KEY`)",
     "removals"),
)
#: A ticket shows at most this many fields in a comment; the rest are counted.
_FIELD_ROWS = 20


def _field_rows(entry: Entry) -> list[str]:
    """A row per field of ``entry``, its values in code (shown, never read as markup); the
    ticket and its declaration on the first row only."""
    ticket, where = _ticket(entry.key, entry.number, entry.url), _where(entry.location)
    if not entry.details:  # closed or deleted there: the line's own words
        return [f"| {ticket} |  | {_cell(entry.note.lstrip(': '), 400)} | {where} |"]
    rows = []
    for name, text in entry.details[:_FIELD_ROWS]:
        rows.append(f"| {ticket} | {_code_cell(name)} | {_code_cell(text)} | {where} |")
        ticket = where = ""
    if len(entry.details) > _FIELD_ROWS:
        rows.append(f"|  | … and {len(entry.details) - _FIELD_ROWS} more fields |  |  |")
    return rows


def _removal_rows(entry: Entry) -> list[str]:
    details = "<br>".join(
        f"{_code_cell(name)}: {_code_cell(text)}" if name else text  # text: ours, keys only
        for name, text in entry.details)
    return [f"| {_ticket(entry.key, entry.number, entry.url)} | {_cell(entry.title)} | "
            f"{details} |"]


def _markdown(plan: Plan, limit: int | None, *, tree: str = "",
              heading: str = "## ticketsync plan", level: int = 3,
              directory: Directory | None = None) -> str:
    """The comment with at most ``limit`` rows per section (None: all).

    ``tree``: a block shown after the table of creates (the Mermaid diagram);
    ``heading`` and ``level`` (of the sections) let a section per project nest it.
    """
    h = "#" * level

    def cut(count: int) -> int:
        return count if limit is None else min(count, limit)

    def more(count: int, noun: str) -> list[str]:
        shown = cut(count)
        if shown == count:
            return []
        return ["", f"… and {count - shown} more {noun} (see `ticketsync plan --format json`)."]

    out = [heading, "", f"**{summary_line(plan)}**"]
    for warning in _warnings(plan):
        out += ["", f"> [!WARNING]\n> {warning}"]
    if not plan.refreshed and (plan.updates or plan.drift or plan.removals):
        out += ["", "_Not read back from the tracker: edits made there since the last apply "
                "are not shown (`ticketsync plan --refresh`)._"]
    elif plan.refreshed:
        out += ["", "_Read back in full from the tracker: deleted tickets are shown too._"
                if plan.full_refresh else "_Read back from the tracker: what changed there "
                "since the last read-back (a deletion shows with `plan --refresh=full`)._"]
    if plan.creates:
        templated = any(c.origin is not None for c in plan.creates)
        out += ["", f"{h} To create ({len(plan.creates)})", "",
                "| key | title | parent | status | declared in |"
                + (" template, item |" if templated else ""),
                "| --- | --- | --- | --- | --- |" + (" --- |" if templated else "")]
        shown = [c for _, group in _by_origin(plan.creates) for c in group]
        for c in shown[: cut(len(plan.creates))]:
            parent = _code(c.parent) if c.parent else ""
            status = _cell(c.status, 60) if c.status else ""
            origin = ""
            if templated:
                origin = f" {_cell(c.origin.replace('.', ', ', 1), 80)} |" if c.origin else " |"
            out.append(f"| {_code(c.key)} | {_cell(c.title)} | {parent} | {status} | "
                       f"{_where(c.location)} |{origin}")
        out += more(len(plan.creates), "to create")
        if tree:
            out += ["", tree]
    entries = change_entries(plan, directory)
    for verbs, title_, table in _SECTIONS:
        found = [e for e in entries if e.verb in verbs]
        if not found:
            continue
        out += ["", f"{h} {title_} ({len(found)})", ""]
        if table == "fields":
            out += ["| ticket | field | values | declared in |", "| --- | --- | --- | --- |"]
        else:
            out += ["| ticket | title | details |", "| --- | --- | --- |"]
        for entry in found[: cut(len(found))]:
            out += (_field_rows if table == "fields" else _removal_rows)(entry)
        out += more(len(found), "tickets")
    return "\n".join(out) + "\n"


def render_markdown(
    plan: Plan,
    *,
    max_chars: int = MARKDOWN_LIMIT,
    diagram: bool = False,
    heading: str = "## ticketsync plan",
    level: int = 3,
    directory: Directory | None = None,
) -> str:
    """The plan as a pull-request comment, summarised to stay under ``max_chars``.

    ``diagram``: also show the tree of the tickets to create as a Mermaid diagram (when
    some have a parent), within a share of ``max_chars``. ``heading`` and ``level`` nest
    the comment as one project's section of a larger one. ``directory``: ids shown by name.
    """
    tree = _tree_block(plan, min(MERMAID_CHARS, max_chars // 3)) if diagram else ""

    def markdown(limit: int | None) -> str:
        return _markdown(plan, limit, tree=tree, heading=heading, level=level,
                         directory=directory)

    full = markdown(None)
    if len(full) < max_chars:
        return full
    # The largest per-section row count that fits: rows are bounded (titles are cut), so
    # a binary search over it converges in a few renderings.
    low, high = 0, max(len(plan.creates), len(plan.updates), len(plan.removals),
                       len(plan.drift))
    while low < high:
        mid = (low + high + 1) // 2
        if len(markdown(mid)) < max_chars:
            low = mid
        else:
            high = mid - 1
    return markdown(low)


def _failed_block(error: str, limit: int = 4_000) -> str:
    """A project whose plan failed: its error in a code block no text can close."""
    if len(error) > limit:
        error = error[: limit - 1] + "…"
    longest = max((len(run) for run in re.findall(r"`+", error)), default=0)
    fence = "`" * max(3, longest + 1)
    return ("> [!CAUTION]\n> This project could not be planned; fix this and push again:\n\n"
            f"{fence}text\n{error}\n{fence}\n")


def render_markdown_projects(
    projects: Sequence[tuple[str, Plan | str]], *, summary: str,
    max_chars: int = MARKDOWN_LIMIT, directories: Mapping[str, Directory | None] | None = None,
) -> str:
    """Several projects' plans as one pull-request comment, a section each, under
    ``max_chars`` in all. A ``str`` instead of a plan is the error that stopped it.
    ``directories``: by project name, the directory that shows a plan's ids by name.

    One project gets the comment of a lone project, titled with its folder unless it is
    the working folder (``.``), so that a repository of one project reads as it did.
    """
    if len(projects) == 1:
        name, item = projects[0]
        heading = "## ticketsync plan" + (f": {_code(name)}" if name != "." else "")
        if isinstance(item, str):
            return f"{heading}\n\n{_failed_block(item)}"
        return render_markdown(item, max_chars=max_chars, diagram=True, heading=heading,
                               directory=(directories or {}).get(name))
    head = f"## ticketsync plan\n\n**{_cell(summary, 2_000)}**\n"
    share = (max_chars - len(head)) // max(1, len(projects)) - 2
    sections = [head]
    for name, item in projects:
        heading = f"### {_code(name)}"
        if isinstance(item, str):
            sections.append(f"{heading}\n\n{_failed_block(item, min(4_000, share // 2))}")
        else:
            sections.append(render_markdown(item, max_chars=share, diagram=True,
                                            heading=heading, level=4,
                                            directory=(directories or {}).get(name)))
    return "\n".join(sections)


# --- Mermaid ---------------------------------------------------------------------------

#: A diagram shows at most this many tickets; the rest are counted in one last node.
MERMAID_NODES = 300
#: The diagram's share of a Markdown comment, in characters (GitHub's Mermaid also stops
#: at 50,000).
MERMAID_CHARS = 20_000
#: A title longer than this is cut in a node.
_NODE_TITLE = 60
#: What a node label keeps as it is; every other character becomes a Mermaid entity code
#: (``#60;``), so that no title can close the label, the code block or inject HTML.
_LABEL_SAFE = frozenset(" .,:/_-'?!+=@()")


def _label(text: str) -> str:
    """``text`` as the inside of a quoted Mermaid label: titles are untrusted input."""
    out = []
    for char in text:
        if (char.isalnum() and char.isprintable()) or char in _LABEL_SAFE:
            out.append(char)
        elif char.isspace() or not char.isprintable():
            out.append(" ")  # newlines, tabs, line separators, control characters
        else:
            out.append(f"#{ord(char)};")  # quotes, brackets, backticks, <, >, &, #, ;
    return " ".join("".join(out).split())


def _node_text(key: str, title: str) -> str:
    if len(title) > _NODE_TITLE:
        title = title[: _NODE_TITLE - 1] + "…"
    return f'"{_label(key)}<br/>{_label(title)}"' if title else f'"{_label(key)}"'


def _in_a_tree(plan: Plan) -> set[str]:
    """The keys of the creates that have a parent or a child (not the lone ones)."""
    keys = {c.key for c in plan.creates}
    linked: set[str] = set()
    for c in plan.creates:
        if c.parent is not None and c.parent in keys:
            linked.update((c.key, c.parent))
        elif c.body.get("parent_id"):
            linked.add(c.key)
    return linked


def mermaid_lines(plan: Plan, *, max_nodes: int = MERMAID_NODES, prefix: str = "n",
                  indent: str = "    ") -> list[str]:
    """The statements of the tree of tickets to create (without ``flowchart``), so that
    several projects' trees can share one diagram (``prefix`` keeps their ids apart).

    Tickets in a tree come first, then lone ones, in the plan's order (parents before
    children), so any prefix of that order holds every shown ticket's parents: past
    ``max_nodes`` tickets, one last node counts the rest. A parent that is already
    tracked shows as a dashed node with its id; a template's instances form a subgraph.
    """
    linked = _in_a_tree(plan)
    ordered = [c for c in plan.creates if c.key in linked]
    ordered += [c for c in plan.creates if c.key not in linked]
    shown = ordered[:max_nodes]
    ids = {c.key: f"{prefix}{i}" for i, c in enumerate(shown)}
    tracked: dict[str, str] = {}
    nodes: dict[str | None, list[str]] = {}
    edges: list[str] = []
    for c in shown:
        nodes.setdefault(c.origin, []).append(f"{ids[c.key]}[{_node_text(c.key, c.title)}]")
        parent_id = c.body.get("parent_id")
        if c.parent is not None and c.parent in ids:
            edges.append(f"{ids[c.parent]} --> {ids[c.key]}")
        elif isinstance(parent_id, str) and parent_id:
            if parent_id not in tracked:
                tracked[parent_id] = f"{prefix}t{len(tracked)}"
            edges.append(f"{tracked[parent_id]} -.-> {ids[c.key]}")
    lines = [f"{node}:::tracked" for node in (
        f'{node_id}["{_label(parent_id)}<br/>already tracked"]'
        for parent_id, node_id in tracked.items())]
    lines += nodes.pop(None, [])
    for number, (group, members) in enumerate(nodes.items()):
        if len(members) == 1:
            lines += members
            continue
        lines.append(f'subgraph {prefix}g{number}["{_label(str(group))}"]')
        lines += [f"{indent}{member}" for member in members]
        lines.append("end")
    if len(ordered) > len(shown):
        rest = len(ordered) - len(shown)
        lines.append(f'{prefix}more["… and {rest} more to create"]:::more')
    if not plan.creates:
        lines.append(f'{prefix}none["Nothing to create"]:::more')
    return [indent + line for line in lines + edges]


#: The styles of the diagram: dashed tracked parents, a plain "more" node.
_CLASSES = ["    classDef tracked stroke-dasharray: 4 4", "    classDef more fill:none,stroke:none"]


def render_mermaid(plan: Plan, *, max_nodes: int = MERMAID_NODES) -> str:
    """The tree of the tickets to create as a Mermaid flowchart (``plan --format mermaid``),
    for GitHub and GitLab, which draw ```` ```mermaid ```` blocks in comments."""
    return "\n".join(["flowchart LR", *_CLASSES, *mermaid_lines(plan, max_nodes=max_nodes)]) + "\n"


def render_mermaid_projects(plans: Sequence[tuple[str, Plan]], *,
                            max_nodes: int = MERMAID_NODES) -> str:
    """One flowchart holding a subgraph per project (``plan --projects --format mermaid``)."""
    lines = ["flowchart LR", *_CLASSES]
    budget = max(1, max_nodes // max(1, len(plans)))
    for number, (name, plan) in enumerate(plans):
        lines.append(f'    subgraph p{number}["{_label(name)}"]')
        lines += mermaid_lines(plan, max_nodes=budget, prefix=f"p{number}n", indent="        ")
        lines.append("    end")
    return "\n".join(lines) + "\n"


def _tree_block(plan: Plan, max_chars: int) -> str:
    """The Markdown block of the diagram, at most ``max_chars`` long; "" without a tree."""
    if not _in_a_tree(plan):
        return ""

    def block(nodes: int) -> str:
        return f"```mermaid\n{render_mermaid(plan, max_nodes=nodes)}```"

    if len(block(MERMAID_NODES)) <= max_chars:
        return block(MERMAID_NODES)
    low, high = 0, MERMAID_NODES  # the most tickets whose diagram fits (0: none does)
    while low < high:
        mid = (low + high + 1) // 2
        if len(block(mid)) <= max_chars:
            low = mid
        else:
            high = mid - 1
    return block(low) if low else ""


# --- GitHub Actions --------------------------------------------------------------------


def github_escape(text: str) -> str:
    """``text`` as a GitHub workflow command's message (one line: ``%``, CR, LF escaped);
    every annotation ticketsync prints goes through here."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return github_escape(text).replace(":", "%3A").replace(",", "%2C")


def _gh(level: str, location: Location | None, message: str, *, col: bool = False) -> str:
    where = ""
    if location is not None:
        where = f" file={_gh_prop(location.file)},line={location.line}"
        if col:
            where += f",col={location.col}"
    return f"::{level}{where}::{github_escape(message)}"


def render_problems_github(problems: Iterable[Problem]) -> str:
    """``::error file=F,line=L,col=C::PATH: MESSAGE`` for each problem with the input."""
    return "".join(
        _gh(
            "error",
            p.location,
            f"{p.path}: {p.message}" if p.path else p.message,
            col=True,
        )
        + "\n"
        for p in problems
    )


def render_github(plan: Plan, directory: Directory | None = None) -> str:
    """Workflow commands that GitHub Actions shows as annotations on the ticket files: one
    per ticket, its fields and values on the lines of the annotation.

    Every message goes through :func:`github_escape`, which encodes newlines and carriage
    returns: nothing in a title or value can begin a line of the log, so none can become
    a workflow command (``::add-mask``, ``::stop-commands``) the runner would execute.
    """
    lines = [_gh("notice", c.location, f"create {c.key} {title(c.title)}")
             for c in plan.creates]
    for entry in change_entries(plan, directory):
        message = "\n".join([entry.head] + [f"  {name}: {text}" if name else f"  {text}"
                                            for name, text in entry.details])
        lines.append(_gh(entry.level, entry.location, message))
    lines += [_gh("warning", None, warning) for warning in _warnings(plan)]
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"
