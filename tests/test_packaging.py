"""`python -m build` makes a wheel and an sdist that carry everything and install offline.

The build runs on a copy of the sources (the checkout is left alone), without build
isolation (no network). The metadata is checked as ``twine check`` does, offline: valid
core metadata, a long description with its content type. The wheel is then installed
into a fresh virtual environment, from a local wheelhouse of the dependencies made from
this environment's installed distributions (``pip install --no-index --find-links``),
and the README's quickstart runs with it. The sdist installs the same way, pip building
it in an isolated environment fed from that wheelhouse (setuptools and wheel included).
"""

from __future__ import annotations

import base64
import csv
import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from cli_helpers import copy_example

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = sorted(path.name for path in (ROOT / "schemas").glob("*.json"))
COMPILED = sorted(path.name for path in (ROOT / "ticketsync" / "compiled_schemas").glob("*.py"))

pytest.importorskip("build", reason="the packaging tests need `build` (the test extras)")
from packaging.metadata import Metadata  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` on a copy of the sources: dist/ with the sdist and the wheel
    (built from the sdist, as ``build`` does: so the sdist is complete enough to build).

    Built once per run: under pytest-xdist the workers that need it share the first one's
    build (their temporary folders have a common parent), under a file lock.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build(tmp_path_factory.mktemp("source"))
    shared = tmp_path_factory.getbasetemp().parent / "packaging"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not (shared / "built").exists():
            out = _build(Path(tempfile.mkdtemp(prefix="source", dir=shared)))
            (shared / "built").write_text(str(out))
        return Path((shared / "built").read_text())


def _build(source: Path) -> Path:
    source.mkdir(exist_ok=True)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "schemas", source / "schemas")
    shutil.copytree(ROOT / "ticketsync", source / "ticketsync", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = source / "dist"
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                    str(source)], check=True, capture_output=True, timeout=120)
    return out


def _wheel(dist: Path) -> Path:
    [wheel] = dist.glob("*.whl")
    return wheel


def _sdist(dist: Path) -> Path:
    [sdist] = dist.glob("*.tar.gz")
    return sdist


def check_metadata(raw: str) -> list[str]:
    """What ``twine check`` (and PyPI) would refuse or warn about in core metadata."""
    problems = []
    try:
        meta = Metadata.from_email(raw, validate=True)
    except Exception as exc:  # packaging raises an ExceptionGroup of every problem
        return [f"invalid metadata: {exc!r}"]
    if not meta.description or meta.description.strip() in ("", "UNKNOWN"):
        problems.append("long_description missing")
    if meta.description_content_type != "text/markdown":
        problems.append(f"long_description_content_type is {meta.description_content_type}")
    if not meta.summary:
        problems.append("summary missing")
    return problems


def test_the_wheel_holds_the_package_the_schemas_and_the_compiled_validators(
    dist: Path,
) -> None:
    wheel = _wheel(dist)
    assert wheel.name == "ticketsync_stackone-0.1.0-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in SCHEMAS:
        assert f"ticketsync/schemas/{schema}" in names
    for module in COMPILED:
        assert f"ticketsync/compiled_schemas/{module}" in names
    assert {"ticketsync/py.typed", "ticketsync/ci/github.py", "ticketsync/cli/plan.py"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_the_metadata_passes_twines_checks(dist: Path) -> None:
    wheel = zipfile.ZipFile(_wheel(dist))
    raw = wheel.read("ticketsync_stackone-0.1.0.dist-info/METADATA").decode()
    assert check_metadata(raw) == []
    meta = Metadata.from_email(raw)
    assert (meta.name, str(meta.version)) == ("ticketsync-stackone", "0.1.0")
    assert meta.home_page == "https://github.com/ticketsync/ticketsync"
    assert meta.requires_python is not None and str(meta.requires_python) == ">=3.11"
    assert {canonicalize_name(r.name) for r in meta.requires_dist or []} >= {
        "pyyaml", "jsonschema", "requests", "click", "orjson", "fastjsonschema"}
    entry_points = wheel.read("ticketsync_stackone-0.1.0.dist-info/entry_points.txt").decode()
    assert "ticketsync = ticketsync.__main__:entry" in entry_points
    with tarfile.open(_sdist(dist)) as sdist:
        [info] = [m for m in sdist.getmembers() if m.name.endswith("/PKG-INFO")
                  and m.name.count("/") == 1]
        pkg_info = sdist.extractfile(info)
        assert pkg_info is not None
        assert check_metadata(pkg_info.read().decode()) == []
        names = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"setup.cfg", "pyproject.toml", "README.md"} <= names
    assert {f"ticketsync/schemas/{schema}" for schema in SCHEMAS} <= names


def test_the_metadata_check_can_fail() -> None:
    assert check_metadata("Metadata-Version: 2.1\nName: x\n") != []
    assert check_metadata(
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nSummary: s\n\nbody\n"
    ) == ["long_description_content_type is None"]


# --- a fresh virtual environment, offline -------------------------------------------


def _closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen[name] = metadata.distribution(requirement.name)
        todo += seen[name].requires or []
    return list(seen.values())


def _repack(distribution: metadata.Distribution, into: Path) -> Path:
    """A wheel of an installed distribution, from its files (RECORD) and its WHEEL tags:
    a wheelhouse that pip installs with --no-index, no network needed."""
    files = [f for f in distribution.files or []
             if not str(f).startswith("..") and "__pycache__" not in str(f)]
    info = next(str(f).split("/")[0] for f in files if str(f).endswith(".dist-info/WHEEL"))
    wheel_file = Parser().parsestr(distribution.read_text("WHEEL") or "")
    tag = wheel_file.get_all("Tag")[0]  # type: ignore[index]
    name = canonicalize_name(distribution.metadata["Name"]).replace("-", "_")
    path = into / f"{name}-{distribution.version}-{tag}.whl"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            if str(file) == f"{info}/RECORD":
                continue
            where = Path(str(distribution.locate_file(file)))
            if not where.is_file():  # listed, since removed (tox's seeded setuptools' .pyc)
                continue
            data = where.read_bytes()
            archive.writestr(str(file), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            writer.writerow([str(file), f"sha256={digest.decode()}", len(data)])
        writer.writerow([f"{info}/RECORD", "", ""])
        archive.writestr(f"{info}/RECORD", record.getvalue())
    return path


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_venv_and_runs_the_quickstart(
    dist: Path, tmp_path: Path
) -> None:
    wheel = _wheel(dist)
    requires = Metadata.from_email(
        zipfile.ZipFile(wheel).read("ticketsync_stackone-0.1.0.dist-info/METADATA").decode()
    ).requires_dist or []
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for distribution in _closure([str(r) for r in requires]):
        _repack(distribution, wheelhouse)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_CONSTRAINT": ""}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         "--find-links", str(wheelhouse), "--disable-pip-version-check", "--quiet",
         str(wheel)],
        env={**env, "PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    project = tmp_path / "quickstart"
    copy_example(ROOT / "examples" / "quickstart", project)
    script = ("ticketsync --version && ticketsync validate && ticketsync plan --sandbox && "
              "ticketsync apply --sandbox --yes && ticketsync plan --sandbox && "
              "python -c 'import ticketsync; print(ticketsync.__file__)'")
    done = subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ticketsync, version 0.1.0"
    assert lines[1] == "15 tickets in 3 files OK (12 made by templates)"
    assert "Apply complete: 15 created, 0 updated, 0 failed." in lines
    assert lines[-2] == "No changes."
    assert lines[-1].startswith(str(venv))  # the installed wheel, not this checkout


@pytest.mark.slow
def test_the_sdist_installs_offline_with_an_isolated_build(dist: Path, tmp_path: Path) -> None:
    """pip builds the sdist as it would from PyPI (build isolation), here from a local
    wheelhouse that holds the build backend too."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    requires = [str(r) for r in Metadata.from_email(
        zipfile.ZipFile(_wheel(dist)).read("ticketsync_stackone-0.1.0.dist-info/METADATA")
        .decode()).requires_dist or []]
    for distribution in _closure([*requires, "setuptools", "wheel"]):
        _repack(distribution, wheelhouse)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_CONSTRAINT": "",
           "PIP_FIND_LINKS": str(wheelhouse)}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-index", "--find-links", str(wheelhouse), "--disable-pip-version-check",
         "--quiet", str(_sdist(dist))],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert install.returncode == 0, install.stderr
    check = ("import importlib.resources as r, ticketsync; "
             "print(sorted(p.name for p in (r.files('ticketsync') / 'schemas').iterdir()))")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(SCHEMAS)
