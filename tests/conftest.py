"""Shared fixtures: drive the real CLI in-process, read the run directories it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def pytest_collection_modifyitems(config, items):
    """While mutmut tests a mutant, its tests run fastest first (by the times mutmut's stats
    pass recorded): most mutants fail some test and the first failure ends the run (``-x``),
    so a mutant is killed in the time of its fastest failing test, not of the tests that
    happen to come before it."""
    if os.environ.get("MUTANT_UNDER_TEST", "") in MUTMUT_PASSES:
        return
    try:  # mutmut runs the tests in its copy, mutants/, beside this file
        stats = json.loads(Path("mutmut-stats.json").read_text())
        durations = stats["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


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
