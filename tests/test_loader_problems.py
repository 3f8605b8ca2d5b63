"""Project-wide problems (unknown parents, cycles): located from the one read of each file,
with a cheap "did you mean", and chains walked once however long they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketsync.declare import yamlio
from ticketsync.declare.config import Config
from ticketsync.declare.hints import Hints
from ticketsync.declare.loader import load_project
from ticketsync.declare.parents import check_parents
from ticketsync.errors import InputError
from ticketsync.model import Location, Ticket


def _problems(root: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_project(Config(root=root), ["."], cwd=root)
    return [str(p) for p in info.value.problems]


def test_many_unknown_parents_never_read_a_file_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each unknown parent re-read and re-parsed its file to find where `parent:` is.
    for n in range(3):
        lines = ["tickets:"]
        for t in range(4):
            lines += [f"  f{n}-{t}:", f"    title: T{t}", f"    parent: f{n}-{t}x"]
        (tmp_path / f"f{n}.yaml").write_text("\n".join(lines) + "\n")
    reads: list[str] = []
    real = yamlio.read_document

    def counting(path: Path, file: str, **kwargs: int) -> yamlio.Document:
        reads.append(file)
        return real(path, file, **kwargs)

    monkeypatch.setattr(yamlio, "read_document", counting)
    found = _problems(tmp_path)
    assert sorted(reads) == ["f0.yaml", "f1.yaml", "f2.yaml"]
    assert len(found) == 12
    assert found[0] == (
        "f0.yaml:4:13: error: tickets.f0-0.parent: 'f0-0x' is not a declared ticket key"
        " (did you mean 'f0-0'?)"
    )


def test_a_parent_inherited_from_the_defaults_is_located_there(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "defaults:\n  parent: epic-1\ntickets:\n  a: {title: A}\n  b: {title: B, parent: a}\n"
    )
    assert _problems(tmp_path) == [
        "a.yaml:2:11: error: tickets.a.parent: 'epic-1' is not a declared ticket key"
    ]


@pytest.mark.parametrize(
    "typo,meant",
    [
        ("prod-outag", "prod-outage"),  # a letter missing
        ("prod-outagee", "prod-outage"),  # one too many
        ("prod-outace", "prod-outage"),  # one wrong
        ("prod-otuage", "prod-outage"),  # two swapped
        ("prod_outage", "prod-outage"),  # another separator
        ("Prod-Outage", "prod-outage"),  # case
        ("PROD_OUTAGE", "prod-outage"),  # case and separator
        ("db-migraton-2", "db-migration-2"),  # the closest of several near keys
        ("something-else", None),
        ("prod", None),
    ],
)
def test_did_you_mean_finds_real_typos(typo: str, meant: str | None) -> None:
    keys = {"prod-outage", "prod-outage-postmortem", "db-migration-1", "db-migration-2"}
    keys |= {f"t{n:05d}" for n in range(1000)}
    assert Hints.for_keys(keys).closest(typo) == meant


class _CountedKeys(frozenset[str]):
    walks = 0

    def __iter__(self) -> Iterator[str]:
        type(self).walks += 1
        return super().__iter__()


def test_did_you_mean_never_walks_the_keys_per_problem() -> None:
    keys = _CountedKeys(f"t{n:06d}" for n in range(20_000))
    hints = Hints.for_keys(keys)
    for n in range(50):
        assert hints.closest(f"t{n:06d}x") == f"t{n:06d}"
    assert _CountedKeys.walks == 0
    for n in range(50):
        assert hints.closest(f"unrelated-{n}") is None
    assert _CountedKeys.walks == 1  # one table, built on first need


def _chain(keys: list[str], parents: dict[str, str]) -> dict[str, Ticket]:
    return {
        key: Ticket(key, {"title": key}, Location("t.yaml", n + 1), parents.get(key))
        for n, key in enumerate(keys)
    }


def test_a_long_chain_into_a_cycle_reports_the_cycle_once() -> None:
    # A tail of 5,000 tickets, written leaf first, ending in a loop of three.
    keys = [f"k{n:05d}" for n in range(5_003)]
    parents = {keys[n]: keys[n + 1] for n in range(5_002)}
    parents[keys[-1]] = keys[-3]
    tickets = _chain(keys, parents)
    [problem] = check_parents(tickets, tickets, {})
    assert problem.message == "parent cycle: k05000 -> k05001 -> k05002 -> k05000"
    assert str(problem.location) == "t.yaml:5001:1"


def test_every_separate_cycle_is_reported_and_chains_that_end_are_not() -> None:
    parents = {"a": "b", "b": "a", "c": "d", "d": "e", "e": "c", "f": "a", "g": "h", "h": "zz"}
    tickets = _chain(list("abcdefgh"), parents)
    found = sorted(p.message for p in check_parents(tickets, {*tickets, "zz"}, {}))
    assert found == ["parent cycle: a -> b -> a", "parent cycle: c -> d -> e -> c"]
