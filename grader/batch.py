"""The instructor's batch run: grade submissions in parallel worker processes, write every output.

A submission that times out, crashes or exhausts memory is recorded (``timeout`` / ``error``)
and the batch carries on; the gradebook always has one row per submission. SIGINT/SIGTERM kill
the live workers and remove the scratch folder (``grader.shutdown``); a full disk while preparing
or writing outputs is one ``DiskFull`` / ``OutputsIncomplete`` line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from course_core.niceness import keep_niceness
from grader import shards, shutdown
from grader.answers import Answers
from grader.exercises import registry
from grader.faults import DiskFull, is_disk_full
from grader.isolation import WARNING, describe_death, isolation_level, package_dir
from grader.outputs import write_outputs
from grader.preparation import GradingSetup, discard, prepare
from grader.public import Redactor
from grader.report import CheckResult, ExerciseReport, SubmissionReport, WorkerResult
from grader.runner import manual_entries
from grader.shutdown import register_worker, unregister_worker
from grader.submissions import Submission, discover

DEFAULT_TIMEOUT = 600.0
DEFAULT_SEED = 2027
DEFAULT_SCALE = 0.05


def empty_exercises(answers: Answers, message: str) -> dict[str, ExerciseReport]:
    """Every check at zero with the same message (timeout, crash, unreadable submission)."""
    out: dict[str, ExerciseReport] = {}
    for ex_id, exercise in registry().items():
        checks = tuple(CheckResult(c.name, False, 0.0, c.points, c.public, message) for c in exercise.checks)
        out[ex_id] = ExerciseReport(0.0, exercise.max_auto_points, checks, manual_entries(exercise, answers))
    return out


def run_worker(job: dict[str, Any], timeout: float, workdir: Path) -> WorkerResult:
    """Grade one submission in a fresh process; kill its whole process group at the time limit."""
    job_path, result_path = workdir / "job.json", workdir / "result.json"
    job_path.write_text(json.dumps(job, sort_keys=True), encoding="utf-8")
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    with open(workdir / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "grader.worker", str(job_path), str(result_path)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        keep_niceness(proc.pid)  # its session is an autogroup of its own
        register_worker(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return WorkerResult("timeout", f"stopped at the time limit of {timeout:g} s")
        finally:
            unregister_worker(proc)
    if result_path.exists():
        return read_result(result_path)
    log_text = (workdir / "worker.log").read_text(errors="replace")
    reason = describe_death(proc.returncode, log_text)
    return WorkerResult("error", f"grading process died ({reason})")


def read_result(path: Path) -> WorkerResult:
    """A grading process's result.json, read strictly: malformed is an ``error`` result saying so."""
    try:
        return WorkerResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ReportFormatError, JSONDecodeError
        return WorkerResult("error", f"grading process wrote a malformed result ({str(error)[:200]})")


def hidden_paths(setup: GradingSetup, course_root: Path | None) -> list[str]:
    """What a worker at the ``uid`` level must not see: the grader user's home, the grading cache,
    solutions/ and the exercise modules (bubblewrap shows only what the worker needs anyway)."""
    from grader.course import repo_root

    paths = [Path.home(), Path(setup.folder).parent, repo_root() / "solutions", package_dir() / "exercises"]
    if course_root is not None:
        paths.append(Path(course_root) / "solutions")
    return sorted({str(p.resolve()) for p in paths if p.exists()})


def grade_one(sub: Submission, setup: GradingSetup, timeout: float, scratch_root: Path, *,
              level: str = "", hide: list[str] | None = None, zygote: Path | None = None) -> SubmissionReport:
    """The full report of one submission."""
    answers = sub.answers()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"vb-{sub.name}-", dir=scratch_root) as tmp:
        if not sub.notebooks and not sub.project_files:
            result = WorkerResult("error", "; ".join(answers.problems) or "nothing to grade")
        else:
            job = {"setup": json.loads(setup.to_json()), "answers": answers.to_dict(), "timeout": timeout,
                   "scratch_root": str(scratch_root), "isolation": level or None, "hide": hide or [],
                   "parent": os.getpid(), "zygote": str(zygote) if zygote else None}
            result = run_worker(job, timeout, Path(tmp))
    exercises = result.exercises or empty_exercises(answers, result.message or "not graded")
    return SubmissionReport(
        submission=sub.name,
        status=result.status,
        message=result.message,
        score=sum(e.score for e in exercises.values()),
        max_score=sum(e.max_score for e in exercises.values()),
        problems=tuple(answers.problems + [p for p in result.problems
                                           if p.startswith("refused ") and p not in answers.problems]),
        isolation=result.isolation or level,
        exercises=exercises,
        seconds=round(time.monotonic() - started, 2),
        worker_cpu_seconds=result.worker_cpu_seconds,  # untrusted worker (not in report.json)
        timings=result.timings,  # bench/bench_grading.py (VB_GRADER_TIMINGS=1; not in report.json)
    )


def _grade_all(submissions: list[Submission], grade: Callable[[Submission], SubmissionReport],
               jobs: int) -> list[SubmissionReport]:
    """``grade`` each submission in a thread pool; on ``GradingInterrupted`` kill the workers and
    cancel the rest."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures: list[Future] = [pool.submit(grade, s) for s in submissions]
        return [f.result() for f in futures]
    except BaseException as error:
        killed = shutdown.stop_workers()
        pool.shutdown(wait=True, cancel_futures=True)
        shutdown.stop_workers()  # any started while the pool was draining (register_worker kills those too)
        if isinstance(error, shutdown.GradingInterrupted):
            error.killed = killed
        raise
    finally:
        pool.shutdown(wait=True)


def grade_batch(paths: list[Path], out: Path, *, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT,
                seed: int = DEFAULT_SEED, scale: float = DEFAULT_SCALE,
                log: Callable[[str], None] = print, course_root: Path | None = None,
                shard: tuple[int, int] | None = None) -> list[SubmissionReport]:
    """Grade every submission under ``paths`` into ``out`` and return the reports.

    ``shard=(i, n)`` grades only the i-th of n parts of the class (``grader.shards``) and adds
    ``shard.json`` to ``out`` for ``python -m grader merge``.

    Raises ``GradingInterrupted`` (SIGINT/SIGTERM: workers killed, scratch removed, nothing written),
    ``DiskFull`` and ``OutputsIncomplete`` (which submissions lack output; gradebook.csv not written).
    """
    submissions = discover(paths)
    if not submissions:
        raise ValueError("no submission found (expected .ipynb files, folders of notebooks or .zip files)")
    everyone = [s.name for s in submissions]
    if shard is not None:
        submissions = [s for s in submissions if shards.shard_of(s.name, shard[1]) == shard[0]]
        log(f"shard {shard[0]}/{shard[1]}: {len(submissions)} of the class's {len(everyone)} submission(s)")
        if not submissions:  # a small class: nothing to grade here, but merge needs this shard's record
            _make_folder(out)
            (out / shards.SHARD_FILE).unlink(missing_ok=True)
            write_outputs([], out)
            settings = shards.run_settings(seed, scale, timeout, isolation_level(), course_root)
            shards.write_record(out, shards.shard_record(shard, everyone, [], settings))
            return []
    with shutdown.handle_signals():
        shutdown.remove_stale_scratch(log)
        setup, reference = prepare(seed, scale, log=log, root=course_root)
        try:
            _make_folder(out)  # fail before grading, not after
            (out / shards.SHARD_FILE).unlink(missing_ok=True)  # written again (last) by a shard run only
            scratch_root = _make_folder(None)
            os.chmod(scratch_root, 0o711)  # workers (own uids) traverse it to their folder, cannot list it
            level = isolation_level()
            hide = hidden_paths(setup, course_root)
            log(f"grading {len(submissions)} submission(s) with {jobs} job(s); "
                f"isolation of submitted code: {level}")
            if level == "rlimits-only":
                log(WARNING)
            zygote = start_zygote(level, scratch_root, log, Path(setup.base) / "dbt_project")
            try:
                reports = _grade_all(
                    submissions, lambda s: grade_one(s, setup, timeout, scratch_root, level=level, hide=hide,
                                                     zygote=zygote.socket if zygote else None),
                    jobs)
                if zygote is not None:
                    share_zygote_cpu(zygote.cpu_seconds(), reports)
            except OSError as error:  # the grader's own writes in the scratch folder (job files, logs)
                if is_disk_full(error):
                    raise DiskFull(tempfile.gettempdir()) from None
                raise
            finally:
                if zygote is not None:
                    zygote.stop()
                shutdown.remove_scratch(scratch_root)
        finally:
            discard(setup)
        for report in reports:
            log(f"  {report.submission}: {report.status} {report.score:g}/{report.max_score:g} "
                f"({report.seconds:.1f} s)")
        log(f"isolation of submitted code: {level}")
        shutdown.writing_outputs()
        write_outputs(reports, out, Redactor.for_run(roots=[scratch_root, setup.folder], reference=reference))
        if shard is not None:
            settings = shards.run_settings(seed, scale, timeout, level, course_root, key=setup.key)
            shards.write_record(out, shards.shard_record(shard, everyone, [s.name for s in submissions],
                                                         settings))
    return reports


def start_zygote(level: str, scratch_root: Path, log: Callable[[str], None], base_project: Path) -> Any:
    """The batch's pre-imported worker fork server (``bubblewrap+uid`` only; grader.zygote), or None
    when it cannot start (workers then start as fresh processes, confined the same way)."""
    if level != "bubblewrap+uid":
        return None
    from grader.isolation import worker_env
    from grader.zygote import Zygote

    zygote = Zygote(scratch_root / "zygote")
    try:
        zygote.start(worker_env(zygote.folder, zygote.folder), base_project)
    except OSError as error:
        log(f"worker fork server unavailable ({error}): starting each worker afresh")
        zygote.stop()
        return None
    return zygote


def share_zygote_cpu(cpu: float, reports: list[SubmissionReport]) -> None:
    """(benchmark timings only) The fork server's CPU seconds shared out over the submissions it served."""
    timed = [r for r in reports if r.timings]
    for report in timed:
        report.timings["zygote_cpu"] = cpu / len(timed)  # type: ignore[index]


def _make_folder(out: Path | None) -> Path:
    """``out`` (created), or with None a new scratch folder; a full disk is ``DiskFull``."""
    try:
        if out is None:
            return shutdown.make_scratch()
        out.mkdir(parents=True, exist_ok=True)
        return out
    except OSError as error:
        if is_disk_full(error):
            raise DiskFull(out or tempfile.gettempdir()) from None
        if out is not None:
            raise ValueError(f"cannot use {out} as the output folder: {error.strerror}") from None
        raise
