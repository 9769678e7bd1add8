"""CLI behaviour: progress lines; bad input -> one stderr line, exit 2, nothing complete-looking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_progress_lines_and_quiet(tmp_path: Path) -> None:
    loud = run(
        "datasets.generate", "--scale", "0.02", "--out", str(tmp_path / "a"), "--tables", "orders,products"
    )
    assert loud.returncode == 0, loud.stderr
    assert "orders" in loud.stderr and "rows" in loud.stderr and " s" in loud.stderr
    quiet = run(
        "datasets.generate", "--scale", "0.02", "--out", str(tmp_path / "b"), "--tables", "orders", "--quiet"
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert (tmp_path / "b" / "_manifest.json").is_file()


@pytest.mark.parametrize("scale", ["0", "-1", "abc", "nan", "inf"])
def test_bad_scale(tmp_path: Path, scale: str) -> None:
    proc = run("datasets.generate", "--scale", scale, "--out", str(tmp_path / "raw"))
    assert_one_line_error(proc, "--scale")
    assert not (tmp_path / "raw").exists()


def test_unknown_table(tmp_path: Path) -> None:
    proc = run(
        "datasets.generate", "--scale", "0.02", "--out", str(tmp_path / "raw"), "--tables", "orders,ordrs"
    )
    assert_one_line_error(proc, "ordrs", "customers")
    assert not (tmp_path / "raw").exists()


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run("datasets.generate", "--scale", "0.02", "--out", str(blocker / "raw"))
    assert_one_line_error(proc, "--out")
    assert list(tmp_path.iterdir()) == [blocker]


def test_failed_run_keeps_the_previous_folder(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    assert (
        run("datasets.generate", "--scale", "0.02", "--out", str(out), "--tables", "products").returncode == 0
    )
    before = (out / "_manifest.json").read_bytes()
    proc = run("datasets.generate", "--scale", "-3", "--out", str(out))
    assert proc.returncode == 2
    assert (out / "_manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_arrivals_need_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "raw" / "clickstream").mkdir(parents=True)
    proc = run("datasets.arrivals", "--raw", str(tmp_path / "raw"), "--day", "1")
    assert_one_line_error(proc, "_manifest.json", "datasets.generate")
    assert list((tmp_path / "raw" / "clickstream").iterdir()) == []


@pytest.mark.parametrize("args", [["--day", "0"], ["--day", "x"], ["--through", "-2"], []])
def test_arrivals_bad_day(tmp_path: Path, args: list[str]) -> None:
    proc = run("datasets.arrivals", "--raw", str(tmp_path), *args)
    assert_one_line_error(proc)
