"""End to end: real generator, real dbt, real DuckDB. Solutions score full marks, the unsolved
notebooks zero, wrong variants and the seed's answers lose exactly the expected checks, hostile
submissions are contained and reported, the gradebook is complete and the scores reproducible.
Faults (issue 15): the module's cache first meets a full disk and a corrupt earlier cache, outputs
a full disk, and ``grade`` is killed mid-batch; each run after that completes without cleanup.

Until solutions/ holds the 5.1/5.2 notebooks, the course root used here takes its reference
answers from tests/fixtures/submissions/synthetic_solutions (a copy of the course otherwise).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from grader.answers import Answers
from grader.batch import grade_batch
from grader.course import reference_answers, write_course
from grader.faults import tag_alive
from grader.outputs import report_json
from grader.preparation import GradingSetup, build_reference, cache_key, discard, finish, load_ready
from grader.report import SubmissionReport

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "submissions"
SEED, SCALE = 99, 0.02
GRADED = ["synthetic_solutions", "unsolved", "wrong_fanout_and_no_dedup",
          "wrong_dropped_customers_and_append",
          "wrong_weak_test_view_and_no_lookback", "seed_answers", "hostile_sql", "hostile_files",
          "hostile_broken_notebook", "hostile_zip_slip.zip", "hostile_empty.zip", "broken_jinja_in_5_2",
          "hostile_materialization_python", "hostile_long_path_and_duplicates"]  # issue 9, classes 1 and 5
CLASS1_MARKER = Path("/tmp/vb_grader_class1_marker")
PROBE_SECRET = "vb-probe-secret-4711"  # an environment value of the grader that no output may show
EX51 = {"builds", "one_row_per_customer", "same_columns", "matches_reference", "no_fanout_join",
        "materialization", "indexes_harmless", "singular_test_present", "singular_test_catches_errors"}
EX52 = {"materialized_incremental", "unique_key", "incremental_strategy", "key_tests", "documented",
        "replay_equals_full_refresh", "first_run_on_empty_target", "late_events", "no_duplicates",
        "equals_full_refresh", "idempotent"}
EXPECTED_FAILURES = {
    "wrong_fanout_and_no_dedup": ({"matches_reference", "no_fanout_join"},
                                  {"no_duplicates", "equals_full_refresh"}),
    "wrong_dropped_customers_and_append": ({"one_row_per_customer", "matches_reference"},
                                           {"incremental_strategy", "no_duplicates", "equals_full_refresh",
                                            "idempotent"}),
    "wrong_weak_test_view_and_no_lookback": ({"materialization", "singular_test_catches_errors"},
                                             {"late_events", "equals_full_refresh"}),
    # seed-review: 5.1 current_timestamp() (everything that needs the build) and its `!=` test;
    # 5.2 empty target, late events, duplicates (so never equal to a full refresh)
    "seed_answers": (EX51 - {"materialization", "singular_test_present"},
                     {"first_run_on_empty_target", "late_events", "no_duplicates", "equals_full_refresh"}),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    notebooks = sorted((FIXTURES / "synthetic_solutions").glob("*.ipynb"))
    return write_course(tmp_path_factory.mktemp("course"), notebooks, REPO)


FAULTS: dict[str, Any] = {}  # what the cache fixture's fault injection observed
DEAD_OWNER = "999999999 1\n"  # an owner record of a process that cannot exist (pid > pid_max)


def run_grade(args: list[str], cache: Path, *, fsize: int | None = None, env: dict | None = None,
              wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    """``python -m grader grade ARGS`` in a child process (optionally with a file-size limit)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    cmd = [sys.executable, "-m", "grader", "grade", *args, "--seed", str(SEED), "--scale", str(SCALE)]
    env = {**os.environ, "VB_GRADER_CACHE": str(cache), "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit if fsize else None)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def plant_broken_cache(cache: Path, key: str, ready_text: str) -> None:
    """A published folder whose READY.json is broken, and a dead run's temporary folder."""
    (cache / key / "base").mkdir(parents=True, exist_ok=True)
    (cache / key / "READY.json").write_text(ready_text)
    leftover = cache / f"{key}.tmp-killed"
    (leftover / "raw").mkdir(parents=True, exist_ok=True)
    (leftover / "owner.pid").write_text(DEAD_OWNER)


@pytest.fixture(scope="module")
def cache(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's grader cache, reached the way a machine recovers from a full disk: over a cache
    with an empty READY.json, ``grade`` under a 4 MB file-size limit fails; a cache with a truncated
    READY.json is then left for ``graded``, whose run with room rebuilds it (all in ``FAULTS``)."""
    root = tmp_path_factory.mktemp("grader-cache")
    key = cache_key(SEED, SCALE, course, reference_answers(course))[0]
    plant_broken_cache(root, key, "")
    done = run_grade([str(FIXTURES / "hostile_empty.zip"), "--out", str(root.parent / "out-full-cache"),
                      "--course-root", str(course)], root, fsize=4 * 1024**2)
    FAULTS.update(key=key, full=done, after_full=sorted(p.name for p in root.iterdir()))
    plant_broken_cache(root, key, '{"key": "' + key + '", "seed": 9')
    return root


@pytest.fixture(scope="module")
def graded(course: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    klass = tmp_path_factory.mktemp("class")
    for name in GRADED:
        src = FIXTURES / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, klass / name)
    shutil.copytree(FIXTURES / "wrong_weak_test_view_and_no_lookback", klass / "zz_same_again")
    linked = klass / "hostile_symlink"
    linked.mkdir()
    (linked / "5_1_optimize_model.ipynb").symlink_to("/etc/passwd")
    out = tmp_path_factory.mktemp("out")
    CLASS1_MARKER.unlink(missing_ok=True)
    FAULTS["graded_log"] = log = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VB_GRADER_CACHE", str(cache))
        mp.setenv("VB_PROBE_SECRET", PROBE_SECRET)
        reports = grade_batch([klass], out, jobs=2, timeout=400, seed=SEED, scale=SCALE, course_root=course,
                              log=log.append)
    return out, {r.submission: r for r in reports}


def failed(report: SubmissionReport, ex: str) -> set[str]:
    """Checks that lost points (0-point checks are self-check feedback only, skipped when grading)."""
    return {c.name for c in report.exercises[ex].checks if not c.passed and c.max_points}


def test_gradebook_is_complete(graded):
    out, reports = graded
    with open(out / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["submission", "status", "total", "max_total", "5.1", "5.2", "5.3", "5.4", "5.5",
                             "bonus"]
    assert sorted(r["submission"] for r in rows) == sorted(reports)
    assert len(rows) == len(GRADED) + 2
    for name in reports:
        text = (out / name / "report.json").read_text()
        report = json.loads(text)
        assert set(report) >= {"submission", "status", "score", "max_score", "exercises"}
        # the typed report reads back what it wrote, to the byte
        assert report_json(SubmissionReport.from_json(report)) == text
        assert (out / name / "feedback.html").exists() and (out / name / "review.md").exists()


def test_solutions_score_full_marks_and_unsolved_zero(graded):
    _, reports = graded
    solved, unsolved = reports["synthetic_solutions"], reports["unsolved"]
    for ex in ("5.1", "5.2"):
        assert failed(solved, ex) == set(), solved.exercises[ex]
        assert unsolved.exercises[ex].score == 0
    assert {c.name for c in solved.exercises["5.1"].checks} == EX51
    assert {c.name for c in solved.exercises["5.2"].checks} == EX52


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILURES))
def test_wrong_variants_lose_exactly_the_expected_checks(graded, name: str):
    _, reports = graded
    lost51, lost52 = EXPECTED_FAILURES[name]
    assert failed(reports[name], "5.1") == lost51
    assert failed(reports[name], "5.2") == lost52


def test_a_jinja_error_zeroes_only_its_exercise(graded):
    _, reports = graded
    broken = reports["broken_jinja_in_5_2"]
    assert failed(broken, "5.1") == set()
    assert failed(broken, "5.2") == EX52 - {"replay_equals_full_refresh"}  # 0 points: not in failed()
    assert all("does not parse" in c.message for c in broken.exercises["5.2"].checks)


def test_hostile_submissions_are_contained_and_reported(graded):
    _, reports = graded
    sql = reports["hostile_sql"]
    assert sql.status == "ok"
    for ex in ("5.1", "5.2"):
        assert {"builds", "no_duplicates", "late_events"} & failed(sql, ex)
    assert "disabled by configuration" in sql.exercises["5.1"].checks[0].message
    assert not Path("/tmp/vb_grader_pwned.csv").exists()
    files = reports["hostile_files"]
    assert any("Python model" in p for p in files.problems)
    assert any("leaves dbt_project" in p for p in files.problems)
    assert not Path("/tmp/vb_grader_climb.sql").exists()
    broken = reports["hostile_broken_notebook"]
    assert broken.score == 0 and any("not valid notebook JSON" in p for p in broken.problems)
    assert any("not UTF-8" in p for p in broken.problems)
    assert any("climbs out" in p for p in reports["hostile_zip_slip"].problems)
    assert reports["hostile_empty"].status == "error" and reports["hostile_empty"].score == 0
    assert any("symbolic link" in p for p in reports["hostile_symlink"].problems)


def test_same_input_gives_the_same_report(graded):
    out, _ = graded
    first = json.loads((out / "wrong_weak_test_view_and_no_lookback" / "report.json").read_text())
    again = json.loads((out / "zz_same_again" / "report.json").read_text())
    first.pop("submission"), again.pop("submission")
    assert first == again


def test_timeout_is_recorded_and_batch_completes(graded, course: Path, cache: Path, tmp_path: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VB_GRADER_CACHE", str(cache))
        reports = grade_batch([FIXTURES / "hostile_infinite_recursion"], tmp_path, jobs=1, timeout=20,
                              seed=SEED, scale=SCALE, course_root=course, log=lambda _m: None)
    assert reports[0].status == "timeout" and reports[0].score == 0
    assert "hostile_infinite_recursion,timeout,0," in (tmp_path / "gradebook.csv").read_text()


def test_selfcheck_prints_public_checks_and_releases_the_lock(graded, cache: Path, tmp_path: Path, capsys):
    from grader.exercises import get_exercise
    from grader.selfcheck import selfcheck_lines

    (reference,) = list(cache.glob("*/reference"))
    repo = tmp_path / "repo"
    shutil.copytree(reference / "dbt_project", repo / "dbt_project")
    warehouse = tmp_path / "dev.duckdb"
    shutil.copy(reference / "warehouse.duckdb", warehouse)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VB_REPO_ROOT", str(repo))
        mp.setenv("VB_DUCKDB_PATH", str(warehouse))
        lines = selfcheck_lines("5.1")
        assert lines == selfcheck_lines("5.1")
        mp.setattr(get_exercise("5.4"), "checks", [])
        none_yet = selfcheck_lines("5.4")
    assert "[FAIL]" not in "\n".join(lines) and sum("[PASS]" in line for line in lines) >= 4
    assert "no self-checks yet" in none_yet[0]
    duckdb.connect(str(warehouse)).close()  # no lock left behind


# ---- issue 9, isolation layer on its own: the answers go straight to the confined worker (any
# intake policy is bypassed on purpose), so these prove what the worker/trusted split contains.
CANARY = "vb-leak-canary-5d1f"


def _fixture_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES / "build_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def attacked(graded, course: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory):
    from concurrent.futures import ThreadPoolExecutor

    from grader.answers import Answers
    from grader.batch import hidden_paths
    from grader.outputs import write_outputs
    from grader.preparation import prepare
    from grader.runner import grade_answers

    build = _fixture_builder()
    setup, _ = prepare(SEED, SCALE, root=course, cache=cache, log=lambda _m: None)
    hide = hidden_paths(setup, course)
    notebooks = {"5.1": "5_1_optimize_model.ipynb", "5.2": "5_2_incremental_loading.ipynb"}

    def grade(item):
        name, exercises = item
        files = {p: t for ex in exercises.values() for p, t in ex.items()}
        origins = {p: notebooks[ex] for ex, fs in exercises.items() for p in fs}
        scratch = tmp_path_factory.mktemp(name)
        result, level = grade_answers(Answers(files=files, origins=origins), setup, scratch, timeout=300,
                                      hide=hide)
        return SubmissionReport(name, "ok", "", sum(e.score for e in result.values()),
                                sum(e.max_score for e in result.values()), (), level, result)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(build.LEAK_CANARY_ENV, CANARY)  # in the grader's environment, never in the worker's
        # bypass the intake's manifest re-check too: these attacks must be contained by the layer itself
        mp.setattr("grader.intake.screened_parse", lambda ws, _answers, _base=None: ws.parse())
        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = list(pool.map(grade, sorted(build.trust_core_attack_files().items())))
    out = tmp_path_factory.mktemp("attack-out")
    write_outputs(reports, out)
    texts = "\n".join(p.read_text(errors="replace") for p in sorted(out.rglob("*")) if p.is_file())
    return {r.submission: r for r in reports}, texts, build


def test_shadowed_round_cannot_forge_a_comparison(graded, attacked):
    _, reports = graded
    attacks, _, _ = attacked
    # same wrong (fan-out) 5.1 model with and without the round() macro planted by a post-hook
    wrong = failed(reports["wrong_fanout_and_no_dedup"], "5.1")
    assert failed(attacks["attack_shadow_macros"], "5.1") == wrong
    assert "matches_reference" in failed(attacks["attack_shadow_macros"], "5.1")


def test_shadowed_read_parquet_reads_nothing(attacked):
    attacks, _, _ = attacked
    lost = failed(attacks["attack_shadow_macros"], "5.2")
    assert {"late_events", "equals_full_refresh"} <= lost  # the replay could not load through the macro


def test_environment_and_reference_never_reach_outputs(attacked):
    attacks, texts, build = attacked
    messages = " ".join(c.message for c in attacks["attack_env_leak"].exercises["5.1"].checks)
    assert "leak HOME=" in messages and "CANARY=none" in messages  # the error surfaced, without values
    for leak in (CANARY, build.REFERENCE_MARKER, str(Path.home()) + "/", "VB_GRADER_CACHE", "scratch_root"):
        assert leak not in texts, leak


def test_reports_state_the_isolation_level(graded, attacked):
    from grader.isolation import isolation_level

    _, reports = graded
    attacks, _, _ = attacked
    level = isolation_level()
    everything = [*reports.values(), *attacks.values()]
    assert {r.isolation for r in everything if r.status != "error"} == {level}


def test_without_isolation_one_warning_line(graded, course: Path, cache: Path, tmp_path: Path):
    from grader.isolation import WARNING

    logged: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VB_GRADER_CACHE", str(cache))
        mp.setenv("VB_GRADER_ISOLATION", "rlimits-only")  # what a non-root run without bubblewrap gets
        reports = grade_batch([FIXTURES / "hostile_empty.zip"], tmp_path, jobs=1, seed=SEED, scale=SCALE,
                              course_root=course, log=logged.append)
    assert [line for line in logged if "WARNING" in line] == [WARNING]
    assert reports[0].isolation == "rlimits-only"
    assert json.loads((tmp_path / "hostile_empty" / "report.json").read_text())["isolation"] == "rlimits-only"

def test_class1_python_materialization_is_refused_and_scores_like_the_plain_wrong_answer(graded):
    _, reports = graded
    hostile, plain = reports["hostile_materialization_python"], reports["wrong_dropped_customers_and_append"]
    assert not CLASS1_MARKER.exists(), "the submission's Python ran"
    assert hostile.status == "ok"
    assert failed(hostile, "5.1") == failed(plain, "5.1") == {"one_row_per_customer", "matches_reference"}
    assert hostile.exercises["5.1"].score == plain.exercises["5.1"].score
    assert [p for p in hostile.problems if "table_materialization" in p] == [
        "refused macros/table_materialization.sql: defines a materialization ({% materialization %}); "
        "no exercise needs one, use config(materialized=...) with a built-in one"]


def test_class5_a_rejected_path_costs_only_that_answer_and_duplicates_are_listed(graded):
    _, reports = graded
    report = reports["hostile_long_path_and_duplicates"]
    assert report.status == "ok"
    assert failed(report, "5.1") == set()
    assert any("too long" in p for p in report.problems)
    assert any("int_customer_behavior_optimized.sql was already written by" in p for p in report.problems)
    assert all(len(p) < 250 for p in report.problems)


def test_no_output_shows_a_host_path_an_environment_value_or_reference_sql(graded, course: Path, cache: Path):
    from grader.answers import answers_from_notebooks

    out, _ = graded
    notebooks = [(p.name, p.read_bytes()) for p in sorted((course / "solutions").glob("*.ipynb"))]
    reference = answers_from_notebooks(notebooks, reference=True)
    sql = [text for path, text in reference.files.items() if path.endswith(".sql")]
    solution_lines = {" ".join(line.split()) for text in sql for line in text.splitlines()
                      if len(" ".join(line.split())) >= 40}
    leaks = [str(REPO), str(cache), str(course), PROBE_SECRET, "pwned", str(CLASS1_MARKER), "/tmp/"]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 2 + 3 * (len(GRADED) + 2)  # gradebook.csv, manual_scores.csv, 3 per submission
    for path in files:
        text = path.read_text()
        flat = " ".join(text.split())
        assert not [leak for leak in leaks if leak in text], path
        assert not [line for line in solution_lines if line in flat], path


# ---- faults (issue 15) -------------------------------------------------------------------------
def test_a_full_disk_under_the_cache_is_one_line_and_publishes_nothing(graded, cache: Path):
    done, key = FAULTS["full"], FAULTS["key"]
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[-1] == f"grader: no space left on device in {cache}"
    assert [line for line in lines if "is incomplete" in line] == [
        f"grader cache {cache / key} is incomplete (READY.json is empty): rebuilding it"]
    assert sum("left unfinished by an interrupted run" in line for line in lines) == 1
    assert FAULTS["after_full"] == [f"{key}.lock"]  # no half-built cache, no temporary folder


def test_a_corrupt_cache_is_rebuilt_with_one_line(graded, cache: Path):
    key, log = FAULTS["key"], FAULTS["graded_log"]
    assert [line for line in log if "is incomplete" in line] == [
        f"grader cache {cache / key} is incomplete (READY.json is invalid (JSONDecodeError)): rebuilding it"]
    assert sum("left unfinished by an interrupted run" in line for line in log) == 1
    assert sorted(p.name for p in cache.iterdir()) == [key, f"{key}.lock"]
    setup, why = load_ready(cache / key, key, SEED, SCALE)
    assert setup is not None, why
    # the scores graded with this rebuilt cache are the clean-run expectations asserted above


def test_a_second_grader_waits_for_the_one_preparing_the_cache(graded, course: Path, cache: Path,
                                                               tmp_path: Path):
    with open(cache / f"{FAULTS['key']}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a grader preparing this key holds it
        proc = run_grade([str(FIXTURES / "hostile_empty.zip"), "--out", str(tmp_path / "out"),
                          "--course-root", str(course)], cache, wait=False)
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert f"waiting for another grader that is preparing {cache / FAULTS['key']}" in err
    assert (tmp_path / "out" / "gradebook.csv").exists()


def test_a_reference_that_fails_to_build_is_never_published(graded, cache: Path, tmp_path: Path):
    key = FAULTS["key"]
    published, _ = load_ready(cache / key, key, SEED, SCALE)
    temp = tmp_path / f"{key}.tmp-building"  # a preparation whose base and data are built
    shutil.copytree(cache / key, temp, ignore=shutil.ignore_patterns("reference", "READY.json"))
    setup = GradingSetup.from_dict({**asdict(published), "folder": str(temp), "raw_dir": str(temp / "raw"),
                                    "base": str(temp / "base"), "reference": str(temp / "reference"),
                                    "arrival_files": [str(temp / "arrivals" / Path(p).name)
                                                      for p in published.arrival_files]})
    broken = Answers(files={"models/marts/broken_solution.sql": "select no_such_function_xyz() as x\n"})
    log: list[str] = []
    assert build_reference(setup, broken, log.append) is False
    assert any("some solutions do not build" in line for line in log), log
    used = finish(temp, tmp_path / key, setup, False, log.append)
    assert used.transient and used.folder == str(temp) and not (tmp_path / key).exists()
    discard(used)
    assert not temp.exists()


def _outputs(out: Path, name: str) -> dict[str, str]:
    return {f: (out / name / f).read_text() for f in ("report.json", "feedback.html", "review.md")}


def _empty_class(tmp_path: Path) -> Path:
    klass = tmp_path / "class"
    klass.mkdir()
    for name in ("hostile_empty.zip", "hostile_empty_too.zip"):
        shutil.copy(FIXTURES / "hostile_empty.zip", klass / name)
    return klass


def _assert_complete_like_clean(out: Path, clean: Path) -> None:
    with open(clean / "gradebook.csv", newline="") as handle:
        clean_row = next(r for r in csv.DictReader(handle) if r["submission"] == "hostile_empty")
    with open(out / "gradebook.csv", newline="") as handle:
        rows = {r["submission"]: r for r in csv.DictReader(handle)}
    assert sorted(rows) == ["hostile_empty", "hostile_empty_too"]
    assert rows["hostile_empty"] == clean_row
    assert rows["hostile_empty_too"] == {**clean_row, "submission": "hostile_empty_too"}
    assert _outputs(out, "hostile_empty") == _outputs(clean, "hostile_empty")
    too = (out / "hostile_empty_too" / "report.json").read_text()
    too = too.replace("hostile_empty_too", "hostile_empty")
    assert too == (clean / "hostile_empty" / "report.json").read_text()
    assert not list(out.rglob("*.tmp"))


def test_outputs_over_a_file_size_limit_name_the_missing_and_a_rerun_completes(graded, course: Path,
                                                                             cache: Path, tmp_path: Path):
    clean, _ = graded
    out = tmp_path / "out"
    out.mkdir()
    (out / "gradebook.csv").write_text("submission,status\nfrom_an_earlier_run,ok\n")
    args = [str(_empty_class(tmp_path)), "--out", str(out), "--course-root", str(course)]
    done = run_grade(args, cache, fsize=4096)  # every report is larger; the gradebook would fit
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "grader: could not write the output of 2 submission(s): hostile_empty, hostile_empty_too "
        f"(no space left on device in {out}); no gradebook.csv was written: fix that and run the same "
        "command again")
    assert not (out / "gradebook.csv").exists() and not list(out.rglob("*.tmp"))
    assert not list(out.rglob("report.json"))
    again = run_grade(args, cache)
    assert again.returncode == 0, again.stderr[-2000:]
    _assert_complete_like_clean(out, clean)


def test_outputs_on_a_full_tmpfs_keep_what_fits_and_a_rerun_completes(graded, course: Path, cache: Path,
                                                                    tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root); the file-size-limit test covers the rest")
    clean, _ = graded
    pages = sum(-(-p.stat().st_size // 4096) * 4096 for p in (clean / "hostile_empty").iterdir())
    out = tmp_path / "out"
    out.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={pages + 16384}", "tmpfs", str(out)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        args = [str(_empty_class(tmp_path)), "--out", str(out), "--course-root", str(course)]
        done = run_grade(args, cache)  # hostile_empty fits, hostile_empty_too does not
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert done.stderr.strip().splitlines()[-1].startswith(
            "grader: could not write the output of 1 submission(s): hostile_empty_too (no space left on "
            f"device in {out})")
        assert _outputs(out, "hostile_empty") == _outputs(clean, "hostile_empty")
        assert not (out / "gradebook.csv").exists() and not list(out.rglob("*.tmp"))
        assert not (out / "hostile_empty_too" / "report.json").exists()
        subprocess.run(["mount", "-o", "remount,size=4m", str(out)], check=True)
        again = run_grade(args, cache)
        assert again.returncode == 0, again.stderr[-2000:]
        _assert_complete_like_clean(out, clean)
    finally:
        subprocess.run(["umount", str(out)], check=False)


def _start_and_wait_for_a_worker(course: Path, cache: Path,
                                 tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    """``grade`` of one notebook with a private TMPDIR; returns it once its worker runs."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    klass = tmp_path / "one"
    klass.mkdir()
    shutil.copy(FIXTURES / "unsolved" / "5_1_optimize_model.ipynb", klass / "a.ipynb")
    proc = run_grade([str(klass), "--out", str(tmp_path / "out"), "--course-root", str(course)], cache,
                     env={"TMPDIR": str(tmp)}, wait=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        records = list(tmp.glob("vb-grading-*/workers/*"))
        if records and records[0].read_text().strip():
            return proc, records[0].read_text().strip(), tmp
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no worker started: {proc.communicate()[1][-2000:]}")


def _gone(tag: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while tag_alive(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not tag_alive(tag)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_grade_its_workers_and_its_scratch(graded, course: Path, cache: Path, tmp_path: Path,
                                                          signum: signal.Signals):
    proc, worker, tmp = _start_and_wait_for_a_worker(course, cache, tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        f"grader: stopped by {signum.name}: 1 grading process(es) killed, temporary files removed, "
        f"nothing written to {tmp_path / 'out'}")
    assert _gone(worker, 5), f"worker {worker} still running"
    assert not list(tmp.iterdir()), list(tmp.iterdir())
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_sigkill_of_grade_leaves_no_worker_and_the_next_run_cleans_up(graded, course: Path, cache: Path,
                                                                       tmp_path: Path):
    proc, worker, tmp = _start_and_wait_for_a_worker(course, cache, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    died_with_parent = _gone(worker, 10)
    (scratch,) = tmp.glob("vb-grading-*")  # the killed run could not remove it
    nxt = run_grade([str(FIXTURES / "hostile_empty.zip"), "--out", str(tmp_path / "next"),
                     "--course-root", str(course)], cache, env={"TMPDIR": str(tmp)})
    assert nxt.returncode == 0, nxt.stderr[-2000:]
    assert "removed 1 scratch folder(s) left by an interrupted grading run" in nxt.stderr
    assert not scratch.exists() and not list(tmp.iterdir())
    assert _gone(worker, 5), f"worker {worker} still running after the next run"
    assert died_with_parent, ("the worker outlived its SIGKILLed parent: it needs a parent-death signal "
                              "(PR_SET_PDEATHSIG / bwrap --die-with-parent, trust-core's worker launch)")


# ---- issue 13: scores never change with speed; a class graded in shards -----------------------------
EXPECTED_SCORES = FIXTURES.parent / "expected_scores.json"  # VB_UPDATE_EXPECTED_SCORES=1 rewrites it
SHARD_CLASS = ["unsolved", "hostile_broken_notebook", "hostile_empty.zip",
               "wrong_weak_test_view_and_no_lookback"]
SHARD_COUNT = 4  # by name: 1/4 unsolved, hostile_broken_notebook; 2/4 wrong_weak...; 3/4 none; 4/4 the zip


def _scores(report: SubmissionReport) -> dict:
    """Status, total, and per exercise that scores: its score and the points of each check that scored
    (a check added later that scores nothing for these submissions changes nothing here)."""
    return {"status": report.status, "score": report.score,
            "exercises": {ex: {"score": e.score, "checks": {c.name: c.points for c in e.checks
                                                                if c.points}}
                          for ex, e in report.exercises.items() if e.score}}


def test_scores_equal_the_stored_expected_scores(graded):
    """Every check's points of every fixture submission, as stored: a change that makes grading faster
    (or anything else) must not change one of them. After an intended change of a check, rerun with
    VB_UPDATE_EXPECTED_SCORES=1 and review the diff of tests/fixtures/expected_scores.json."""
    _, reports = graded
    got = {name: _scores(report) for name, report in sorted(reports.items())}
    if os.environ.get("VB_UPDATE_EXPECTED_SCORES") == "1":
        EXPECTED_SCORES.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(EXPECTED_SCORES.read_text())
    assert sorted(got) == sorted(expected)
    changed = {name: (expected[name], got[name]) for name in got if got[name] != expected[name]}
    assert not changed, f"scores changed: {changed}"


@pytest.fixture(scope="module")
def sharded(graded, course: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The class SHARD_CLASS graded as SHARD_COUNT shards, each its own ``grade`` process (run at once,
    as on separate runners), then merged by ``python -m grader merge``."""
    from grader.shards import shard_of

    root = tmp_path_factory.mktemp("sharded")
    klass = root / "class"
    klass.mkdir()
    for name in SHARD_CLASS:
        (shutil.copytree if (FIXTURES / name).is_dir() else shutil.copy)(FIXTURES / name, klass / name)
    names = sorted(Path(n).stem for n in SHARD_CLASS)
    assert sorted({shard_of(n, SHARD_COUNT) for n in names}) == [1, 2, 4]  # one shard has nothing to grade
    shards = [root / f"shard-{i}" for i in range(1, SHARD_COUNT + 1)]
    procs = [run_grade([str(klass), "--out", str(out), "--course-root", str(course), "--shard",
                        f"{i}/{SHARD_COUNT}"], cache, wait=False) for i, out in enumerate(shards, 1)]
    done = []
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        done.append((proc.returncode, err))
    merged = subprocess.run([sys.executable, "-m", "grader", "merge", *map(str, shards), "--out",
                             str(root / "merged")], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    return {"root": root, "names": names, "shards": shards, "done": done, "merged": merged}


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _lines_of(text: str, names: list[str]) -> str:
    """A single run's CSV restricted to ``names`` (header kept): what a run of just those writes."""
    lines = text.splitlines(keepends=True)
    return lines[0] + "".join(line for line in lines[1:] if line.split(",", 1)[0] in names)


def test_shards_merge_into_exactly_what_one_run_writes(graded, sharded):
    single, _ = graded
    for code, err in sharded["done"]:
        assert code == 0 and "Traceback" not in err, err[-2000:]
    merged = sharded["merged"]
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.startswith(f"merged {SHARD_COUNT} shard(s), {len(sharded['names'])} submission(s)")
    tree, names = _tree(sharded["root"] / "merged"), sharded["names"]
    assert sorted(tree) == sorted(["gradebook.csv", "manual_scores.csv"]
                                  + [f"{n}/{f}" for n in names for f in ("feedback.html", "report.json",
                                                                         "review.md")])
    for rel, data in tree.items():
        if "/" in rel:  # every submission file byte for byte as the single run wrote it
            assert data == (single / rel).read_bytes(), rel
        else:
            assert data.decode() == _lines_of((single / rel).read_text(), names), rel
    empty = json.loads((sharded["shards"][2] / "shard.json").read_text())
    assert empty["shard"] == [3, SHARD_COUNT] and empty["submissions"] == [] and empty["class"] == names


def _merge_error(shards: list[Path], out: Path, capsys) -> str:
    from grader.cli import main

    assert main(["merge", *map(str, shards), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not (out / "gradebook.csv").exists() or out in shards, err
    return err.strip()


def _edited(shard: Path, tmp_path: Path, **settings) -> Path:
    copy = tmp_path / f"{shard.name}-edited"
    shutil.copytree(shard, copy)
    record = json.loads((copy / "shard.json").read_text())
    record["settings"].update(settings)
    (copy / "shard.json").write_text(json.dumps(record))
    return copy


def test_merge_refuses_shards_that_do_not_fit(sharded, tmp_path: Path, capsys):
    s1, s2, s3, s4 = sharded["shards"]
    out = tmp_path / "out"
    assert _merge_error([s1, s2, s3], out, capsys) == (
        "grader: missing shard(s) 4/4 (have 1/4, 2/4, 3/4): name every shard's output")
    assert "are both shard 2/4 (overlapping shards)" in _merge_error([s1, s2, s2, s3, s4], out, capsys)
    other_seed = _edited(s2, tmp_path, seed=SEED + 1)
    assert f"were not graded alike (hidden-data seed {SEED} vs {SEED + 1})" in _merge_error(
        [s1, other_seed, s3, s4], out, capsys)
    other_commit = _edited(s4, tmp_path, commit="0" * 40)
    assert "course commit" in _merge_error([s1, s2, s3, other_commit], out, capsys)
    assert "time limit" in _merge_error([s1, s2, s3, _edited(s3, tmp_path, timeout=1.0)], out, capsys)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(s1, incomplete)
    (incomplete / "gradebook.csv").unlink()
    assert "is incomplete (no gradebook.csv)" in _merge_error([incomplete, s2, s3, s4], out, capsys)
    assert "is not the output of a shard" in _merge_error([s1, s2, s3, s4, tmp_path], out, capsys)
    assert "is a shard's output" in _merge_error([s1, s2, s3, s4], s1, capsys)
    assert not out.exists()
