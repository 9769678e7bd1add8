"""Execute solution notebooks in place so their stored outputs are current (for notebook authors).

``python -m notebook_helpers.refresh_outputs solutions/5_1_optimize_model.ipynb [...]``

Runs every cell top to bottom with the notebook's folder as working directory (against the
warehouse of ``VB_DUCKDB_PATH`` or the dev warehouse), then stores the outputs without
volatile metadata (no execution timestamps, fixed kernel metadata), so re-running on the
same data rewrites the same text. Nothing is written if a cell raises.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def refresh(path: Path, timeout: int = 900) -> str | None:
    """Execute ``path`` and save it with outputs; returns a one-line problem or None."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    from notebook_helpers.sqlmagic import TELEMETRY_OFF

    os.environ.update(TELEMETRY_OFF)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one-line message
        return f"{path}: not a readable notebook ({type(error).__name__})"
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    try:
        client.execute()
    except CellTimeoutError:
        return f"{path}: a cell ran longer than {timeout} s"
    except CellExecutionError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        return f"{path}: a cell raised {lines[-1] if lines else 'an error'}"
    notebook.metadata = dict(NOTEBOOK_METADATA)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return None


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 1 if any notebook failed (that notebook is left unchanged)."""
    parser = argparse.ArgumentParser(prog="python -m notebook_helpers.refresh_outputs")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        if not path.is_file():
            print(f"{path}: no such notebook", file=sys.stderr)
            failed += 1
            continue
        problem = refresh(path, args.timeout)
        print(problem or f"{path}: outputs refreshed", file=sys.stderr if problem else sys.stdout)
        failed += bool(problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
