"""The trusted grading process of one submission: ``python -m grader.worker <job.json> <result.json>``.

One process per submission, so the batch can kill it (process group) at the time limit. It runs
the grader's own check code and drives one confined untrusted worker (grader.remote,
grader.untrusted) that runs the submission's files; it never runs intern SQL itself. The job
carries the run's paths and this submission's answers only (no reference answers).
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
from grader.intake import use_builtin_macro_names
from grader.isolation import die_with_parent
from grader.preparation import GradingSetup
from grader.report import WorkerResult
from grader.sandbox import limit_process_memory


def main(argv: list[str]) -> int:
    """Read a job, grade it, write the exercises result as JSON."""
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    die_with_parent(job.get("parent"))
    os.environ.update(QUIET_ENV)
    limit_process_memory()
    from grader.remote import WorkerDied
    from grader.runner import grade_answers

    setup = GradingSetup.from_dict(job["setup"])
    if setup.builtin_macros:  # computed once for the run: this process need not import dbt for them
        use_builtin_macro_names(setup.builtin_macros)
    answers = Answers.from_dict(job["answers"])
    with tempfile.TemporaryDirectory(prefix="vb-grade-", dir=job.get("scratch_root")) as scratch:
        level = job.get("isolation")
        stats: dict[str, float] = {}
        try:
            exercises, level = grade_answers(answers, setup, Path(scratch), level=level,
                                             timeout=float(job.get("timeout", 600)), hide=job.get("hide", []),
                                             stats=stats,
                                             zygote=Path(job["zygote"]) if job.get("zygote") else None)
            result = WorkerResult("ok", isolation=level, exercises=exercises,
                                  problems=tuple(answers.problems),
                                  worker_cpu_seconds=stats.get("worker_cpu_seconds", 0.0),
                                  timings=stats.get("timings"))  # type: ignore[arg-type]
        except WorkerDied as died:
            result = WorkerResult("error", str(died), level)
        except Exception as error:  # noqa: BLE001 - reported as status error, batch carries on
            last = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
            where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
            result = WorkerResult("error", f"{type(error).__name__}: {str(error)[:300]}{where}", level)
    result_path.write_text(json.dumps(result.to_json(), sort_keys=True, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
