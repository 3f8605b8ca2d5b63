"""A :class:`Plan` as text for people, JSON for scripts, Markdown for pull requests, and
GitHub Actions annotations. Pure string functions: the CLI decides where they go.
"""

from __future__ import annotations

from collections.abc import Iterable

from ticketsync.model import Location, Plan, Problem
from ticketsync.plan import over_max_creates
from ticketsync.planfile import dump_plan

#: GitHub refuses comments over 65,536 characters; stay well under (SPEC §2: 60,000).
MARKDOWN_LIMIT = 60_000
#: A title longer than this is cut in a Markdown table cell.
_CELL_TITLE = 200


def summary_line(plan: Plan) -> str:
    """``Plan: N to create, M to update, K unchanged.`` or ``No changes.`` (SPEC §2)."""
    applied = len(plan.updates) if plan.updates_enabled else 0
    pending = len(plan.updates) - applied
    if not plan.has_changes and not pending:
        return "No changes."
    line = f"Plan: {len(plan.creates)} to create, {applied} to update, {plan.unchanged} unchanged."
    if pending:
        line = line[:-1] + f"; {pending} changed but not applied (updates are off)."
    return line


def brake_message(plan: Plan) -> str:
    return (
        f"this plan creates {len(plan.creates)} tickets, more than max_creates "
        f"({plan.max_creates}): apply refuses it without --force"
    )


def render_text(plan: Plan) -> str:
    """The plan as ``ticketsync plan`` prints it."""
    lines: list[str] = []
    for create in plan.creates:
        lines.append(f'+ create {create.key}  "{create.title}"')
    for update in plan.updates:
        fields = ", ".join(update.fields)
        if plan.updates_enabled:
            lines.append(f"~ update {update.key}: {fields}")
        else:
            lines.append(f"! changed {update.key}: {fields} (not applied: updates are off)")
    for key in plan.undeclared:
        lines.append(f"? untracked {key}: in the state but declared in no file; left alone")
    if plan.undeclared:
        lines.append(
            "  (if a ticket was renamed, run `ticketsync state mv OLD NEW`; to forget one, "
            "`ticketsync state rm KEY`)"
        )
    if over_max_creates(plan):
        lines.append(f"! max_creates: {brake_message(plan)}")
    if lines:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    """The plan document (``schemas/plan.schema.json``), deterministic."""
    return dump_plan(plan)


# --- Markdown --------------------------------------------------------------------------


def _cell(text: str, limit: int = _CELL_TITLE) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # A pipe ends a cell and a newline a row; backslash-escape the one, flatten the other.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _where(location: Location | None) -> str:
    return _code(f"{location.file}:{location.line}") if location else ""


def _markdown(plan: Plan, limit: int | None) -> str:
    """The comment with at most ``limit`` rows per section (None: all)."""

    def cut(count: int) -> int:
        return count if limit is None else min(count, limit)

    def more(count: int, noun: str) -> list[str]:
        shown = cut(count)
        if shown == count:
            return []
        return ["", f"… and {count - shown} more {noun} (see `ticketsync plan --format json`)."]

    out = ["## ticketsync plan", "", f"**{summary_line(plan)}**"]
    if over_max_creates(plan):
        out += ["", f"> [!WARNING]\n> {brake_message(plan)}"]
    if plan.creates:
        out += ["", f"### To create ({len(plan.creates)})", "",
                "| key | title | parent | declared in |", "| --- | --- | --- | --- |"]
        for c in plan.creates[: cut(len(plan.creates))]:
            parent = _code(c.parent) if c.parent else ""
            out.append(f"| {_code(c.key)} | {_cell(c.title)} | {parent} | {_where(c.location)} |")
        out += more(len(plan.creates), "to create")
    if plan.updates:
        heading = "To update" if plan.updates_enabled else "Changed, not applied (updates are off)"
        out += ["", f"### {heading} ({len(plan.updates)})", "",
                "| key | id | changed fields | declared in |", "| --- | --- | --- | --- |"]
        for u in plan.updates[: cut(len(plan.updates))]:
            fields = ", ".join(_code(f) for f in u.fields)
            out.append(f"| {_code(u.key)} | {_code(u.id)} | {fields} | {_where(u.location)} |")
        out += more(len(plan.updates), "changed")
    if plan.undeclared:
        out += ["", f"### In the state but declared in no file ({len(plan.undeclared)})", "",
                "Left alone. If a ticket was renamed, run `ticketsync state mv OLD NEW`; "
                "to forget one, `ticketsync state rm KEY`.", ""]
        out += [f"- {_code(key)}" for key in plan.undeclared[: cut(len(plan.undeclared))]]
        out += more(len(plan.undeclared), "undeclared")
    return "\n".join(out) + "\n"


def render_markdown(plan: Plan, *, max_chars: int = MARKDOWN_LIMIT) -> str:
    """The plan as a pull-request comment, summarised to stay under ``max_chars``."""
    full = _markdown(plan, None)
    if len(full) < max_chars:
        return full
    # The largest per-section row count that fits: rows are bounded (titles are cut), so
    # a binary search over it converges in a few renderings.
    low, high = 0, max(len(plan.creates), len(plan.updates), len(plan.undeclared))
    while low < high:
        mid = (low + high + 1) // 2
        if len(_markdown(plan, mid)) < max_chars:
            low = mid
        else:
            high = mid - 1
    return _markdown(plan, low)


# --- GitHub Actions --------------------------------------------------------------------


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _gh(level: str, location: Location | None, message: str, *, col: bool = False) -> str:
    where = ""
    if location is not None:
        where = f" file={_gh_prop(location.file)},line={location.line}"
        if col:
            where += f",col={location.col}"
    return f"::{level}{where}::{_gh_data(message)}"


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


def render_github(plan: Plan) -> str:
    """Workflow commands that GitHub Actions shows as annotations on the ticket files."""
    lines = [_gh("notice", c.location, f'create {c.key} "{c.title}"') for c in plan.creates]
    for u in plan.updates:
        fields = ", ".join(u.fields)
        if plan.updates_enabled:
            lines.append(_gh("notice", u.location, f"update {u.key}: {fields}"))
        else:
            message = f"changed {u.key}: {fields} (not applied: updates are off)"
            lines.append(_gh("notice", u.location, message))
    lines += [
        _gh("notice", None, f"{key} is in the state but declared in no file; left alone")
        for key in plan.undeclared
    ]
    if over_max_creates(plan):
        lines.append(_gh("warning", None, brake_message(plan)))
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"
