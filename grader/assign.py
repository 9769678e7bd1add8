"""``python -m grader assign``: write the intern notebooks ``notebooks/*.ipynb`` from ``solutions/*.ipynb``.

Rules (DEVELOPING.md, "Notebooks"):
- ``BEGIN SOLUTION`` / ``END SOLUTION`` regions become one ``YOUR CODE HERE`` line in the marker's
  comment syntax (``#`` or ``--``) and indentation;
- lines between ``BEGIN SKELETON`` / ``END SKELETON`` are uncommented (markers dropped);
- cells tagged ``solution-only`` are dropped;
- markdown cells tagged ``answer:<exercise>:<question>`` get :data:`ANSWER_PROMPT` (tag kept);
- outputs, execution counts and metadata other than tags (and a collapsed input, `jupyter.source_hidden`)
  are cleared, so output is byte-stable.
``--check`` writes nothing and exits 1 listing the notebooks that differ.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_core.cli_errors import USAGE_ERROR, OneLineParser
from course_core.settings import repo_root
from grader.answers import ANSWER_PROMPT

SOLUTION_ONLY = "solution-only"
ANSWER_TAG = re.compile(r"^answer:[A-Za-z0-9.]+:[A-Za-z0-9_.-]+$")
MARKER = re.compile(
    r"^(?P<indent>\s*)(?P<comment>--|#)\s*(?P<edge>BEGIN|END) (?P<kind>SOLUTION|SKELETON)\s*$"
)
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class AssignError(Exception):
    """A malformed solution notebook; the message is one line naming the file, cell and problem."""


@dataclass(frozen=True)
class SolutionText:
    """A piece of a solution notebook an intern must not see."""

    cell: int  # 1-based cell number in the solution notebook
    kind: str  # "region" (BEGIN/END SOLUTION), "answer" (answer:* markdown) or "solution-only"
    text: str
    tag: str | None = None  # the answer tag, for kind "answer"


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _tags(cell: dict[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _uncomment(line: str, comment: str) -> str:
    """``# print(1)`` -> ``print(1)``, keeping indentation; lines without the prefix are kept."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if not stripped.startswith(comment):
        return line
    rest = stripped[len(comment):]
    return indent + (rest[1:] if rest.startswith(" ") else rest)


def strip_cell(source: str, where: str = "cell") -> str:
    """The intern version of one cell's source (solution regions replaced, skeletons uncommented)."""
    out: list[str] = []
    open_kind: str | None = None
    comment = ""
    for number, line in enumerate(source.split("\n"), start=1):
        match = MARKER.match(line)
        if match:
            kind, edge = match["kind"], match["edge"]
            if edge == "BEGIN":
                if open_kind:
                    raise AssignError(f"{where} line {number}: BEGIN {kind} inside an open {open_kind}")
                open_kind, comment = kind, match["comment"]
                if kind == "SOLUTION":
                    out.append(f"{match['indent']}{comment} YOUR CODE HERE")
            else:
                if open_kind != kind:
                    raise AssignError(f"{where} line {number}: END {kind} without a matching BEGIN {kind}")
                open_kind = None
            continue
        if open_kind == "SOLUTION":
            continue
        out.append(_uncomment(line, comment) if open_kind == "SKELETON" else line)
    if open_kind:
        raise AssignError(f"{where}: BEGIN {open_kind} has no END {open_kind}")
    return "\n".join(out)


def _load(path: Path) -> dict[str, Any]:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AssignError(f"{path}: not UTF-8 text; save it again from JupyterLab") from None
    except json.JSONDecodeError as error:
        raise AssignError(f"{path}: not valid notebook JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise AssignError(f"{path}: not a notebook (no list of cells)")
    if notebook.get("nbformat") != 4:
        version = notebook.get("nbformat")
        raise AssignError(f"{path}: nbformat {version!r} is not supported; save it as version 4")
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise AssignError(f"{path} cell {number}: malformed cell (needs cell_type code/markdown/raw)")
    return notebook


def _cell_id(index: int) -> str:
    """Deterministic cell ids: ``cell-000``, ``cell-001``, ..."""
    return f"cell-{index:03d}"


def intern_notebook(path: Path) -> dict[str, Any]:
    """The intern version of the solution notebook at ``path``, as notebook JSON (dict)."""
    solution = _load(path)
    cells: list[dict[str, Any]] = []
    for number, cell in enumerate(solution["cells"], start=1):
        tags = _tags(cell)
        if SOLUTION_ONLY in tags:
            continue
        where = f"{path.name} cell {number}"
        kind = cell["cell_type"]
        if kind == "markdown" and any(ANSWER_TAG.match(t) for t in tags):
            source = ANSWER_PROMPT
        else:
            source = strip_cell(_source(cell), where)
        metadata: dict[str, Any] = {"tags": tags} if tags else {}
        if (cell.get("metadata") or {}).get("jupyter", {}).get("source_hidden") is True:
            metadata["jupyter"] = {"source_hidden": True}  # a cell to open after the intern's own findings
        new: dict[str, Any] = {
            "cell_type": kind,
            "id": _cell_id(len(cells)),
            "metadata": metadata,
            "source": source,
        }
        if kind == "code":
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    return {"cells": cells, "metadata": NOTEBOOK_METADATA, "nbformat": 4, "nbformat_minor": 5}


def render(notebook: dict[str, Any]) -> str:
    """Notebook JSON text exactly as Jupyter writes it (indent 1, sorted keys, source as lines)."""
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    return json.dumps(copy, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def solution_texts(path: Path) -> list[SolutionText]:
    """Every piece of ``path`` that must not reach interns: solution regions, answers, solution-only cells."""
    found: list[SolutionText] = []
    for number, cell in enumerate(_load(path)["cells"], start=1):
        tags, source = _tags(cell), _source(cell)
        answer = next((t for t in tags if ANSWER_TAG.match(t)), None)
        if SOLUTION_ONLY in tags:
            found.append(SolutionText(number, "solution-only", source))
            continue
        if cell["cell_type"] == "markdown" and answer:
            found.append(SolutionText(number, "answer", source, answer))
            continue
        region: list[str] | None = None
        for line in source.split("\n"):
            match = MARKER.match(line)
            if match and match["kind"] == "SOLUTION":
                if match["edge"] == "BEGIN":
                    region = []
                elif region is not None:
                    found.append(SolutionText(number, "region", "\n".join(region)))
                    region = None
            elif region is not None:
                region.append(line)
    return found


def plan(solutions: Path, notebooks: Path, names: list[str] | None = None) -> dict[Path, str | None]:
    """What assign would do: target path -> new text (None = an orphan notebook to delete)."""
    if not solutions.is_dir():
        raise AssignError(f"{solutions} is not a folder of solution notebooks")
    sources = sorted(solutions.glob("*.ipynb"))
    if names:
        wanted = {n.removesuffix(".ipynb") for n in names}
        missing = sorted(wanted - {p.stem for p in sources})
        if missing:
            raise AssignError(f"no solution notebook called {', '.join(missing)} in {solutions}")
        sources = [p for p in sources if p.stem in wanted]
    result: dict[Path, str | None] = {notebooks / p.name: render(intern_notebook(p)) for p in sources}
    if not names and notebooks.is_dir():
        for orphan in sorted(notebooks.glob("*.ipynb")):
            result.setdefault(orphan, None)
    return result


def _differs(target: Path, text: str | None) -> bool:
    if text is None:
        return target.exists()
    return not target.exists() or target.read_text(encoding="utf-8") != text


def main(argv: list[str]) -> int:
    """CLI entry point (``python -m grader assign [--check] [names...]``); returns the exit code."""
    parser = OneLineParser(
        prog="python -m grader assign",
        description="Write the intern notebooks notebooks/*.ipynb from solutions/*.ipynb.",
        line="assign: {message} (see --help)",
    )
    parser.add_argument("names", nargs="*", help="only these notebooks (default: every solutions/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if notebooks/ is stale")
    parser.add_argument("--solutions", type=Path, default=None, help="default: <repo>/solutions")
    parser.add_argument("--notebooks", type=Path, default=None, help="default: <repo>/notebooks")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # a usage error, already printed on one line (or --help)
        if stop.code == USAGE_ERROR:
            return USAGE_ERROR
        raise
    solutions = args.solutions or repo_root() / "solutions"
    notebooks = args.notebooks or repo_root() / "notebooks"
    try:
        todo = plan(solutions, notebooks, args.names)
    except AssignError as error:
        print(f"assign: {error}", file=sys.stderr)
        return 2
    stale = [target for target, text in todo.items() if _differs(target, text)]
    if args.check:
        for target in stale:
            why = "is an orphan (no solution)" if todo[target] is None else "differs from its solution"
            print(f"{target.name} {why}: run `python -m grader assign`")
        if not stale:
            print(f"notebooks/ is up to date ({len(todo)} notebooks)")
        return 1 if stale else 0
    notebooks.mkdir(parents=True, exist_ok=True)
    for target in stale:
        text = todo[target]
        if text is None:
            target.unlink()
            print(f"removed {target.name} (no solution notebook)")
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.name}")
    if not stale:
        print(f"notebooks/ is up to date ({len(todo)} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
