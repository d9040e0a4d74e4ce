"""Try a mutmut run's mutants as source edits against this checkout's tests, one at a time.

A test written for a survivor is checked by the mutant it was written for: the mutant's diff
(``mutmut show``, in the run's copy) is applied to a scratch copy of this checkout, the named
tests run there, and the edit is undone. A mutant whose diff no longer applies (its line has
changed since the run) is reported as such::

    python tests/mutmut_try.py --run ../mut-run --names 'optimizers\\.x_register' -- \\
        tests/test_registries.py

``--codes`` picks mutmut's verdicts to try (0: survived, 33: no test reached it). KILLED
(a test failed) is what a verdict of ``killed`` in docs/mutation/verdicts.txt needs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mutmut_state import verdicts_of

ROOT = Path(__file__).resolve().parent.parent


def names_in(run: Path, codes: set[int], pattern: str) -> list[str]:
    """The run's mutants with one of ``codes`` whose name matches ``pattern``."""
    verdicts = verdicts_of(run / "mutants")
    return [name for name, code in verdicts.items() if code in codes and re.search(pattern, name)]


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
    old, new = [], []  # the hunk's lines without and with the mutation (context in both)
    for line in diff.splitlines(keepends=True):
        if line.startswith(("---", "+++", "@@")):
            continue
        if line[:1] in (" ", "-"):
            old.append(line[1:])
        if line[:1] in (" ", "+"):
            new.append(line[1:])
    # found by its text, not its line number (mutmut's are counted within the function); a
    # method's diff comes dedented by its class's level
    for indent in ("", "    ", "        "):
        before, after = ("".join(indent + x if x.strip() else x for x in h) for h in (old, new))
        if original.count(before) == 1:
            source.write_text(original.replace(before, after))
            break
    else:
        return "NOT APPLIED (its lines changed since the run)"
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
    parser.add_argument("--codes", default="0,33", help="mutmut verdicts to try (0,33)")
    parser.add_argument("--names", required=True, help="regular expression on mutant names")
    parser.add_argument("tests", nargs="+", help="test files or node ids to run")
    args = parser.parse_args()
    if not (args.run / "mutants").is_dir():
        sys.exit(f"error: no mutants/ in {args.run}; give the folder where mutmut ran")
    names = names_in(args.run, {int(c) for c in args.codes.split(",")}, args.names)
    print(f"{len(names)} mutant(s) to try", flush=True)
    copy = scratch_copy()
    try:
        for name in names:
            print(name, try_one(args.run.resolve(), copy, name, args.tests), flush=True)
    finally:
        shutil.rmtree(copy)


if __name__ == "__main__":
    main()
