"""A fresh clone anywhere passes: no path of our machines, recordings in the repository with
their sources, and the guide tests skip (or fail under CI) when the guide is absent."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .shared_paths import CASSETTES, REPO, guide_text

# An absolute path into our workspace: the folder ``work`` at the root, then a name. A URL
# path such as ``f"http://{host}:{port}/work"`` is not one.
MACHINE_PATH = re.compile(r"(?<![\w}])/work/\w")
# Known, in a file another change owns (its docstring, not a path any code opens): the lead
# rewrites it to ``tests/data/cassettes`` when merging, and this entry goes with it.
PENDING = {("tests/test_decorator.py", "shared/cassettes`` or returned by the real")}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".sh", ".cfg", ".ini", ".json", ".tsv", ".yaml"}


def repository_files() -> list[Path]:
    """The tracked files, or (outside a git checkout) every file but caches and venvs."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout.decode()
        return [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "__pycache__", "build", "dist", "traces"}
        return [
            path
            for path in REPO.rglob("*")
            if path.is_file()
            and not any(
                p in skip or p.startswith(".venv") or p.startswith(".ci-venv")
                for p in path.relative_to(REPO).parts
            )
        ]


def test_no_absolute_path_of_our_machines() -> None:
    found = []
    for path in repository_files():
        if path.suffix not in TEXT_SUFFIXES and path.name != "run":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            name = str(path.relative_to(REPO))
            if MACHINE_PATH.search(line) and not any(
                name == pending and text in line for pending, text in PENDING
            ):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []


def test_every_recording_has_its_source_and_license() -> None:
    with (CASSETTES / "MANIFEST.tsv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    listed = {row["dest"] for row in rows}
    present = {str(p.relative_to(CASSETTES)) for p in CASSETTES.rglob("*.yaml")}
    assert present and listed == present
    readme = (CASSETTES / "README.md").read_text()
    for row in rows:
        assert row["license"] and row["commit"] in readme and row["source_repo"] in readme
    for folder in {Path(name).parts[0] for name in listed}:
        assert (CASSETTES / folder / "LICENSE").is_file()
        notice = (CASSETTES / folder / "NOTICE.txt").read_text()
        assert all(row["commit"] in notice for row in rows if row["dest"].startswith(folder))


def test_guide_tests_skip_without_the_guide_and_fail_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVEUM_SHARED_DIR", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="users' guide is absent"):
        guide_text()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Under CI=true the guide is required"):
        guide_text()
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "llm-tracing-guide.md").write_text("# guide\n")
    assert guide_text() == "# guide\n"


def test_the_suite_collects_without_the_guide(tmp_path: Path) -> None:
    """No module needs ``../shared`` at import time (it once stopped collection with errors)."""
    env = {"PATH": "/usr/bin:/bin", "NOVEUM_SHARED_DIR": str(tmp_path), "CI": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "error" not in result.stdout.splitlines()[-1], result.stdout[-3000:]
