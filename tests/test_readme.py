"""The README names only commands that the test suite runs, and they work as written.

Every command in a ```bash block of README.md must appear in COVERED below, which says
which test runs it. The cheap ones are run here, as written (in a scratch copy of the
repo where they would change it); `make lab` is started and probed on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# README command -> the test that runs it
COVERED = {
    "make lab": "tests/test_readme.py::test_make_lab_starts_jupyterlab_on_localhost",
    "make warehouse": "tests/test_readme.py::test_make_warehouse_is_a_noop_once_built",
    "make test": ".ci/run (CI runs exactly this)",
    "make reset-warehouse": "tests/test_readme.py::test_reset_then_warehouse_rebuilds_in_a_copy",
    "make bench": "tests/test_readme.py::test_make_bench_prints_numbers_at_a_tiny_scale",
    ".venv/bin/python -m grader grade submissions/ --out grading-out --jobs 2":
        "tests/test_readme.py::test_grade_command_as_written",
    ".venv/bin/python -m grader finalize --out grading-out":
        "tests/test_readme.py::test_grade_command_as_written (then finalize, as written)",
    "make release": "tests/test_readme.py::test_make_release_in_a_copy (the edition: tests/test_release.py)",
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def test_every_readme_command_is_run_by_a_test():
    commands = readme_commands()
    assert "make lab" in commands and "make test" in commands
    missing = [c for c in commands if c not in COVERED]
    assert not missing, f"README commands that no test runs: {missing}"


def test_ci_runs_the_readme_test_command():
    assert "make test" in readme_commands()
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, flags=re.M), ".ci/run must call `make test`"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false", PLOOMBER_STATS_ENABLED="false", MAKEFLAGS="")
    return env


def test_make_warehouse_is_a_noop_once_built():
    if not (ROOT / ".state" / "warehouse.ok").exists():
        pytest.skip("run through `make test`, which builds the warehouse first")
    question = subprocess.run(["make", "-q", "warehouse"], cwd=ROOT, env=_env())
    assert question.returncode == 0, "make warehouse is not up to date right after make test built it"
    done = subprocess.run(["make", "warehouse"], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dbt" not in done.stdout, "an up-to-date warehouse must not be rebuilt"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_lab_starts_jupyterlab_on_localhost(tmp_path):
    if not (ROOT / ".state" / "warehouse.ok").exists():
        pytest.skip("run through `make test`, which builds the warehouse first")
    port = _free_port()
    env = _env() | {"HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(["make", "lab", f"LAB_PORT={port}"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        body = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(1)
        assert '"version"' in body, "JupyterLab did not answer on 127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as response:
            assert response.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _scratch_repo(tmp_path: Path, small_data: bool = False) -> Path:
    """A copy of the repo (sharing the venv) where commands may change things; with ``small_data`` its
    raw data is generated at scale 0.02 (seed 42), so a rebuild there is a small one, and dbt_project/target
    is kept, as in a checkout where the warehouse was built before (dbt's partial parse)."""
    copy = tmp_path / "repo"
    skip = shutil.ignore_patterns(".venv", ".git", "target", "logs", "__pycache__", ".pytest_cache",
                                  *(["raw"] if small_data else []))

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = skip(folder, names)
        return skipped - {"target"} if small_data and Path(folder) == ROOT / "dbt_project" else skipped

    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    if small_data:
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "datasets.generate", "--seed", "42",
                        "--scale", "0.02", "--out", str(copy / "datasets" / "raw"), "--quiet"],
                       cwd=copy, env=_env() | {"PYTHONPATH": str(copy)}, check=True)
    return copy


def test_reset_then_warehouse_rebuilds_in_a_copy(tmp_path):
    if not (ROOT / ".state" / "warehouse.ok").exists():
        pytest.skip("run through `make test`, which builds the warehouse first")
    copy = _scratch_repo(tmp_path, small_data=True)  # the rebuild is dbt's whole project on small data
    env = _env() | {"PYTHONPATH": str(copy)}
    warehouse = copy / "dbt_project" / "warehouse" / "dev.duckdb"
    assert warehouse.exists()
    reset = subprocess.run(["make", "reset-warehouse"], cwd=copy, env=env, capture_output=True, text=True)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not warehouse.exists()
    build = subprocess.run(["make", "warehouse"], cwd=copy, env=env, capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "datasets.generate" not in build.stdout, "the data was there: only the warehouse is rebuilt"
    assert warehouse.exists() and warehouse.stat().st_size > 1_000_000


def test_grade_command_as_written(tmp_path, grader_cache):
    copy = _scratch_repo(tmp_path)
    submissions = copy / "submissions"
    submissions.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_getting_started.ipynb", submissions / "intern_a.ipynb")
    command = ".venv/bin/python -m grader grade submissions/ --out grading-out --jobs 2"
    env = _env() | {"PYTHONPATH": str(copy), "VB_GRADER_CACHE": str(grader_cache)}
    done = subprocess.run(command.split(), cwd=copy, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    gradebook = (copy / "grading-out" / "gradebook.csv").read_text().splitlines()
    assert gradebook[0].startswith("submission,status,total,max_total")
    assert len(gradebook) == 2 and gradebook[1].startswith("intern_a,")
    sheet = copy / "grading-out" / "manual_scores.csv"
    lines = sheet.read_text().splitlines()
    assert lines[0] == "submission,exercise,question,max_points,points,comment"
    assert lines[1].startswith("intern_a,5.1,q1,") and lines[1].endswith(",,")
    sheet.write_text("\n".join([lines[0], lines[1][:-2] + ",1,Good catch of the fan-out", *lines[2:]]) + "\n")
    command = ".venv/bin/python -m grader finalize --out grading-out"
    done = subprocess.run(command.split(), cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = (copy / "grading-out" / "final_grades.csv").read_text().splitlines()
    assert final[0].startswith("submission,status,auto,auto_max,manual,manual_max,total,max_total")
    assert final[1].startswith("intern_a,") and ",1,Good" not in final[1]
    assert "Good catch of the fan-out" in (copy / "grading-out" / "intern_a" / "feedback.html").read_text()
    assert (copy / "grading-out" / "lms_grades.csv").read_text().startswith("identifier,grade,max_grade")


def test_make_release_in_a_copy(tmp_path):
    if not (ROOT / ".state" / "venv.ok").exists():
        pytest.skip("run through `make test`, which sets up the venv first")
    copy = tmp_path / "repo"  # a light copy: no data, no warehouse, no earlier release
    shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "target", "logs", "__pycache__", ".pytest_cache", "raw", "*.duckdb*", "dist"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    (copy / ".state" / "venv.ok").touch()  # never pip-install the copy into the shared venv
    done = subprocess.run(["make", "release"], cwd=copy, env=_env() | {"PYTHONPATH": str(copy)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    edition = copy / "dist" / "intern-edition"
    assert (edition / "README.md").exists()
    assert (edition / ".github" / "workflows" / "self-check.yml").exists()
    assert (copy / "dist" / "intern-edition.zip").stat().st_size > 10_000
    assert sorted(p.name for p in (edition / "notebooks").iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_make_bench_prints_numbers_at_a_tiny_scale(tmp_path, grader_cache):
    if not (ROOT / ".state" / "warehouse.ok").exists():
        pytest.skip("run through `make test`, which builds the warehouse first")
    env = _env() | {"VB_GRADER_CACHE": str(grader_cache), "HOME": str(tmp_path)}
    # no shard/merge measurement: it grades the one copy again (`grade --shard` and `merge` are proven by
    # tests/test_grader_end_to_end.py::test_shards_merge_into_exactly_what_one_run_writes)
    done = subprocess.run(["make", "bench", "BENCH_SCALES=0.02", "BENCH_COPIES=1", "BENCH_SHARDS=0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "rows/s" in out or "rows per second" in out, out[-2000:]
    assert re.search(r"ratio|overhead", out), out[-2000:]
    assert re.search(r"per minute|submissions/min", out), out[-2000:]
