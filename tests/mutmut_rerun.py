"""Run chosen mutants of mutmut's copy again, one at a time, against chosen tests.

mutmut gives a mutant only the tests that called its function in the test's own process.
Functions that a sweep runs in its trial processes are reached there by few tests or none,
although the sweep tests run them (a trial process inherits ``MUTANT_UNDER_TEST``). Run from
the directory that holds ``mutants/``, after ``mutmut run``::

    python tests/mutmut_rerun.py --names 'executors\\.x_run_stacked' -- tests/test_stacked.py
    python tests/mutmut_rerun.py --codes 33 --names 'executors\\.' -- tests/test_sweep.py

``--codes`` picks mutmut's results to run again (0: survived, 33: no test reached it);
``--timeout`` (600 s) is how long its tests may take before the mutant counts as hanging them
(recorded as ``timeout``; its process group is killed);
``--names`` is a regular expression on the mutant's name; the rest goes to pytest, which
runs in ``mutants/`` with ``-x``. Each result (pytest's exit code: 0 survived, 1 killed) is
kept in ``mutants/rerun.json`` with the tests it ran; a mutant killed there, or survived or
timed out with the same tests, is not run again (so an interrupted rerun resumes). See
docs/MUTATION.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from mutmut_state import verdicts_of

MUTANTS = Path("mutants")
RESULTS = MUTANTS / "rerun.json"


def chosen(codes: set[int], names: str, done: dict, tests: list[str]) -> list[str]:
    """The mutants whose mutmut result is one of ``codes`` and whose name matches, less
    those a rerun has killed or has run with these same tests."""
    picked = []
    for name, code in verdicts_of(MUTANTS).items():
        before = done.get(name, {})
        settled = before.get("code") in (0, "timeout") and before["tests"] == tests
        if before.get("code") == 1 or settled:
            continue
        if code in codes and re.search(names, name):
            picked.append(name)
    return picked


def run_tests(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """pytest's exit code and last line; on a timeout its whole process group is killed
    (a mutant that hangs a trial process leaves it and its forkserver behind otherwise)."""
    process = subprocess.Popen(
        command, cwd=MUTANTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, (out.strip().splitlines() or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", default="0,33", help="mutmut results to rerun (0,33)")
    parser.add_argument("--names", required=True, help="regular expression on mutant names")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before a mutant's tests count as hung"
    )
    parser.add_argument("pytest_args", nargs="+", help="test files and pytest options")
    args = parser.parse_args()
    if not MUTANTS.is_dir():
        sys.exit("error: no mutants/ here; run this where mutmut ran")
    done = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    codes = {int(c) for c in args.codes.split(",")}
    todo = chosen(codes, args.names, done, args.pytest_args)
    print(f"{len(todo)} mutant(s) to run", flush=True)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-p", "no:xdist"]
    command += ["-p", "no:randomly", "-p", "no:cacheprovider", *args.pytest_args]
    for name in todo:
        started = time.time()
        env = os.environ | {"MUTANT_UNDER_TEST": name}
        try:
            code, last = run_tests(command, env, args.timeout)
        except subprocess.TimeoutExpired:
            code, last = "timeout", f"hung: no result in {args.timeout:g} s"
        if code == -signal.SIGXCPU:  # a test ran far past its recorded time (tests/conftest.py)
            code, last = "timeout", "hung: a test ran past the watchdog's limit (watchdog.log)"
        seconds = round(time.time() - started, 1)
        done[name] = {"code": code, "tests": args.pytest_args, "seconds": seconds, "last": last}
        RESULTS.with_suffix(".tmp").write_text(json.dumps(done, indent=1))
        RESULTS.with_suffix(".tmp").replace(RESULTS)
        print(time.strftime("%H:%M:%S"), name, code, seconds, last[:80], flush=True)


if __name__ == "__main__":
    main()
