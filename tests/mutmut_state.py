"""Keep a mutmut run's verdicts in the repository, and carry a stopped run on elsewhere.

A full run of the core takes more hours than one sitting on a small machine, and its results
live in the git-ignored ``mutants/``. ``save`` bundles what mutmut knows (each source file's
``.meta``: the verdict of every mutant and the hash of every function; its stats: which
tests reach which function, and their times; the reruns of ``tests/mutmut_rerun.py``) into
one gzipped JSON file that can be committed; ``restore`` puts them back into an empty
``mutants/``, where ``mutmut run`` (no names) goes on with the mutants that have no verdict
yet. mutmut keeps a verdict only while its function's hash is unchanged, so a function
edited in between is tested again::

    python tests/mutmut_state.py save docs/mutation/state.json.gz     # where mutants/ is
    python tests/mutmut_state.py restore docs/mutation/state.json.gz  # in a fresh clone, then
    mutmut run

``tests/mutmut_report.py --state docs/mutation/state.json.gz`` scores the saved run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

MUTANTS = Path("mutants")
# what mutmut needs to go on, besides the .meta files under mlpx/, the tests that hung
# (tests/conftest.py's watchdog) and those that killed mutants (its test order)
FILES = ("mutmut-stats.json", "rerun.json", "watchdog.log", "kills.log")


def files_of(root: Path) -> list[str]:
    """The run's files under ``root``, relative to it."""
    metas = sorted(path.relative_to(root).as_posix() for path in root.glob("mlpx/**/*.meta"))
    return metas + [name for name in FILES if (root / name).is_file()]


def verdicts_of(mutants: Path) -> dict[str, int | None]:
    """Every mutant's name and mutmut's exit code for it (None: not run yet), from the
    ``.meta`` files of the run in ``mutants``."""
    verdicts = {}
    for meta in sorted(mutants.glob("mlpx/**/*.meta")):
        verdicts |= json.loads(meta.read_text())["exit_code_by_key"]
    return verdicts


def read_bundle(path: Path) -> dict:
    """{"run": what save recorded, "files": {path under mutants/: text}} of a saved run."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {path} is not a saved mutmut run ({error})")


def read_whole(path: Path) -> str:
    """A JSON file of the run, read again while mutmut (still running) is rewriting it; the
    watchdog's log (lines appended whole) as it is."""
    if path.suffix == ".log":
        return path.read_text(encoding="utf-8")
    for _ in range(50):
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
            return text
        except ValueError:
            time.sleep(0.1)
    sys.exit(f"error: {path} is not whole JSON; stop mutmut and save again")


def mutmut_version() -> str:
    """The mutmut that made the run (saving needs none installed: the files say it all)."""
    try:
        return metadata.version("mutmut")
    except metadata.PackageNotFoundError:
        return "not installed where saved"


def head() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def save(bundle: Path) -> None:
    names = files_of(MUTANTS)
    if not names:
        sys.exit("error: no mutmut verdicts under mutants/mlpx; run this where mutmut ran")
    before = read_bundle(bundle)["run"] if bundle.is_file() else {}
    now = time.strftime("%Y-%m-%d %H:%M %Z")
    commits = before.get("commits", [])
    commits += [head()] if head() not in commits else []
    run = {
        "mutmut": mutmut_version(),
        "commits": commits,  # each commit the run's copy was at, in order
        "first_saved": before.get("first_saved", now),
        "saved": now,
    }
    files = {name: read_whole(MUTANTS / name) for name in names}
    partial = bundle.with_name(bundle.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        json.dump({"run": run, "files": files}, handle)
    partial.replace(bundle)
    print(f"saved {len(files)} files of the run to {bundle}")


def restore(bundle: Path) -> None:
    files = read_bundle(bundle)["files"]
    if files_of(MUTANTS):
        sys.exit("error: mutants/ already holds a run; move it away first (nothing was copied)")
    for name, text in files.items():
        (MUTANTS / name).parent.mkdir(parents=True, exist_ok=True)
        (MUTANTS / name).write_text(text, encoding="utf-8")
    print(f"restored {len(files)} files into mutants/; now run: mutmut run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("bundle", type=Path, help="the saved run, e.g. docs/mutation/state.json.gz")
    args = parser.parse_args()
    if args.action == "save":
        save(args.bundle)
    else:
        restore(args.bundle)


if __name__ == "__main__":
    main()
