"""``python -m grader release --out DIR [--zip]``: the intern edition, a template repository with no answers.

What goes in (see grader/README.md, "The intern edition"): the intern notebooks (generated from
``solutions/`` by assign's rules), the starting dbt project (``grader.course.starting_project``), the
data generator, ``notebook_helpers/``, ``ops/``, ``stakeholder_docs/``, the self-check part of the
grader with public checks only (``grader.public_checks``), an intern README, the intern targets of
the Makefile, the pins, and a GitHub Actions workflow that runs the public self-checks on every push.

Nothing is published until the edition is proven: it imports in a fresh process with exactly the
original's public checks, holds no instructor-only module, and no line of any solution answer or
reference answer file appears in any of its files. Folder and zip are byte-reproducible (sorted
entries, fixed timestamps and permissions).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.course import REWRITTEN_STARTING_FILES, reference_answers, repo_root, starting_project
from grader.public_checks import public_only

EDITION_MARKER = "grader/edition.json"
# Where the grader's edition starts (the intern's entry points); the import closure is added.
GRADER_ROOTS = ("grader/__init__.py", "grader/__main__.py", "grader/cli.py", "grader/selfcheck.py",
                "grader/selfcheck_report.py", "grader/course.py", "grader/edition.py",
                "grader/exercises/__init__.py")
# Modules that must never reach interns (grading, reference, release, final grades).
INSTRUCTOR_ONLY = ("grader.assign", "grader.batch", "grader.worker", "grader.preparation",
                   "grader.submissions", "grader.outputs", "grader.release", "grader.public_checks",
                   "grader.finalize", "grader.manual_scores", "grader.shards", "grader.zygote")
# copied whole (tracked files)
PACKAGES = ("course_core", "datasets", "notebook_helpers", "ops", "stakeholder_docs")
# course developers only: re-executes solutions/; names the grader's (hidden data) cache
NOT_SHIPPED = ("notebook_helpers/refresh_outputs.py", "course_core/instructor_settings.py")
TOP_FILES = ("requirements.txt", "environment.yml")
INSTRUCTOR_IGNORES = ("grading-out/", "bench-results/", "dist/")
FIXED_TIME = (2025, 12, 31, 0, 0, 0)  # the course's as-of date: every file of the edition carries it
MIN_LEAK_CHARS = 12  # and at least two words: a lone identifier or path is no answer
# Shipped course code that repeats lines of an answer, reviewed and accepted until fixed at the
# source (each is a finding, not a policy). The release lists them; tests/test_release.py fails when
# one disappears (shrink this list) or a new one appears (a leak).
KNOWN_OVERLAPS: dict[str, tuple[str, tuple[str, ...]]] = {}  # reviewed overlaps: none left
_BLOCK = re.compile(r"^# BEGIN INSTRUCTOR\n.*?^# END INSTRUCTOR\n", flags=re.S | re.M)


class ReleaseError(Exception):
    """The edition cannot be built or proven (one line: what and where)."""


@dataclass(frozen=True)
class Built:
    """A published release."""

    folder: Path
    files: int
    zip: Path | None


# ---- what goes in -------------------------------------------------------------------------------
def _tracked(root: Path) -> set[str] | None:
    """Tracked paths (git index), or None outside a git checkout (then every file counts)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=False,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return set(filter(None, done.stdout.decode("utf-8").split("\0")))


def _package_files(root: Path, package: str, tracked: set[str] | None) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted((root / package).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.is_symlink() or "__pycache__" in rel or rel in NOT_SHIPPED:
            continue
        if rel not in tracked if tracked is not None else path.suffix not in (".py", ".md"):
            continue
        files[rel] = path.read_bytes()
    return files


def _module_file(root: Path, module: str) -> str | None:
    base = module.replace(".", "/")
    for rel in (f"{base}.py", f"{base}/__init__.py"):
        if (root / rel).is_file():
            return rel
    return None


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside ``try: ... except ImportError`` or ``if TYPE_CHECKING:`` (optional at run time)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body and any(
                "ImportError" in ast.unparse(h.type or ast.Name("BaseException")) for h in parent.handlers):
            return True
        if isinstance(parent, ast.If) and child in parent.body and "TYPE_CHECKING" in ast.unparse(
                parent.test):
            return True
        child, parent = parent, parents.get(parent)
    return False


def grader_imports(source: str, root: Path) -> set[str]:
    """``grader.*`` modules a module imports (anywhere in it), except optional (guarded) imports."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and _guarded(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "grader"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "grader":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if _module_file(root, f"{node.module}.{a.name}")}
    return found


def grader_files(root: Path) -> dict[str, bytes]:
    """The self-check part of the grader: its entry points, their import closure, and every exercise
    module reduced to its public checks. ReleaseError when an instructor-only module is reachable."""
    files: dict[str, bytes] = {}
    for path in sorted((root / "grader" / "exercises").glob("ex_*.py")):
        rel = path.relative_to(root).as_posix()
        files[rel] = public_only(path.read_text(encoding="utf-8"), rel).encode("utf-8")
    todo = [*files, *(r for r in GRADER_ROOTS if (root / r).is_file())]
    while todo:
        rel = todo.pop()
        if rel not in files:
            files[rel] = (root / rel).read_bytes()
        for module in sorted(grader_imports(files[rel].decode("utf-8"), root)):
            if module in INSTRUCTOR_ONLY:
                raise ReleaseError(f"{rel} imports {module}, which must not reach interns: import it lazily "
                                   "(importlib, try/except ImportError or TYPE_CHECKING) in that module")
            target = _module_file(root, module)
            if target and target not in files and target not in todo:
                todo.append(target)
        parent = rel.rsplit("/", 1)[0] + "/__init__.py"
        if (root / parent).is_file() and parent not in files and parent not in todo:
            todo.append(parent)
    return files


def intern_notebooks(root: Path) -> dict[str, bytes]:
    """The intern notebooks, generated from ``solutions/`` by assign's rules (not read from notebooks/)."""
    from grader.assign import AssignError, plan

    try:
        todo = plan(root / "solutions", root / "notebooks")
    except AssignError as error:
        raise ReleaseError(str(error)) from None
    return {f"notebooks/{target.name}": text.encode("utf-8") for target, text in sorted(todo.items())
            if text is not None}


def dbt_files(root: Path, tracked: set[str] | None) -> dict[str, bytes]:
    """The starting dbt project (no answer files), its profiles.yml and the empty warehouse folder."""
    files = {f"dbt_project/{rel}": data for rel, data in starting_project(root).items()
             if tracked is None or f"dbt_project/{rel}" in tracked}
    for rel in ("dbt_project/profiles.yml", "dbt_project/warehouse/.gitkeep"):
        files[rel] = (root / rel).read_bytes()
    return files


def edition_data(root: Path) -> dict:
    """``grader/edition.json``: answer paths (no contents), shipped rewritten files, hidden-check counts."""
    from grader.exercises import registry

    reference = reference_answers(root)
    start = starting_project(root, set(reference.files))
    return {
        "answer_paths": dict(sorted(reference.origins.items())),
        "rewritten_starting_files": {rel: start[rel].decode("utf-8") for rel in REWRITTEN_STARTING_FILES
                                     if rel in start},
        "hidden_checks": {ex_id: sum(not c.public for c in ex.checks) for ex_id, ex in registry().items()},
    }


def _title(notebook: bytes) -> str:
    for cell in json.loads(notebook)["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            return first.lstrip("# ").strip()
    return ""


def readme(notebooks: dict[str, bytes]) -> str:
    """The intern README: set-up, the notebooks, self-checks, how to hand in."""
    rows = "\n".join(f"| `{rel.split('/')[-1]}` | {_title(data).replace('|', '/')} |"
                     for rel, data in sorted(notebooks.items()))
    return README_TEMPLATE.replace("{notebook_rows}", rows)


def makefile(root: Path) -> str:
    """The repository's Makefile without its instructor-only blocks."""
    text = (root / "Makefile").read_text(encoding="utf-8")
    out = _BLOCK.sub("", text)
    if "INSTRUCTOR" in out.replace("grep -v 'INSTRUCTOR'", "").replace("BEGIN/END INSTRUCTOR", ""):
        raise ReleaseError("Makefile: unbalanced '# BEGIN INSTRUCTOR' / '# END INSTRUCTOR' lines")
    return out


def pyproject(root: Path) -> str:
    """pyproject.toml up to its tool sections (packages and pins stay the course's), plus ruff basics."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    head = text.split("\n[tool.ruff]", 1)[0].rstrip("\n")
    return head + '\n\n[tool.ruff]\nline-length = 110\ntarget-version = "py311"\n'


def gitignore(root: Path) -> str:
    """The repository's .gitignore without instructor-only outputs, plus the intern's submission zip."""
    lines = [line for line in (root / ".gitignore").read_text(encoding="utf-8").splitlines()
             if line.strip() not in INSTRUCTOR_IGNORES]
    return "\n".join(lines) + "\nsubmission.zip\n"


def edition_files(root: Path | None = None) -> dict[str, bytes]:
    """Every file of the edition by relative path (what the folder and the zip hold)."""
    root = root or repo_root()
    tracked = _tracked(root)
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        files |= _package_files(root, package, tracked)
    files |= grader_files(root)
    files |= dbt_files(root, tracked)
    notebooks = intern_notebooks(root)
    files |= notebooks
    for name in TOP_FILES:
        files[name] = (root / name).read_bytes()
    files["Makefile"] = makefile(root).encode("utf-8")
    files["pyproject.toml"] = pyproject(root).encode("utf-8")
    files[".gitignore"] = gitignore(root).encode("utf-8")
    files["README.md"] = readme(notebooks).encode("utf-8")
    files[".github/workflows/self-check.yml"] = WORKFLOW.encode("utf-8")
    files[EDITION_MARKER] = (json.dumps(edition_data(root), indent=2, sort_keys=True) + "\n").encode("utf-8")
    return dict(sorted(files.items()))


# ---- proofs -------------------------------------------------------------------------------------
def _normalised(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines()}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def text_lines(rel: str, data: bytes) -> set[str]:
    """Normalised lines of a file as a reader sees them: notebooks by every string in their JSON
    (sources, outputs, metadata), Python files as written and by their string constants."""
    text = data.decode("utf-8", errors="replace")
    lines = _normalised(text)
    if rel.endswith(".ipynb"):
        for piece in _strings(json.loads(text)):
            lines |= _normalised(piece)
    elif rel.endswith(".py"):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lines |= _normalised(node.value)
    return lines


def answer_lines(root: Path) -> dict[str, str]:
    """Normalised lines of every solution answer (regions, answer cells, solution-only cells) and of
    every reference answer file, minus lines interns legitimately see (the rest of the solution
    notebooks, as written and uncommented, and the starting project): line -> where it comes from."""
    from grader.assign import _load, _source, _tags, solution_texts

    public: set[str] = set()
    for data in starting_project(root).values():
        public |= _normalised(data.decode("utf-8", errors="replace"))
    found: dict[str, str] = {}
    for solution in sorted((root / "solutions").glob("*.ipynb")):
        for cell in _load(solution)["cells"]:
            tags = _tags(cell)
            if "solution-only" in tags or any(t.startswith("answer:") for t in tags):
                continue
            inside = False
            for line in _source(cell).splitlines():
                if re.match(r"^\s*(--|#)\s*(BEGIN|END) SOLUTION\s*$", line):
                    inside = "BEGIN" in line
                elif not inside:
                    public |= _normalised(line) | _normalised(re.sub(r"^\s*(#|--)\s?", "", line, count=1))
        for piece in solution_texts(solution):
            for line in _normalised(piece.text):
                found.setdefault(line, f"{solution.name} cell {piece.cell} ({piece.kind})")
    for path, text in reference_answers(root).files.items():
        for line in _normalised(text):
            found.setdefault(line, f"reference answer dbt_project/{path}")
    return {line: where for line, where in found.items()
            if len(line) >= MIN_LEAK_CHARS and " " in line and line not in public}


def find_overlaps(files: dict[str, bytes], root: Path | None = None) -> dict[tuple[str, str], str]:
    """(file, line) -> where the answer line comes from, for every answer line in the edition's files."""
    answers = answer_lines(root or repo_root())
    return {(rel, line): answers[line] for rel, data in sorted(files.items())
            for line in sorted(text_lines(rel, data) & answers.keys())}


def find_leaks(files: dict[str, bytes], root: Path | None = None) -> list[str]:
    """``file: line (source)`` for every answer line in the edition that is not a known overlap."""
    known = {(rel, line) for rel, (_why, lines) in KNOWN_OVERLAPS.items() for line in lines}
    return [f"{rel}: {line[:100]!r} (from {where})"
            for (rel, line), where in find_overlaps(files, root).items() if (rel, line) not in known]


_PROBE = """
import json, sys
from grader import cli
from grader.exercises import registry
from grader.edition import hidden_check_count
exercises = registry()
print(json.dumps({
    "public": {e: [[c.name, c.points, c.hint, c.description] for c in ex.checks if c.public]
               for e, ex in exercises.items()},
    "hidden_in_code": {e: sum(not c.public for c in ex.checks) for e, ex in exercises.items()},
    "reference_setups": sum(len(ex.reference_setups) for ex in exercises.values()),
    "hidden": {e: hidden_check_count(e) for e in exercises},
    "verbs": [v for v in cli.VERB_MODULES if cli.available(v)],
    "grader_file": __import__("grader").__file__,
}, sort_keys=True))
"""


def _public_function_dumps(source: str) -> dict[str, str]:
    dumps = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(
                "check" in ast.unparse(d) and "public=True" in ast.unparse(d) for d in node.decorator_list):
            dumps[node.name] = ast.dump(node)
    return dumps


def verify(folder: Path, root: Path) -> None:
    """Import the edition in a fresh process (its own folder first on the path): exactly the original's
    public checks (same names, points, hints, code), no hidden check or hook, only the check verb."""
    from grader.exercises import registry

    env = {k: v for k, v in os.environ.items() if not k.startswith("VB_")}
    env.update(PYTHONPATH=str(folder), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"the edition's grader does not import: {tail}")
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(seen["grader_file"]).resolve().is_relative_to(folder.resolve()):
        raise ReleaseError(f"the probe imported {seen['grader_file']}, not the edition's grader")
    original = registry()
    expected = {e: [[c.name, c.points, c.hint, c.description] for c in ex.checks if c.public]
                for e, ex in original.items()}
    if seen["public"] != expected:
        raise ReleaseError("the edition's public checks differ from the course's (grader/public_checks.py)")
    hidden = {e: sum(not c.public for c in ex.checks) for e, ex in original.items()}
    if seen["hidden"] != hidden or any(seen["hidden_in_code"].values()) or seen["reference_setups"]:
        raise ReleaseError("the edition holds hidden checks or reference hooks, or miscounts them")
    if seen["verbs"] != ["check"]:
        raise ReleaseError(f"the edition offers instructor verbs: {seen['verbs']}")
    for path in sorted((root / "grader" / "exercises").glob("ex_*.py")):
        ours = _public_function_dumps((folder / "grader" / "exercises" / path.name).read_text())
        if ours != _public_function_dumps(path.read_text()):
            raise ReleaseError(f"{path.name}: a public check's code changed in the edition")


# ---- writing ------------------------------------------------------------------------------------
def _write_folder(files: dict[str, bytes], folder: Path) -> None:
    stamp = _epoch()
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
        os.utime(path, (stamp, stamp))
    for path in [*sorted(folder.rglob("*"), reverse=True), folder]:
        if path.is_dir():
            path.chmod(0o755)
            os.utime(path, (stamp, stamp))


def _epoch() -> float:
    import calendar

    return float(calendar.timegm((*FIXED_TIME, 0, 0, 0)))


def zip_bytes(files: dict[str, bytes], prefix: str) -> bytes:
    """A reproducible zip: sorted entries under ``prefix/``, fixed time, 0644 files, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{prefix}/{rel}", date_time=FIXED_TIME)
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _is_release(folder: Path) -> bool:
    return (folder / EDITION_MARKER).is_file()


def release(out: Path, *, make_zip: bool = False, root: Path | None = None,
            log: Callable[[str], None] = print, refuse_leaks: bool = True) -> Built:
    """Build, prove and publish the edition into ``out`` (replacing an earlier release there, never
    anything else); with ``make_zip`` also ``<out>.zip``. ``refuse_leaks=False`` is for the test suite
    only (its leak test then names every leak, while the other tests still get an edition)."""
    root = (root or repo_root()).resolve()
    out = out.resolve()
    if (root / EDITION_MARKER).exists() or not (root / "solutions").is_dir():
        raise ReleaseError(f"{root} is not the course repository (an intern edition cannot be released)")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_release(out))):
        raise ReleaseError(f"{out} exists and is not an earlier release: choose an empty or new folder")
    if out.is_relative_to(root) and not out.is_relative_to(root / "dist"):
        raise ReleaseError(f"{out} is inside the course repository: write releases under dist/ or elsewhere")
    log(f"building the intern edition from {root}")
    files = edition_files(root)
    leaks = find_leaks(files, root) if refuse_leaks else []
    if leaks:
        raise ReleaseError(f"{len(leaks)} answer line(s) would reach interns, first: {leaks[0]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write_folder(files, staging)
        verify(staging, root)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.rename(old / "previous")
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    zip_path = None
    if make_zip:
        zip_path = out.with_name(out.name + ".zip")
        partial = zip_path.with_name(f".{zip_path.name}.partial")
        partial.write_bytes(zip_bytes(files, out.name))
        os.replace(partial, zip_path)
    size = sum(len(d) for d in files.values())
    proven = "; no answer lines" if refuse_leaks else ""
    log(f"{len(files)} files, {size:,} bytes; public checks only{proven}")
    return Built(out, len(files), zip_path)


README_TEMPLATE = """# VyaparBazaar Analytics Camp - Module 5: Analytics Engineering Best Practices

Your copy of the module: analytics engineering with **dbt on DuckDB** on VyaparBazaar, a fictional
Indian e-commerce marketplace. You work in a real dbt/DuckDB warehouse, one Jupyter notebook per
exercise; each notebook ends with a self-check that tells you how you are doing.

| notebook | exercise |
|---|---|
{notebook_rows}

## Set up and start

You need Python 3.11, 3.12 or 3.13 (the Makefile picks the first it finds and says which; choose one
with `make lab PYTHON=python3.12`), `make` and a network connection to PyPI (nothing else is
downloaded). Then:

```bash
make lab
```

It creates `.venv` with the pinned packages, generates the dataset (seed 42, scale 1), builds the
warehouse with `dbt build`, and starts JupyterLab on `notebooks/` at http://127.0.0.1:8888 (open the
link with the token it prints). Re-running it skips whatever is already done. Start with
`00_getting_started.ipynb`. With conda: `conda env create -f environment.yml` creates the same pinned
environment; the `make` targets use `.venv`.

```bash
make warehouse        # set-up, data and dbt build, without JupyterLab
make reset-warehouse  # drop the warehouse and replayed arrivals (your files in dbt_project/ stay)
```

## How an exercise works

Each notebook explains the why, shows evidence and asks you to write real dbt files from cells
that start with `%%writefile ../dbt_project/...`: cells marked `YOUR CODE HERE` are yours, and
prose answers go in the answer cells under "Questions to consider". The notebooks are the source
of your answers: keep your work in them.

## Check your work

The last cell of each notebook runs that exercise's public self-checks against your warehouse:

```python
from grader import check; check("5.1")
```

From a terminal: `make check` (every exercise), or `.venv/bin/python -m grader check 5.1`. Each check
says what passed, what failed and a hint. Your instructor grades on a hidden dataset with more
checks, and reads your prose answers; passing the public checks is a good sign, not a grade.

If your copy lives on GitHub (for example through GitHub Classroom), every push runs the same
self-checks in GitHub Actions (`.github/workflows/self-check.yml`): open the run and read its
summary page.

## Hand in

Your answers live in the notebooks. Save them, then either push your repository (if your
instructor uses GitHub) or run

```bash
make submission
```

and hand in `submission.zip` (your `notebooks/*.ipynb`) as your instructor asks.

## Layout

| path | what |
|---|---|
| `notebooks/` | the exercises |
| `dbt_project/` | the dbt project you work in: sources -> staging -> intermediate -> marts |
| `datasets/` | the data generator (`datasets/README.md`) |
| `notebook_helpers/` | what the notebooks import: `%dbt`, quiet `%sql`, profiling, timing |
| `ops/` | deploy / rollback, slim CI, monitoring, schedules, build profiling (exercise 5.4, bonus) |
| `stakeholder_docs/` | data dictionary and dashboard figures (exercise 5.5) |
| `grader/` | the self-checks (public checks only) |
"""

WORKFLOW = """# The public self-checks of every exercise, on each push; results on the run's summary page.
name: self-check
on:
  push:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  self-check:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    env:
      DBT_SEND_ANONYMOUS_USAGE_STATS: "false"
      PLOOMBER_STATS_ENABLED: "false"
      DO_NOT_TRACK: "1"
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
          cache-dependency-path: requirements.txt
      - name: Set up, generate the data
        run: make venv data PYTHON=python
      - name: Build the warehouse (a failing model is reported by the checks below)
        run: make warehouse PYTHON=python || echo "::warning::dbt build reported failures"
      - name: Self-check (public checks)
        run: |
          set -o pipefail
          .venv/bin/python -m grader check --all --summary-md | tee -a "$GITHUB_STEP_SUMMARY"
"""
