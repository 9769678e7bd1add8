"""The grading fork server's warm-up (grader.zygote.warm_up) leaves its forks nothing to build that a
submission's parse needs: dbt's JSON schemas of every kind of node an answer brings (analyses, singular
tests, exposures, ...). Real dbt, in a process of its own (the warm-up changes process-wide state)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import shutil, sys, tempfile
from pathlib import Path
from grader import zygote
zygote.preload()
base = Path(sys.argv[1])
zygote.warm_up(base, Path(tempfile.mkdtemp()) / "warm-up")
import dbt_common.dataclass_schema as schemas
built = []
build = schemas.build_json_schema
schemas.build_json_schema = lambda cls, *a, **k: built.append(cls.__name__) or build(cls, *a, **k)
from grader.course import reference_answers
from grader.workspace import Workspace
ws = Workspace(Path(tempfile.mkdtemp()) / "submission")
shutil.copytree(base, ws.project_dir, ignore=shutil.ignore_patterns("target", "logs"))
ws._write_profile()
ws.file_log = False
ws.write_files(reference_answers().files)
outcome = ws.parse()
print("parsed:", outcome.success)
print("built:", ",".join(built))
"""


def test_a_fork_of_the_warmed_up_server_builds_no_node_schema_when_it_parses_a_submission(tmp_path):
    base = tmp_path / "base"  # the starting project (with its parse state, as the grader's base has)
    skip = shutil.ignore_patterns("warehouse", "logs", "compiled", "run")
    shutil.copytree(REPO / "dbt_project", base, ignore=skip)
    done = subprocess.run([sys.executable, "-c", PROBE, str(base)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert lines.get("parsed") == "True", done.stdout + done.stderr[-2000:]
    assert "built" in lines and lines["built"] == "", f"schemas built after the warm-up: {lines.get('built')}"
