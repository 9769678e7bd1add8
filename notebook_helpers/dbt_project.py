"""Questions about the dbt project: does a model exist, is it built, what SQL does it compile to."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_core import manifest as dbt_manifest
from course_core.settings import dbt_project_dir, manifest_path, warehouse_path
from notebook_helpers.connections import short_connection
from notebook_helpers.errors import HelperError
from notebook_helpers.layers import layer_of, layer_rank

if TYPE_CHECKING:
    import pandas as pd


def _manifest_at(path: Path) -> dict[str, Any]:
    return _manifest_cached(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _manifest_cached(path: str, _mtime: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def manifest() -> dict[str, Any]:
    """``target/manifest.json`` as a dict (``dbt parse`` is run first if it is missing)."""
    path = manifest_path()
    if not path.exists():
        from notebook_helpers.dbt_run import run_dbt

        run_dbt(["parse"], quiet=True)
    if not path.exists():
        raise HelperError(
            "dbt_project/target/manifest.json is missing: run `%dbt parse` (or `make lab`) first."
        )
    return _manifest_at(path)


def model_file(name: str) -> Path | None:
    """The ``models/**/<name>.sql`` (or ``.py``) file of a model, or None."""
    models = dbt_project_dir() / "models"
    for suffix in (".sql", ".py"):
        found = sorted(models.rglob(f"{name}{suffix}"))
        if found:
            return found[0]
    return None


def model_exists(name: str) -> bool:
    """True if the dbt project has a model file called ``name`` (built or not)."""
    return model_file(name) is not None


def compiled_sql(model: str, quiet: bool = True) -> str | None:
    """Compile ``model`` with dbt and return its SQL (None, with dbt's error printed, if it fails)."""
    from notebook_helpers.dbt_run import run_dbt

    if not model_exists(model):
        raise HelperError(f"There is no model called {model!r} in dbt_project/models.")
    result = run_dbt(["compile", "-s", model], quiet=True)
    if not result.success:
        print(result.summary())
        return None
    node = dbt_manifest.find_node(manifest(), model)
    if node is None:
        return None
    path = dbt_project_dir() / "target" / "compiled" / node["package_name"] / node["original_file_path"]
    if path.exists():
        return path.read_text()
    return node.get("compiled_code")


def model_overview() -> pd.DataFrame:
    """Every model of the project: layer, model, materialized, rows (None if not built), in flow order."""
    import pandas as pd

    models = list(dbt_manifest.models(manifest()).values())
    models.sort(key=lambda n: (layer_rank(layer_of(n)), n["name"]))
    built: set[str] = set()
    counts: dict[str, int] = {}
    if warehouse_path().exists():
        with short_connection() as con:
            built = {
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_schema = 'main'"
                ).fetchall()
            }
            for n in models:
                name = n.get("alias") or n["name"]
                if name in built:
                    counts[n["name"]] = con.execute(f'select count(*) from main."{name}"').fetchone()[0]
    rows = [
        {
            "layer": layer_of(n),
            "model": n["name"],
            "materialized": n["config"].get("materialized"),
            "rows": counts.get(n["name"]),
        }
        for n in models
    ]
    frame = pd.DataFrame(rows, columns=["layer", "model", "materialized", "rows"])
    frame["rows"] = frame["rows"].astype("Int64")
    return frame
