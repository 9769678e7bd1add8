"""``%load_ext notebook_helpers``: quiet jupysql on the warehouse, the ``%dbt`` magic, short errors."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from notebook_helpers import sqlmagic
from notebook_helpers.errors import HelperError, Interrupted


def _dbt_magic(line: str) -> None:
    """``%dbt build -s my_model``: run dbt (locks released, summary printed, %sql reconnected)."""
    from notebook_helpers.dbt_run import run_dbt

    run_dbt(line)


def _writefile_magic(line: str, cell: str) -> None:
    """``%%writefile [-a] path``: IPython's magic, with a message that does not depend on the past.

    IPython prints "Overwriting" on a re-run and "Writing" on a fresh copy, which makes stored
    notebook outputs differ between runs; here it is always "Writing" (or "Appending to").
    Missing parent folders are created. The file is written to a temporary file next to it and
    renamed into place, so an interrupt never leaves half an answer file.
    """
    args = shlex.split(line)
    append = bool(args) and args[0] in ("-a", "--append")
    if append:
        args = args[1:]
    if len(args) != 1:
        raise HelperError("usage: %%writefile [-a] <path>  (one path; quote it if it contains spaces)")
    path = Path(args[0]).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.read_text(encoding="utf-8") if append and path.exists() else ""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(before + cell)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    print(f"{'Appending to' if append else 'Writing'} {args[0]}")


def _short_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """Show a HelperError as one error line, without a traceback (the cell still counts as failed)."""
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def load_ipython_extension(ipython: Any) -> None:
    """Configure jupysql (no banners, no telemetry), connect it, register ``%dbt``; release the
    warehouse after every cell (``post_run_cell``), so an idle kernel never holds it."""
    from notebook_helpers.release import release_idle

    sqlmagic.configure(ipython)
    problem = sqlmagic.connect()
    if problem:
        print(problem)
    ipython.register_magic_function(_dbt_magic, magic_kind="line", magic_name="dbt")
    ipython.register_magic_function(_writefile_magic, magic_kind="cell", magic_name="writefile")
    ipython.set_custom_exc((HelperError, Interrupted), _short_error)
    if release_idle not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", release_idle)


def unload_ipython_extension(ipython: Any) -> None:
    """Release the warehouse and stop releasing it after every cell."""
    from notebook_helpers.release import release_all, release_idle

    if release_idle in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", release_idle)
    release_all()
