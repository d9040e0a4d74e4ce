"""The tools of docs/MUTATION.md: a mutmut run saved and restored, and its score per module."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
META = "mlpx/backends/numpy/layers.py.meta"
# mutmut's exit codes: 1 killed, 0 survived, 33 no test, 36 timeout, None not run yet
CODES = {
    "mlpx.backends.numpy.layers.x_relu__mutmut_1": 1,
    "mlpx.backends.numpy.layers.x_relu__mutmut_2": 0,  # survived, no verdict
    "mlpx.backends.numpy.layers.x_relu__mutmut_3": 0,  # survived, equivalent below
    "mlpx.backends.numpy.layers.x_relu__mutmut_4": 0,  # survived, a test added since
    "mlpx.backends.numpy.layers.x_relu__mutmut_5": 33,  # no test: killed by a rerun
    "mlpx.backends.numpy.layers.x_eps__mutmut_1": 33,  # no test: runs at import
    "mlpx.backends.numpy.layers.x_eps__mutmut_2": 0,  # survived: its tests came after import
    "mlpx.backends.numpy.layers.x_relu__mutmut_6": 36,
    "mlpx.backends.numpy.layers.x_relu__mutmut_7": None,
    "mlpx.backends.numpy.layers.x_relu__mutmut_8": 33,  # no test: survived a rerun
    "mlpx.backends.numpy.layers.x_relu__mutmut_9": -24,  # timeout: hung a rerun too
}
VERDICTS = """# comment
mlpx.backends.numpy.layers.x_relu__mutmut_3  equivalent  why it is
mlpx.backends.numpy.layers.x_relu__mutmut_4  killed  test_something
mlpx.backends.numpy.layers.x_eps__mutmut_*  import  applied by hand: killed
mlpx.backends.numpy.layers.x_gone__mutmut_1  equivalent  a stale line
"""


def make_run(root: Path) -> None:
    (root / META).parent.mkdir(parents=True)
    (root / META).write_text(json.dumps({"exit_code_by_key": CODES, "hash_by_function_name": {}}))
    (root / "mutmut-stats.json").write_text('{"duration_by_test": {}}')
    rerun = {
        "mlpx.backends.numpy.layers.x_relu__mutmut_5": {"code": 1, "tests": ["t.py"]},
        "mlpx.backends.numpy.layers.x_relu__mutmut_8": {"code": 0, "tests": ["t.py"]},
        "mlpx.backends.numpy.layers.x_relu__mutmut_9": {"code": "timeout", "tests": ["t.py"]},
    }
    (root / "rerun.json").write_text(json.dumps(rerun))
    hung = "mlpx.backends.numpy.layers.x_relu__mutmut_9 tests/t.py::test_t ran past 61 s\n"
    (root / "watchdog.log").write_text(hung)  # plain lines, not JSON
    (root / "kills.log").write_text("mlpx.backends.numpy.layers.x_relu__mutmut_5 t.py::test_t\n")


def tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(TOOLS / f"mutmut_{name}.py"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def test_a_saved_run_restores_file_for_file_and_refuses_to_overwrite_one(tmp_path):
    source, target = tmp_path / "a", tmp_path / "b"
    make_run(source / "mutants")
    saved = tool("state", "save", str(tmp_path / "state.json.gz"), cwd=source)
    assert saved.returncode == 0, saved.stderr
    bundle = json.loads(gzip.decompress((tmp_path / "state.json.gz").read_bytes()))
    logs = {"watchdog.log", "kills.log"}
    assert set(bundle["files"]) == {META, "mutmut-stats.json", "rerun.json"} | logs
    assert bundle["run"]["first_saved"] == bundle["run"]["saved"]
    target.mkdir()
    restored = tool("state", "restore", str(tmp_path / "state.json.gz"), cwd=target)
    assert restored.returncode == 0, restored.stderr
    for name in bundle["files"]:
        assert (target / "mutants" / name).read_text() == (source / "mutants" / name).read_text()
    again = tool("state", "restore", str(tmp_path / "state.json.gz"), cwd=target)
    assert again.returncode == 1
    assert (
        again.stderr
        == "error: mutants/ already holds a run; move it away first (nothing was copied)\n"
    )


def test_the_report_counts_each_verdict_in_its_column_and_names_stale_verdicts(tmp_path):
    make_run(tmp_path / "mutants")
    (tmp_path / "verdicts.txt").write_text(VERDICTS)
    report = tool("report", "--verdicts", str(tmp_path / "verdicts.txt"), "--list", "survived",
                  cwd=tmp_path)  # fmt: skip
    assert report.returncode == 0, report.stderr
    rows = report.stdout.splitlines()
    # killed, rerun, added after, hung again, survived, equivalent, import, no test, timeout,
    # not run; scored: 4 killed of 6 (2 survived)
    counts = "11 | 1 | 1 | 1 | 1 | 2 | 1 | 2 | 0 | 1 | 1"
    assert rows[2] == f"| mlpx/backends/numpy/layers.py | {counts} | (67% so far) |"
    assert rows[-2:] == [
        "survived: mlpx.backends.numpy.layers.x_relu__mutmut_2",
        "survived: mlpx.backends.numpy.layers.x_relu__mutmut_8",
    ]
    assert (
        report.stderr
        == "unused verdict (equivalent): mlpx.backends.numpy.layers.x_gone__mutmut_1\n"
    )
    saved = tool("state", "save", "state.json.gz", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    from_bundle = tool("report", "--verdicts", str(tmp_path / "verdicts.txt"),
                       "--state", "state.json.gz", cwd=tmp_path)  # fmt: skip
    assert from_bundle.stdout.splitlines()[2] == rows[2]


def test_a_verdict_line_without_a_kind_is_refused_with_its_line_number(tmp_path):
    make_run(tmp_path / "mutants")
    (tmp_path / "verdicts.txt").write_text("name equivalnt why\n")
    report = tool("report", "--verdicts", str(tmp_path / "verdicts.txt"), cwd=tmp_path)
    assert report.returncode == 1
    assert report.stderr.startswith(
        f"error: {tmp_path / 'verdicts.txt'}:1: expected 'NAME KIND WHY'"
    )


def test_a_rerun_records_killed_survived_and_hung_and_does_not_repeat_them(tmp_path):
    # a stand-in copy of mutmut's: three "no test" mutants, and a test that reads which one
    # is switched on (as mutmut's trampolines do) to fail, pass or hang
    names = [f"mlpx.x.x_f__mutmut_{i}" for i in (1, 2, 3)]
    meta = tmp_path / "mutants" / "mlpx" / "x.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": dict.fromkeys(names, 33)}))
    (tmp_path / "mutants" / "test_f.py").write_text(
        "import os, time\n"
        "def test_f():\n"
        "    mutant = os.environ['MUTANT_UNDER_TEST']\n"
        "    assert not mutant.endswith('_1')\n"
        "    if mutant.endswith('_3'):\n"
        "        time.sleep(600)\n"
    )
    # the limit is long enough for pytest to start on a busy machine, and spent only once
    args = ("--codes", "33", "--names", r"x_f", "--timeout", "20", "test_f.py")
    first = tool("rerun", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    results = json.loads((tmp_path / "mutants" / "rerun.json").read_text())
    assert [results[name]["code"] for name in names] == [1, 0, "timeout"]
    assert results[names[2]]["last"] == "hung: no result in 20 s"
    again = tool("rerun", *args, cwd=tmp_path)
    assert again.stdout == "0 mutant(s) to run\n"  # each has its result with these tests


# pytest in a stand-in project that has this checkout's tests/conftest.py (no xdist, no
# cache, none of the caller's PYTEST_ADDOPTS)
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"]


def stand_in_project(root: Path) -> dict[str, str]:
    """``root/tests`` with this checkout's conftest.py; the environment to run pytest in."""
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text((TOOLS / "conftest.py").read_text())
    env = os.environ.copy()
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_a_test_that_runs_far_past_its_recorded_time_ends_a_mutants_run_as_a_timeout(tmp_path):
    # the watchdog of tests/conftest.py: 1 s + 20 x the recorded 0.05 s lets the slow test run
    # 2 s, then ends pytest as mutmut's time limit does (SIGXCPU) and names the test
    env = stand_in_project(tmp_path) | {"MLPX_MUTMUT_WATCHDOG_FLOOR_S": "1"}
    (tmp_path / "tests" / "test_stand_in.py").write_text(
        "import os, time\n\ndef test_quick():\n    pass\n\n"
        "def test_slow():\n    time.sleep(float(os.environ['SLEEP']))\n"
    )
    recorded = {"test_quick": 0.01, "test_slow": 0.05}
    stats = {"duration_by_test": {f"tests/test_stand_in.py::{t}": s for t, s in recorded.items()}}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps(stats))

    def run(mutant: str, sleep: float) -> subprocess.CompletedProcess:
        test_env = env | {"MUTANT_UNDER_TEST": mutant, "SLEEP": str(sleep)}
        return subprocess.run(
            [*PYTEST, "tests/test_stand_in.py"], cwd=tmp_path, env=test_env, capture_output=True
        )

    started = time.monotonic()
    under_mutant = run("mlpx.x_f__mutmut_1", sleep=300)
    assert under_mutant.returncode == -signal.SIGXCPU, under_mutant.stdout
    assert time.monotonic() - started < 120
    log = (tmp_path / "watchdog.log").read_text()
    assert log == "mlpx.x_f__mutmut_1 tests/test_stand_in.py::test_slow ran past 2 s\n"
    clean = run("", sleep=3)  # mutmut's clean run (and any run without a mutant): no watchdog
    assert clean.returncode == 0, clean.stdout
    assert (tmp_path / "watchdog.log").read_text() == log


def test_a_mutants_tests_run_fastest_first_with_each_modules_tests_together(tmp_path):
    # a plain sort by time would go a1, b1, a2, b2 and build a's module fixtures twice
    env = stand_in_project(tmp_path)
    times = {"a": {"a1": 0.1, "a2": 3.0, "a3": None}, "b": {"b2": 2.0, "b1": 0.2}}
    recorded = {}
    for module, tests in times.items():
        body = "".join(f"def test_{name}():\n    pass\n\n" for name in tests)
        (tmp_path / "tests" / f"test_{module}.py").write_text(body)
        for name, seconds in tests.items():
            if seconds is not None:  # a3: a test the stats pass did not time goes last
                recorded[f"tests/test_{module}.py::test_{name}"] = seconds
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": recorded}))
    command = [*PYTEST, "--collect-only", "tests"]
    env["MUTANT_UNDER_TEST"] = "mlpx.x_f__mutmut_1"
    listed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    order = [line.split("::test_")[1] for line in listed.stdout.splitlines() if "::" in line]
    assert order == ["b1", "b2", "a1", "a2", "a3"], listed.stdout  # b: 2.2 s in all, a: inf
    env["MUTANT_UNDER_TEST"] = ""  # no mutant: pytest's own order
    listed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    order = [line.split("::test_")[1] for line in listed.stdout.splitlines() if "::" in line]
    assert order == ["a1", "a2", "a3", "b2", "b1"], listed.stdout


def test_the_tests_that_killed_a_functions_mutants_run_first_for_its_next_one(tmp_path):
    # kills.log: b2 killed two of x_f's mutants and a2 one, a1 killed a mutant of another
    # function; they go ahead of the fastest-first order (b1, b2, a1, a2), most kills first
    env = stand_in_project(tmp_path)
    (tmp_path / "tests" / "test_a.py").write_text(
        "import os\n\ndef test_a1():\n    pass\n\n"
        "def test_a2():\n    assert os.environ['MUTANT_UNDER_TEST'] != 'mlpx.m.x_g__mutmut_9'\n"
    )
    (tmp_path / "tests" / "test_b.py").write_text("def test_b1():\n    pass\n\n"
                                                  "def test_b2():\n    pass\n")  # fmt: skip
    recorded = {"a1": 0.1, "a2": 3.0, "b1": 0.2, "b2": 2.0}
    stats = {f"tests/test_{t[0]}.py::test_{t}": seconds for t, seconds in recorded.items()}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": stats}))
    (tmp_path / "kills.log").write_text(
        "mlpx.m.x_f__mutmut_1 tests/test_b.py::test_b2\n"
        "mlpx.m.x_f__mutmut_2 tests/test_a.py::test_a2\n"
        "mlpx.m.x_f__mutmut_3 tests/test_b.py::test_b2\n"
        "mlpx.m.xǁCǁh__mutmut_1 tests/test_a.py::test_a1\n"
        "mlpx.other.x_f__mutmut_1 tests/test_b.py::test_b1\n"
    )

    def order(mutant: str) -> list[str]:
        listed = subprocess.run([*PYTEST, "--collect-only", "tests"], cwd=tmp_path,
                                env=env | {"MUTANT_UNDER_TEST": mutant}, capture_output=True,
                                text=True)  # fmt: skip
        return [line.split("::test_")[1] for line in listed.stdout.splitlines() if "::" in line]

    assert order("mlpx.m.x_f__mutmut_4") == ["b2", "a2", "b1", "a1"]
    # a function none of whose mutants was killed yet: its module's killers go first
    assert order("mlpx.m.x_g__mutmut_1") == ["b2", "a1", "a2", "b1"]
    assert order("mlpx.new.x_f__mutmut_1") == ["b1", "b2", "a1", "a2"]  # nothing known
    # the test that kills a mutant is logged, and only while mutmut tests a mutant
    killed = subprocess.run([*PYTEST, "tests"], cwd=tmp_path,
                            env=env | {"MUTANT_UNDER_TEST": "mlpx.m.x_g__mutmut_9"})  # fmt: skip
    assert killed.returncode == 1
    log = (tmp_path / "kills.log").read_text().splitlines()
    assert log[-1] == "mlpx.m.x_g__mutmut_9 tests/test_a.py::test_a2"
    assert len(log) == 6
    env["MUTANT_UNDER_TEST"] = ""  # no mutant: no log, pytest's own order
    (tmp_path / "tests" / "test_a.py").write_text("def test_a1():\n    assert False\n")
    assert subprocess.run([*PYTEST, "tests"], cwd=tmp_path, env=env).returncode == 1
    assert len((tmp_path / "kills.log").read_text().splitlines()) == 6
    assert order("") == ["a1", "b1", "b2"]


def test_a_tried_mutants_edit_is_placed_by_its_text_even_across_a_wrapped_docstring():
    sys.path.insert(0, str(TOOLS))
    from mutmut_try import parse_codes, placed

    source = (
        "class Trainer:\n"
        "    def started_with(self):\n"
        '        """What the run\n'
        '        starts with."""\n'
        '        return {"config": 1}\n'
        "\n"
        "    def other(self):\n"
        '        return {"config": 2}\n'
        "\n"
        "    def third(self):\n"
        '        return {"config": 2}\n'
    )
    # mutmut's diff of a method: dedented by the class's level, all but a docstring's
    # continuation line (it is inside a string), so with its context it matches nowhere
    hunk = [
        " def started_with(self):\n",
        '     """What the run\n',
        '         starts with."""\n',
        '-    return {"config": 1}\n',
        '+    return {"CONFIG": 1}\n',
    ]
    assert placed(source, hunk, context=True) is None
    mutated = source.replace('{"config": 1}', '{"CONFIG": 1}')
    assert placed(source, hunk, context=False) == mutated  # the changed line alone
    other = [" def other(self):\n", '-    return {"config": 2}\n', '+    return {"C": 2}\n']
    assert placed(source, other, context=False) is None  # it occurs twice: not placed
    assert placed(source, other, context=True) == source.replace(
        '    def other(self):\n        return {"config": 2}',
        '    def other(self):\n        return {"C": 2}',
    )
    assert parse_codes("0,33,none") == {0, 33, None}


def test_a_mutants_fast_tests_are_its_functions_tests_under_the_limit_whole(tmp_path):
    sys.path.insert(0, str(TOOLS))
    from mutmut_try import fast_tests

    (tmp_path / "mutants").mkdir()
    stats = {
        "tests_by_mangled_function_name": {
            "mlpx.config.x_f": ["t.py::a[1]", "t.py::a[2]", "t.py::b", "t.py::c", "t.py::d"],
        },
        # a[2] is slow, so a (all its parameters) is left out; d has no time: left out
        "duration_by_test": {"t.py::a[1]": 0.1, "t.py::a[2]": 3.0, "t.py::b": 0.2, "t.py::c": 0.9},
    }
    (tmp_path / "mutants" / "mutmut-stats.json").write_text(json.dumps(stats))
    assert fast_tests(tmp_path, "mlpx.config.x_f__mutmut_12", 0.5) == ["t.py::b"]
    assert fast_tests(tmp_path, "mlpx.config.x_f__mutmut_1", 1.0) == ["t.py::b", "t.py::c"]
    assert fast_tests(tmp_path, "mlpx.config.x_g__mutmut_1", 1.0) == []
