"""Sweep wall times: stacked against a process per trial, and --jobs 2 against --jobs 1.

    python benchmarks/bench_sweep.py                 # 50 / 150 epochs, 2 repeats
    python benchmarks/bench_sweep.py --quick         # 3 epochs, 1 repeat: checks it runs

Runs `mlpx sweep` as a user does, in a subprocess, timed from start to exit (Python
start-up, trial processes, everything), in interleaved rounds of --repeats:

- stacking: `mlpx sweep lr --seeds 3` on the digits config (15 trials, 50 epochs), with the
  default executor (the 15 trials train as stacks) and with `--executor process` (a process
  per trial, as before issue 17), for the numpy and the torch backend. Targets on a 2-core
  machine: stacked <= 3 s (numpy), <= 5 s (torch), and <= 0.3x of --executor process.
- parallel: a sweep that cannot stack, `mlpx sweep hidden --values 16,32,64,128` (150 epochs,
  numpy), with --jobs 2 and --jobs 1. Target: jobs2/jobs1 <= 0.65.

Other load on the machine skews every number: the load average before and after each sweep
is recorded. Writes benchmarks/results/sweep-<date>-<host>.json (or --out).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent


def run_sweep(name: str, args: list[str], runs_dir: Path) -> dict:
    """One `mlpx sweep ARGS` into ``runs_dir``: its wall time and each trial's."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlpx", "sweep", *args, "--runs-dir", str(runs_dir)],
        cwd=HERE.parent,
        check=True,
        capture_output=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parent)},
    )
    wall = time.perf_counter() - start
    (sweep_dir,) = runs_dir.glob("sweep-*")
    with open(sweep_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "name": name,
        "command": "mlpx sweep " + " ".join(args),
        "wall_s": wall,
        "trial_train_s": [float(r["seconds"]) for r in rows],
        "statuses": [r["status"] for r in rows],
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def sweeps(epochs: int, long_epochs: int) -> dict[str, list[str]]:
    """Every sweep timed, by name."""
    lr = ["lr", "--seeds", "3", "-s", f"train.epochs={epochs}"]
    hidden = ["hidden", "--values", "16,32,64,128", "-s", "backend=numpy"]
    hidden += ["-s", f"train.epochs={long_epochs}", "-s", "output.plots=false"]
    named = {}
    for backend in ("numpy", "torch"):
        for executor in ("local", "process"):
            named[f"lr {backend} {executor}"] = [*lr, "-s", f"backend={backend}"] + [
                "--executor",
                executor,
            ]
    for jobs in (2, 1):
        named[f"hidden jobs{jobs}"] = [*hidden, "--jobs", str(jobs)]
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs of the lr sweeps")
    parser.add_argument("--long-epochs", type=int, default=150, help="of the hidden sweeps")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 repeat")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.long_epochs, args.repeats = 3, 3, 1

    named = sweeps(args.epochs, args.long_epochs)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="mlpx-bench-sweep-") as tmp:
        for repeat in range(args.repeats):
            for name, sweep_args in named.items():
                runs_dir = Path(tmp) / f"{repeat}-{name.replace(' ', '-')}"
                runs.append(run_sweep(name, sweep_args, runs_dir))
                done = runs[-1]
                print(
                    f"{name:20} {done['wall_s']:6.1f} s  (load {done['load_before'][0]:.2f}"
                    f" -> {done['load_after'][0]:.2f})",
                    flush=True,
                )
    median = {
        name: statistics.median(r["wall_s"] for r in runs if r["name"] == name) for name in named
    }
    ratios = {
        f"{backend} stacked / process": median[f"lr {backend} local"]
        / median[f"lr {backend} process"]
        for backend in ("numpy", "torch")
    }
    ratios["hidden jobs2 / jobs1"] = median["hidden jobs2"] / median["hidden jobs1"]
    path = write_results(
        args.out,
        "sweep",
        args.quick,
        {
            "epochs": args.epochs,
            "long_epochs": args.long_epochs,
            "repeats": args.repeats,
            "commands": {name: "mlpx sweep " + " ".join(a) for name, a in named.items()},
            "median_wall_s": median,
            "ratios": ratios,
            "targets": {
                "lr numpy local": "<= 3 s",
                "lr torch local": "<= 5 s",
                "stacked / process": "<= 0.3",
                "hidden jobs2 / jobs1": "<= 0.65",
            },
            "runs": runs,
        },
    )
    print("\n| sweep | median wall |\n|---|---|")
    for name, seconds in median.items():
        print(f"| {name} | {seconds:.1f} s |")
    print("\n| ratio | value |\n|---|---|")
    for name, value in ratios.items():
        print(f"| {name} | {value:.2f} |")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
