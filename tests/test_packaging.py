"""What the published package declares (issue 10, package hygiene)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
CI = (ROOT / ".ci" / "run").read_text()


def test_extras_are_for_users_and_tools_are_dependency_groups() -> None:
    assert set(PROJECT["optional-dependencies"]) == {"openai", "anthropic", "otlp", "ui"}
    assert {"test", "dev", "bench"} <= set(PYPROJECT["dependency-groups"])
    installs = [line for line in CI.splitlines() if line.startswith("pip install")]
    assert len(installs) == 3 and all("--group test" in line for line in installs)
    assert not re.search(r"\[[^]]*\b(test|dev|bench|cli)\b", CI)


def test_client_floors_are_the_majors_ci_tests() -> None:
    floors = dict(
        re.fullmatch(r"(\w+)>=(\d+)", spec).groups()  # type: ignore[union-attr]
        for name in ("openai", "anthropic")
        for spec in PROJECT["optional-dependencies"][name]
    )
    tested = {name: min(map(int, re.findall(rf'"{name}>=(\d+),<\d+"', CI))) for name in floors}
    assert floors == {name: str(major) for name, major in tested.items()}


def test_one_version_and_the_license_text() -> None:
    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/noveum_trace/_version.py"
    assert PROJECT["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 150


def test_urls_and_classifiers() -> None:
    assert PROJECT["urls"]["Homepage"] == "https://github.com/noveum/noveum-trace"
    classifiers = PROJECT["classifiers"]
    assert "Typing :: Typed" in classifiers and (ROOT / "src/noveum_trace/py.typed").exists()
    floor = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {floor}" in classifiers
