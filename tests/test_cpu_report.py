"""The per-test CPU report (VB_TEST_CPU, tests/conftest.py): a run reaped on a worker thread is
background work, listed with its own CPU-s and not charged to the test running meanwhile."""

from __future__ import annotations

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
