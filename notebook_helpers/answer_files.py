"""Check a notebook's answer files against the ``%%writefile`` cells that write them; never delete.

An exercise notebook writes its answers into ``dbt_project/`` from ``%%writefile`` cells. A file
left by an earlier run, or edited outside the notebook, is what dbt reads until its cell runs
again. ``check_answer_files(notebook)`` compares every such file with its cell in the notebook
*as last saved*, prints one line per file and, for a file that differs, says how to bring file
and cell back in line. It never modifies or removes a file: the file may hold the intern's work.

Output is the same whether a file is missing or equal to its cell (both are ``ok``), so a notebook
that calls it reproduces its stored output on every run (nbval).

    from notebook_helpers.answer_files import check_answer_files
    check_answer_files("5_1_optimize_model.ipynb", expected=[...])   # paths as in the cells
"""

from __future__ import annotations

import ast
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from notebook_helpers.errors import HelperError

OK, DIFFERS, NO_CELL = "ok", "DIFFERS", "NO CELL"


@dataclass(frozen=True)
class AnswerFile:
    """One answer file: ``path`` as written in its cell, its status and the cell numbers (1-based)."""

    path: str
    status: str  # OK (missing or equal to its cell), DIFFERS, NO_CELL (exists, no cell writes it)
    cells: tuple[int, ...] = ()
    exists: bool = False


def _magic_call(source: str) -> tuple[str, str] | None:
    """``(line, body)`` of a ``%%writefile`` cell exactly as IPython passes them, else None."""
    from IPython.core.inputtransformer2 import TransformerManager

    if not source.lstrip().startswith("%%writefile"):
        return None
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None
    call = tree.body[0].value if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if not (isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "run_cell_magic"
            and len(call.args) == 3 and all(isinstance(a, ast.Constant) for a in call.args)):
        return None
    name, line, body = (a.value for a in call.args)
    return (line, body) if name == "writefile" else None


def written_files(notebook: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Path (as in the cell) -> (content the notebook's ``%%writefile`` cells write, cell numbers)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        message = f"cannot read the notebook {notebook} ({error}); save it and run this cell again"
        raise HelperError(message) from None
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        call = _magic_call("".join(source) if isinstance(source, list) else str(source))
        if call is None:
            continue
        args = shlex.split(call[0])
        append = bool(args) and args[0] in ("-a", "--append")
        path = args[-1] if args else ""
        before, numbers = found.get(path, ("", ()))
        found[path] = ((before if append else "") + call[1], (*numbers, number))
    return found


def _locate(notebook: str | Path) -> Path:
    path = Path(notebook)
    if path.is_file():
        return path
    raise HelperError(f"notebook {notebook} not found from {Path.cwd()}: pass its path")


def answer_file_status(notebook: str | Path, expected: list[str] | None = None) -> list[AnswerFile]:
    """Status of each file the notebook's ``%%writefile`` cells write (plus ``expected`` paths)."""
    nb_path = _locate(notebook)
    written = written_files(nb_path)
    result = []
    for path in dict.fromkeys([*written, *(expected or [])]):
        target = (nb_path.parent / path) if not Path(path).is_absolute() else Path(path)
        exists = target.is_file()
        if path not in written:
            result.append(AnswerFile(path, NO_CELL if exists else OK, (), exists))
            continue
        content, cells = written[path]
        same = not exists or target.read_text(encoding="utf-8", errors="replace") == content
        result.append(AnswerFile(path, OK if same else DIFFERS, cells, exists))
    return result


def check_answer_files(notebook: str | Path, expected: list[str] | None = None) -> list[AnswerFile]:
    """Print whether each answer file matches its ``%%writefile`` cell; change nothing.

    ``notebook``: the notebook's file name (the kernel runs in its folder). ``expected``: paths
    (as written in the cells) that must have a cell, e.g. so a file left by an earlier run whose
    cell was deleted is named too. Returns the statuses.
    """
    statuses = answer_file_status(notebook, expected)
    name = Path(notebook).name
    print(f"Answer files of {name} (ok = not written yet, or the same as its %%writefile cell):")
    for f in statuses:
        print(f"  {f.status:<8} {f.path}")
    differs = [f for f in statuses if f.status == DIFFERS]
    orphans = [f for f in statuses if f.status == NO_CELL]
    if not differs and not orphans:
        print("Nothing to do. (This check never deletes or changes a file.)")
        return statuses
    if differs:
        print(
            f"\n{len(differs)} file(s) differ from the cell that writes them (in {name} as last saved):"
            " dbt reads the FILE until you run its cell again (the cell that starts `%%writefile <path>`).\n"
            "  - to use the cell's version: run that cell (it rewrites the file);\n"
            "  - to keep the file's version (you edited it outside the notebook): copy it into the cell,\n"
            "    e.g. print(open('<path>').read()), paste, save the notebook, run this cell again;\n"
            "  - just edited and ran the cell? Save the notebook (Ctrl+S): this check reads the saved file."
        )
    if orphans:
        print(
            f"\n{len(orphans)} file(s) exist but no cell of {name} writes them (left by an earlier run?):"
            " dbt still reads them. Restore the cell that writes each one, or move the file out of"
            " dbt_project/ yourself if you no longer want it."
        )
    print("Nothing was deleted or changed.")
    return statuses
