"""Names -> ids (the README's "Names: the directory"): every resolution rule, and every error with
its exact message and location, one fixture file per failure (tests/fixtures/names*/), plus the cost
rules: indexes built once, each distinct reference resolved once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ticketsync.declare.config import Config
from ticketsync.declare.directory import Component, Directory, Project, TicketType, User
from ticketsync.declare.hints import Hints
from ticketsync.declare.loader import load_project
from ticketsync.declare.names import Issue, Resolver
from ticketsync.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
NAMES = "tests/fixtures/names"
OFFLINE = "tests/fixtures/names-offline"


def _load(root: str, file: str) -> dict[str, dict[str, Any]]:
    project = load_project(Config(root=ROOT / root), [f"{root}/{file}"], cwd=ROOT)
    return {key: dict(ticket.body) for key, ticket in project.tickets.items()}


def _problems(root: str, file: str) -> list[str]:
    with pytest.raises(InputError) as info:
        _load(root, file)
    prefix = f"{root}/{file}:"
    assert all(str(p).startswith(prefix) for p in info.value.problems)
    return [str(p).removeprefix(prefix) for p in info.value.problems]


# -- every rule ------------------------------------------------------------------------------


def test_every_kind_of_name_resolves_to_its_id() -> None:
    bodies = _load(NAMES, "resolved.yaml")
    platform_incident = {"project_id": "project-001", "type": "ticket-type-101"}
    assert bodies["by-email"] == {  # emails ignore case
        "title": "People by email, any case", **platform_incident,
        "assignees": ["user-001"], "reporters": ["user-002"],
    }
    assert bodies["by-username"] == {  # so do usernames; creator -> creator_id
        "title": "People by username, any case", **platform_incident,
        "assignees": ["user-003"], "creator_id": "user-001",
    }
    assert bodies["by-display-name"]["assignees"] == ["user-002"]
    assert bodies["by-id"] == {  # ids go through as they are (checked to exist)
        "title": "Ids go through, checked", "project_id": "project-003",
        "type": "ticket-type-002", "creator_id": "user-002", "assignees": ["user-001"],
        "component_ids": ["component-006"],
    }
    assert bodies["components-by-name"]["component_ids"] == ["component-001", "component-002"]
    # type: the ticket's project first, then the account-wide types
    assert bodies["support-incident"]["type"] == "ticket-type-106"
    assert bodies["account-wide-type"]["type"] == "ticket-type-002"
    assert bodies["project-type-first"]["type"] == "ticket-type-104"
    assert bodies["own-types-none"]["type"] == "ticket-type-001"
    for body in bodies.values():  # only API fields are sent
        assert not {"project", "components", "creator"} & body.keys()


def test_without_a_project_one_match_across_the_account_is_it() -> None:
    bodies = _load(NAMES, "resolved-without-project.yaml")
    assert bodies["crash"] == {
        "title": "The one Crash type is Mobile's", "type": "ticket-type-103",
        "component_ids": ["component-006", "component-002"],
    }
    assert bodies["task"]["type"] == "ticket-type-001"


def test_without_a_directory_ids_and_usernames_go_out_as_written() -> None:
    assert _load(OFFLINE, "ids-without-directory.yaml")["a"] == {
        "title": "Ids and usernames go out as written", "project_id": "project-001",
        "type": "Bug", "assignees": ["user-001", "alice"], "component_ids": ["component-001"],
    }


def _directory(**records: Any) -> Directory:
    return Directory.of("acc-1", "2026-01-01T00:00:00Z", **records)


def test_an_id_wins_over_a_name() -> None:
    # A user whose display name is another user's id: the id is never ambiguous.
    resolver = Resolver(_directory(users=[User("u-1", "Ann"), User("u-2", "u-1")]))
    body: dict[str, Any] = {"assignees": ["u-1", "Ann"]}
    assert resolver.resolve(body) == []
    assert body["assignees"] == ["u-1", "u-1"]


def test_an_email_and_a_username_of_two_users_are_ambiguous() -> None:
    resolver = Resolver(_directory(users=[User("u-1", "A", "kim@x.io", "kim"),
                                          User("u-2", "B", "b@x.io", "kim@x.io")]))
    [issue] = resolver.resolve({"assignees": ["KIM@x.io"]})
    assert issue.message == (
        "'KIM@x.io' matches 2 users: u-1 (A, kim@x.io), u-2 (B, b@x.io); write the id of the one"
        " you mean"
    )


def test_two_emails_that_differ_only_in_case_advise_the_id() -> None:
    # "Write an email" is no advice when the email written is what matches both.
    resolver = Resolver(_directory(users=[User("u-1", "Kim A", "kim@x.io"),
                                          User("u-2", "Kim B", "Kim@x.io")]))
    [issue] = resolver.resolve({"assignees": ["kim@x.io"]})
    assert issue == Issue(("assignees", 0), (
        "'kim@x.io' matches 2 users whose emails differ only in case: u-1 (Kim A, kim@x.io),"
        " u-2 (Kim B, Kim@x.io); emails match whatever their case: write the id of the one you"
        " mean"
    ))


def test_a_user_without_any_name_is_named_by_id_only() -> None:
    resolver = Resolver(_directory(users=[User("u-1")]))
    assert resolver.resolve({"creator_id": "u-1"}) == []
    [issue] = resolver.resolve({"creator": "nobody"})
    assert issue.path == ("creator",)


def test_project_types_and_components_come_from_the_resolved_project() -> None:
    directory = _directory(
        projects=[Project("p1", "One"), Project("p2", "Two")],
        ticket_types=[TicketType("t1", "Bug", "p1"), TicketType("t2", "Bug", "p2")],
        components=[Component("c1", "UI", "p1"), Component("c2", "UI", "p2")],
    )
    body: dict[str, Any] = {"project": "Two", "type": "Bug", "components": ["UI"]}
    assert Resolver(directory).resolve(body) == []
    assert body == {"project_id": "p2", "type": "t2", "component_ids": ["c2"]}


# -- every error, located at its value ----------------------------------------------------



NAMED: dict[str, list[str]] = {
    "component-ids-is-a-name.yaml": [
        "5:21: error: tickets.a.component_ids[0]: 'Database' is not a component id: use"
        " 'components' for names ('components: [Database]'), or write the id 'component-002'",
    ],
    "component-ids-other-project.yaml": [
        "5:21: error: tickets.a.component_ids[0]: component 'component-006' is not in"
        ' project Platform (project-001): it is in Mobile (project-003)',
    ],
    "component-ids-unknown.yaml": [
        "5:21: error: tickets.a.component_ids[0]: 'component-099' is not a component id in"
        " the directory (did you mean 'component-002'?); if it is new, run `ticketsync"
        ' directory pull`',
    ],
    "component-no-match.yaml": [
        "5:23: error: tickets.a.components[1]: 'Databse' is not a component in the directory"
        " (did you mean 'Database'?); if it is new, run `ticketsync directory pull`",
    ],
    "component-other-project.yaml": [
        "5:18: error: tickets.a.components[0]: component 'iOS' is not in project Platform"
        ' (project-001): it is in Mobile (project-003)',
    ],
    "component-several-without-project.yaml": [
        "4:18: error: tickets.a.components[0]: 'API' matches 2 components: component-001"
        ' (Platform), component-008 (Mobile); give the ticket its project, or write the id'
        ' in component_ids',
    ],
    "components-and-component-ids.yaml": [
        "5:5: error: tickets.a.components: 'components' and 'component_ids' are exclusive:"
        ' give one of them',
        # The schema error hides nothing else (issue #19): the name is ambiguous too.
        "5:18: error: tickets.a.components[0]: 'API' matches 2 components: component-001"
        " (Platform), component-008 (Mobile); give the ticket its project, or write the id in"
        " component_ids",
    ],
    "creator-and-creator-id.yaml": [
        "5:5: error: tickets.a.creator_id: 'creator' and 'creator_id' are exclusive: give"
        ' one of them',
    ],
    "creator-deactivated.yaml": [
        "4:14: error: tickets.a.creator: 'dan' is a deactivated user: user-004 (Dan Evans,"
        ' dan@example.com); name an active user (if they are back, run `ticketsync directory'
        ' pull`)',
    ],
    "creator-id-is-a-name.yaml": [
        "4:17: error: tickets.a.creator_id: 'alice@example.com' is not a user id: use"
        " 'creator' for names ('creator: alice@example.com'), or write the id 'user-001'",
    ],
    "creator-id-unknown.yaml": [
        "4:17: error: tickets.a.creator_id: 'user-009' is not a user id in the directory"
        " (did you mean 'user-001'?); if they joined since the last pull, run `ticketsync"
        ' directory pull`',
    ],
    "defaults-unresolved.yaml": [
        "2:12: error: defaults.project: 'Platfrom' is not a project in the directory (did"
        " you mean 'Platform'?); if it is new, run `ticketsync directory pull`",
    ],
    "many-at-once.yaml": [
        "5:11: error: tickets.a.type: ticket type 'Incident' is not in project Mobile"
        ' (project-003): it is in Platform (project-001), Support (project-006)',
        "6:18: error: tickets.a.components[0]: 'Databse' is not a component in the directory"
        " (did you mean 'Database'?); if it is new, run `ticketsync directory pull`",
        "7:17: error: tickets.a.assignees[0]: 'Sam Lee' matches 2 users: user-005 (Sam Lee,"
        ' sam.lee@example.com), user-006 (Sam Lee, sam.lee2@example.com); write an email or'
        ' an id',
        "7:26: error: tickets.a.assignees[1]: 'dan@example.com' is a deactivated user:"
        ' user-004 (Dan Evans, dan@example.com); name an active user (if they are back, run'
        ' `ticketsync directory pull`)',
        "10:13: error: tickets.b.parent: 'nowhere' is not a declared ticket key",
    ],
    "project-and-project-id.yaml": [
        "5:5: error: tickets.a.project_id: 'project' and 'project_id' are exclusive: give"
        ' one of them',
    ],
    "project-id-is-a-name.yaml": [
        "4:17: error: tickets.a.project_id: 'Platform' is not a project id: use 'project'"
        " for names ('project: Platform'), or write the id 'project-001'",
    ],
    "project-id-unknown.yaml": [
        "4:17: error: tickets.a.project_id: 'project-999' is not a project id in the"
        ' directory; if it is new, run `ticketsync directory pull`',
    ],
    "project-no-match.yaml": [
        "4:14: error: tickets.a.project: 'Platfrom' is not a project in the directory (did"
        " you mean 'Platform'?); if it is new, run `ticketsync directory pull`",
    ],
    "project-several.yaml": [
        "4:14: error: tickets.a.project: 'Sandbox' matches 2 projects: project-005,"
        ' project-007; write project_id',
    ],
    "type-id-other-project.yaml": [
        "5:11: error: tickets.a.type: ticket type 'ticket-type-101' is not in project Mobile"
        ' (project-003): it is in Platform (project-001)',
    ],
    "type-no-match.yaml": [
        "5:11: error: tickets.a.type: 'Bgu' is not a ticket type in the directory (did you"
        " mean 'Bug'?); if it is new, run `ticketsync directory pull`",
    ],
    "type-other-project.yaml": [
        "5:11: error: tickets.a.type: ticket type 'Incident' is not in project Mobile"
        ' (project-003): it is in Platform (project-001), Support (project-006)',
    ],
    "type-several-in-project.yaml": [
        "5:11: error: tickets.a.type: 'Request' matches 2 ticket types in project Data"
        ' (project-004): ticket-type-141, ticket-type-142; write the id in type',
    ],
    "type-several-without-project.yaml": [
        "4:11: error: tickets.a.type: 'Incident' matches 2 ticket types: ticket-type-101"
        ' (Platform), ticket-type-106 (Support); give the ticket its project, or write the'
        ' id in type',
    ],
    "user-deactivated.yaml": [
        "4:17: error: tickets.a.assignees[0]: 'dan@example.com' is a deactivated user:"
        ' user-004 (Dan Evans, dan@example.com); name an active user (if they are back, run'
        ' `ticketsync directory pull`)',
    ],
    "user-name-case.yaml": [
        "4:17: error: tickets.a.assignees[0]: 'alice martin' is not a user in the directory"
        " (did you mean 'Alice Martin'?); if they joined since the last pull, run"
        ' `ticketsync directory pull`',
    ],
    "user-no-match.yaml": [
        "4:36: error: tickets.a.assignees[1]: 'alise@example.com' is not a user in the"
        " directory (did you mean 'alice@example.com'?); if they joined since the last pull,"
        ' run `ticketsync directory pull`',
    ],
    "user-several.yaml": [
        "4:17: error: tickets.a.reporters[0]: 'Sam Lee' matches 2 users: user-005 (Sam Lee,"
        ' sam.lee@example.com), user-006 (Sam Lee, sam.lee2@example.com); write an email or'
        ' an id',
    ],
    "user-substring.yaml": [
        "4:17: error: tickets.a.assignees[0]: 'Alice Mart' is not a user in the directory"
        " (did you mean 'Alice Martin'?); if they joined since the last pull, run"
        ' `ticketsync directory pull`',
    ],
}


WITHOUT_DIRECTORY: dict[str, list[str]] = {
    "components-without-directory.yaml": [
        "4:17: error: tickets.a.components: 'components' takes names, and names need the"
        ' directory file (tests/fixtures/names-offline/ticketsync.directory.json, not'
        " found): run `ticketsync directory pull`, or write 'component_ids' with ids",
    ],
    "creator-id-email-without-directory.yaml": [
        "4:17: error: tickets.a.creator_id: 'alice@example.com' is an email, and names need"
        ' the directory file (tests/fixtures/names-offline/ticketsync.directory.json, not'
        " found): run `ticketsync directory pull`, or write the user's id",
    ],
    "creator-without-directory.yaml": [
        "4:14: error: tickets.a.creator: 'creator' takes names, and names need the directory"
        ' file (tests/fixtures/names-offline/ticketsync.directory.json, not found): run'
        " `ticketsync directory pull`, or write 'creator_id' with ids",
    ],
    "email-without-directory.yaml": [
        "4:27: error: tickets.a.assignees[1]: 'alice@example.com' is an email, and names"
        ' need the directory file (tests/fixtures/names-offline/ticketsync.directory.json,'
        " not found): run `ticketsync directory pull`, or write the user's id",
    ],
    "project-without-directory.yaml": [
        "4:14: error: tickets.a.project: 'project' takes names, and names need the directory"
        ' file (tests/fixtures/names-offline/ticketsync.directory.json, not found): run'
        " `ticketsync directory pull`, or write 'project_id' with ids",
    ],
}


@pytest.mark.parametrize("file", sorted(NAMED))
def test_each_name_that_does_not_resolve_is_a_located_error(file: str) -> None:
    assert _problems(NAMES, file) == NAMED[file]


@pytest.mark.parametrize("file", sorted(WITHOUT_DIRECTORY))
def test_without_a_directory_a_name_only_value_names_the_pull(file: str) -> None:
    assert _problems(OFFLINE, file) == WITHOUT_DIRECTORY[file]


def test_every_fixture_is_checked() -> None:
    fixtures = {p.name for p in (ROOT / NAMES).glob("*.yaml")}
    assert fixtures == {*NAMED, "resolved.yaml", "resolved-without-project.yaml"}
    offline = {p.name for p in (ROOT / OFFLINE).glob("*.yaml")}
    assert offline == {*WITHOUT_DIRECTORY, "ids-without-directory.yaml"}


def test_names_problems_come_with_the_other_files_problems(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.directory.json").write_text(
        (ROOT / NAMES / "ticketsync.directory.json").read_text())
    (tmp_path / "a.yaml").write_text("tickets:\n  a: {title: A, priority: urgent}\n")
    (tmp_path / "b.yaml").write_text("tickets:\n  b: {title: B, assignees: [nobody]}\n")
    with pytest.raises(InputError) as info:
        load_project(Config(root=tmp_path), ["."], cwd=tmp_path)
    assert [str(p).split(": error: ")[0] for p in info.value.problems] == [
        "a.yaml:2:27", "b.yaml:2:29"]


def test_a_bad_default_is_reported_once_at_the_default(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.directory.json").write_text(
        (ROOT / NAMES / "ticketsync.directory.json").read_text())
    lines = ["defaults:", "  assignees: [nobody@example.com]", "tickets:"]
    lines += [f"  t{n}: {{title: T}}" for n in range(50)]
    (tmp_path / "a.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        load_project(Config(root=tmp_path), ["."], cwd=tmp_path)
    [problem] = info.value.problems
    assert str(problem).startswith("a.yaml:2:15: error: defaults.assignees[0]: ")


# -- the cost rules ------------------------------------------------------------------------


class _Counting(dict[Any, Any]):
    lookups = 0

    def get(self, key: Any, default: Any = None) -> Any:
        type(self).lookups += 1
        return super().get(key, default)


def test_each_distinct_reference_is_resolved_once() -> None:
    users = [User(f"u-{n:04d}", f"Person {n}", f"p{n}@x.io", f"p{n}") for n in range(5000)]
    resolver = Resolver(_directory(users=users, projects=[Project("p1", "One")]))
    resolved = 0
    real = resolver._resolve

    def counted(*args: Any) -> Any:
        nonlocal resolved
        resolved += 1
        return real(*args)

    resolver._resolve = counted  # type: ignore[method-assign]
    for n in range(10_000):
        body = {"project": "One", "assignees": [f"p{n % 7}@x.io"], "reporters": ["p1"]}
        assert resolver.resolve(body) == []
    assert resolved == 1 + 7 + 1


def test_did_you_mean_never_walks_the_directory_per_problem() -> None:
    words = [f"person.{n:05d}@example.com" for n in range(20_000)]
    hints = Hints.for_names(words)
    assert hints.closest("person.00042@exmple.com") == "person.00042@example.com"
    assert hints.closest("PERSON.00042@EXAMPLE.COM") == "person.00042@example.com"
    assert hints.closest("someone.else@elsewhere.org") is None


def test_the_fixture_directory_is_a_valid_directory_file() -> None:
    from ticketsync.declare.directory import read_directory

    directory = read_directory(ROOT / NAMES / "ticketsync.directory.json")
    assert json.loads((ROOT / NAMES / "ticketsync.directory.json").read_text()) == (
        directory.to_json())
