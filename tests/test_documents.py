"""The one reader of ticketsync's JSON documents (declare/documents.py): what it decides,
in the order it decides it, every message in the caller's words and error class.

The messages of the three readers (state, directory, saved plan) are pinned where they
are used: tests/test_state.py, test_directory.py, test_planfile.py, test_plan.py,
test_ux_inputs.py.
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ticketsync.declare import documents
from ticketsync.declare.paths import display_path
from ticketsync.errors import DirectoryError, PlanError
from ticketsync.plan.saved import plan_from_json

KIND = documents.Format(
    schema="directory",
    version=2,
    error=DirectoryError,
    corrupt=lambda what: f"d.json: corrupt ({what})",
    newer=lambda version: f"d.json: version {version}: upgrade",
)
GOOD: dict[str, Any] = {
    "version": 1, "account_id": "a", "pulled_at": "2024-01-01T00:00:00Z",
    "users": [], "projects": [], "ticket_types": [], "components": [],
}


def _refused(raw: bytes | str, kind: documents.Format = KIND) -> str:
    with pytest.raises(DirectoryError) as caught:
        documents.read(raw, kind)
    return str(caught.value)


def test_a_good_document_is_read_an_older_version_too_when_no_message_refuses_it() -> None:
    assert documents.read(json.dumps(GOOD).encode(), KIND) == GOOD


def test_not_utf8_and_not_json_are_worded_by_the_caller() -> None:
    assert _refused(b"\xff{}") == "d.json: corrupt (not UTF-8 text)"
    assert _refused(b'{"a": }') == (
        "d.json: corrupt (not JSON: Expecting value at line 1, column 7)")
    located = replace(KIND, not_json=lambda exc: f"d.json:{exc.lineno}:{exc.colno}: {exc.msg}")
    assert _refused('{\n  "a": }', located) == "d.json:2:8: Expecting value"


def test_a_newer_version_is_refused_before_the_schema_is_asked() -> None:
    # Nothing else of the document is right: the message that helps is still "upgrade".
    assert _refused(b'{"version": 3, "users": 5}') == "d.json: version 3: upgrade"


def test_an_older_version_is_refused_when_the_caller_words_it() -> None:
    kind = replace(KIND, older=lambda version: f"version {version}: make it again")
    assert _refused(b'{"version": 1}', kind) == "version 1: make it again"


def test_a_boolean_is_no_version_the_schema_refuses_it() -> None:
    # JSON true is a Python int: it was once "made by an older ticketsync (format_version
    # True, ...)".
    with pytest.raises(PlanError) as caught:
        plan_from_json({"format_version": True})
    assert str(caught.value) == (
        "not a valid plan document: (top level): 'creates' is a required property")


def test_the_schema_problem_is_the_first_one_and_the_count_of_the_others() -> None:
    assert _refused(b"{}") == (
        "d.json: corrupt ((top level): 'account_id' is a required property (and 6 more))")
    assert _refused(b"{}", replace(KIND, count_more=False)) == (
        "d.json: corrupt ((top level): 'account_id' is a required property)")
    assert _refused(json.dumps({**GOOD, "components": 3})) == (
        "d.json: corrupt (components: 3 is not of type 'array')")


def test_a_document_the_cheap_check_vouches_for_skips_the_schema() -> None:
    asked: list[Any] = []

    def vouch(data: Any) -> bool:
        asked.append(data)
        return True

    vouching = replace(KIND, well_formed=vouch)
    assert documents.read(b'{"users": 5}', vouching) == {"users": 5}
    assert asked == [{"users": 5}]
    doubting = replace(KIND, well_formed=lambda data: False)
    assert _refused(json.dumps({**GOOD, "components": 3}), doubting) == (
        "d.json: corrupt (components: 3 is not of type 'array')")


def test_the_collector_is_back_as_it_was_however_the_block_ends() -> None:
    assert gc.isenabled()
    with pytest.raises(DirectoryError), documents.collector_off():
        assert not gc.isenabled()
        documents.read(b"nope", KIND)
    assert gc.isenabled()
    gc.disable()
    try:
        with documents.collector_off():
            pass
        assert not gc.isenabled()  # the caller's choice: left alone
    finally:
        gc.enable()


def test_paths_are_shown_from_the_working_folder_or_a_base(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    assert display_path(tmp_path / "a" / "b" / "f.json") == "b/f.json"
    assert display_path(Path("b") / "f.json") == "b/f.json"
    assert display_path(tmp_path / "a") == "."
    assert display_path(tmp_path / "x.json") == str(tmp_path / "x.json")  # outside: as given
    assert display_path(tmp_path / "a" / "b", tmp_path) == "a/b"
    assert display_path(tmp_path, tmp_path) == "."
    assert os.path.isabs(display_path(tmp_path, tmp_path / "a"))
