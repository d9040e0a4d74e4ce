"""Score a mutmut run per module: the table of docs/MUTATION.md, from the run's own files.

Reads mutmut's verdicts (``*.meta`` under ``mutants/``, or a copy of them saved with
``tests/mutmut_state.py``), the reruns of ``tests/mutmut_rerun.py`` (``rerun.json`` beside
them) and ``docs/mutation/verdicts.txt``, where each survivor that a rerun cannot settle is
written down: ``equivalent`` (why no behaviour changes), ``killed`` (the test written for it
since, checked by applying the mutant as a source edit) or ``import`` (the function runs only
while its module is imported, where mutmut cannot switch a mutant on)::

    python tests/mutmut_report.py                       # where mutants/ is (the run's copy)
    python tests/mutmut_report.py --state docs/mutation/state.json.gz --list survived

A verdict names one mutant (``module.x_function__mutmut_N``) or, with ``*``, a function's
mutants; one that matches no open mutant is reported, so a stale line shows up.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections import Counter
from pathlib import Path

import mutmut_state

VERDICTS = Path(__file__).resolve().parent.parent / "docs" / "mutation" / "verdicts.txt"
KINDS = ("equivalent", "killed", "import")
COLUMNS = (
    "killed",
    "killed by a rerun with more tests",
    "killed by tests added after the run",
    "hung its tests again (rerun)",
    "survived",
    "equivalent",
    "run at import",
    "no test reaches",
    "timeout",
    "not run",
)
KILLED = COLUMNS[:4]  # the columns a score counts as killed
# mutmut's exit codes (mutmut.stats.status_by_exit_code); any other is "suspicious"
NO_TEST = "no test reaches"
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: NO_TEST, 33: NO_TEST, None: "not run"}
STATUS |= dict.fromkeys((36, 24, -24, 152, 255), "timeout")


def read_verdicts(path: Path) -> list[tuple[str, str, str]]:
    """(pattern, kind, why) of each line of the verdicts file; # starts a comment."""
    verdicts = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or parts[1] not in KINDS:
            sys.exit(f"error: {path}:{number}: expected 'NAME KIND WHY', KIND one of {KINDS}")
        verdicts.append((parts[0], parts[1], parts[2]))
    return verdicts


def read_run(state: Path) -> tuple[dict[str, dict[str, int | None]], dict]:
    """{source file: {mutant name: mutmut's exit code}} and the reruns of the run kept in
    ``state``: mutmut's ``mutants/`` or a run saved by ``tests/mutmut_state.py``."""
    if state.is_file():
        files = mutmut_state.read_bundle(state)["files"]
    else:
        files = {name: (state / name).read_text() for name in mutmut_state.files_of(state)}
    metas = {
        name: json.loads(text) for name, text in sorted(files.items()) if name.endswith(".meta")
    }
    run = {
        name.removesuffix(".meta"): meta["exit_code_by_key"]
        for name, meta in metas.items()
        if meta["exit_code_by_key"]
    }
    if not run:
        sys.exit(f"error: no mutmut verdicts (mlpx/**/*.meta) in {state}")
    return run, json.loads(files.get("rerun.json", "{}"))


def classify(code: int | None, name: str, reruns: dict, verdicts: list) -> tuple[str, int | None]:
    """The column a mutant counts in, and the index of the verdict line that put it there."""
    status = STATUS.get(code, "suspicious")
    if status not in ("survived", NO_TEST, "timeout", "suspicious"):
        return status, None
    rerun = reruns.get(name, {}).get("code")
    if rerun == 1:
        return "killed by a rerun with more tests", None
    if rerun == "timeout":  # it hung its tests in the run and again in a rerun: caught, as
        return "hung its tests again (rerun)", None  # a suite that never ends is not green
    if rerun == 0:  # "no test" here, but the tests run with it in a rerun passed
        status = "survived"
    for index, (pattern, kind, _) in enumerate(verdicts):
        if fnmatch.fnmatchcase(name, pattern):
            if kind == "killed":
                return "killed by tests added after the run", index
            if kind == "equivalent" and status == "survived":
                return "equivalent", index
            if kind == "import":  # no test, or tests that ran after the import
                return "run at import", index
    return ("survived" if status == "suspicious" else status), None


def score(counts: Counter) -> str:
    killed = sum(counts[c] for c in KILLED)
    judged = killed + counts["survived"]
    if not judged:
        return "-"
    percent = f"{100 * killed / judged:.0f}%"
    if killed < judged and percent == "100%":  # never round a survivor away
        percent = "99%"
    unsettled = counts["not run"] + counts["no test reaches"] + counts["timeout"]
    return f"({percent} so far)" if unsettled else percent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=Path("mutants"), help="the run's files")
    parser.add_argument("--verdicts", type=Path, default=VERDICTS)
    parser.add_argument(
        "--list",
        metavar="COLUMN",
        help="also print the mutants of one column (survived, timeout, 'no test reaches', ...)",
    )
    args = parser.parse_args()
    run, reruns = read_run(args.state)
    verdicts = read_verdicts(args.verdicts) if args.verdicts.exists() else []
    used, listed, totals = set(), [], Counter()
    print("| module | mutants | " + " | ".join(COLUMNS) + " | score |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for source, codes in run.items():
        counts = Counter()
        for name, code in codes.items():
            column, verdict = classify(code, name, reruns, verdicts)
            counts[column] += 1
            used.add(verdict)
            if args.list and re.fullmatch(args.list, column):
                listed.append(f"{column}: {name}")
        totals += counts
        cells = " | ".join(str(counts[c]) for c in COLUMNS)
        print(f"| {source} | {len(codes)} | {cells} | {score(counts)} |")
    cells = " | ".join(str(totals[c]) for c in COLUMNS)
    print(f"| all | {sum(totals.values())} | {cells} | {score(totals)} |")
    for line in listed:
        print(line)
    for index, (pattern, kind, _) in enumerate(verdicts):
        if index not in used:
            print(f"unused verdict ({kind}): {pattern}", file=sys.stderr)


if __name__ == "__main__":
    main()
