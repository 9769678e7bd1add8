"""Once per grading run: hidden data, the base warehouse and the reference warehouse (cached).

Cache layout (outside the repo and the submissions; ``$VB_GRADER_CACHE`` or
``~/.cache/vyaparbazaar-grader``), one folder per key (seed, scale, generator, starting project,
solutions, grader version): ``raw/`` (hidden data + edge cases), ``arrivals/`` (clickstream
arrival files, day 1..N), ``base/`` (starting project built), ``reference/`` (+ solutions built),
``READY.json`` (what was built, with the size of every warehouse and data file).

All or nothing: a preparation is built in ``<key>.tmp-*`` beside the cache (recording its owner
process) and published with one rename after every step succeeded. A cache folder that does not
validate (READY.json empty/invalid, a file missing or truncated) is reported in one line and
rebuilt; temporary folders of dead runs are removed. ``<key>.lock`` serializes graders preparing
the same key. A reference that did not build completely is used by this run only, never published.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_core import instructor_settings
from grader import shutdown
from grader.answers import Answers
from grader.api import arrival_snapshot
from grader.course import fingerprint, reference_answers, repo_root, starting_project
from grader.faults import (
    DiskFull,
    atomic_write,
    fsync_dir,
    is_disk_full,
    owner_alive,
    public_mode,
    write_owner,
)
from grader.workspace import Workspace

GRADER_VERSION = "2"  # 2: reference relations exported as Parquet (reference-data/)
ARRIVAL_DAYS = 3


class SetupError(Exception):
    """The course material itself cannot be prepared (a problem for the instructor, not a submission)."""


@dataclass
class GradingSetup:
    """Paths of a prepared grading run (JSON-serializable for the workers)."""

    key: str
    seed: int
    scale: float
    folder: str
    raw_dir: str
    arrival_files: list[str]
    base: str
    reference: str
    transient: bool = False  # not published (the reference did not build): removed after the run
    # grader.intake.builtin_macro_names() of this run's dbt, computed once per run (it imports all of
    # dbt: ~2 CPU-s) and handed to every grading process with the job; not cached on disk
    builtin_macros: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialized form."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> GradingSetup:
        """Inverse of ``to_json``."""
        return cls(**data)


def cache_root() -> Path:
    """Where prepared grading runs are cached (``$VB_GRADER_CACHE``, see course_core.instructor_settings)."""
    return instructor_settings.grader_cache_dir()


def _run(cmd: list[str], what: str, cwd: Path, folder: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    shutdown.raise_if_interrupted()
    if done.returncode != 0:
        if is_disk_full(done.stderr + done.stdout):
            raise DiskFull(folder)
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise SetupError(f"{what} failed: {lines[-1]}")


def _generate(folder: Path, seed: int, scale: float, root: Path) -> tuple[Path, list[Path]]:
    raw = folder / "raw"
    py = sys.executable
    _run([py, "-m", "datasets.generate", "--seed", str(seed), "--scale", str(scale), "--out", str(raw),
          "--edge-cases", "--quiet"], "generating the hidden dataset", root, folder)
    arrivals_dir = folder / "arrivals"
    arrivals_dir.mkdir(exist_ok=True)
    if not (root / "datasets" / "arrivals.py").exists():
        return raw, []
    scratch = folder / "raw-arrivals"
    shutil.copytree(raw, scratch)
    files: list[Path] = []
    for day in range(1, ARRIVAL_DAYS + 1):
        _run([py, "-m", "datasets.arrivals", "--raw", str(scratch), "--day", str(day)],
             f"generating clickstream arrival day {day}", root, folder)
    for path in sorted((scratch / "clickstream").glob("arrival-*.parquet")):
        dest = arrivals_dir / path.name
        shutil.move(path, dest)
        files.append(dest)
    shutil.rmtree(scratch)
    return raw, files


def _setup_in(folder: Path, key: str, seed: int, scale: float, arrivals: list[str]) -> GradingSetup:
    """The setup of a cache folder (paths derived from the folder, so they survive the rename)."""
    return GradingSetup(key, seed, scale, str(folder), str(folder / "raw"),
                        [str(folder / "arrivals" / name) for name in arrivals], str(folder / "base"),
                        str(folder / "reference"))


def _checked_files(folder: Path) -> dict[str, int]:
    """Files whose presence and size READY.json records: warehouses and data files."""
    found = {p for pattern in ("*/warehouse.duckdb", "raw/**/*.parquet", "raw/_manifest.json",
                               "arrivals/*.parquet") for p in folder.glob(pattern)}
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(found)}


def load_ready(folder: Path, key: str, seed: int, scale: float) -> tuple[GradingSetup | None, str]:
    """The published setup in ``folder``, or None and why it is unusable."""
    try:
        text = (folder / "READY.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "no READY.json"
    except (OSError, UnicodeDecodeError) as error:
        return None, f"READY.json is unreadable: {type(error).__name__}"
    if not text.strip():
        return None, "READY.json is empty"
    try:
        data = json.loads(text)
        arrivals = [str(a) for a in data["arrival_files"]]
        files = {str(k): int(v) for k, v in data["files"].items()}
        same = (data["key"], data["seed"], float(data["scale"])) == (key, seed, float(scale))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return None, f"READY.json is invalid ({type(error).__name__})"
    if not same or not files:
        return None, "READY.json describes another preparation"
    for rel, size in files.items():
        path = folder / rel
        if not path.is_file():
            return None, f"{rel} is missing"
        if path.stat().st_size != size:
            return None, f"{rel} has {path.stat().st_size} bytes instead of {size}"
    return _setup_in(folder, key, seed, scale, arrivals), ""


def _remove_stale_temps(base_dir: Path, key: str, log: Callable[[str], None]) -> None:
    """Remove preparation folders of dead runs (killed, disk full); call holding ``key``'s lock."""
    for temp in sorted(base_dir.glob("*.tmp-*")):
        alive = owner_alive(temp)
        if temp.is_dir() and (alive is False or (alive is None and temp.name.startswith(f"{key}."))):
            log(f"removing {temp}: a preparation left unfinished by an interrupted run")
            shutil.rmtree(temp, ignore_errors=True)


def cache_key(seed: int, scale: float, root: Path, reference: Answers) -> tuple[str, dict[str, bytes]]:
    """The cache key of a preparation, and the starting project's files."""
    starting = starting_project(root, set(reference.files))
    generator = b"".join(p.read_bytes() for p in sorted((root / "datasets").glob("*.py")))
    project_blob = json.dumps({k: v.decode("utf-8", "replace") for k, v in starting.items()}, sort_keys=True)
    key = fingerprint(GRADER_VERSION, str(seed), repr(scale), generator, project_blob,
                      json.dumps(reference.to_dict(), sort_keys=True))
    return key, starting


def prepare(seed: int, scale: float, *, log: Callable[[str], None] = print, root: Path | None = None,
            cache: Path | None = None) -> tuple[GradingSetup, Answers]:
    """Prepare (or reuse) the hidden data and the base and reference warehouses of a grading run.

    Raises ``DiskFull`` (one line naming the folder) when the cache's file system has no room; a
    setup with ``transient`` set must be passed to ``discard`` after the run.
    """
    root = root or repo_root()
    reference = reference_answers(root)
    if not reference.files and not reference.prose:
        log("note: solutions/ has no answers yet: only checks that need no reference can pass")
    key, starting = cache_key(seed, scale, root, reference)
    base_dir = cache or cache_root()
    try:
        setup = _prepare_locked(base_dir, key, seed, scale, root, starting, reference, log)
        setup.builtin_macros = builtin_macros()
        return setup, reference
    except DiskFull:
        raise DiskFull(base_dir) from None  # the cache's file system (the temporary folder is gone)
    except Exception as error:  # OSError, duckdb.Error, ...: a full disk is one line, anything else raises
        if is_disk_full(error):
            raise DiskFull(base_dir) from None
        raise


def builtin_macros() -> list[str]:
    """The macro names a submission may not define (``grader.intake.builtin_macro_names``), for the job."""
    from course_core.dbt_invoke import skip_rfc3987_import
    from grader.intake import read_builtin_macro_names

    skip_rfc3987_import()
    return sorted(read_builtin_macro_names())


def discard(setup: GradingSetup) -> None:
    """Remove a transient (unpublished) preparation after its run."""
    if setup.transient:
        shutil.rmtree(setup.folder, ignore_errors=True)


def _prepare_locked(base_dir: Path, key: str, seed: int, scale: float, root: Path, starting: dict[str, bytes],
                    reference: Answers, log: Callable[[str], None]) -> GradingSetup:
    folder = base_dir / key
    base_dir.mkdir(parents=True, exist_ok=True)
    with open(base_dir / f"{key}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another grader that is preparing {folder}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            os.chmod(base_dir, 0o700)  # hidden data and reference: not readable by grading workers
        except OSError:
            pass
        _remove_stale_temps(base_dir, key, log)
        if folder.exists():
            setup, why = load_ready(folder, key, seed, scale)
            if setup is not None:
                return setup
            log(f"grader cache {folder} is incomplete ({why}): rebuilding it")
            _clear(folder)
        temp = Path(tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=base_dir))
        try:
            public_mode(temp, directory=True)
            write_owner(temp)
            log(f"preparing hidden data (seed {seed}, scale {scale}) in {folder}")
            raw, arrivals = _generate(temp, seed, scale, root)
            setup = _setup_in(temp, key, seed, scale, [p.name for p in arrivals])
            _build_base(temp / "base", starting, raw, log)
            complete = build_reference(setup, reference, log)
            shutdown.raise_if_interrupted()
            return finish(temp, folder, setup, complete, log)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise


def finish(temp: Path, folder: Path, setup: GradingSetup, complete: bool,
           log: Callable[[str], None]) -> GradingSetup:
    """Publish a complete preparation; an incomplete one stays in ``temp`` for this run only."""
    if complete:
        return _publish(temp, folder, setup)
    log("the reference did not build completely: this run grades with it, but it is not cached "
        "(the next run prepares again)")
    setup.transient = True
    return setup


def _publish(temp: Path, folder: Path, setup: GradingSetup) -> GradingSetup:
    """Write READY.json (atomically) into the finished ``temp`` and rename it to ``folder``."""
    names = [Path(p).name for p in setup.arrival_files]
    files = _checked_files(temp)
    for rel in files:  # durable before READY.json says so
        fd = os.open(temp / rel, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    ready = {"key": setup.key, "seed": setup.seed, "scale": setup.scale, "grader_version": GRADER_VERSION,
             "arrival_files": names, "files": files}
    atomic_write(temp / "READY.json", json.dumps(ready, indent=1, sort_keys=True) + "\n")
    if folder.exists():  # rename wins: someone published meanwhile without honouring the lock
        theirs, _ = load_ready(folder, setup.key, setup.seed, setup.scale)
        if theirs is not None:
            shutil.rmtree(temp, ignore_errors=True)
            return theirs
        _clear(folder)
    os.rename(temp, folder)
    fsync_dir(folder.parent)
    return _setup_in(folder, setup.key, setup.seed, setup.scale, names)


def _clear(folder: Path) -> None:
    """Remove a broken cache folder; what cannot be removed now is moved aside for a later run."""
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        os.rename(folder, tempfile.mkdtemp(prefix=f"{folder.name}.tmp-broken-", dir=folder.parent))


def _no_disk_full(message: str, folder: Path) -> None:
    """Raise ``DiskFull`` when a failure message (dbt, DuckDB, a hook) is a full disk, not a defect."""
    if is_disk_full(message):
        raise DiskFull(folder)


def _build_base(path: Path, starting: dict[str, bytes], raw: Path, log: Callable[[str], None]) -> None:
    log("building the starting project on the hidden data")
    ws = Workspace.create(path, starting)
    ws.load_raw(raw)
    outcome = ws.dbt("run")
    shutdown.raise_if_interrupted()
    if not outcome.success:
        _no_disk_full(outcome.summary(), path.parent)
        raise SetupError("the course's starting project does not build on the hidden data: "
                         f"{outcome.summary()}")


def _usable_reference_files(setup: GradingSetup, reference: Answers,
                            log: Callable[[str], None]) -> tuple[dict[str, str], bool]:
    """The solutions' files, minus those of any notebook whose files break the project's parse
    (and whether none had to be left out)."""
    probe = Workspace(Path(setup.base)).clone(Path(setup.folder) / "probe")
    probe.write_files(reference.files)
    outcome = probe.parse()
    shutil.rmtree(probe.root, ignore_errors=True)
    if outcome.success:
        return dict(reference.files), True
    _no_disk_full(outcome.summary(), Path(setup.folder))
    keep: dict[str, str] = {}
    for origin in sorted(set(reference.origins.values())):
        files = {p: t for p, t in reference.files.items() if reference.origins.get(p) == origin}
        probe = Workspace(Path(setup.base)).clone(Path(setup.folder) / "probe")
        probe.write_files({**keep, **files})
        outcome = probe.parse()
        shutil.rmtree(probe.root, ignore_errors=True)
        if outcome.success:
            keep.update(files)
        else:
            _no_disk_full(outcome.summary(), Path(setup.folder))
            log(f"WARNING: solutions/{origin} breaks the project ({outcome.summary()}); "
                "its exercise has no reference answers in this run")
    return keep, False


def build_reference(setup: GradingSetup, reference: Answers, log: Callable[[str], None]) -> bool:
    """Build the solutions into ``reference/``; False when any part failed (then never published)."""
    from grader.exercises import registry

    log("building the reference answers (solutions/) on the hidden data")
    files, complete = _usable_reference_files(setup, reference, log)
    ws = Workspace(Path(setup.base)).clone(Path(setup.reference))
    ws.write_files(files)
    models = sorted(p for p in files if p.startswith("models/") and p.endswith(".sql"))
    if models:
        outcome = ws.dbt("run", "--select", *[f"path:{m}" for m in models])
        shutdown.raise_if_interrupted()
        if not outcome.success:
            _no_disk_full(outcome.summary(), Path(setup.folder))
            complete = False
            log(f"WARNING: some solutions do not build on the hidden data ({outcome.summary()}); "
                "checks that need them report 'reference not available'")
    for exercise in registry().values():
        for hook in exercise.reference_setups:
            try:
                hook(ReferenceSetup(ws, setup))
            except Exception as error:  # noqa: BLE001 - one exercise's reference must not stop the run
                shutdown.raise_if_interrupted()
                if isinstance(error, DiskFull):
                    raise
                _no_disk_full(str(error), Path(setup.folder))
                complete = False
                log(f"WARNING: reference setup of {exercise.id} failed: {str(error)[:300]}")
    ws.close()
    from grader.remote import REFERENCE_DATA, export_reference

    export_reference(ws.warehouse, Path(setup.folder) / REFERENCE_DATA)
    return complete


@dataclass
class ReferenceSetup:
    """What a ``reference_setup`` hook receives: the reference workspace and the run's paths."""

    workspace: Workspace
    setup: GradingSetup

    @property
    def arrival_files(self) -> list[Path]:
        """Arrival files in day order."""
        return [Path(p) for p in self.setup.arrival_files]

    def replay_arrivals(self, days: int) -> None:
        """Raw clickstream = hidden files + the first ``days`` arrival files."""
        raw = Path(self.setup.raw_dir) / "clickstream"
        files = sorted(raw.glob("*.parquet")) + self.arrival_files[:days]
        self.workspace.load_raw_files("clickstream", files)

    def snapshot_after_each_arrival(self, model: str, select: str, snapshot_sql: str, schema: str) -> None:
        """For day 0..n: replay arrivals, full-refresh ``select``, store ``snapshot_sql`` as
        ``<schema>.<model>__day_<n>``; then back to day 0. Skipped when the solutions lack ``model``."""
        ws = self.workspace
        if not any(n.get("name") == model for n in (ws.manifest() or {}).get("nodes", {}).values()):
            return
        ws.execute_trusted(f"create schema if not exists {schema}")
        for day in range(len(self.arrival_files) + 1):
            self.replay_arrivals(day)
            outcome = ws.dbt("run", "--select", select, "--full-refresh")
            if not outcome.success:
                raise RuntimeError(f"reference {model} does not build: {outcome.summary()}")
            table = arrival_snapshot(model, day, schema)
            ws.execute_trusted(f"create or replace table {table} as {snapshot_sql}")
        self.replay_arrivals(0)
        outcome = ws.dbt("run", "--select", select, "--full-refresh")
        if not outcome.success:
            raise RuntimeError(f"reference {model} does not rebuild: {outcome.summary()}")
