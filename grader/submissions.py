"""Find submissions (an .ipynb, a folder of notebooks, a .zip) and read them into memory, safely.

Nothing is ever written into a submission. Zips are read entry by entry (entries that climb
out, absolute names and symlinks are refused); folders are walked without following symlinks.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.answers import Answers, answers_from_notebooks, check_project_path
from grader.intake import screen_answers

MAX_SUBMISSION_BYTES = 50_000_000
MAX_PROBLEMS = 100  # a notebook of 100 000 duplicated cells must not make a 100 000-line report
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Submission:
    """One intern's work, read into memory: notebooks, dbt_project files, problems found."""

    name: str
    source: str
    notebooks: list[tuple[str, bytes]] = field(default_factory=list)
    project_files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def answers(self) -> Answers:
        """Answers from the notebook cells, completed by dbt_project files no cell wrote."""
        answers = answers_from_notebooks(self.notebooks)
        answers.problems[:0] = self.problems
        for path, raw in sorted(self.project_files.items()):
            if path in answers.files:
                continue
            try:
                answers.files[path] = raw.decode("utf-8")
                answers.origins[path] = f"dbt_project/{path}"
            except UnicodeDecodeError:
                answers.problems.append(f"dbt_project/{path}: not UTF-8 text; file ignored")
        if not self.notebooks and not self.project_files:
            answers.problems.append("no notebook (.ipynb) found in this submission")
        screen_answers(answers)
        if len(answers.problems) > MAX_PROBLEMS:
            extra = len(answers.problems) - MAX_PROBLEMS
            answers.problems[MAX_PROBLEMS:] = [f"... and {extra} more problems of the same kinds"]
        return answers


def safe_name(name: str) -> str:
    """A file-system-safe submission name (letters, digits, . _ -)."""
    cleaned = _SAFE_NAME.sub("_", name).strip("._") or "submission"
    return cleaned[:80]


def _add_file(sub: Submission, rel: PurePosixPath, read: Callable[[], bytes], size: int) -> None:
    """Route one file of a submission: a notebook, a dbt_project file, or ignored."""
    if size > MAX_SUBMISSION_BYTES:
        sub.problems.append(f"{rel}: larger than {MAX_SUBMISSION_BYTES // 1_000_000} MB; ignored")
        return
    parts = rel.parts
    if any(p.startswith(".") for p in parts) or "__MACOSX" in parts:
        return
    if rel.suffix == ".ipynb" and "dbt_project" not in parts:
        sub.notebooks.append((str(rel), read()))
        return
    if "dbt_project" in parts:
        inner = "/".join(parts[parts.index("dbt_project") + 1:])
        if inner.startswith(("target/", "logs/", "warehouse/", "dbt_packages/")):
            return
        if inner.endswith(".py"):
            sub.problems.append(f"dbt_project/{inner}: Python models are not accepted; file ignored")
            return
        try:
            path = check_project_path(inner)
        except ValueError:
            return
        sub.project_files[path] = read()


def _walk_no_follow(folder: Path) -> list[Path]:
    """Every entry under ``folder`` (files and symlinks), never descending into a symlink."""
    entries: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        entries.extend(base / d for d in dirs if (base / d).is_symlink())
        entries.extend(base / f for f in files)
    return sorted(entries)


def read_folder(folder: Path, name: str) -> Submission:
    """Read a folder submission without following symlinks (each symlink is reported)."""
    sub = Submission(safe_name(name), str(folder))
    total = 0
    for path in _walk_no_follow(folder):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            sub.problems.append(f"{rel}: a symbolic link; refused (submit real files, not links)")
            continue
        if not stat.S_ISREG(mode):
            continue
        size = path.stat().st_size
        total += size
        if total > MAX_SUBMISSION_BYTES:
            sub.problems.append(f"submission larger than {MAX_SUBMISSION_BYTES // 10**6} MB; rest ignored")
            break
        try:
            _add_file(sub, rel, path.read_bytes, size)
        except OSError as error:
            sub.problems.append(f"{str(rel)[:100]}: cannot be read ({_os_reason(error)}); ignored")
    sub.notebooks.sort(key=lambda item: item[0])
    return sub


def read_zip(path: Path, name: str) -> Submission:
    """Read a .zip submission entry by entry; unsafe entries are refused and reported."""
    sub = Submission(safe_name(name), str(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        reason = _os_reason(error) if isinstance(error, OSError) else "bad zip file"
        sub.problems.append(f"{path.name}: not a readable zip file ({reason})")
        return sub
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if not infos:
            sub.problems.append(f"{path.name}: the zip file is empty")
        total = 0
        for info in infos:
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts or info.filename.startswith(("/", "~")):
                sub.problems.append(f"{info.filename}: zip entry climbs out of the folder; refused")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                sub.problems.append(f"{info.filename}: a symbolic link inside the zip; refused")
                continue
            total += info.file_size
            if total > MAX_SUBMISSION_BYTES:
                limit = MAX_SUBMISSION_BYTES // 10**6
                sub.problems.append(f"zip content larger than {limit} MB; rest ignored")
                break
            try:
                _add_file(sub, rel, lambda i=info: archive.read(i), info.file_size)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
                reason = _os_reason(error) if isinstance(error, OSError) else type(error).__name__
                sub.problems.append(f"{info.filename[:100]}: cannot be read from the zip ({reason})")
    _strip_common_root(sub)
    sub.notebooks.sort(key=lambda item: item[0])
    return sub


def read_notebook(path: Path) -> Submission:
    """A single .ipynb given directly: its size is checked before anything is read."""
    sub = Submission(safe_name(path.stem), str(path))
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            sub.problems.append(f"{path.name}: larger than {MAX_SUBMISSION_BYTES // 10**6} MB; not read")
            return sub
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as error:
        sub.problems.append(f"{path.name}: cannot be read ({_os_reason(error)})")
        return sub
    if len(raw) > MAX_SUBMISSION_BYTES:  # grew while being read
        sub.problems.append(f"{path.name}: larger than {MAX_SUBMISSION_BYTES // 10**6} MB; not read")
        return sub
    sub.notebooks.append((path.name, raw))
    return sub


def _os_reason(error: OSError) -> str:
    """The reason of an OS error without the file's host path."""
    return os.strerror(error.errno) if error.errno else type(error).__name__


def _strip_common_root(sub: Submission) -> None:
    """Labels of notebooks inside a single top folder of a zip are shown without that folder."""
    sub.notebooks = [(label.split("/")[-1] if "/" in label else label, raw) for label, raw in sub.notebooks]


MODULE_NOTEBOOK_PREFIXES = ("5_1", "5_2", "5_3", "5_4", "5_5", "bonus")


def _is_submission_folder(folder: Path) -> bool:
    """One intern's folder: it holds the module's notebooks (5_1_*.ipynb, ...) or a dbt_project/.

    Any other folder is a class folder: each .ipynb, .zip and subfolder in it is a submission.
    """
    return (folder / "dbt_project").is_dir() or any(
        p.suffix == ".ipynb" and p.name.startswith(MODULE_NOTEBOOK_PREFIXES) for p in folder.iterdir()
    )


def discover(paths: list[Path]) -> list[Submission]:
    """Every submission under the given paths, with unique names, in a stable order."""
    found: list[Submission] = []
    for path in paths:
        if path.is_symlink():
            sub = Submission(safe_name(path.stem), str(path))
            sub.problems.append(f"{path.name}: a symbolic link; refused (submit real files)")
            found.append(sub)
        elif path.is_file() and path.suffix == ".ipynb":
            found.append(read_notebook(path))
        elif path.is_file() and path.suffix == ".zip":
            found.append(read_zip(path, path.stem))
        elif path.is_dir() and _is_submission_folder(path):
            found.append(read_folder(path, path.name))
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            found.extend(discover(children))
        elif not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    return _unique_names(found)


def _unique_names(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    for sub in subs:
        count = seen.get(sub.name, 0)
        seen[sub.name] = count + 1
        if count:
            sub.name = f"{sub.name}-{count + 1}"
    return subs
