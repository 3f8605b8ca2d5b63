"""Hostile YAML: each gets a located error within a time and memory bound, no traceback."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from ticketsync.cli import main
from ticketsync.declare import yamlio
from ticketsync.errors import InputError

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)

HOSTILE = {
    "alias-bomb": (BOMB.encode(), "6:4: error: aliases expand the document by more than"),
    "deep-flow": (b"[" * 10_000 + b"]" * 10_000, "1:65: error: nesting is deeper than 64"),
    "deep-block": (
        b"".join(b" " * i + b"a:\n" for i in range(2_000)),
        "65:65: error: nesting is deeper than 64",
    ),
    "deep-compact": (b"- " * 100_000 + b"x\n", "1:129: error: nesting is deeper than 64"),
    "non-utf8": (b"a: \xff\n", "1:4: error: not UTF-8: byte 0xff"),
    "tabs": (b"a:\n\tb: 1\n", "2:1: error: tab character"),
    "multi-doc": (b"a: 1\n---\nb: 2\n", "2:1: error: more than one YAML document"),
    "python-tag": (
        b"a: !!python/object/apply:os.system ['echo pwned']\n",
        "1:4: error: tag !!python/object/apply:os.system is not allowed",
    ),
    "recursive": (b"a: &a [*a]\n", "1:4: error: recursive alias"),
    "huge": (b"a: " + b"x" * (20 * 1024 * 1024) + b"\n", "1:1: error: file is too large"),
}


@contextmanager
def bounded(seconds: float, megabytes: int) -> Iterator[None]:
    """The block stays under ``megabytes`` of peak memory and ``seconds`` (a generous bound:
    the usual figure is a fraction of a second; an expanding alias bomb takes far longer,
    or far more memory)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused_with_a_location(tmp_path: Path, name: str) -> None:
    text, expected = HOSTILE[name]
    path = tmp_path / "t.yaml"
    path.write_bytes(text)
    with bounded(30.0, 100), pytest.raises(InputError) as info:
        yamlio.read_document(path, "t.yaml")
    assert str(info.value.problems[0]).startswith(f"t.yaml:{expected}")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_through_the_cli(tmp_path: Path, name: str) -> None:
    text, expected = HOSTILE[name]
    (tmp_path / "t.yaml").write_bytes(text)
    with bounded(30.0, 150):
        result = CliRunner().invoke(main, ["validate", str(tmp_path / "t.yaml")])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_python_tag_is_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n".encode()
    with pytest.raises(InputError):
        yamlio.parse(text, "t.yaml")
    assert not marker.exists()


def test_plain_data_and_dates_stay_strings() -> None:
    doc = yamlio.parse(b"a: [x, {b: yes}]\nd: 2024-01-01\nn: ~\n", "t.yaml")
    assert doc.data == {"a": ["x", {"b": True}], "d": "2024-01-01", "n": None}


def test_shallow_aliases_are_fine() -> None:
    doc = yamlio.parse(b"a: &x [1, 2]\nb: *x\n", "t.yaml")
    assert doc.data == {"a": [1, 2], "b": [1, 2]}


def test_brackets_in_strings_fall_back_to_the_exact_depth_check() -> None:
    doc = yamlio.parse(b"title: '[WIP unbalanced'\nx: [[1]]\n", "t.yaml")
    assert doc.data["x"] == [[1]]


def test_locate_and_implicit() -> None:
    doc = yamlio.parse(b"t:\n  title: yes\n  p: 001\n  q: '001'\n", "t.yaml")
    assert str(doc.locate(("t", "p"))) == "t.yaml:3:6"
    assert str(doc.locate(("t", "p"), key=True)) == "t.yaml:3:3"
    assert str(doc.locate(("t", "missing"))) == "t.yaml:2:3"
    assert doc.implicit(("t", "title")) == ("yes", "a boolean")
    assert doc.implicit(("t", "p")) == ("001", "a number")
    assert doc.implicit(("t", "q")) is None
    assert doc.key_locations(("t",))["q"].line == 4


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="1 problem"):
        yamlio.read_document(tmp_path / "missing.yaml", "missing.yaml")


def test_field_locations_of_the_entries_asked_for() -> None:
    doc = yamlio.parse(
        b"tickets:\n  a: {title: A, parent: b}\n  b:\n    parent:   c\n  c: 5\n  d: {parent: a}\n",
        "t.yaml",
    )
    found = doc.field_locations(("tickets",), "parent", {"a", "b", "c"})
    assert {key: str(where) for key, where in found.items()} == {
        "a": "t.yaml:2:25",
        "b": "t.yaml:4:15",
    }
    assert doc.field_locations(("nope",), "parent", {"a"}) == {}
