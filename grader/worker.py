"""A grading worker process: ``python -m grader.worker <job.json> <result.json>``.

One process per submission, so a time limit can kill it (process group) and a memory limit
(address space + DuckDB memory_limit) contains it; the parent never runs intern SQL.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from grader.answers import Answers
from grader.dbt_runner import QUIET_ENV
from grader.preparation import GradingSetup
from grader.sandbox import limit_process_memory


def main(argv: list[str]) -> int:
    """Read a job, grade it, write the exercises result as JSON."""
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    os.environ.update(QUIET_ENV)
    limit_process_memory()
    from grader.runner import grade_answers

    setup = GradingSetup.from_dict(job["setup"])
    answers = Answers.from_dict(job["answers"])
    reference = Answers.from_dict(job["reference"])
    with tempfile.TemporaryDirectory(prefix="vb-grade-", dir=job.get("scratch_root")) as scratch:
        try:
            exercises = grade_answers(answers, setup, reference, Path(scratch))
            result = {"status": "ok", "exercises": exercises, "problems": answers.problems}
        except Exception as error:  # noqa: BLE001 - reported as status error, batch carries on
            last = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
            where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
            result = {"status": "error", "message": f"{type(error).__name__}: {str(error)[:300]}{where}"}
    result_path.write_text(json.dumps(result, sort_keys=True, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
