"""Once per grading run: hidden data, the base warehouse and the reference warehouse (cached).

Cache layout (outside the repo and the submissions; ``$VB_GRADER_CACHE`` or
``~/.cache/vyaparbazaar-grader``), one folder per key (seed, scale, generator, starting project,
solutions, grader version): ``raw/`` (hidden data + edge cases), ``arrivals/`` (clickstream
arrival files, day 1..N), ``base/`` (starting project built), ``reference/`` (+ solutions built).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.answers import Answers
from grader.course import fingerprint, reference_answers, repo_root, starting_project
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

    def to_json(self) -> str:
        """Serialized form."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> GradingSetup:
        """Inverse of ``to_json``."""
        return cls(**data)


def cache_root() -> Path:
    """Where prepared grading runs are cached."""
    env = os.environ.get("VB_GRADER_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vyaparbazaar-grader"


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise SetupError(f"{what} failed: {lines[-1]}")


def _generate(folder: Path, seed: int, scale: float, root: Path) -> tuple[Path, list[Path]]:
    raw = folder / "raw"
    py = sys.executable
    _run([py, "-m", "datasets.generate", "--seed", str(seed), "--scale", str(scale), "--out", str(raw),
          "--edge-cases", "--quiet"], "generating the hidden dataset", root)
    arrivals_dir = folder / "arrivals"
    arrivals_dir.mkdir(exist_ok=True)
    if not (root / "datasets" / "arrivals.py").exists():
        return raw, []
    scratch = folder / "raw-arrivals"
    shutil.copytree(raw, scratch)
    files: list[Path] = []
    for day in range(1, ARRIVAL_DAYS + 1):
        _run([py, "-m", "datasets.arrivals", "--raw", str(scratch), "--day", str(day)],
             f"generating clickstream arrival day {day}", root)
    for path in sorted((scratch / "clickstream").glob("arrival-*.parquet")):
        dest = arrivals_dir / path.name
        shutil.move(path, dest)
        files.append(dest)
    shutil.rmtree(scratch)
    return raw, files


def prepare(seed: int, scale: float, *, log: Callable[[str], None] = print, root: Path | None = None,
            cache: Path | None = None) -> tuple[GradingSetup, Answers]:
    """Prepare (or reuse) the hidden data and the base and reference warehouses of a grading run."""
    root = root or repo_root()
    reference = reference_answers(root)
    if not reference.files and not reference.prose:
        log("note: solutions/ has no answers yet: only checks that need no reference can pass")
    starting = starting_project(root, set(reference.files))
    generator = b"".join(p.read_bytes() for p in sorted((root / "datasets").glob("*.py")))
    project_blob = json.dumps({k: v.decode("utf-8", "replace") for k, v in starting.items()}, sort_keys=True)
    key = fingerprint(GRADER_VERSION, str(seed), repr(scale), generator, project_blob,
                      json.dumps(reference.to_dict(), sort_keys=True))
    base_dir = cache or cache_root()
    folder = base_dir / key
    setup = GradingSetup(key, seed, scale, str(folder), str(folder / "raw"), [], str(folder / "base"),
                         str(folder / "reference"))
    base_dir.mkdir(parents=True, exist_ok=True)
    with open(base_dir / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = folder / "READY.json"
        try:
            os.chmod(base_dir, 0o700)  # hidden data and reference: not readable by grading workers
        except OSError:
            pass
        if ready.exists():
            return GradingSetup.from_dict(json.loads(ready.read_text())), reference
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        log(f"preparing hidden data (seed {seed}, scale {scale}) in {folder}")
        raw, arrivals = _generate(folder, seed, scale, root)
        setup.arrival_files = [str(p) for p in arrivals]
        _build_base(folder / "base", starting, raw, log)
        _build_reference(setup, reference, log)
        ready.write_text(setup.to_json())
    return setup, reference


def _build_base(path: Path, starting: dict[str, bytes], raw: Path, log: Callable[[str], None]) -> None:
    log("building the starting project on the hidden data")
    ws = Workspace.create(path, starting)
    ws.load_raw(raw)
    outcome = ws.dbt("run")
    if not outcome.success:
        raise SetupError("the course's starting project does not build on the hidden data: "
                         f"{outcome.summary()}")


def _usable_reference_files(setup: GradingSetup, reference: Answers, log: Callable[[str], None]) -> dict:
    """The solutions' files, minus those of any notebook whose files break the project's parse."""
    probe = Workspace(Path(setup.base)).clone(Path(setup.folder) / "probe")
    probe.write_files(reference.files)
    if probe.parse().success:
        shutil.rmtree(probe.root, ignore_errors=True)
        return dict(reference.files)
    shutil.rmtree(probe.root, ignore_errors=True)
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
            log(f"WARNING: solutions/{origin} breaks the project ({outcome.summary()}); "
                "its exercise has no reference answers in this run")
    return keep


def _build_reference(setup: GradingSetup, reference: Answers, log: Callable[[str], None]) -> None:
    from grader.api import registry

    log("building the reference answers (solutions/) on the hidden data")
    files = _usable_reference_files(setup, reference, log)
    ws = Workspace(Path(setup.base)).clone(Path(setup.reference))
    ws.write_files(files)
    models = sorted(p for p in files if p.startswith("models/") and p.endswith(".sql"))
    if models:
        outcome = ws.dbt("run", "--select", *[f"path:{m}" for m in models])
        if not outcome.success:
            log(f"WARNING: some solutions do not build on the hidden data ({outcome.summary()}); "
                "checks that need them report 'reference not available'")
    for exercise in registry().values():
        for hook in exercise.reference_setups:
            try:
                hook(ReferenceSetup(ws, setup))
            except Exception as error:  # noqa: BLE001 - one exercise's reference must not stop the run
                log(f"WARNING: reference setup of {exercise.id} failed: {str(error)[:300]}")
    ws.close()
    from grader.remote import REFERENCE_DATA, export_reference

    export_reference(ws.warehouse, Path(setup.folder) / REFERENCE_DATA)


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
            ws.execute_trusted(f"create or replace table {schema}.{model}__day_{day} as {snapshot_sql}")
        self.replay_arrivals(0)
        outcome = ws.dbt("run", "--select", select, "--full-refresh")
        if not outcome.success:
            raise RuntimeError(f"reference {model} does not rebuild: {outcome.summary()}")
