"""Shared fixtures: drive the real CLI in-process, read the run directories it writes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

os.environ["COLUMNS"] = "200"  # wide tables in captured output; set before rich reads it

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    # mutmut's stats pass (docs/MUTATION.md) records which tests call each function, in this
    # process only: a subprocess started in another directory cannot find mutmut's config
    # and would fail, so it runs unrecorded (as it would be anyway)
    _popen_init = subprocess.Popen.__init__

    def _unrecorded(self, *args, env=None, **kwargs):
        env = dict(os.environ if env is None else env)
        env.pop("MUTANT_UNDER_TEST", None)
        _popen_init(self, *args, env=env, **kwargs)

    subprocess.Popen.__init__ = _unrecorded

from mlpx.cli import app  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# mutmut's own values of MUTANT_UNDER_TEST; any other is the name of a mutant under test
MUTMUT_PASSES = {"", "stats", "fail", "list_all_tests", "mutant_generation"}


# a test of a mutant that runs past WATCHDOG_FLOOR_S + WATCHDOG_FACTOR x its recorded time has
# hung (see pytest_runtest_call); the floor can be lowered for the watchdog's own test
WATCHDOG_FLOOR_S = float(os.environ.get("MLPX_MUTMUT_WATCHDOG_FLOOR_S", "60"))
WATCHDOG_FACTOR = 20.0
RECORDED = pytest.StashKey[dict]()  # the recorded times, kept on the session's config


def mutant_under_test() -> str | None:
    """The name of the mutant mutmut is testing in this process, or None."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return None if name in MUTMUT_PASSES else name


def recorded_durations() -> dict[str, float]:
    """Each test's time in mutmut's stats pass, {} when there is none."""
    try:  # mutmut runs the tests in its copy, mutants/, beside this file
        stats = json.loads(Path("mutmut-stats.json").read_text())
        return dict(stats["duration_by_test"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


# While mutmut tests mutants, each test that kills one is logged here (in mutmut's copy,
# mutants/, beside watchdog.log): "MUTANT TEST" a line. The tests that killed most of a
# function's mutants run first for its next ones (pytest_collection_modifyitems).
KILLS_LOG = "kills.log"
KILLERS_FIRST = 3  # more would leave a survivor's run going back and forth between modules


def function_of(mutant: str) -> str:
    """``mlpx.train.x_f__mutmut_3`` -> ``mlpx.train.x_f``."""
    return mutant.rsplit("__mutmut_", 1)[0]


def module_of(mutant: str) -> str:
    """``mlpx.train.xǁTrainerǁrun__mutmut_3`` -> ``mlpx.train``."""
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]


def recorded_kills(mutant: str) -> dict[str, int]:
    """How many mutants each test has killed, of ``mutant``'s function, or (none of those
    killed yet) of its module: {} when there is no log."""
    try:
        lines = Path(KILLS_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    kills = [tuple(line.split(" ", 1)) for line in lines if " " in line]
    for same in (function_of, module_of):
        counts: dict[str, int] = {}
        for killed, test in kills:
            if same(killed) == same(mutant):
                counts[test] = counts.get(test, 0) + 1
        if counts:
            return counts
    return {}


def pytest_collection_modifyitems(config, items):
    """While mutmut tests a mutant, its tests run fastest first (by the times mutmut's stats
    pass recorded): most mutants fail some test and the first failure ends the run (``-x``),
    so a mutant is killed in the time of its fastest failing test, not of the tests that
    happen to come before it. A module's tests stay together (the cheapest module first):
    moving to another module tears down its module-scoped fixtures (a sweep, a run), which
    coming back would build again. Ahead of them all go the few tests that killed most of
    this function's mutants before (kills.log): a function's mutants mostly fail the same
    test. The order changes only how soon a mutant is killed, never whether it is."""
    mutant = mutant_under_test()
    if mutant is None:
        return
    durations = recorded_durations()
    config.stash[RECORDED] = durations

    def recorded(item) -> float:
        return durations.get(item.nodeid, float("inf"))

    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    ordered = sorted(modules.values(), key=lambda tests: sum(map(recorded, tests)))
    items[:] = [item for tests in ordered for item in sorted(tests, key=recorded)]
    kills = recorded_kills(mutant)
    killers = sorted(
        (item for item in items if item.nodeid in kills),
        key=lambda item: (-kills[item.nodeid], recorded(item)),
    )[:KILLERS_FIRST]
    items[:] = killers + [item for item in items if item not in killers]


def pytest_runtest_logreport(report):
    """While mutmut tests a mutant, the test that fails (and kills it) goes into kills.log."""
    mutant = mutant_under_test()
    if mutant is not None and report.failed:
        with open(KILLS_LOG, "a", encoding="utf-8") as log:
            log.write(f"{mutant} {report.nodeid}\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """While mutmut tests a mutant, a test that runs far past its recorded time has hung: the
    process ends as mutmut's own time limit ends it (SIGXCPU, a "timeout"), and
    watchdog.log says which test hung. mutmut's limit is 30 x the time of all the mutant's
    tests (docs/MUTATION.md): a hang in a function that hundreds of tests reach held a worker
    for an hour or more. The test's body is watched, as the stats pass timed it; its
    fixtures are not (a module's fixture can take longer than its tests)."""
    name = mutant_under_test()
    if name is None:
        yield
        return
    recorded = item.config.stash.get(RECORDED, {}).get(item.nodeid, 30.0)
    limit = WATCHDOG_FLOOR_S + WATCHDOG_FACTOR * recorded
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # its default ends the process, as mutmut's does
    timer = threading.Timer(limit, _hung, (name, item.nodeid, limit))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _hung(mutant: str, test: str, limit: float) -> None:
    with open("watchdog.log", "a") as log:
        log.write(f"{mutant} {test} ran past {limit:.0f} s\n")
    os.kill(os.getpid(), signal.SIGXCPU)


def mlpx_imports(*args: str) -> tuple[str, set[str]]:
    """Run ``python -X importtime -m mlpx ARGS`` in a subprocess (it must succeed); return
    its stdout and the names of every module it imported."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlpx", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return out.stdout, {line.split("|")[-1].strip() for line in out.stderr.splitlines()}


class Cli:
    """Runs ``mlpx ...`` in-process with Typer's CliRunner; output captured as plain text."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = runs_dir
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int | None = 0):
        result = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    def train(self, config: Path | str, *overrides: str, expect: int | None = 0):
        sets = [item for o in overrides for item in ("-s", o)]
        return self("train", config, "--runs-dir", self.runs_dir, *sets, expect=expect)

    def run_dirs(self) -> list[Path]:
        return sorted(p for p in self.runs_dir.iterdir() if p.is_dir())

    def last_run(self) -> Path:
        return max(self.run_dirs(), key=lambda p: p.stat().st_mtime_ns)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "runs")


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping (or raw text) to a YAML file and return its path."""

    def write(data: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        return path

    return write


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
