"""The course core: settings read in one place, the import direction between our packages, the
one-line CLI parser and the manifest helpers (cheap: no dbt, no warehouse)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_core import manifest as dbt_manifest
from course_core import settings
from course_core.cli_errors import OneLineParser

REPO = Path(__file__).resolve().parent.parent
# Our packages, lowest layer first, and what each may import (DEVELOPING.md, "Packages and imports").
ALLOWED_IMPORTS = {
    "course_core": set(),
    "datasets": {"course_core"},
    "notebook_helpers": {"course_core", "datasets"},
    "ops": {"course_core", "datasets"},
    "stakeholder_docs": {"course_core", "datasets", "notebook_helpers"},
    "grader": {"course_core", "datasets", "notebook_helpers", "ops", "stakeholder_docs"},
}
PACKAGES = tuple(ALLOWED_IMPORTS)
OTHER_PYTHON = ("bench",)  # our Python outside the packages (tests/ are checked separately)
VB_NAME = re.compile(r"VB_[A-Z0-9_]+")


def _python_files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py") if "__pycache__" not in p.parts)


def _modules() -> dict[str, Path]:
    found = {}
    for path in _python_files(*PACKAGES):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """Our modules a file imports, at module level or inside a function: (module, line)."""

    def ours(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [m for m in (f"{node.module}.{a.name}" for a in node.names) if m in modules]
            # `from pkg import sub` needs pkg.sub; `from pkg import name` needs pkg (its __init__)
            names = submodules if len(submodules) == len(node.names) else [node.module, *submodules]
        else:
            continue
        found += [(module, node.lineno) for module in map(ours, names) if module]
    return found


def test_packages_import_only_downwards():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        package = name.split(".")[0]
        for target, line in _imports(path, modules):
            other = target.split(".")[0]
            if other != package and other not in ALLOWED_IMPORTS[package]:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {target} ({package} -> {other})")
    assert not wrong, "imports against the direction of DEVELOPING.md's layers:\n" + "\n".join(wrong)


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {name: {t for t, _ in _imports(path, modules) if t != name} for name, path in modules.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_error_fallback_between_our_packages():
    """An import of our own code is never optional: the edition ships every package it needs."""
    modules = _modules()
    found = []
    for path in _python_files(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Try):
                continue
            if not any(h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers):
                continue
            ours = [f for stmt in node.body for f in _imports_in(stmt, modules)]
            found += [f"{path.relative_to(REPO)}:{node.lineno} ({', '.join(ours)})"] if ours else []
    assert not found, "try/except ImportError around our own imports:\n" + "\n".join(found)


def _imports_in(stmt: ast.stmt, modules: dict[str, Path]) -> list[str]:
    names = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [n for n in names if n.split(".")[0] in PACKAGES]


# ---- settings --------------------------------------------------------------------------------------
def _vb_literals(path: Path) -> list[tuple[str, int, bool]]:
    """``VB_*`` names written as a whole string in a file: (name, line, is it only passed on to a child
    (a dict key, or the target of ``os.environ[...] = ...``))."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    passed_on = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            passed_on |= {id(k) for k in node.keys if k is not None}
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            passed_on.add(id(node.slice))
    return [(node.value, node.lineno, id(node) in passed_on) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and VB_NAME.fullmatch(node.value)]


def test_vb_settings_are_read_only_in_course_core():
    """Outside course_core a ``VB_*`` name may only be set for a child process (dbt, a sandbox)."""
    wrong = [f"{path.relative_to(REPO)}:{line} {name}"
             for path in _python_files(*PACKAGES, *OTHER_PYTHON) if path.parts[-2:-1] != ("course_core",)
             for name, line, passed_on in _vb_literals(path) if not passed_on]
    assert not wrong, ("read VB_* settings through course_core.settings (and list new ones in "
                       "DEVELOPING.md's table):\n" + "\n".join(wrong))


def _documented() -> dict[str, str]:
    text = (REPO / "DEVELOPING.md").read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `(VB_[A-Z0-9_]+)` \|.*$", section, flags=re.M)}


def _read_names() -> dict[str, str]:
    """Every VB_* setting something reads, with where: course_core, dbt's env_var(), the tests."""
    found = {name: str(path.relative_to(REPO)) for path in _python_files("course_core")
             for name, _, _ in _vb_literals(path)}
    for path in [*(REPO / "dbt_project").rglob("*.yml"), *_python_files("ops")]:
        if "target" in path.relative_to(REPO).parts:
            continue
        for name in re.findall(r"env_var\(\s*['\"](VB_[A-Z0-9_]+)", path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(REPO)))
    for path in _python_files("tests"):
        if "fixtures" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("get", "getenv") and "environ" in ast.unparse(node.func)
                    or isinstance(node, ast.Call) and ast.unparse(node.func) == "os.getenv"):
                args = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
                if args and isinstance(args[0], str) and VB_NAME.fullmatch(args[0]):
                    found.setdefault(args[0], str(path.relative_to(REPO)))
    return found


def test_every_vb_setting_is_in_the_developing_table():
    read, documented = _read_names(), _documented()
    assert {"VB_REPO_ROOT", "VB_RAW_DIR", "VB_NOTEBOOK_TIMEOUT"} <= set(read)  # the scan finds all kinds
    missing = sorted(f"{name} (read in {where})" for name, where in read.items() if name not in documented)
    assert not missing, "add to DEVELOPING.md, Settings: " + ", ".join(missing)
    stale = sorted(set(documented) - set(read))
    assert not stale, f"DEVELOPING.md documents settings nothing reads: {stale}"


def test_one_repo_root_honouring_vb_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import grader.course
    import notebook_helpers

    assert grader.course.repo_root is settings.repo_root is notebook_helpers.repo_root
    monkeypatch.delenv(settings.REPO_ROOT, raising=False)
    monkeypatch.delenv(settings.RAW_DIR, raising=False)
    assert settings.repo_root() == REPO
    monkeypatch.setenv(settings.REPO_ROOT, str(tmp_path))
    assert settings.dbt_project_dir() == tmp_path / "dbt_project"
    assert settings.raw_dir() == tmp_path / "datasets" / "raw"
    monkeypatch.setenv(settings.RAW_DIR, "../elsewhere")  # relative to dbt_project/, as dbt reads it
    assert settings.raw_dir() == tmp_path / "elsewhere"


def test_warehouse_paths_resolve_like_profiles_yml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in settings.DBT_PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(settings.REPO_ROOT, str(tmp_path))
    project = tmp_path / "dbt_project"
    assert settings.warehouse_path() == project / "warehouse" / "dev.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_DIR, "/w")
    assert [settings.warehouse_path(t) for t in ("dev", "ci", "prod")] == [
        Path("/w/dev.duckdb"), Path("/w/ci.duckdb"), Path("/w/prod.duckdb")]
    monkeypatch.setenv(settings.PROD_DUCKDB_PATH, "cand/prod.duckdb")
    monkeypatch.setenv(settings.TARGET, "prod")
    assert settings.warehouse_path() == project / "cand" / "prod.duckdb"
    monkeypatch.setenv(settings.LOCK_WAIT, "not a number")
    assert settings.lock_wait_seconds() == settings.LOCK_WAIT_SECONDS


# ---- one-line CLI errors -----------------------------------------------------------------------------
def test_one_line_parser_and_its_subparsers(capsys: pytest.CaptureFixture[str]):
    parser = OneLineParser(prog="tool", line="tool: {message} (see tool --help)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("go").add_argument("--n", type=int)
    for argv in (["nope"], ["go", "--n", "x"]):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("tool: ") and err.endswith(" (see tool --help)\n") and err.count("\n") == 1


# ---- manifest helpers ----------------------------------------------------------------------------------
def test_manifest_helpers():
    model = {"name": "m", "resource_type": "model", "unique_id": "model.p.m",
             "depends_on": {"nodes": ["source.p.s.t"], "macros": ["macro.p.x"]}}
    generic = {"resource_type": "test", "name": "t1", "depends_on": {"nodes": ["model.p.m"]},
               "test_metadata": {"name": "unique", "kwargs": {"column_name": "id"}}}
    singular = {"resource_type": "test", "name": "t2", "depends_on": {"nodes": ["model.p.m", "model.p.o"]}}
    manifest = {"nodes": {"model.p.m": model, "test.p.t1": generic, "test.p.t2": singular}}
    assert dbt_manifest.find_node(manifest, "m") is model and dbt_manifest.find_node(manifest, "t1") is None
    assert list(dbt_manifest.models(manifest)) == ["model.p.m"]
    assert dbt_manifest.parents(model) == ["source.p.s.t"]
    assert dbt_manifest.macros_used(model) == ["macro.p.x"]
    assert dbt_manifest.tests_on(manifest, "model.p.m") == [generic, singular]
    unique_id = dbt_manifest.TestMetadata("unique", "id", {"column_name": "id"}, generic=True)
    assert dbt_manifest.test_metadata(generic) == unique_id
    assert dbt_manifest.test_metadata(singular) == dbt_manifest.TestMetadata()
    assert dbt_manifest.parents({"depends_on": None}) == [] and dbt_manifest.nodes({}) == {}


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="this kernel has no autogroups")
def test_a_process_in_a_session_of_its_own_stays_as_nice_as_its_starter():
    code = ("import os, subprocess; os.nice(7); from course_core.niceness import keep_niceness; "
            "p = subprocess.Popen(['sleep', '30'], start_new_session=True); "
            "print(open(f'/proc/{p.pid}/autogroup').read().split()[-1]); keep_niceness(p.pid); "
            "print(open(f'/proc/{p.pid}/autogroup').read().split()[-1]); p.kill(); p.wait()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "7"], done.stdout + done.stderr
