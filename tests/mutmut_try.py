"""Try a mutmut run's mutants as source edits against this checkout's tests, one at a time.

A test written for a survivor is checked by the mutant it was written for: the mutant's diff
(``mutmut show``, in the run's copy) is applied to a scratch copy of this checkout, the named
tests run there, and the edit is undone. A mutant whose diff no longer applies (its line has
changed since the run) is reported as such::

    python tests/mutmut_try.py --run ../mut-run --names 'optimizers\\.x_register' -- \\
        tests/test_registries.py

``--codes`` picks mutmut's verdicts to try (0: survived, 33: no test reached it, ``none``:
not run yet, to find a coming survivor ahead of the run, e.g. with ``--fast-tests 0.5``: each
mutant's tests from mutmut's stats that take under 0.5 s, instead of named ones). KILLED
(a test failed) is what a verdict of ``killed`` in docs/mutation/verdicts.txt needs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mutmut_state import verdicts_of

ROOT = Path(__file__).resolve().parent.parent


def names_in(run: Path, codes: set[int | None], pattern: str) -> list[str]:
    """The run's mutants with one of ``codes`` whose name matches ``pattern``."""
    verdicts = verdicts_of(run / "mutants")
    return [name for name, code in verdicts.items() if code in codes and re.search(pattern, name)]


def parse_codes(text: str) -> set[int | None]:
    """``0,33`` -> {0, 33}; ``none`` stands for the mutants the run has not reached yet."""
    return {None if code.strip() == "none" else int(code) for code in text.split(",")}


def fast_tests(run: Path, name: str, under: float) -> list[str]:
    """The tests mutmut's stats give mutant ``name``'s function, each (all of its
    parameters) under ``under`` seconds: a quick first look at a mutant not run yet."""
    stats = json.loads((run / "mutants" / "mutmut-stats.json").read_text())
    function = name.rsplit("__mutmut_", 1)[0]
    tests = stats["tests_by_mangled_function_name"].get(function, [])
    seconds = stats["duration_by_test"]
    slow = {test.split("[")[0] for test in tests if seconds.get(test, under) >= under}
    return sorted({test.split("[")[0] for test in tests} - slow)


def scratch_copy() -> Path:
    """This checkout's tracked and untracked files (not ignored ones) in a temporary folder."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    copy = Path(tempfile.mkdtemp(prefix="mutmut-try-"))
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def placed(original: str, lines: list[str], context: bool) -> str | None:
    """``original`` with the hunk's ``-`` lines replaced by its ``+`` lines, found by their
    text, not their line number (mutmut's are counted within the function), with the
    hunk's context lines or without them; None unless they occur exactly once.

    A method's diff comes dedented by its class's level, all but the continuation lines of
    a docstring (they are inside a string): with them the context matches nowhere, and the
    changed lines alone, when they occur once, place the edit."""
    old = [x[1:] for x in lines if x[:1] == "-" or (context and x[:1] == " ")]
    new = [x[1:] for x in lines if x[:1] == "+" or (context and x[:1] == " ")]
    for indent in ("", "    ", "        "):
        before, after = ("".join(indent + x if x.strip() else x for x in h) for h in (old, new))
        if before and original.count(before) == 1:
            return original.replace(before, after)
    return None


def try_one(run: Path, copy: Path, name: str, tests: list[str]) -> str:
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name], cwd=run, capture_output=True, text=True
    ).stdout
    diff = "".join(line + "\n" for line in shown.splitlines() if not line.startswith("# "))
    target = re.search(r"^\+\+\+ (\S+)", diff, re.M)
    if not target:
        return "NO DIFF"
    source = copy / target.group(1)
    original = source.read_text()
    lines = [x for x in diff.splitlines(keepends=True) if not x.startswith(("---", "+++", "@@"))]
    mutated = placed(original, lines, context=True) or placed(original, lines, context=False)
    if mutated is None:
        return "NOT APPLIED (its lines changed since the run)"
    source.write_text(mutated)
    try:
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:xdist", "-p",
                   "no:cacheprovider", *tests]  # fmt: skip
        env = os.environ | {"PYTHONPATH": str(copy)}
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    finally:
        source.write_text(original)
    last = (result.stdout.strip().splitlines() or [""])[-1]
    verdict = {0: "SURVIVED", 1: "KILLED"}.get(result.returncode, f"exit {result.returncode}")
    return f"{verdict}  ({last})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="where mutmut ran (mutants/)")
    parser.add_argument(
        "--codes",
        default="0,33",
        type=parse_codes,
        help="mutmut verdicts to try (0,33; none: not run yet)",
    )
    parser.add_argument("--names", required=True, help="regular expression on mutant names")
    parser.add_argument(
        "--fast-tests",
        type=float,
        metavar="SECONDS",
        help="instead of named tests, each mutant's tests in mutmut's stats under SECONDS",
    )
    parser.add_argument("tests", nargs="*", help="test files or node ids to run")
    args = parser.parse_args()
    if not (args.run / "mutants").is_dir():
        sys.exit(f"error: no mutants/ in {args.run}; give the folder where mutmut ran")
    if bool(args.tests) == (args.fast_tests is not None):
        sys.exit("error: give the tests to run, or --fast-tests SECONDS, not both")
    names = names_in(args.run, args.codes, args.names)
    print(f"{len(names)} mutant(s) to try", flush=True)
    copy = scratch_copy()
    try:
        for name in names:
            tests = args.tests or fast_tests(args.run, name, args.fast_tests)
            if not tests:
                print(name, f"NO TEST under {args.fast_tests} s", flush=True)
                continue
            print(name, try_one(args.run.resolve(), copy, name, tests), flush=True)
    finally:
        shutil.rmtree(copy)


if __name__ == "__main__":
    main()
