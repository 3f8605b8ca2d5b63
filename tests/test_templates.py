"""Templates expand deterministically, and every mistake is located at both ends."""

from __future__ import annotations

import itertools
import random

import pytest

from ticketsync.declare import yamlio
from ticketsync.declare.templates import expand
from ticketsync.model import Location

ONBOARDING = """\
templates:
  onboarding:
    for_each:
      alice: {email: alice@example.com, start: "2026-12-07"}
      bob: {email: bob@example.com, start: "2027-01-04"}
    tickets:
      laptop:
        title: "Order a laptop for {item} (starts {start})"
        assignees: ["{email}"]
      accounts:
        title: Create accounts for {item}
        parent: laptop
        description: "Literal {{braces}} stay"
"""


def run(text: str) -> tuple[list, list]:
    doc = yamlio.parse(text.encode(), "t.yaml")
    return expand(doc, doc.data["templates"])


def test_each_item_makes_each_ticket_keyed_template_item_ticket() -> None:
    made, problems = run(ONBOARDING)
    assert problems == []
    by_key = {g.key: g for g in made}
    assert sorted(by_key) == ["onboarding.alice.accounts", "onboarding.alice.laptop",
                              "onboarding.bob.accounts", "onboarding.bob.laptop"]
    laptop = by_key["onboarding.alice.laptop"]
    assert laptop.fields == {"title": "Order a laptop for alice (starts 2026-12-07)",
                             "assignees": ["alice@example.com"]}
    assert (laptop.location, laptop.item_location) == (Location("t.yaml", 7, 7),
                                                       Location("t.yaml", 4, 7))
    accounts = by_key["onboarding.bob.accounts"]
    assert accounts.fields == {"title": "Create accounts for bob",
                               "parent": "onboarding.bob.laptop",  # within the instance
                               "description": "Literal {braces} stay"}
    assert (accounts.template, accounts.item) == ("onboarding", "bob")


def test_a_list_of_strings_is_items_without_values() -> None:
    made, problems = run("templates:\n  release:\n    for_each: [v1.2, v1.3]\n"
                         "    tickets:\n      notes: {title: 'Release notes for {item}'}\n")
    assert problems == [] and [(g.key, g.fields["title"]) for g in made] == [
        ("release.v1.2.notes", "Release notes for v1.2"),
        ("release.v1.3.notes", "Release notes for v1.3")]


def test_expansion_is_the_same_whatever_the_order_of_items_tickets_and_templates() -> None:
    """Table-driven: every permutation of items and tickets gives the same tickets."""
    items = {"ann": "a@x.io", "bo": "b@x.io", "cy": "c@x.io"}
    tickets = {"one": "First for {item}", "two": "Second to {mail}", "three": "Third"}
    results = set()
    rng = random.Random(7)
    for order_items, order_tickets in itertools.islice(
            itertools.product(itertools.permutations(items), itertools.permutations(tickets)),
            0, None, 5):
        lines = ["templates:", "  t:", "    for_each:"]
        lines += [f"      {i}: {{mail: {items[i]}}}" for i in order_items]
        lines += ["    tickets:"]
        lines += [f"      {t}: {{title: '{tickets[t]}'}}" for t in order_tickets]
        if rng.random() < 0.5:  # tickets before for_each: reformatting changes nothing
            lines = lines[:2] + lines[3 + len(items):] + lines[2:3 + len(items)]
        made, problems = run("\n".join(lines) + "\n")
        assert problems == []
        results.add(tuple(sorted((g.key, g.fields["title"]) for g in made)))
    assert len(results) == 1


def test_an_unknown_placeholder_is_located_in_the_string() -> None:
    _, problems = run(ONBOARDING.replace("{email}", "{emial}"))
    assert [str(p) for p in problems] == [
        "t.yaml:9:22: error: templates.onboarding.tickets.laptop.assignees[0]: unknown "
        "placeholder {emial} (did you mean {email}?): the items of onboarding give {email}, "
        "{item}, {start}",
    ]


def test_an_item_without_a_value_the_template_uses_names_both_lines() -> None:
    _, problems = run(ONBOARDING.replace("bob: {email: bob@example.com, ", "bob: {"))
    assert [str(p) for p in problems] == [
        "t.yaml:5:7: error: templates.onboarding.for_each.bob: item bob has no value 'email', "
        "which the template uses at t.yaml:9:22 (templates.onboarding.tickets.laptop"
        ".assignees[0]): give it one",
    ]


@pytest.mark.parametrize("placeholder", ["{1+1}", "{item.upper()}", "{ item }", "{__import__}x"])
def test_no_expressions_only_names(placeholder: str) -> None:
    _, problems = run(ONBOARDING.replace("{item} (starts", f"{placeholder} (starts"))
    if placeholder.startswith("{__import__}"):  # a name, but no item gives it
        assert "unknown placeholder {__import__}" in problems[0].message
    else:
        assert problems[0].message.startswith(
            f"'{placeholder}' is not a placeholder: write a name, such as {{item}}")
        assert problems[0].location == Location("t.yaml", 8, 36)


def test_a_generated_key_that_is_not_valid_is_located_at_the_item() -> None:
    long_item = "x" * 130
    _, problems = run(ONBOARDING.replace("alice:", f"{long_item}:"))
    assert len(problems) == 2 and problems[0].location == Location("t.yaml", 4, 7)
    assert problems[0].message.startswith(
        f"the template makes the key 'onboarding.{long_item}.laptop', which is not valid")
