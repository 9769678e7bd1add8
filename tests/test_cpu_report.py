"""The per-test CPU report (VB_TEST_CPU, tests/conftest.py): a run reaped on a worker thread is
background work, listed with its own CPU-s and not charged to the test running meanwhile."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import threading
import time

import pytest
from conftest import BACKGROUND_TIMES, REPO, charged_cpu, cpu_snapshot, run_measured

BUSY = "import time\nwhile time.process_time() < {}: pass\nprint('done')"


def test_a_background_run_counts_for_itself_not_for_the_test_running_meanwhile():
    before = cpu_snapshot()
    worker = threading.Thread(target=run_measured, args=([sys.executable, "-c", BUSY.format(0.4)],),
                              kwargs={"cwd": REPO, "env": {}, "what": "busy 0.4 CPU-s"})
    worker.start()
    worker.join()
    after = cpu_snapshot()
    assert after[0] - before[0] >= 0.4, "the child's CPU reached RUSAGE_CHILDREN"
    assert charged_cpu(before, after) < 0.2, "...but is not charged to this test"
    what, started, ended, cpu = BACKGROUND_TIMES[-1]
    assert what == "busy 0.4 CPU-s" and 0.4 <= cpu < 1.5 and ended >= started


def test_a_run_on_the_main_thread_is_the_test_s_own_and_keeps_its_output():
    before, listed = cpu_snapshot(), len(BACKGROUND_TIMES)
    done = run_measured([sys.executable, "-c", BUSY.format(0.3)], cwd=REPO, env={})
    assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")
    assert charged_cpu(before, cpu_snapshot()) >= 0.3
    assert len(BACKGROUND_TIMES) == listed


def test_timeout_kills_the_run_and_raises_like_subprocess_run():
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        run_measured([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"],
                     cwd=REPO, env={}, timeout=3.0)
    assert time.monotonic() - started < 10
    assert raised.value.output == "started\n"


def test_a_child_still_running_counts_before_it_is_reaped():
    """A kernel or worker kept by a module fixture is charged to the tests it works for, as it works, not
    all at once to the test whose teardown reaps it."""
    before = cpu_snapshot()
    child = subprocess.Popen([sys.executable, "-c", BUSY.format(0.4) + "\nimport time; time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "done\n"
        alive = cpu_snapshot()
        assert charged_cpu(before, alive) >= 0.35, "the running child's CPU so far counts (clock ticks)"
    finally:
        child.kill()
        child.wait()
    assert charged_cpu(alive, cpu_snapshot()) < 0.2, "...and not counted a second time when reaped"


def test_a_bubblewrap_sandbox_counts_though_its_cpu_never_reaches_rusage():
    """The grader's workers run in bubblewrap with their own pid namespace: bwrap does not reap the
    sandbox's init, so RUSAGE_CHILDREN never gets their CPU; the report reads it from /proc (a scan while
    the sandbox runs: VB_TEST_CPU's thread scans every half second) and keeps it once the sandbox is gone."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed (the grader then runs no bubblewrap worker either)")
    before, rusage = cpu_snapshot(), resource.getrusage(resource.RUSAGE_CHILDREN)
    code = BUSY.format(0.5) + "\nimport time; time.sleep(1)"
    sandbox = subprocess.Popen([bwrap, "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/", "--dev",
                                "/dev", sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert sandbox.stdout.readline() == "done\n"
    cpu_snapshot()  # what the scanning thread does while the sandbox runs
    assert sandbox.wait(timeout=60) == 0
    sandbox.stdout.close()
    lost = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert lost.ru_utime + lost.ru_stime - rusage.ru_utime - rusage.ru_stime < 0.4, "rusage got it after all"
    assert charged_cpu(before, cpu_snapshot()) >= 0.45, "the sandbox's CPU is charged to this test"
