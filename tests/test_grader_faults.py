"""Fault helpers of the grader on real files and processes (fast; the runs are in the end-to-end test):
atomic writes under a file-size limit, disk-full recognition, stale scratch folders of dead runs."""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.faults import OWNER_FILE, is_disk_full, process_tag
from grader.outputs import OutputsIncomplete, write_outputs
from grader.report import SubmissionReport
from grader.shutdown import remove_stale_scratch

REPO = Path(__file__).resolve().parent.parent

ATOMIC_UNDER_A_LIMIT = """
import resource, sys
from pathlib import Path
from grader.faults import DiskFull, atomic_write
target = Path(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    atomic_write(target, "x" * 5000)
except DiskFull as error:
    print(error)
"""


def test_atomic_write_over_a_size_limit_keeps_the_old_file(tmp_path: Path):
    target = tmp_path / "report.json"
    target.write_text("old and complete\n")
    done = subprocess.run([sys.executable, "-c", ATOMIC_UNDER_A_LIMIT, str(target)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.stdout.strip() == f"no space left on device in {tmp_path}", done.stderr
    assert target.read_text() == "old and complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary file left


def test_disk_full_is_recognized_by_errno_or_by_a_trusted_message():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EFBIG, "File too large"))
    assert not is_disk_full(OSError(errno.ENOENT, "No space left on device"))  # errno decides
    assert is_disk_full(RuntimeError('IO Error: Could not write file "w.duckdb.wal": File too large'))
    assert is_disk_full("OSError: [Errno 28] No space left on device")
    assert not is_disk_full("Catalog Error: Table with name x does not exist")


def test_write_outputs_into_an_unwritable_place_names_every_submission(tmp_path: Path):
    (tmp_path / "out").write_text("a file where the output folder should be")
    report = SubmissionReport("a", "ok", "", 0, 0, (), "", {})
    with pytest.raises(OutputsIncomplete, match=r"could not write the output of 1 submission\(s\): a \("):
        write_outputs([report], tmp_path / "out")


def test_stale_scratch_of_dead_runs_is_removed_and_its_workers_killed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    orphan = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        dead, live, unknown = (tmp_path / f"vb-grading-{n}" for n in ("dead", "live", "unknown"))
        for folder in (dead, live, unknown):
            (folder / "workers").mkdir(parents=True)
        (dead / OWNER_FILE).write_text("999999999 1\n")
        (dead / "workers" / str(orphan.pid)).write_text(process_tag(orphan.pid) + "\n")
        (live / OWNER_FILE).write_text(process_tag() + "\n")
        lines: list[str] = []
        assert remove_stale_scratch(lines.append) == 1
        assert lines == ["removed 1 scratch folder(s) left by an interrupted grading run"]
        assert not dead.exists() and live.exists() and unknown.exists()
        assert orphan.wait(timeout=5) == -9
    finally:
        orphan.kill()
        orphan.wait()
