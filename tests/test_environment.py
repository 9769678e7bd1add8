"""The pip pins (requirements.txt), the conda file (environment.yml) and the venv agree."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[_norm(match.group(1))] = match.group(2)
    return pins


def requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


def conda_env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_requirements_are_exact_pins_of_the_course_stack():
    pins = requirements()
    for name in ["dbt-core", "dbt-duckdb", "dbt-adapters", "duckdb", "jupysql", "duckdb-engine",
                 "jupyterlab", "nbval", "pandas", "matplotlib", "pytest"]:
        assert name in pins, f"{name} is not pinned in requirements.txt"
    assert pins["dbt-core"].startswith("1.11."), "dbt-core 1.12 needs a download from GitHub at install time"


def test_environment_yml_has_python_311_and_the_same_pins():
    env = conda_env()
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert _pins([p for p in pip_section if not p.startswith("-e")]) == requirements()
    assert "-e ." in pip_section, "environment.yml must install the course package itself"


def test_venv_has_exactly_the_pinned_versions():
    for name, version in requirements().items():
        installed = metadata.version(name)
        assert installed == version, f"{name}: venv has {installed}, pinned {version}"


def test_pyproject_supports_python_311_to_313():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11,<3.14"' in text  # tests/test_python_versions.py proves the data


def test_the_installer_is_an_exact_pin_and_the_venv_has_it():
    """`make` installs with uv (pinned in the Makefile) unless INSTALLER=pip; a venv set up with uv holds
    exactly that version, and the pip path stays (the recipe's fallback and INSTALLER=pip)."""
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^UV_VERSION := (\S+)$", makefile, flags=re.M)
    assert version and re.fullmatch(r"\d+\.\d+\.\d+", version.group(1)), "UV_VERSION must be an exact version"
    assert re.search(r"^UV_PIN := uv==\$\(UV_VERSION\)$", makefile, flags=re.M)
    assert re.search(r"^INSTALLER \?= uv$", makefile, flags=re.M)
    assert "pip) " in makefile and "$(PIP_INSTALL) $(1)" in makefile, "the plain-pip path is gone"
    try:
        installed = metadata.version("uv")
    except metadata.PackageNotFoundError:
        return  # a venv set up with INSTALLER=pip
    assert installed == version.group(1), f"uv: venv has {installed}, the Makefile pins {version.group(1)}"
