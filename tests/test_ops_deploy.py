"""ops.deploy with real dbt on the demo project: deploy, failed deploy, rollback, status."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import duckdb
import pytest

from ops import deploy as dep
from ops import journal
from ops.dbt_invoke import OpsError, run_dbt
from ops.demo_project import write_demo_project

REPO = Path(__file__).resolve().parents[1]
VARS = "{demo_min_amount: 10}"  # every order passes; with the model change below one fails
FCT_ORDERS = "models/marts/core/fct_orders.sql"


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops.deploy", *args], capture_output=True, text=True, check=False
    )


def cli_limited(max_bytes: int, *args: str) -> subprocess.CompletedProcess:
    """The CLI with RLIMIT_FSIZE: writing a file past max_bytes fails with EFBIG (file too large)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return subprocess.run(
        [sys.executable, "-m", "ops.deploy", *args],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        check=False,
    )


def dbt_processes_writing(target: Path, wait: float) -> list[str]:
    """Command lines of live processes that use target (polls up to `wait` seconds for them to go)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(target) in text:
                found.append(text)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.slow
def test_deploy_fail_deploy_rollback_cycle(tmp_path, monkeypatch):
    project = write_demo_project(tmp_path / "demo")
    wh = project / "warehouse"
    lay = dep.layout_for(project)
    assert dep.status(project)["prod"] is None
    logs = []

    def run_dbt_kept_log(args, project_dir, target_path, **kwargs):
        outcome = run_dbt(args, project_dir, target_path, **kwargs)
        logs.append((target_path / "logs" / "dbt.log").read_text())
        return outcome

    monkeypatch.setattr(dep, "run_dbt", run_dbt_kept_log)
    first = dep.deploy(project, vars_yaml=VARS)
    assert first.deployed and first.problems == [] and "first deploy" in first.message
    assert not lay.candidate.exists() and not lay.previous.exists()
    assert (lay.prod_state / "manifest.json").is_file() and (lay.prod_state / "run_results.json").is_file()
    sha_a = sha(lay.prod)
    assert json.loads((lay.prod_state / "deploy.json").read_text())["sha256"] == sha_a
    # the catalog keeps the name prod after the rename (views reference "prod"."main"...)
    with duckdb.connect(str(lay.prod), read_only=True) as con:
        assert con.execute("select current_database()").fetchone()[0] == "prod"
        assert con.execute("select count(*) from ml_customer_features").fetchone()[0] == 3
    manifest_a = (lay.prod_state / "manifest.json").read_bytes()

    # a full disk (here a file-size limit) says so in one line and leaves prod as it was
    out = cli_limited(300_000, "deploy", "--project-dir", str(project), "--vars", VARS)
    assert out.returncode == 2 and out.stderr.startswith(f"error: file too large in {wh}"), out.stderr
    assert "deploy aborted, prod.duckdb left as it was" in out.stderr and out.stderr.count("\n") == 1
    assert sha(lay.prod) == sha_a and not lay.candidate.exists() and not lay.build_target.exists()
    # a deploy killed while dbt builds: no dbt outlives it, prod is untouched, the next deploy cleans up
    killed = subprocess.Popen([sys.executable, "-m", "ops.deploy", "deploy", "--project-dir", str(project),
                               "--vars", VARS])
    while not lay.candidate.exists() and killed.poll() is None:
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    assert sha(lay.prod) == sha_a and lay.candidate.exists()
    assert not dbt_processes_writing(lay.build_target, wait=5.0), "a dbt process outlived the killed deploy"

    # a changed model, parsed from the last deploy's partial parse: the --vars and the change both count
    fct_orders = (project / FCT_ORDERS).read_text()
    (project / FCT_ORDERS).write_text(fct_orders.replace("*", "* replace (amount - 10 as amount)"))
    failed = dep.deploy(project, vars_yaml=VARS)
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 1 files changed" in logs[-1]
    assert not failed.deployed
    assert failed.problems == ["test.demo.assert_order_amount_at_least_min: fail (1 failing rows)"]
    assert sha(lay.prod) == sha_a, "a failed deploy must leave prod byte-for-byte untouched"
    assert (lay.prod_state / "manifest.json").read_bytes() == manifest_a
    assert not lay.candidate.exists() and lay.failed.exists() and not lay.previous.exists()
    assert "fail" in (lay.failed_state / "dbt.log").read_text()

    # the next deploy is killed right after the new file went live, before its state was switched
    swap = "rename prod.candidate.duckdb -> prod.duckdb"
    (project / FCT_ORDERS).write_text(fct_orders)  # the change reverted: picked up again, every test passes
    crashed = subprocess.run(
        [sys.executable, "-m", "ops.deploy", "deploy", "--project-dir", str(project), "--vars", VARS],
        env={**os.environ, "VB_OPS_CRASH_AFTER": swap},
        capture_output=True,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL
    sha_b = sha(lay.prod)
    assert sha_b != sha_a and lay.journal.exists() and not lay.candidate.exists()
    out = cli("status", "--project-dir", str(project))  # tells the truth: it finishes the switch first
    assert f"prod    : {lay.prod} sha256 {sha_b[:12]}" in out.stdout, out.stdout + out.stderr
    assert "finished an interrupted deploy" in out.stdout and "changed since deploy" not in out.stdout
    assert json.loads((lay.prod_state / "deploy.json").read_text())["sha256"] == sha_b
    assert sha(lay.previous) == sha_a and not lay.journal.exists()
    assert sorted(p.name for p in wh.glob("*.duckdb*")) == [
        "prod.duckdb",
        "prod.failed.duckdb",
        "prod.previous.duckdb",
    ]
    assert len(list(lay.history.glob("*.json"))) == 3  # every build is archived for the monitor

    out = cli("rollback", "--project-dir", str(project))
    assert out.returncode == 0, out.stderr
    assert sha(lay.prod) == sha_a and sha(lay.previous) == sha_b
    info = dep.status(project)
    assert info["prod"]["matches_deploy"] is True and info["previous"]["matches_deploy"] is True
    assert info["prod"]["sha256"] == sha_a[:12]
    dep.rollback(project)  # rolling back twice rolls forward
    assert sha(lay.prod) == sha_b
    status = cli("status", "--project-dir", str(project))
    assert status.returncode == 0 and f"prod    : {lay.prod} sha256 {sha_b[:12]}" in status.stdout
    with duckdb.connect(str(lay.prod)) as con:  # no lock is held after any command returned
        assert con.execute("select count(*) from dim_customers").fetchone()[0] == 3


@pytest.mark.slow
def test_real_project_deploys_and_its_views_resolve_in_the_swapped_file(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    subprocess.run(
        [sys.executable, "-m", "datasets.generate", "--seed", "7", "--scale", "0.02", "--out", str(raw)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "warehouse", "logs")
    )
    monkeypatch.setenv("VB_RAW_DIR", str(raw))
    outcome = dep.deploy(project, tmp_path / "wh")
    assert outcome.deployed, outcome.problems
    lay = dep.layout_for(project, tmp_path / "wh")
    with duckdb.connect(str(lay.prod), read_only=True) as con:
        views = [
            r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()
        ]
        assert "stg_orders" in views
        for view in views:  # every view still resolves after candidate -> prod rename
            con.execute(f'select count(*) from main."{view}"').fetchone()
        assert con.execute("select count(*) from mart_daily_sales").fetchone()[0] > 0


def test_rollback_without_previous_and_bad_project_are_one_line_errors(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    out = cli("rollback", "--project-dir", str(project))
    assert out.returncode == 2 and out.stderr.startswith("error: nothing to roll back to")
    assert out.stderr.count("\n") == 1
    out = cli("status", "--project-dir", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "no dbt_project.yml" in out.stderr and "Traceback" not in out.stderr


def test_deploy_refuses_when_prod_has_a_wal(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    (project / "warehouse" / "prod.duckdb").write_bytes(b"x")
    (project / "warehouse" / "prod.duckdb.wal").write_bytes(b"x")
    with pytest.raises(OpsError, match="prod.duckdb.wal exists"):
        dep.deploy(project)
    assert (project / "warehouse" / "prod.duckdb").read_bytes() == b"x"


# --- crash safety: SIGKILL after every file-system step of a deploy and of a rollback ---

RUN = {
    "metadata": {"generated_at": "2026-01-01T00:00:00Z"},
    "results": [{"unique_id": "m", "status": "success"}],
}


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    """Tiny DuckDB release files P, A, B, C (one table `t` whose `tag` names the release)."""
    folder = tmp_path_factory.mktemp("releases")
    files = {}
    for i, tag in enumerate("PABC"):
        files[tag] = folder / f"{tag}.duckdb"
        with duckdb.connect(str(files[tag])) as con:
            con.execute(f"create table t as select range as i, '{tag}' as tag from range({10 * (i + 1)})")
    return files


@pytest.fixture(scope="module")
def template(releases, tmp_path_factory) -> Path:
    """A warehouse folder with prod = A and previous = P, both recorded (built once, copied per case)."""
    warehouse = tmp_path_factory.mktemp("template") / "wh"
    lay = dep.Layout(warehouse, warehouse / "state")
    warehouse.mkdir()
    for tag in "PA":
        dep.publish(lay, releases[tag], RUN)
    return lay.warehouse


def live_warehouse(root: Path, template: Path) -> tuple[dep.Layout, dict[str, str]]:
    """A copy of the template warehouse; and the sha256 of each live file by tag."""
    shutil.copytree(template, root / "wh", symlinks=True)
    lay = dep.Layout(root / "wh", root / "wh" / "state")
    return lay, {"A": sha(lay.prod), "P": sha(lay.previous)}


def in_child(action, env: dict[str, str] | None = None, fsize: int | None = None) -> tuple[int, str]:
    """Run action() in a forked process: (-9, '') when it was SIGKILLed, else (exit code, error)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: counts its own steps, maybe under a file-size limit, reports an error
        os.close(read)
        journal.reset_step_count()
        os.environ.update(env or {})
        if fsize:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        code = 0
        try:
            action()
        except OpsError as exc:
            os.write(write, str(exc).encode())
            code = 2
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never swallowed
            os.write(write, repr(exc).encode())
            code = 3
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return -9, said
    return os.WEXITSTATUS(status), said


def tag_of(path: Path) -> str:
    """Open like any DuckDB client would (read-only) and read the release tag."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select any_value(tag) from t").fetchone()[0]


def steps_of(action, tmp: Path) -> list[str]:
    """The file-system steps action() takes (from the journal's trace hook)."""
    trace = tmp / "trace.txt"
    trace.unlink(missing_ok=True)
    code, said = in_child(action, {"VB_OPS_CRASH_TRACE": str(trace)})
    assert code == 0, said
    return trace.read_text().splitlines()


def assert_clean(lay: dep.Layout, prod: str, previous: str, shas: dict[str, str]) -> None:
    """Exactly prod + previous, own inodes, described by the state pointers; nothing left behind."""
    assert tag_of(lay.prod) == prod and tag_of(lay.previous) == previous
    for tag, path in ((prod, lay.prod), (previous, lay.previous)):
        assert sha(path) == shas.setdefault(tag, sha(path)), f"{path.name} is not release {tag} byte for byte"
    assert lay.prod.stat().st_ino != lay.previous.stat().st_ino
    assert sorted(p.name for p in lay.warehouse.iterdir()) == ["prod.duckdb", "prod.previous.duckdb", "state"]
    assert sorted(p.name for p in lay.state.iterdir()) == [
        ".deploy.lock",
        "prod",
        "prod.previous",
        "releases",
    ]
    assert json.loads((lay.prod_state / "deploy.json").read_text())["sha256"] == sha(lay.prod)
    assert json.loads((lay.previous_state / "deploy.json").read_text())["sha256"] == sha(lay.previous)
    assert len(list(lay.releases.iterdir())) == 2


def check_after_kill(lay: dep.Layout, old: str, new: str, committed: bool, shas: dict[str, str]) -> None:
    """Invariants (a)-(c) right after a kill (old/new: prod+previous tags before/after the switch)."""
    # (a) prod is the old or the new release, byte for byte (a recorded sha256), and it opens
    live = tag_of(lay.prod)
    assert live == (new[0] if committed and live != old[0] else old[0])
    recorded = {shas[old[0]], *os.listdir(lay.releases)}
    assert sha(lay.prod) in recorded and (live != old[0] or sha(lay.prod) == shas[old[0]])
    if not committed:
        assert live == old[0]
    # (b) the release that is (or becomes) previous exists as its own file, not prod's inode
    wanted = new[1] if live == new[0] else old[1]
    holders = [
        p
        for p in lay.warehouse.glob("prod*.duckdb*")
        if p.is_file() and p.stat().st_ino != lay.prod.stat().st_ino and sha(p) == shas[wanted]
    ]
    assert holders, f"release {wanted} lost"
    # (c) status tells the truth: it finishes the switch, then state/prod describes the live file
    info = dep.status(None, lay.warehouse)
    after = new if committed else old
    assert info["prod"]["matches_deploy"] is True and info["prod"]["sha256"] == sha(lay.prod)[:12]
    assert info["previous"]["sha256"] == sha(lay.previous)[:12]
    assert_clean(lay, *after, shas)


def test_deploy_killed_after_every_step_keeps_prod_and_previous(tmp_path, releases, template):
    lay, _ = live_warehouse(tmp_path / "trace", template)
    steps = steps_of(lambda: dep.publish(lay, releases["B"], RUN), tmp_path)
    commit = next(i for i, s in enumerate(steps, 1) if s.endswith("-> journal.json"))
    assert len(steps) >= 10 and any("-> prod.duckdb" in s for s in steps[commit:])
    for k in range(1, len(steps) + 1):
        lay, shas = live_warehouse(tmp_path / f"k{k}", template)
        code, said = in_child(partial(dep.publish, lay, releases["B"], RUN), {"VB_OPS_CRASH_AFTER": str(k)})
        assert code == -9, f"step {k} ({steps[k - 1]}): not killed: {said}"
        check_after_kill(lay, "AP", "BA", k >= commit, shas)
        # (d) the next deploy and rollback work without any cleanup
        dep.publish(lay, releases["C"], RUN)
        assert_clean(lay, "C", "B" if k >= commit else "A", shas)
        dep.rollback(None, lay.warehouse)
        assert_clean(lay, "B" if k >= commit else "A", "C", shas)


def test_rollback_killed_after_every_step_and_recovery_killed_too(tmp_path, template):
    lay, _ = live_warehouse(tmp_path / "trace", template)
    steps = steps_of(partial(dep.rollback, None, lay.warehouse), tmp_path)
    commit = next(i for i, s in enumerate(steps, 1) if s.endswith("-> journal.json"))
    for k in range(1, len(steps) + 1):
        lay, shas = live_warehouse(tmp_path / f"k{k}", template)
        code, said = in_child(partial(dep.rollback, None, lay.warehouse), {"VB_OPS_CRASH_AFTER": str(k)})
        assert code == -9, f"step {k} ({steps[k - 1]}): not killed: {said}"
        check_after_kill(lay, "AP", "PA", k >= commit, shas)
        out = dep.rollback(None, lay.warehouse)  # (d), and it verifies what it did
        assert out.startswith(f"rolled back: {lay.prod} is now the former previous file (sha256 ")
        assert_clean(lay, *("AP" if k >= commit else "PA"), shas)

    def killed_right_after_commit(root: Path) -> tuple[dep.Layout, dict[str, str]]:
        lay, shas = live_warehouse(root, template)
        code, _ = in_child(partial(dep.rollback, None, lay.warehouse), {"VB_OPS_CRASH_AFTER": str(commit)})
        assert code == -9
        return lay, shas

    # a crash while recovering from a crash: kill the recovery (run by status) after each of its steps
    lay, _ = killed_right_after_commit(tmp_path / "r")
    recovery = steps_of(partial(dep.status, None, lay.warehouse), tmp_path / "r")
    assert len(recovery) >= 4
    for j in range(1, len(recovery) + 1):
        lay, shas = killed_right_after_commit(tmp_path / f"r{j}")
        assert in_child(partial(dep.status, None, lay.warehouse), {"VB_OPS_CRASH_AFTER": str(j)})[0] == -9
        check_after_kill(lay, "AP", "PA", True, shas)


def killed_at(action, seconds: float) -> int:
    """Fork action(), SIGKILL it `seconds` after the start (wherever it is): its exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
        finally:
            os._exit(0)
    time.sleep(seconds)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def test_kills_at_spread_offsets_inside_steps_too(tmp_path, releases, template):
    """Time-based kills land anywhere: mid-copy, mid-checkpoint, mid-hash, between steps."""

    def action(name: str, lay: dep.Layout):
        if name == "deploy":
            return partial(dep.publish, lay, releases["B"], RUN)
        return partial(dep.rollback, None, lay.warehouse)

    for name, new in (("deploy", "BA"), ("rollback", "PA")):
        lay, _ = live_warehouse(tmp_path / f"{name}-timing", template)
        started = time.monotonic()
        action(name, lay)()
        span = time.monotonic() - started
        for i in range(8):
            lay, shas = live_warehouse(tmp_path / f"{name}{i}", template)
            killed_at(action(name, lay), span * i / 7)
            committed = lay.journal.exists() or tag_of(lay.prod) == new[0]
            check_after_kill(lay, "AP", new, committed, shas)


def test_a_warehouse_left_by_the_older_deploy_is_repaired_not_trusted(tmp_path, template):
    """The issue's state: previous = prod's inode, a stray prod.rollback.duckdb, plain state folders
    that describe the wrong files. Rollback must not print success while changing nothing."""
    lay, shas = live_warehouse(tmp_path, template)
    describes = {p: p.resolve() for p in (lay.prod_state, lay.previous_state)}
    for pointer, release in describes.items():  # plain folders, swapped
        pointer.unlink()
        shutil.copytree(release, lay.state / "plain" / pointer.name)
    shutil.rmtree(lay.releases)
    (lay.state / "plain" / "prod").rename(lay.previous_state)
    (lay.state / "plain" / "prod.previous").rename(lay.prod_state)
    (lay.state / "plain").rmdir()
    lay.previous.unlink()
    os.link(lay.prod, lay.previous)
    os.link(lay.prod, lay.warehouse / "prod.rollback.duckdb")

    out = cli("rollback", "--project-dir", str(REPO / "dbt_project"), "--warehouse-dir", str(lay.warehouse))
    assert out.returncode == 2 and out.stderr.startswith("error: nothing to roll back to"), out.stderr
    assert sha(lay.prod) == shas["A"] and tag_of(lay.prod) == "A"
    assert sorted(p.name for p in lay.warehouse.iterdir()) == ["prod.duckdb", "state"]
    info = dep.status(None, lay.warehouse)
    assert info["prod"]["sha256"] == shas["A"][:12] and info["prod"]["matches_deploy"] is True
    assert info["previous"] is None
    assert json.loads((lay.prod_state / "deploy.json").read_text())["sha256"] == shas["A"]
    assert sorted(p.name for p in lay.state.iterdir()) == [".deploy.lock", "prod", "releases"]
    assert "was the same file as prod.duckdb" in out.stderr and out.stderr.count("\n") == 1


def test_rollback_refuses_what_it_cannot_verify(tmp_path, template):
    lay, _ = live_warehouse(tmp_path, template)
    with duckdb.connect(str(lay.previous)) as con:  # someone wrote into the rollback target
        con.execute("insert into t values (0, 'X')")
    before = sha(lay.prod), sha(lay.previous)
    out = cli("rollback", "--project-dir", str(REPO / "dbt_project"), "--warehouse-dir", str(lay.warehouse))
    assert (
        out.returncode == 2 and "is not a recorded release" in out.stderr and "nothing changed" in out.stderr
    )
    assert (sha(lay.prod), sha(lay.previous)) == before and out.stderr.count("\n") == 1


def test_full_disk_is_one_line_and_leaves_everything_as_it_was(tmp_path, releases, template):
    lay, shas = live_warehouse(tmp_path, template)
    before = sha(lay.prod), sha(lay.previous)
    size = releases["A"].stat().st_size
    for action, name in (
        (lambda: dep.rollback(None, lay.warehouse), "rollback"),
        (lambda: dep.publish(lay, releases["B"], RUN), "deploy"),
    ):
        code, said = in_child(action, fsize=size // 2)
        assert code == 2, said
        assert said.startswith(
            f"file too large in {lay.warehouse} (writing prod.candidate.duckdb): {name} aborted"
        )
        assert "prod.duckdb and prod.previous.duckdb left as they were" in said and "\n" not in said
        assert (sha(lay.prod), sha(lay.previous)) == before
        assert not lay.candidate.exists() and not lay.journal.exists()
    dep.publish(lay, releases["B"], RUN)  # a rerun with room completes
    assert_clean(lay, "B", "A", shas)


TMPFS_CHILD = """
import json, os, shutil, subprocess, sys
from pathlib import Path
from ops import deploy as dep
from ops.dbt_invoke import OpsError

template, source, wh = (Path(a) for a in sys.argv[1:4])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1300k", "tmpfs", str(wh)], check=True)
shutil.copytree(template, wh, symlinks=True, dirs_exist_ok=True)
lay = dep.Layout(wh, wh / "state")
shas = lambda: [dep.sha256_of(lay.prod), dep.sha256_of(lay.previous)]
out = {"before": shas(), "errors": [], "files": []}
for action in (lambda: dep.rollback(None, wh), lambda: dep.publish(lay, source, {"results": []})):
    try:
        action()
    except OpsError as exc:
        out["errors"].append(str(exc))
    out["files"].append(sorted(os.listdir(wh)))
out["after"] = shas()
subprocess.run(["mount", "-o", "remount,size=20m", str(wh)], check=True)
out["rerun"] = dep.rollback(None, wh)
out["final"] = shas()
print(json.dumps(out))
"""


def test_a_really_full_disk_says_no_space_left(tmp_path, releases, template):
    """ENOSPC from a small tmpfs in a private mount namespace (root only; RLIMIT_FSIZE covers the rest)."""
    if (
        os.geteuid() != 0
        or not shutil.which("unshare")
        or subprocess.run(["unshare", "-m", "true"]).returncode
    ):
        pytest.skip("needs root and unshare for a private tmpfs; the file-size-limit tests cover the message")
    wh = tmp_path / "wh"
    wh.mkdir()
    args = [str(template), str(releases["B"]), str(wh)]
    child = subprocess.run(
        ["unshare", "-m", sys.executable, "-c", TMPFS_CHILD, *args], capture_output=True, text=True, cwd=REPO
    )
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    for error, action in zip(out["errors"], ("rollback", "deploy"), strict=True):
        assert error.startswith(
            f"no space left on device in {wh} (writing prod.candidate.duckdb): {action} aborted"
        )
        assert (
            "prod.duckdb and prod.previous.duckdb left as they were" in error and "free some space" in error
        )
    assert out["after"] == out["before"]
    assert out["files"] == [["prod.duckdb", "prod.previous.duckdb", "state"]] * 2
    assert out["rerun"].startswith("rolled back:") and out["final"] == out["before"][::-1]
