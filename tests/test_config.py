"""load_config: file, environment, defaults; the API key is never read from a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketsync.declare.config import Config, load_config
from ticketsync.errors import ConfigError, InputError


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(None, cwd=tmp_path, env={})
    assert config == Config(root=tmp_path)


def test_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text(
        "tickets: [a/, b.yaml]\nstate: s.json\naccount_id: acc-1\nrate_limit: 60\n"
        "concurrency: 4\nmax_creates: 5\nupdates: true\nmarker: {custom_field: key}\n"
    )
    config = load_config(None, cwd=tmp_path, env={"STACKONE_ACCOUNT_ID": "acc-env"})
    assert config.tickets == ("a/", "b.yaml")
    assert config.state_path == tmp_path / "s.json"
    assert config.account_id == "acc-env"
    assert (config.rate_limit, config.concurrency, config.max_creates) == (60, 4, 5)
    assert config.updates is True
    assert config.marker_field == "key"
    assert config.config_file == tmp_path / "ticketsync.yaml"
    env = {"STACKONE_BASE_URL": "http://127.0.0.1:9"}
    assert load_config(None, cwd=tmp_path, env=env).base_url == "http://127.0.0.1:9"


def test_explicit_file_sets_root(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("tickets: t/\n")
    config = load_config("sub/c.yaml", cwd=tmp_path, env={})
    assert config.root == tmp_path / "sub"
    assert config.tickets == ("t/",)
    with pytest.raises(ConfigError, match=r"config file nope\.yaml not found"):
        load_config("nope.yaml", cwd=tmp_path, env={})


def test_api_key_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text("api_key: sk-secret\n")
    with pytest.raises(InputError) as info:
        load_config(None, cwd=tmp_path, env={})
    [problem] = info.value.problems
    assert str(problem) == (
        "ticketsync.yaml:1:1: error: api_key: the API key is never read from a file:"
        " remove it and set STACKONE_API_KEY"
    )
    assert "sk-secret" not in str(problem)


def test_invalid_settings_are_located(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text("rate_limit: fast\nstat: x.json\n")
    with pytest.raises(InputError) as info:
        load_config(None, cwd=tmp_path, env={})
    assert [str(p) for p in info.value.problems] == [
        "ticketsync.yaml:1:13: error: rate_limit: 'fast' is not of type 'integer'",
        "ticketsync.yaml:2:1: error: stat: unknown setting 'stat' (did you mean 'state'?)",
    ]


def test_empty_config_file_is_defaults(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text("# nothing yet\n")
    assert load_config(None, cwd=tmp_path, env={}).tickets == ("tickets/",)


def test_a_marker_field_ending_in_a_newline_is_located(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text('marker: {custom_field: "key\\n"}\n')
    with pytest.raises(InputError) as info:
        load_config(None, cwd=tmp_path, env={})
    assert [str(p) for p in info.value.problems] == [
        "ticketsync.yaml:1:24: error: marker.custom_field: 'key\\n' is not a valid custom"
        " field name: use letters, digits, '_', '.' or '-', starting with a letter, digit"
        " or '_'"
    ]


def test_a_base_url_that_is_not_http_says_what_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "ticketsync.yaml").write_text("base_url: ftp://example.com\n")
    with pytest.raises(InputError) as info:
        load_config(None, cwd=tmp_path, env={})
    assert [str(p) for p in info.value.problems] == [
        "ticketsync.yaml:1:11: error: base_url: 'ftp://example.com' is not an http:// or"
        " https:// URL"
    ]
