"""``%load_ext notebook_helpers``: quiet jupysql on the warehouse, the ``%dbt`` magic, short errors."""

from __future__ import annotations

from typing import Any

from notebook_helpers import sqlmagic
from notebook_helpers.errors import HelperError


def _dbt_magic(line: str) -> None:
    """``%dbt build -s my_model``: run dbt (locks released, summary printed, %sql reconnected)."""
    from notebook_helpers.dbt_run import run_dbt

    run_dbt(line)


def _short_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """Show a HelperError as one error line, without a traceback (the cell still counts as failed)."""
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def load_ipython_extension(ipython: Any) -> None:
    """Configure jupysql (no banners, no telemetry), connect it, register ``%dbt``."""
    sqlmagic.configure(ipython)
    problem = sqlmagic.connect()
    if problem:
        print(problem)
    ipython.register_magic_function(_dbt_magic, magic_kind="line", magic_name="dbt")
    ipython.set_custom_exc((HelperError,), _short_error)


def unload_ipython_extension(ipython: Any) -> None:
    """Release the warehouse."""
    from notebook_helpers.connections import release_all

    release_all()
