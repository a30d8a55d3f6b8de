"""Shared fixtures: the example runbook and one synthesised cloud assembly per test session."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "runbooks"
EVENTS = Path(__file__).resolve().parent / "events"

# Never let a test reach a real AWS endpoint with real credentials.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ["TZ"] = "UTC"


@pytest.fixture(scope="session")
def example_runbook():
    from wavectl.runbook import load_runbook

    return load_runbook(RUNBOOKS)


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory, example_runbook, request) -> Path:
    """The example program synthesised once per test run (no bundling: fast, offline).

    Under pytest-xdist every worker is its own session: the first worker to get here synthesises
    into the run's shared temporary directory while holding a lock, and the others reuse its output.
    """
    from wavectl.synth import synthesize

    with _shared_once(tmp_path_factory, "assembly") as (shared, done):
        outdir = shared / "assembly" / "cdk.out"
        if not done.exists():
            synthesize(example_runbook, outdir, bundle=False)
            done.touch()
    request.config._wavectl_assembly = outdir  # where the least-privilege comparison reads the grants
    return outdir


@dataclass(frozen=True)
class DemoRun:
    """What `wavectl demo` printed and wrote (status.json, status.html, slack.jsonl, evidence)."""

    out: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, cloud_assembly) -> DemoRun:
    """`wavectl demo`, run once per test run as a user types it; tests assert on what it left.

    It is the most expensive thing the suite does (every wave end to end), so the tests that need a
    whole program's run share this one instead of each running their own.
    """
    with _shared_once(tmp_path_factory, "demo") as (shared, done):
        out = shared / "demo" / "out"
        if not done.exists():
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "wavectl",
                    "demo",
                    "--out",
                    str(out),
                    "--assembly",
                    str(cloud_assembly),
                    "--wave-timeout",  # generous: two xdist workers share the cores with other runs
                    "1200",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
                env={**os.environ, "COLUMNS": "200", "TZ": "UTC"},
            )
            (shared / "demo" / "stdout").write_text(result.stdout)
            (shared / "demo" / "stderr").write_text(result.stderr)
            done.write_text(str(result.returncode))
        folder = shared / "demo"
        return DemoRun(
            out, int(done.read_text()), (folder / "stdout").read_text(), (folder / "stderr").read_text()
        )


@contextmanager
def _shared_once(tmp_path_factory, name: str) -> Iterator[tuple[Path, Path]]:
    """A folder shared by every pytest-xdist worker of this run, locked while one of them fills it;
    `done` exists once it has been filled."""
    shared = tmp_path_factory.getbasetemp().parent if _xdist_worker() else tmp_path_factory.getbasetemp()
    (shared / name).mkdir(parents=True, exist_ok=True)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield shared, shared / name / "done"


def _xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


# The longest modules start first, so that under pytest-xdist no worker is left with a long tail.
_LONGEST_FIRST = ("tests/workflows/", "tests/cli/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> int:
        path = item.nodeid
        return next(
            (i for i, prefix in enumerate(_LONGEST_FIRST) if path.startswith(prefix)), len(_LONGEST_FIRST)
        )

    items.sort(key=weight)  # stable: the order inside each module is kept


# ----------------------------------------------------------------------------- least privilege, xdist
# Each pytest-xdist worker records the AWS calls of the embedded runs it made (wavectl/local/calls.py);
# the least-privilege comparison needs all of them, so workers save theirs and the controller compares
# once every worker has finished (tests/workflows/least_privilege_support.py). A plain run compares in
# tests/workflows/test_least_privilege.py instead.
_CALLS_DIR = "wavectl_calls_dir"


def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker where to leave its recorded calls."""
    if getattr(node.config, "_wavectl_calls_dir", None) is None:
        node.config._wavectl_calls_dir = Path(tempfile.mkdtemp(prefix="wavectl-calls-"))
    node.workerinput[_CALLS_DIR] = str(node.config._wavectl_calls_dir)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None and _CALLS_DIR in workerinput:
        _save_worker_calls(session, Path(workerinput[_CALLS_DIR]), workerinput["workerid"])
    elif getattr(session.config, "_wavectl_calls_dir", None) is not None:
        _compare_every_worker_calls(session, session.config._wavectl_calls_dir)


def _save_worker_calls(session: pytest.Session, folder: Path, worker: str) -> None:
    from tests.workflows.least_privilege_support import save
    from wavectl.local import calls

    recorded = calls.accumulated()
    assembly = getattr(session.config, "_wavectl_assembly", None)
    if recorded and assembly is not None:
        save(recorded, folder / f"{worker}.json")
        save(calls.accumulated_by_assumed_role(), folder / f"{worker}.roles")  # source and target roles
        (folder / "assembly").write_text(str(assembly))
        # every worker collects the whole session: which modules it holds (are all flows in it?)
        modules = sorted({Path(str(item.fspath)).name for item in session.items})
        (folder / "modules").write_text("\n".join(modules))


def _compare_every_worker_calls(session: pytest.Session, folder: Path) -> None:
    from tests.workflows.least_privilege_support import (
        assumed_called_not_granted,
        assumed_granted_not_called,
        called_not_granted,
        every_flow_in,
        granted_not_called,
        load_all,
        load_all_roles,
        open_grants_now_called,
        open_grants_still_open,
    )

    if not (folder / "assembly").exists():
        return  # no worker ran the embedded AWS
    recorded, assembly = load_all(folder), Path((folder / "assembly").read_text())
    missing, unused = called_not_granted(recorded, assembly), granted_not_called(recorded, assembly)
    report = session.config.pluginmanager.get_plugin("terminalreporter")
    report.write_sep("-", f"least privilege: the recorded calls of {len(recorded)} task functions")
    complete = every_flow_in((folder / "modules").read_text().split())
    if not complete:  # a subset of the flows cannot use every grant: what is unused tells nothing
        report.write_line("granted, never called: not checked (not every wave's flow tests ran)")
    for name, actions in sorted(unused.items()) if complete else ():
        ran = "" if name in recorded else " (the function never ran)"
        report.write_line(f"GRANTED, NEVER CALLED: {name}{ran}: {', '.join(sorted(actions))}", red=True)
    still_open, stale = open_grants_still_open(recorded, assembly) if complete else ({}, {})
    for name, actions in sorted(still_open.items()):
        report.write_line(f"granted, never called (open, issue 15): {name}: {', '.join(sorted(actions))}")
    for name, actions in sorted(open_grants_now_called(recorded, assembly).items()) if complete else ():
        report.write_line(
            f"called in this run, listed as open (remove it?): {name}: {', '.join(sorted(actions))}"
        )
    for name, actions in sorted(stale.items()):
        listed = ", ".join(sorted(actions))
        report.write_line(f"OPEN_GRANTS ENTRY NO LONGER GRANTED (remove it): {name}: {listed}", red=True)
    for name, actions in sorted(missing.items()):
        report.write_line(f"CALLED BUT NOT GRANTED: {name}: {', '.join(sorted(actions))}", red=True)
    roles = load_all_roles(folder)  # calls through the source and target roles, against their stacks
    missing_roles = assumed_called_not_granted(roles, assembly)
    unused_roles = assumed_granted_not_called(roles, assembly) if complete else {}
    for role, actions in sorted(unused_roles.items()):
        report.write_line(f"GRANTED, NEVER CALLED: {role}: {', '.join(sorted(actions))}", red=True)
    for role, actions in sorted(missing_roles.items()):
        report.write_line(f"CALLED BUT NOT GRANTED: {role}: {', '.join(sorted(actions))}", red=True)
    if missing or (complete and (unused or stale)) or missing_roles or unused_roles:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
