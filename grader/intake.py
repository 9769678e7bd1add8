"""Intake policy: refuse submitted files that would change how dbt itself runs, before dbt sees them.

No exercise needs a materialization, a hook, a Python model, a macro that replaces one of dbt's
or dbt-duckdb's, or SQL that creates DuckDB macros/functions. A refused file is removed from the
answers (``Answers.refused`` says why, one line in ``Answers.problems``); only the checks that
need it score zero. Two lines of defence:

1. ``screen_answers``: the submitted text (Jinja tags, YAML keys, comment-free SQL), in the parent
   process, before anything runs;
2. ``screened_parse``: after dbt parsed the workspace, the manifest is checked again (hooks,
   language, materialization and macro names whatever Jinja built them); offending files are
   replaced (course version, or nothing dbt runs) and the project parsed again.

Beneath both, ``grader.dbt_runner.forbid_python_jobs`` makes the dbt that runs submissions refuse
every Python job (dbt-duckdb runs ``statement(language='python')`` from anything that looks like
a materialization). ``screen_paths`` refuses paths the workspace cannot hold, per answer.

An exercise that ever needs one of these constructs lists it in ``exercise(..., allow=[...])``
(see ``grader.api.ALLOWABLE``); today none does.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from grader.answers import NAME_MAX_BYTES, PATH_MAX_BYTES, Answers

MODEL_MATERIALIZATIONS = ("table", "view", "incremental", "ephemeral")
HOOK_KEYS = ("pre_hook", "post_hook", "on_run_start", "on_run_end")
DISPATCH_PREFIXES = ("default__", "duckdb__")
# Jinja names that run SQL (or reach a context that does); no answer needs them.
SQL_RUNNERS = frozenset({"run_query", "statement", "load_result", "store_result", "store_raw_result",
                         "context"})
# Adapter methods an answer may call (read-only metadata); any other use of ``adapter`` is refused.
SAFE_ADAPTER_METHODS = ("get_columns_in_relation", "get_relation", "quote", "quote_as_configured")

_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)
_BLOCK = re.compile(r"\{%-?\+?\s*(macro|materialization|test|call|set_sql_header)\b\s*([A-Za-z_]\w*)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CREATE = re.compile(r"create(orreplace)?(temp|temporary)?(macro|function)")
_HOOK_TEXT = re.compile(r"(pre|post)[\s_-]*hook|on[\s_-]*run[\s_-]*(start|end)", re.IGNORECASE)


class Refusal(ValueError):
    """A submitted file breaks the intake policy; the message is one line, without host paths."""


# ---- what dbt and dbt-duckdb define (read from the installed packages) -------------------------
_GIVEN: dict[str, frozenset[str]] = {}  # names computed once per grading run, handed in with the job


def use_builtin_macro_names(names: list[str] | frozenset[str]) -> None:
    """Use these names (the run's ``builtin_macro_names()``, carried in the job) instead of reading
    them from dbt in this process (which imports all of dbt: ~2 CPU-s)."""
    _GIVEN["names"] = frozenset(names)


def builtin_macro_names() -> frozenset[str]:
    """The names handed in by :func:`use_builtin_macro_names`, else :func:`read_builtin_macro_names`."""
    return _GIVEN.get("names") or read_builtin_macro_names()


@lru_cache(maxsize=1)
def read_builtin_macro_names() -> frozenset[str]:
    """Names a submitted macro may not take: every macro of the installed dbt include folders
    (dbt's global project, dbt-duckdb, ...), their dispatch base names, and dbt's context members."""
    import dbt.include

    names: set[str] = set()
    for root in dbt.include.__path__:
        for path in Path(root).rglob("*.sql"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for kind, name in _BLOCK.findall(text):
                if kind == "macro" and name:
                    names.add(name)
                elif kind == "test" and name:
                    names.update((name, f"test_{name}"))
                elif kind == "materialization" and name:
                    names.add(f"materialization_{name}")
    for name in list(names):
        for prefix in DISPATCH_PREFIXES:
            if name.startswith(prefix):
                names.add(name[len(prefix):])
    try:
        from dbt.context.providers import ModelContext

        names.update(ModelContext._context_members_)
    except (ImportError, AttributeError):  # pragma: no cover - a dbt without the registry
        pass
    return frozenset(names)


def macro_name_problem(name: str) -> str | None:
    """Why a submitted macro may not have this name (None: it may)."""
    lowered = name.lower()
    if "materialization" in lowered:
        return (f"macro {name!r}: names containing 'materialization' are reserved "
                "(dbt runs them as materializations)")
    if lowered.startswith(DISPATCH_PREFIXES):
        return f"macro {name!r} would replace an adapter implementation of dbt"
    if name in builtin_macro_names() or lowered in builtin_macro_names():
        return f"macro {name!r} has the name of a dbt or dbt-duckdb macro; rename it"
    return None


# ---- text screening ----------------------------------------------------------------------------
def _without_jinja_comments(text: str) -> str:
    """``text`` with ``{# ... #}`` replaced by a space (linear: an unclosed comment ends the text)."""
    out, i = [], 0
    while (start := text.find("{#", i)) >= 0:
        out.append(text[i:start] + " ")
        end = text.find("#}", start + 2)
        if end < 0:
            return "".join(out)
        i = end + 2
    out.append(text[i:])
    return "".join(out)


def _jinja_parts(text: str) -> list[str]:
    """Every ``{{ ... }}`` and ``{% ... %}`` of a text, comments removed (linear in its length:
    the texts are hostile, a backtracking regex would let one file stall the grader)."""
    text = _without_jinja_comments(text)
    parts: list[str] = []
    i, next_expr, next_stmt = 0, text.find("{{"), text.find("{%")
    while True:
        if 0 <= next_expr < i:
            next_expr = text.find("{{", i)
        if 0 <= next_stmt < i:
            next_stmt = text.find("{%", i)
        starts = [s for s in (next_expr, next_stmt) if s >= 0]
        if not starts:
            return parts
        start = min(starts)
        end = text.find("}}" if start == next_expr else "%}", start + 2)
        if end < 0:
            parts.append(text[start:])
            return parts
        parts.append(text[start:end + 2])
        i = end + 2


def _squashed_sql(text: str) -> str:
    """Lower-case text without comments, Jinja delimiters, quotes, concatenation and whitespace."""
    text = _SQL_COMMENT.sub(" ", _without_jinja_comments(text))
    return re.sub(r"[\s'\"`~+{}%|()\[\],-]+", "", text.lower())


def _screen_jinja(path: str, text: str, allow: frozenset[str]) -> None:
    for kind, name in _BLOCK.findall(_without_jinja_comments(text)):
        if kind == "materialization" and "materialization" not in allow:
            raise Refusal(f"{path}: defines a materialization ({{% materialization %}}); "
                          "no exercise needs one, use config(materialized=...) with a built-in one")
        if kind in ("macro", "test") and name:
            problem = macro_name_problem(name if kind == "macro" else f"test_{name}")
            if problem and "materialization" not in allow:
                raise Refusal(f"{path}: {problem}")
        if kind in ("call", "set_sql_header") and "sql_execution" not in allow:
            raise Refusal(f"{path}: runs SQL outside the model's select ({{% {kind} %}}); not accepted")
    for part in _jinja_parts(text):
        words = set(_NAME.findall(part))
        code = re.sub(r"'[^']*'|\"[^\"]*\"", "''", part)  # without string literals
        if "python" not in allow and words & {"language", "submit_python_job", "context_macro_stack"}:
            raise Refusal(f"{path}: sets or reaches a model language: only SQL answers are accepted")
        if "hooks" not in allow and (_HOOK_TEXT.search(part) or "sql_header" in words):
            raise Refusal(f"{path}: declares a hook or sql_header; no exercise needs one (remove it)")
        if "sql_execution" not in allow:
            bad = words & SQL_RUNNERS
            if bad:
                raise Refusal(f"{path}: runs SQL from Jinja ({sorted(bad)[0]}); an answer is a select")
            if re.search(r"\bdbt\b(?!\s*\.\s*\w)", code):  # dbt['run_' ~ 'query'], {% set d = dbt %}
                raise Refusal(f"{path}: the dbt namespace is used other than as dbt.<macro>; not accepted")
            for match in re.finditer(r"\badapter\b", code):
                after = re.match(r"\s*\.\s*(\w+)", code[match.end():])
                if not after or after.group(1) not in SAFE_ADAPTER_METHODS:
                    method = after.group(1) if after else "a non-metadata use"
                    raise Refusal(f"{path}: adapter.{method} is not accepted in answers "
                                  f"(allowed: adapter.{', adapter.'.join(SAFE_ADAPTER_METHODS)})")
        if "**" in code:
            raise Refusal(f"{path}: '**' in Jinja (keyword unpacking) is not accepted in answers")


def _yaml_keys(node: Any, seen: set[int] | None = None) -> Iterable[str]:
    """Every mapping key, each shared (aliased) node once: a YAML alias bomb stays linear."""
    seen = set() if seen is None else seen
    if not isinstance(node, dict | list) or id(node) in seen:
        return
    seen.add(id(node))
    for key, value in node.items() if isinstance(node, dict) else enumerate(node):
        if isinstance(node, dict):
            yield str(key)
        yield from _yaml_keys(value, seen)


def _screen_yaml(path: str, text: str, allow: frozenset[str]) -> None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:  # dbt reports the syntax error itself; still screen the raw text
        keys = re.findall(r"^[ \t]*-?[ \t]*['\"]?([+\w-]+)['\"]?[ \t]*:", text, re.MULTILINE)
    else:
        keys = list(_yaml_keys(data))
    for key in keys:
        normal = key.lower().lstrip("+").replace("-", "_").strip()
        if normal in HOOK_KEYS and "hooks" not in allow:
            raise Refusal(f"{path}: declares {key!r}; no exercise needs hooks (remove it)")
        if normal == "sql_header" and "hooks" not in allow:
            raise Refusal(f"{path}: declares sql_header; no exercise needs one (remove it)")
        if normal == "language" and "python" not in allow:
            raise Refusal(f"{path}: sets a model language: only SQL answers are accepted")


def _screen_sql(path: str, text: str, allow: frozenset[str]) -> None:
    if "create_macro" not in allow and _CREATE.search(_squashed_sql(text)):
        raise Refusal(f"{path}: creates a DuckDB macro or function (create ... macro/function); "
                      "an answer is a select, write a dbt macro instead")


def screen_file(path: str, text: str, allow: Iterable[str] = ()) -> None:
    """Raise ``Refusal`` when one submitted dbt_project file breaks the intake policy."""
    allowed = frozenset(allow)
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".py" and "python" not in allowed:
        raise Refusal(f"{path}: a Python model; only SQL answers are accepted")
    if suffix == ".md":
        return  # docs blocks are text: dbt renders no macro, hook or SQL from them
    if suffix in (".yml", ".yaml"):
        _screen_yaml(path, text, allowed)
    _screen_jinja(path, text, allowed)
    _screen_sql(path, text, allowed)  # YAML too: generic-test arguments are pasted into SQL


def refuse(answers: Answers, path: str, reason: str) -> None:
    """Drop one answer file and record why (a one-line problem; checks needing it say so)."""
    answers.files.pop(path, None)
    answers.refused[path] = reason
    line = f"refused {path}: {reason}" if not reason.startswith(path) else f"refused {reason}"
    if line not in answers.problems:
        answers.problems.append(line)


def allowed_constructs(exercise_ids: Iterable[str]) -> frozenset[str]:
    """The union of the ``allow`` lists of the given exercises (empty for every exercise today)."""
    from grader.exercises import registry

    exercises = registry()
    return frozenset(a for e in exercise_ids if e in exercises for a in getattr(exercises[e], "allow", ()))


def _allow_for(answers: Answers, path: str) -> frozenset[str]:
    origin = answers.origins.get(path, "").rsplit("/", 1)[-1]
    ex_id = next((e for e in ("5.1", "5.2", "5.3", "5.4", "5.5") if origin.startswith(e.replace(".", "_"))),
                 "bonus" if origin.startswith(("bonus", "5_bonus")) else "")
    return allowed_constructs([ex_id]) if ex_id else frozenset()


@lru_cache(maxsize=1)
def _course_files() -> dict[str, str]:
    """The starting project's own files (path -> text): resubmitted unchanged, they are not answers."""
    from grader.course import starting_project

    try:
        return {path: data.decode("utf-8") for path, data in starting_project().items()}
    except (OSError, UnicodeDecodeError, ValueError):
        return {}


def screen_answers(answers: Answers) -> Answers:
    """Apply the intake policy to every answer file (in place; returns ``answers``).

    A course file resubmitted unchanged (a submission that carries its whole ``dbt_project/``) is
    dropped first: the workspace has the course's own copy, and the course may override dbt macros
    (``macros/source.sql``) that a submission may not.
    """
    course = _course_files() if answers.files else {}
    for path in [p for p, text in answers.files.items() if course.get(p) == text]:
        del answers.files[path]
    for path in sorted(answers.files):
        duplicate_dir = next((p for p in answers.files if path.startswith(p + "/")), None)
        if duplicate_dir:
            refuse(answers, path, f"{duplicate_dir} is also written as a file, so it cannot be a folder")
            continue
        try:
            screen_file(path, answers.files[path], _allow_for(answers, path))
        except Refusal as refusal:
            refuse(answers, path, str(refusal).removeprefix(f"{path}: "))
    return answers


# ---- second line: the parsed manifest --------------------------------------------------------
def _node_file(node: dict) -> str:
    return str(node.get("original_file_path") or "")


def _patch_file(node: dict) -> str:
    patch = str(node.get("patch_path") or "")
    return patch.split("://", 1)[-1] if patch else ""


def manifest_refusals(manifest: dict, submitted: Iterable[str]) -> dict[str, str]:
    """Submitted files that the parsed manifest shows break the policy: ``{path: reason}``."""
    mine = set(submitted)
    project = (manifest.get("metadata") or {}).get("project_name")
    refusals: dict[str, str] = {}
    for macro in (manifest.get("macros") or {}).values():
        path = _node_file(macro)
        if path in mine and (project is None or macro.get("package_name") == project):
            problem = macro_name_problem(str(macro.get("name", "")))
            if problem:
                refusals.setdefault(path, problem)
    for node in (manifest.get("nodes") or {}).values():
        config = node.get("config") or {}
        own, patch = _node_file(node), _patch_file(node)
        blame = patch if patch in mine else own if own in mine else ""  # next round blames the other
        name = node.get("name", "?")
        reasons = []
        if any(config.get(k) for k in ("pre-hook", "post-hook", "pre_hook", "post_hook")):
            reasons.append(f"{name} has a pre/post hook; no exercise needs hooks")
        if config.get("sql_header"):
            reasons.append(f"{name} has a sql_header; no exercise needs one")
        if node.get("language", "sql") != "sql" or config.get("language") not in (None, "sql"):
            reasons.append(f"{name} is not a SQL model; only SQL answers are accepted")
        materialized = config.get("materialized")
        if node.get("resource_type") == "model" and materialized not in MODEL_MATERIALIZATIONS:
            reasons.append(f"{name} uses materialized={materialized!r}; use one of "
                           f"{', '.join(MODEL_MATERIALIZATIONS)}")
        if reasons and blame:  # a course file's own config is not the submission's doing
            refusals.setdefault(blame, reasons[0])
    return refusals


def _replacement(path: str, base_project: Path | None) -> str:
    """What a refused file becomes in a workspace: the course's own version, or nothing dbt runs."""
    if base_project is not None and (base_project / path).is_file():
        return (base_project / path).read_text(encoding="utf-8")
    top = path.split("/", 1)[0]
    runnable = top in ("models", "analyses") or (top == "tests" and not path.startswith("tests/generic/"))
    return "{{ config(enabled=false) }}\n" if path.endswith(".sql") and runnable else ""


def screened_parse(ws: Any, answers: Answers, base_project: Path | None = None, *, rounds: int = 3) -> Any:
    """``ws.parse()``, then the manifest re-check: refused files are replaced (by the course's version
    or by nothing dbt runs) and the project parsed again. Uses only ``parse``, ``manifest`` and
    ``write_files`` of the workspace; call it wherever a submission workspace is parsed (runner.py).
    """
    parsed = ws.parse()
    for _ in range(rounds):
        if not parsed.success:
            return parsed
        bad = manifest_refusals(ws.manifest(), answers.files)
        if not bad:
            return parsed
        for path, reason in sorted(bad.items()):
            refuse(answers, path, reason)
        ws.write_files({path: _replacement(path, base_project) for path in bad})
        parsed = ws.parse()
    return parsed


def screen_paths(answers: Answers, base_project: Path) -> Answers:
    """Refuse answer paths the workspace's file system cannot hold (before anything is written):
    a name over 255 bytes, a folder that is a file of the course project or another answer, a file
    that is a folder of the course project. Each costs that answer only."""
    for path in sorted(answers.files):
        parts = path.split("/")
        reason = ""
        if len(path.encode("utf-8")) > PATH_MAX_BYTES or any(len(p.encode("utf-8")) > NAME_MAX_BYTES
                                                             for p in parts):
            reason = "file name too long"
        else:
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                if prefix in answers.files or (base_project / prefix).is_file():
                    reason = f"{prefix} is a file, not a folder"
                    break
            if not reason and (base_project / path).is_dir():
                reason = "the course project has a folder of this name"
        if reason:
            refuse(answers, path, f"the file system cannot hold this path ({reason}); answer ignored")
    return answers


def write_answer_files(ws: Any, files: dict[str, str], answers: Answers) -> None:
    """Write answer files one by one: a path the file system rejects costs that answer only."""
    for path, text in sorted(files.items()):
        try:
            ws.write_files({path: text})
        except (OSError, ValueError) as error:
            code = error.errno if isinstance(error, OSError) else None
            reason = os.strerror(code) if code else "invalid path"
            reason = "file name too long" if code == errno.ENAMETOOLONG else reason
            refuse(answers, path, f"the file system refused this path ({reason}); answer ignored")
