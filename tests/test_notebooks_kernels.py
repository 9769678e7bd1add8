"""Real Jupyter kernels on a scratch copy of the course (issue 14): an idle kernel never holds the
warehouse, so two notebooks, a terminal and a DuckDB shell take turns without restarts, and an
interrupted ``%dbt build`` leaves the warehouse free and the model as it was."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import copy_workspace, scratch_env

pytestmark = pytest.mark.slow
MODEL = "stg_customers"  # a small view with two tests: a cheap %dbt build
SLOW_SQL = "select sum(a.range * b.range) as v from range(200000) a, range(200000) b"  # minutes


@dataclass
class Reply:
    """What one cell produced."""

    status: str
    text: str = ""
    errors: list[str] = field(default_factory=list)


class Kernel:
    """A python3 kernel started like JupyterLab starts one, in the copy's notebooks/ folder."""

    def __init__(self, root: Path) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(root / "notebooks"), env=scratch_env(root))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=180)

    def submit(self, code: str) -> str:
        return self.client.execute(code)

    def collect(self, msg_id: str, timeout: float = 300) -> Reply:
        reply = Reply("?")
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                reply.text += content["text"]
            elif kind in ("execute_result", "display_data"):
                reply.text += content["data"].get("text/plain", "") + "\n"
            elif kind == "error":
                reply.errors.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            msg = self.client.get_shell_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id:
                reply.status = msg["content"]["status"]
                return reply

    def run(self, code: str, timeout: float = 300) -> Reply:
        return self.collect(self.submit(code), timeout)

    def ok(self, code: str, timeout: float = 300) -> str:
        reply = self.run(code, timeout)
        assert reply.status == "ok" and not reply.errors, f"{code!r} -> {reply}"
        return reply.text

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _terminal_writes(warehouse: Path) -> subprocess.CompletedProcess:
    """What a DuckDB shell or a terminal dbt run does: open the file read-write and write to it."""
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('create or replace table terminal_probe as select 1 as x'); c.close()")
    return subprocess.run([sys.executable, "-c", code, str(warehouse)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def course(tmp_path_factory, built_warehouse: Path) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("kernels"), built_warehouse, parse_state=True)


@pytest.fixture(scope="module")
def kernels(course: Path) -> Iterator[tuple[Kernel, Kernel]]:
    first, second = Kernel(course), Kernel(course)
    try:
        for kernel in (first, second):
            kernel.ok("%load_ext notebook_helpers\nfrom notebook_helpers import query\n"
                      "from grader import check")
        yield first, second
    finally:
        first.stop()
        second.stop()


def _assert_free(course: Path) -> None:
    done = _terminal_writes(course / "dbt_project" / "warehouse" / "dev.duckdb")
    assert done.returncode == 0, f"an idle kernel holds the warehouse:\n{done.stderr[-1500:]}"


def test_two_idle_kernels_take_turns_with_each_other_and_a_terminal(kernels, course: Path):
    a, b = kernels
    _assert_free(course)  # after %load_ext: nothing held
    assert "20000" in a.ok(f"%sql select count(*) as n from {MODEL}").replace(",", "")
    _assert_free(course)
    assert b.ok("print(query('select count(*) as n from stg_orders')['n'][0])").strip().isdigit()
    _assert_free(course)
    for kernel in (a, b):
        out = kernel.ok(f"%dbt build -s {MODEL}")
        assert out.startswith(f"dbt build -s {MODEL}: OK"), out
        _assert_free(course)
    for kernel in (a, b):
        out = kernel.ok('check("5.1")')
        assert out.startswith("Exercise 5.1 (") and "public checks pass" in out, out
        assert "in use by" not in out
        _assert_free(course)
    # %sql still works after dbt and self-checks; a kept result set re-runs its query when needed
    a.ok(f"kept = %sql select customer_id from {MODEL} order by customer_id")
    _assert_free(course)
    assert a.ok("print(len(list(kept)))").strip() == "20000"
    _assert_free(course)
    assert a.ok("print(len(kept.DataFrame()))").strip() == "20000"
    _assert_free(course)
    # a connection jupysql made from a URL (SQLAlchemy + duckdb_engine): its pool is disposed too
    url = f"duckdb:///{course / 'dbt_project' / 'warehouse' / 'dev.duckdb'}"
    b.ok(f"%sql {url} --alias by_url")
    _assert_free(course)
    assert "20000" in b.ok(f"%sql select count(*) as n from {MODEL}").replace(",", "")
    _assert_free(course)
    assert "20000" in b.ok(f"%sql select count(*) as n from {MODEL}").replace(",", "")
    _assert_free(course)
    b.ok("%sql vyaparbazaar")


def test_a_cell_waits_for_a_short_terminal_write(kernels, course: Path):
    a, _ = kernels
    warehouse = course / "dbt_project" / "warehouse" / "dev.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(1.5); c.close()", str(warehouse)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert a.ok("print(query('select 41 + 1 as n')['n'][0])").strip() == "42"
    finally:
        holder.kill()
        holder.wait()


def test_interrupted_dbt_build_keeps_the_model_and_frees_the_warehouse(kernels, course: Path):
    a, _ = kernels
    model = course / "dbt_project" / "models" / "marts" / "zz_interrupt_me.sql"
    compiled = course / "dbt_project" / "target" / "run" / "vyaparbazaar" / "models" / "marts" / model.name
    model.write_text("select 1 as v")
    try:
        assert a.ok("%dbt build -s zz_interrupt_me").startswith("dbt build -s zz_interrupt_me: OK")
        model.write_text(SLOW_SQL)
        compiled.unlink(missing_ok=True)
        msg_id = a.submit("%dbt build -s zz_interrupt_me\nprint('the rest of the cell ran')")
        deadline = time.monotonic() + 120
        while not compiled.exists() and time.monotonic() < deadline:  # dbt is about to run the model
            time.sleep(0.1)
        time.sleep(0.5)
        started = time.monotonic()
        a.manager.interrupt_kernel()
        reply = a.collect(msg_id, timeout=120)
        assert time.monotonic() - started < 60, "the interrupt did not stop dbt's query"
        assert reply.status == "error" and reply.errors[0].startswith("Interrupted: dbt build"), reply
        assert "the rest of the cell ran" not in reply.text
        assert "dbt build -s zz_interrupt_me: INTERRUPTED" in reply.text, reply.text
        assert "interrupted: zz_interrupt_me kept its previous version" in reply.text, reply.text
        _assert_free(course)
        assert a.ok("print(query('select v from zz_interrupt_me')['v'].tolist())").strip() == "[1]"
        assert a.ok(f"%dbt build -s {MODEL}").startswith(f"dbt build -s {MODEL}: OK")
        _assert_free(course)
    finally:
        model.unlink(missing_ok=True)

