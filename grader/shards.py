"""A class graded in shards (``grade --shard i/n``) and merged back (``python -m grader merge``).

Split: a submission belongs to shard ``1 + int(sha256(name)[:16], 16) % n`` (its name as in the
gradebook). The split depends only on the name and ``n``: every runner computes the same one, and a
submission added to the class never moves another one to a different shard.

A shard's output folder is a normal ``grade`` output (gradebook.csv, manual_scores.csv, one folder per
submission) for its part of the class, plus ``shard.json``: the shard, the whole class's names and the
run's settings (seed, scale, time limit, isolation level, course fingerprint = the preparation's cache
key, grader code hash, git commit). ``merge`` refuses shards that do not fit together (different
settings, overlapping, missing, incomplete) with one line, and otherwise writes exactly what one
``grade`` of the whole class writes: the submission files copied byte for byte, the gradebook and the
manual-scores sheet rebuilt from the reports.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.faults import DiskFull, atomic_write, is_disk_full, replace_together
from grader.manual_scores import write_sheet
from grader.outputs import SUBMISSION_FILES, write_gradebook
from grader.report import SubmissionReport

SHARD_FILE = "shard.json"
FORMAT = 1
# settings that must be equal in every shard of one run, with how a message names them
SETTINGS = {"seed": "hidden-data seed", "scale": "hidden-data scale", "timeout": "time limit",
            "isolation": "isolation level", "course": "course (starting project, solutions, generator)",
            "grader": "grader code", "commit": "course commit"}


class ShardError(Exception):
    """Shards that cannot be merged, or a bad ``--shard`` value: one line saying what to do."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); 1 <= i <= n."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise ShardError(f"--shard {text!r}: expected i/n with 1 <= i <= n, e.g. --shard 2/4")
    return int(found.group(1)), int(found.group(2))


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) of the submission called ``name``."""
    return 1 + int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16) % count


def grader_hash() -> str:
    """A hash of the grader's code (every .py file of the package): shards graded by other checks differ."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def git_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` (None outside git)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@dataclass(frozen=True)
class RunSettings:
    """What must be equal in every shard of one run (``SETTINGS`` names them)."""

    seed: int
    scale: float
    timeout: float
    isolation: str
    course: str
    grader: str
    commit: str | None

    def to_json(self) -> dict[str, object]:
        """The ``settings`` of shard.json."""
        return {key: getattr(self, key) for key in SETTINGS}

    @classmethod
    def from_json(cls, value: object) -> RunSettings:
        """Read shard.json's ``settings`` strictly (``TypeError``/``KeyError`` when malformed)."""
        if not isinstance(value, dict):
            raise TypeError("settings: expected an object")
        settings = cls(**{key: value[key] for key in SETTINGS})
        number = (int, float)
        kinds: dict[str, type | tuple[type, ...]] = {
            "seed": int, "scale": number, "timeout": number, "isolation": str, "course": str, "grader": str,
            "commit": (str, type(None))}
        if any(isinstance(getattr(settings, k), bool) or not isinstance(getattr(settings, k), kind)
               for k, kind in kinds.items()):
            raise TypeError("settings: a value of the wrong type")
        return settings


def run_settings(seed: int, scale: float, timeout: float, isolation: str, root: Path | None,
                 key: str | None = None) -> RunSettings:
    """What must be equal in every shard of one run (``key``: the preparation's, computed if None)."""
    from grader.course import reference_answers, repo_root
    from grader.preparation import cache_key

    root = Path(root) if root else repo_root()
    if key is None:
        key = cache_key(seed, scale, root, reference_answers(root))[0]
    return RunSettings(seed, float(scale), float(timeout), isolation, key, grader_hash(),
                       git_commit(root) or git_commit(repo_root()))


@dataclass(frozen=True)
class ShardRecord:
    """The content of ``shard.json``: which shard, the whole class, this shard's part, the settings."""

    shard: tuple[int, int]
    everyone: tuple[str, ...]  # the class, sorted
    submissions: tuple[str, ...]  # this shard's part, sorted
    settings: RunSettings

    @property
    def i(self) -> int:
        """This shard's number (1..n)."""
        return self.shard[0]

    @property
    def n(self) -> int:
        """How many shards the class is split into."""
        return self.shard[1]

    def to_json(self) -> dict[str, object]:
        """The JSON value of shard.json."""
        return {"format": FORMAT, "shard": list(self.shard), "class": list(self.everyone),
                "submissions": list(self.submissions), "settings": self.settings.to_json()}

    @classmethod
    def from_json(cls, value: object) -> ShardRecord:
        """Read shard.json strictly (``ValueError``/``KeyError``/``TypeError`` when malformed)."""
        if not isinstance(value, dict) or value["format"] != FORMAT:
            raise ValueError("not a shard record of this format")
        i, n = value["shard"]
        names, mine = value["class"], value["submissions"]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (i, n)) or not all(
                isinstance(x, str) for x in [*names, *mine]):
            raise TypeError("shard, class or submissions of the wrong type")
        return cls((i, n), tuple(names), tuple(mine), RunSettings.from_json(value["settings"]))


@dataclass(frozen=True)
class Shard:
    """A shard's output folder and its record."""

    folder: Path
    record: ShardRecord


def shard_record(shard: tuple[int, int], everyone: list[str], mine: list[str],
                 settings: RunSettings) -> ShardRecord:
    """The content of ``shard.json``."""
    return ShardRecord(shard, tuple(sorted(everyone)), tuple(sorted(mine)), settings)


def write_record(out: Path, record: ShardRecord) -> None:
    """Write ``shard.json`` (after every other output of the shard)."""
    atomic_write(out / SHARD_FILE, json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n")


def _read(folder: Path) -> Shard:
    path = folder / SHARD_FILE
    if not folder.is_dir():
        raise ShardError(f"{folder}: no such folder")
    try:
        record = ShardRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ShardError(f"{folder} is not the output of a shard (no {SHARD_FILE}): grade it with "
                         "`python -m grader grade ... --shard i/n`") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise ShardError(f"{path} is unreadable or not written by this grader: grade that shard "
                         "again") from None
    if not (folder / "gradebook.csv").is_file():
        raise ShardError(f"shard {record.i}/{record.n} in {folder} is incomplete (no gradebook.csv): "
                         "grade it again")
    return Shard(folder, record)


def _differences(a: RunSettings, b: RunSettings) -> list[str]:
    return [f"{label} {getattr(a, key)!r} vs {getattr(b, key)!r}" for key, label in SETTINGS.items()
            if getattr(a, key) != getattr(b, key)]


def check_shards(folders: list[Path], out: Path) -> list[Shard]:
    """The shards once they form one complete run; else ``ShardError``."""
    if not folders:
        raise ShardError("name the output folder of every shard: merge OUT1 OUT2 ... --out DIR")
    shards = [_read(Path(f)) for f in folders]
    if any(out.resolve() == s.folder.resolve() for s in shards) or (out / SHARD_FILE).exists():
        raise ShardError(f"--out {out} is a shard's output: merge into a new folder")
    first = shards[0].record
    for other_shard in shards[1:]:
        other = other_shard.record
        where = f"{shards[0].folder} and {other_shard.folder}"
        if other.n != first.n:
            raise ShardError(f"{where} split the class differently (/{first.n} vs /{other.n}): "
                             "grade every shard with the same n")
        diff = _differences(first.settings, other.settings)
        if diff:
            raise ShardError(f"{where} were not graded alike ({'; '.join(diff)}): merge only shards of one "
                             "run (same commit, same command) and grade the odd one again")
        if other.everyone != first.everyone:
            raise ShardError(f"{where} were graded on different classes ({len(first.everyone)} vs "
                             f"{len(other.everyone)} submissions): give every shard the same submissions")
    seen: dict[int, Path] = {}
    for s in shards:
        r = s.record
        if r.i in seen:
            raise ShardError(f"{seen[r.i]} and {s.folder} are both shard {r.i}/{r.n} "
                             "(overlapping shards): name each shard once")
        seen[r.i] = s.folder
        expected = sorted(x for x in r.everyone if shard_of(x, r.n) == r.i)
        if list(r.submissions) != expected:
            raise ShardError(f"shard {r.i}/{r.n} in {s.folder} does not hold its part of the "
                             f"class ({len(r.submissions)} instead of {len(expected)} submissions): "
                             "grade it again")
        absent = [x for x in expected if not (s.folder / x / "report.json").is_file()]
        if absent:
            raise ShardError(f"shard {r.i}/{r.n} in {s.folder} lacks the report of "
                             f"{', '.join(absent[:5])}: grade it again")
    n = first.n
    missing = [f"{i}/{n}" for i in range(1, n + 1) if i not in seen]
    if missing:
        have = ", ".join(f"{i}/{n}" for i in sorted(seen))
        raise ShardError(f"missing shard(s) {', '.join(missing)} (have {have}): name every shard's output")
    return sorted(shards, key=lambda s: s.record.i)


def merge(folders: list[Path], out: Path) -> list[str]:
    """Write the merged outputs into ``out``; returns the submission names."""
    shards = check_shards(folders, out)
    reports: list[SubmissionReport] = []
    for s in shards:  # every report read (strictly) before anything is written
        for name in s.record.submissions:
            path = s.folder / name / "report.json"
            try:
                reports.append(SubmissionReport.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as error:  # JSONDecodeError, ReportFormatError, not UTF-8
                raise ShardError(f"{path} is unreadable or not written by this grader ({str(error)[:200]}): "
                                 "grade that shard again") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "gradebook.csv").unlink(missing_ok=True)  # as in grade: a gradebook describes a complete run
        for s in shards:
            for name in s.record.submissions:
                _copy_submission(s.folder / name, out / name)
        write_sheet(reports, out)
        write_gradebook(reports, out / "gradebook.csv")
    except (OSError, DiskFull) as error:
        if isinstance(error, DiskFull) or is_disk_full(error):
            raise ShardError(f"no space left on device in {out}; no gradebook.csv was written") from None
        raise ShardError(f"cannot write {out}: {error}; no gradebook.csv was written") from None
    return sorted(r.submission for r in reports)


def _copy_submission(source: Path, target: Path) -> None:
    """report.json, feedback.html and review.md byte for byte, renamed into place together."""
    target.mkdir(parents=True, exist_ok=True)
    replace_together(target, {name: (source / name).read_bytes() for name in SUBMISSION_FILES})
